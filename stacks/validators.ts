/**
 * Pure checks for the values Kubernetes and container registries accept. Each returns `undefined` when the value
 * is fine, or a sentence saying what is allowed. They follow the Kubernetes API's own rules (resource.Quantity,
 * RFC 1123 names) and the distribution project's image reference grammar, so a value we accept is one the API
 * server accepts too.
 */

const BINARY_SUFFIXES: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL_SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

// resource.Quantity: <sign><digits>[.<digits>]<suffix>, where suffix is binary, decimal SI, or a decimal exponent.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** Parses a Kubernetes quantity ("250m", "1.5", "512Mi", "1e3") to a number, or `undefined` when it is not one. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim() === text ? text : '');
  if (!match) {
    return undefined;
  }
  const [, sign, digits, suffix = ''] = match;
  let factor: number | undefined;
  if (suffix in BINARY_SUFFIXES) {
    factor = BINARY_SUFFIXES[suffix];
  } else if (suffix in DECIMAL_SUFFIXES) {
    factor = DECIMAL_SUFFIXES[suffix];
  } else {
    factor = 10 ** Number(suffix.slice(1));
  }
  const value = Number(digits) * (factor ?? 1);
  return sign === '-' ? -value : value;
}

/** A CPU quantity: positive, at most millicore precision (the API server rounds finer values up). */
export function checkCpu(text: string): string | undefined {
  const value = parseQuantity(text);
  if (value === undefined) {
    return 'a Kubernetes CPU quantity such as "250m", "0.5" or "2"';
  }
  if (value <= 0) {
    return 'a CPU quantity greater than zero';
  }
  if (value < 0.001) {
    return 'a CPU quantity of at least "1m" (Kubernetes has millicore precision)';
  }
  return undefined;
}

/** A memory quantity: positive, at least one byte, written with Kubernetes suffixes ("512Mi", "1Gi"). */
export function checkMemory(text: string): string | undefined {
  const value = parseQuantity(text);
  if (value === undefined) {
    return 'a Kubernetes memory quantity such as "256Mi", "1Gi" or "500M"';
  }
  if (value < 1) {
    return 'a memory quantity of at least one byte (for example "64Mi")';
  }
  return undefined;
}

/** A storage size for a PersistentVolumeClaim ("10Gi"): at least 1Mi. */
export function checkStorage(text: string): string | undefined {
  const value = parseQuantity(text);
  if (value === undefined) {
    return 'a Kubernetes storage quantity such as "10Gi"';
  }
  if (value < 2 ** 20) {
    return 'a storage quantity of at least "1Mi"';
  }
  return undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** An RFC 1123 label: what Kubernetes accepts for a namespace or Service name. */
export function checkDnsLabel(text: string): string | undefined {
  if (text.length > 63 || !DNS_LABEL.test(text)) {
    return 'an RFC 1123 label: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit';
  }
  return undefined;
}

/** An RFC 1123 subdomain (a public host name), optionally a wildcard "*.example.com" as an Ingress allows. */
export function checkHostName(text: string): string | undefined {
  const name = text.startsWith('*.') ? text.slice(2) : text;
  const labels = name.split('.');
  if (name.length === 0 || name.length > 253 || labels.some((label) => checkDnsLabel(label) !== undefined)) {
    return 'a DNS host name (RFC 1123): lowercase labels of letters, digits and "-" separated by dots, at most 253 characters, e.g. "app.example.com"';
  }
  return undefined;
}

/** A parsed container image reference. */
export interface ImageReference {
  /** Everything before the tag and digest, e.g. "registry.example:5000/team/web" or "pavemaster/web". */
  repository: string;
  /** The tag, when given. */
  tag?: string;
  /** The digest ("sha256:<64 hex>"), when given. */
  digest?: string;
}

// The distribution reference grammar: [domain[:port]/]component(/component)*[:tag][@digest]
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}';
const IMAGE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);

/** Parses an image reference, or returns `undefined` when it is malformed. A bare name gets no implicit tag. */
export function parseImage(text: string): ImageReference | undefined {
  const match = IMAGE.exec(text);
  if (!match || text.length > 255 + 128 + 72) {
    return undefined;
  }
  const [, repository, tag, digest] = match;
  const ref: ImageReference = { repository };
  if (tag !== undefined) {
    ref.tag = tag;
  }
  if (digest !== undefined) {
    ref.digest = digest;
  }
  return ref;
}

/**
 * Checks an image reference for an environment: well formed always; in production never `latest` or untagged,
 * and pinned by digest when `requireDigest` is set.
 */
export function checkImage(
  text: string,
  opts: { production: boolean; requireDigest: boolean },
): string | undefined {
  const ref = parseImage(text);
  const form =
    'an image reference "[registry/]repository[:tag][@sha256:<64 hex>]", e.g. "pavemaster/web:1.4.2"';
  if (!ref) {
    return form;
  }
  if (opts.production && (ref.tag === 'latest' || (ref.tag === undefined && ref.digest === undefined))) {
    return 'an image with an explicit version tag or digest: "latest" (or no tag, which means latest) is not allowed in production';
  }
  if (opts.requireDigest && ref.digest === undefined) {
    return 'an image pinned by digest ("repository:tag@sha256:<64 hex>"), as production requires';
  }
  return undefined;
}

/** The version label of an image: its tag, else the first 12 hex digits of its digest. */
export function imageVersion(text: string): string | undefined {
  const ref = parseImage(text);
  if (!ref) {
    return undefined;
  }
  if (ref.tag !== undefined) {
    return ref.tag;
  }
  return ref.digest?.slice('sha256:'.length, 'sha256:'.length + 12);
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A Kubernetes label value: at most 63 characters of letters, digits, "-", "_" and ".". */
export function checkLabelValue(text: string): string | undefined {
  if (text.length > 63 || !LABEL_VALUE.test(text)) {
    return 'a Kubernetes label value: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** A container environment variable name as the API server accepts it. */
export function checkEnvName(text: string): string | undefined {
  if (!ENV_NAME.test(text)) {
    return 'an environment variable name of letters, digits, "_", "-" and ".", not starting with a digit';
  }
  return undefined;
}

/** An HTTP path for probes and smoke checks. */
export function checkHttpPath(text: string): string | undefined {
  if (!/^\/[\x21-\x7e]*$/.test(text)) {
    return 'an absolute HTTP path starting with "/" and without spaces, e.g. "/healthz"';
  }
  return undefined;
}

/** The Levenshtein distance, used to suggest the key a typo meant. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** The closest of `candidates` to `name`, when it is close enough to be a likely typo. */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}
