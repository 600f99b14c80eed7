/**
 * The PaveMaster app image, built and pushed by Pulumi with `@pulumi/docker`.
 *
 * A `docker.Image` builds `<context>/<dockerfile>` for one platform, tags it `<repository>:<tag>` and pushes it.
 * What the rest of the program gets is {@link AppImage.imageRef}: `<repository>:<tag>@sha256:<digest>`, the
 * registry's manifest digest of exactly the image that was pushed. A Deployment that runs it is pinned: a rebuild
 * that pushes the same tag with other content changes the digest, so the Deployment rolls; a rebuild that pushes
 * identical content changes nothing.
 *
 * This path is for stacks whose config sets `pavemaster:imageBuild` (a developer's own stack, a registry close to
 * the cluster). The team's GitHub workflows build and push the image themselves and hand the release command a
 * digest-pinned reference instead (docs/operations.md says why), so their stacks never load the docker provider.
 */
import * as path from 'path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';

/** Credentials for pushing to a private registry. */
export interface RegistryCredentials {
  /** The registry host (and port), e.g. "registry.example.com". Required. */
  server: string;
  /** The user name. Required. */
  username: pulumi.Input<string>;
  /** The password or token: always handled as a Pulumi secret. Required. */
  password: pulumi.Input<string>;
}

export interface AppImageArgs {
  /** The Docker build context: a directory relative to the Pulumi project (the program's working directory). Required. */
  context: string;
  /** The Dockerfile, relative to the build context. Default "Dockerfile". */
  dockerfile?: string;
  /** The repository to push to, "[registry/]path" without tag or digest, e.g. "registry.example.com/pavemaster/web". Required. */
  repository: string;
  /** The tag to push, e.g. the release version "1.4.2". Never "latest": a release must be traceable. Required. */
  tag: string;
  /** The one platform to build for (the cluster's nodes). Default "linux/amd64". */
  platform?: string;
  /** Build arguments (`--build-arg`). Plain values only: a secret never belongs in an image layer. Default none. */
  buildArgs?: Record<string, string>;
  /** Credentials of the registry; default none (the Docker daemon's own login is used). */
  registry?: RegistryCredentials;
  /**
   * Build (and push) during `pulumi preview` too. Default false: a preview shows the image as "to be built" and
   * never needs a Docker engine or registry access.
   */
  buildOnPreview?: boolean;
}

/** The arguments with every default applied. */
export type ResolvedAppImageArgs = Required<Omit<AppImageArgs, 'registry'>> & Pick<AppImageArgs, 'registry'>;

// The distribution reference grammar's pieces (see stacks/validators.ts for the whole reference).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*)(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9]+(?:\/[a-z0-9]+)?$/;
const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REPO_DIGEST = /^(.+)@(sha256:[a-f0-9]{64})$/;

/** Applies the defaults and validates the arguments; throws one error listing every bad argument. */
export function resolveAppImageArgs(name: string, args: AppImageArgs): ResolvedAppImageArgs {
  const resolved: ResolvedAppImageArgs = {
    context: args.context,
    dockerfile: args.dockerfile ?? 'Dockerfile',
    repository: args.repository,
    tag: args.tag,
    platform: args.platform ?? 'linux/amd64',
    buildArgs: args.buildArgs ?? {},
    registry: args.registry,
    buildOnPreview: args.buildOnPreview ?? false,
  };
  const problems: string[] = [];
  if (resolved.context.trim() === '' || path.isAbsolute(resolved.context)) {
    problems.push(`context "${resolved.context}" must be a directory relative to the project`);
  }
  if (
    resolved.dockerfile.trim() === '' ||
    path.isAbsolute(resolved.dockerfile) ||
    path.posix.normalize(resolved.dockerfile).startsWith('..')
  ) {
    problems.push(`dockerfile "${resolved.dockerfile}" must be a path inside the build context`);
  }
  if (!REPOSITORY.test(resolved.repository) || resolved.repository.length > 255) {
    problems.push(
      `repository "${resolved.repository}" must be "[registry/]path" in lower case, without tag or digest`,
    );
  }
  if (!TAG.test(resolved.tag)) {
    problems.push(
      `tag "${resolved.tag}" must be a Docker tag: letters, digits, "_", "." and "-", at most 128`,
    );
  } else if (resolved.tag === 'latest') {
    problems.push('tag "latest" is not allowed: push a version so every release is traceable');
  }
  if (!PLATFORM.test(resolved.platform)) {
    problems.push(`platform "${resolved.platform}" must be one "os/arch[/variant]", e.g. "linux/amd64"`);
  }
  for (const key of Object.keys(resolved.buildArgs)) {
    if (!BUILD_ARG.test(key)) {
      problems.push(`build argument "${key}" must be a name of letters, digits and "_"`);
    }
  }
  if (resolved.registry !== undefined && !new RegExp(`^${DOMAIN}$`).test(resolved.registry.server)) {
    problems.push(`registry server "${resolved.registry.server}" must be a host name with an optional port`);
  }
  if (problems.length > 0) {
    throw new Error(`AppImage ${name}: invalid arguments:\n  - ${problems.join('\n  - ')}`);
  }
  return resolved;
}

/**
 * Turns the provider's `repoDigest` ("repository@sha256:<hex>") into the reference the Deployments run,
 * "repository:tag@sha256:<hex>": the tag stays readable, the digest decides what runs. Throws on anything that
 * is not a sha256 repo digest, so an unpinned reference can never reach a Deployment.
 */
export function pinnedReference(repository: string, tag: string, repoDigest: string): string {
  const match = REPO_DIGEST.exec(repoDigest);
  if (!match) {
    throw new Error(
      `image ${repository}:${tag}: the registry returned no sha256 digest (got "${repoDigest}")`,
    );
  }
  return `${repository}:${tag}@${match[2]}`;
}

export class AppImage extends pulumi.ComponentResource {
  /** The image as pushed, "repository:tag@sha256:<digest>": pinned by digest. */
  readonly imageRef: pulumi.Output<string>;
  /** The tag reference "repository:tag" (not unique per build: for people, never for Deployments). */
  readonly imageName: pulumi.Output<string>;
  /** The registry's repo digest as the provider reports it, "repository@sha256:<digest>". */
  readonly repoDigest: pulumi.Output<string>;
  /** The underlying docker image resource. */
  readonly image: docker.Image;

  constructor(name: string, args: AppImageArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:app:AppImage', name, {}, opts);
    const a = resolveAppImageArgs(name, args);
    const tagged = `${a.repository}:${a.tag}`;
    const registry =
      a.registry === undefined
        ? undefined
        : {
            server: a.registry.server,
            username: a.registry.username,
            password: pulumi.secret(a.registry.password),
          };

    this.image = new docker.Image(
      `${name}-image`,
      {
        imageName: tagged,
        build: {
          context: a.context,
          // Since @pulumi/docker 4.0.1 the Dockerfile path is relative to the program's directory, not to the
          // build context: join the two so the argument keeps its documented meaning.
          dockerfile: path.posix.join(a.context, a.dockerfile),
          platform: a.platform,
          args: a.buildArgs,
        },
        buildOnPreview: a.buildOnPreview,
        skipPush: false,
        registry,
      },
      { parent: this },
    );

    this.imageName = this.image.imageName;
    this.repoDigest = this.image.repoDigest;
    this.imageRef = this.image.repoDigest.apply((digest) => pinnedReference(a.repository, a.tag, digest));
    this.registerOutputs({
      imageRef: this.imageRef,
      imageName: this.imageName,
      repoDigest: this.repoDigest,
    });
  }
}
