/**
 * Container image references, parsed once for the whole project (stacks/, components/, the policy pack, the CI
 * scripts): the distribution project's reference grammar
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]            (host: DNS labels separated by ".", or an IPv6 address in [])
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [\w][\w.-]{0,127}
 *   digest     := "sha256:" 64 lowercase hex   (the only algorithm registries serve for manifests)
 *
 * with Docker's rule for telling a registry from the first path component: it is a registry only when it
 * contains "." or ":" or is "localhost". So `Pavemaster/web` is no registry "Pavemaster" but the Docker Hub
 * path "Pavemaster/web", which registries reject because repository paths are lowercase.
 *
 * It imports nothing, so the policy pack (its own package) can use it as it is.
 */

/** A parsed image reference. */
export interface ImageReference {
  /** The registry host and port, when the reference names one ("registry.example.com:5000"). */
  readonly registry?: string;
  /** The repository: registry (if any) and path, without tag or digest ("registry.example.com/team/web"). */
  readonly repository: string;
  /** The tag, when given. */
  readonly tag?: string;
  /** The digest ("sha256:<64 hex>"), when given. */
  readonly digest?: string;
}

const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const REGISTRY = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** The longest name registries accept (distribution's NameTotalLengthMax). */
const NAME_MAX = 255;

/** True when the first component of a name is a registry rather than a path component (Docker's rule). */
function isRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** Parses a repository name "[registry/]path" without tag or digest, or `undefined` when it is malformed. */
export function parseRepository(text: string): { registry?: string; path: string } | undefined {
  if (text.length === 0 || text.length > NAME_MAX) {
    return undefined;
  }
  const slash = text.indexOf('/');
  const first = slash >= 0 ? text.slice(0, slash) : '';
  const registry = slash >= 0 && isRegistry(first) ? first : undefined;
  const path = registry !== undefined ? text.slice(slash + 1) : text;
  if (registry !== undefined && !REGISTRY.test(registry)) {
    return undefined;
  }
  if (!path.split('/').every((c) => PATH_COMPONENT.test(c))) {
    return undefined;
  }
  return registry !== undefined ? { registry, path } : { path };
}

/** Parses an image reference, or returns `undefined` when it is malformed. A bare name gets no implicit tag. */
export function parseImageReference(text: string): ImageReference | undefined {
  const at = text.indexOf('@');
  const named = at >= 0 ? text.slice(0, at) : text;
  const digest = at >= 0 ? text.slice(at + 1) : undefined;
  if (digest !== undefined && !DIGEST.test(digest)) {
    return undefined;
  }
  // The tag's ":" is the last one after the last "/" (a registry's port comes before the first "/").
  const colon = named.lastIndexOf(':');
  const tag = colon > named.lastIndexOf('/') ? named.slice(colon + 1) : undefined;
  const repository = tag !== undefined ? named.slice(0, colon) : named;
  if (tag !== undefined && !TAG.test(tag)) {
    return undefined;
  }
  const repo = parseRepository(repository);
  if (repo === undefined) {
    return undefined;
  }
  return {
    ...(repo.registry !== undefined ? { registry: repo.registry } : {}),
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** What a malformed reference should look like, for messages. */
export const IMAGE_REFERENCE_FORM =
  'an image reference "[registry/]repository[:tag][@sha256:<64 hex>]" with a lowercase repository, e.g. "pavemaster/web:1.4.2"';

/** The version of an image, for labels: its tag, else the first 12 hex digits of its digest. */
export function imageVersion(text: string): string | undefined {
  const ref = parseImageReference(text);
  if (ref === undefined) {
    return undefined;
  }
  return ref.tag ?? ref.digest?.slice('sha256:'.length, 'sha256:'.length + 12);
}

/** The tag of an image reference ("v3.13.1"), or `undefined` when it has none or is malformed. */
export function imageTag(text: string): string | undefined {
  return parseImageReference(text)?.tag;
}

/**
 * The pull policy of every container the project creates (components/shared/workload.ts restrictedContainer, and
 * the release command's gate Jobs in release/gates.ts): `Always`, whether the reference is pinned by digest or not.
 *
 * Why: with `Always` the kubelet asks the registry for the reference at every container start, with the pod's own
 * pull credentials. So a pod can never start from an image some other pod (another tenant, another namespace)
 * pulled onto the node with credentials this pod does not have: the registry re-checks the authorisation each time.
 * `IfNotPresent` would skip that check whenever the node has the image cached, digest or not. It also means a
 * moved tag is resolved anew rather than served from a node's cache. The cost is small: for a digest the kubelet
 * only resolves the manifest, unchanged layers stay cached. This is what kube-score's default
 * `container-image-pull-policy` check and checkov's CKV_K8S_15 ask for, and the project runs both with every default
 * check and no skip for this one (policy/scanners/). The price: a pod start needs the registry to answer.
 */
export const IMAGE_PULL_POLICY = 'Always' as const;

/** True for a well-formed registry host with an optional port ("registry.example.com", "localhost:5000"). */
export function isRegistryHost(text: string): boolean {
  return REGISTRY.test(text);
}

/** True for a well-formed manifest digest ("sha256:<64 lowercase hex>"). */
export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

/** True for a well-formed tag. */
export function isTag(text: string): boolean {
  return TAG.test(text);
}

/**
 * The reference a Deployment runs after a push, "repository:tag@sha256:<hex>", from the provider's repo digest
 * ("repository@sha256:<hex>"): the tag stays readable, the digest decides what runs. Throws on anything that is
 * not a sha256 repo digest, so an unpinned reference can never reach a Deployment.
 */
export function pinnedReference(repository: string, tag: string, repoDigest: string): string {
  const at = repoDigest.lastIndexOf('@');
  const digest = at >= 0 ? repoDigest.slice(at + 1) : '';
  if (at <= 0 || !DIGEST.test(digest)) {
    throw new Error(
      `image ${repository}:${tag}: the registry returned no sha256 digest (got "${repoDigest}")`,
    );
  }
  return `${repository}:${tag}@${digest}`;
}
