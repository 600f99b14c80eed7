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
import { isRegistryHost, isTag, parseRepository, pinnedReference } from './shared/image';

export { pinnedReference } from './shared/image';

/** Credentials for pushing to a private registry. */
export interface RegistryCredentials {
  /** The registry host (and port), e.g. "registry.example.com". Required. */
  readonly server: string;
  /** The user name. Required. */
  readonly username: pulumi.Input<string>;
  /** The password or token: always handled as a Pulumi secret. Required. */
  readonly password: pulumi.Input<string>;
}

export interface AppImageArgs {
  /** The Docker build context: a directory relative to the Pulumi project (the program's working directory). Required. */
  readonly context: string;
  /** The Dockerfile, relative to the build context. @default "Dockerfile" */
  readonly dockerfile?: string;
  /** The repository to push to, "[registry/]path" without tag or digest, e.g. "registry.example.com/pavemaster/web". Required. */
  readonly repository: string;
  /** The tag to push, e.g. the release version "1.4.2". Never "latest": a release must be traceable. Required. */
  readonly tag: string;
  /** The one platform to build for (the cluster's nodes). @default "linux/amd64" */
  readonly platform?: string;
  /** Build arguments (`--build-arg`). Plain values only: a secret never belongs in an image layer. @default none */
  readonly buildArgs?: Record<string, string>;
  /** Credentials of the registry. @default none: the Docker daemon's own login */
  readonly registry?: RegistryCredentials;
  /**
   * Build (and push) during `pulumi preview` too; without it, a preview shows the image as "to be built" and
   * never needs a Docker engine or registry access.
   * @default false
   */
  readonly buildOnPreview?: boolean;
}

/** The arguments with every default applied. */
export type ResolvedAppImageArgs = Required<Omit<AppImageArgs, 'registry'>> & Pick<AppImageArgs, 'registry'>;

const PLATFORM = /^[a-z0-9]+\/[a-z0-9]+(?:\/[a-z0-9]+)?$/;
const BUILD_ARG = /^[A-Za-z_][A-Za-z0-9_]*$/;

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
  if (parseRepository(resolved.repository) === undefined) {
    problems.push(
      `repository "${resolved.repository}" must be "[registry/]path" in lower case, without tag or digest`,
    );
  }
  if (!isTag(resolved.tag)) {
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
  if (resolved.registry !== undefined && !isRegistryHost(resolved.registry.server)) {
    problems.push(`registry server "${resolved.registry.server}" must be a host name with an optional port`);
  }
  if (problems.length > 0) {
    throw new Error(`AppImage ${name}: invalid arguments:\n  - ${problems.join('\n  - ')}`);
  }
  return resolved;
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
