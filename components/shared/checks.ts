/**
 * The checks of values Kubernetes accepts, written once and used by stacks/ (config), components/ (their
 * arguments), the policy pack and the scripts. Each `check*` returns `undefined` for a good value or a sentence
 * saying what is allowed; each `parse*` returns the value or `undefined`. They follow the API server's own rules
 * (resource.Quantity, RFC 1123 names, label values), so a value accepted here is one the API server accepts too.
 *
 * It imports nothing, so the policy pack (its own package) can use it as it is.
 */

/** A check: `undefined` for a good value, else what is allowed. */
export type Check<T> = (value: T) => string | undefined;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** An RFC 1123 label of at most `max` (63) characters: what Kubernetes accepts for a namespace or Service name. */
export function checkDnsLabel(text: string, max = 63): string | undefined {
  if (text.length > max || !DNS_LABEL.test(text)) {
    return `an RFC 1123 label: at most ${max} lowercase letters, digits and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** An RFC 1123 subdomain (a StorageClass, a ClusterRole): DNS labels separated by dots, at most 253 characters. */
export function checkDnsSubdomain(text: string): string | undefined {
  if (text.length === 0 || text.length > 253 || text.split('.').some((l) => checkDnsLabel(l) !== undefined)) {
    return 'an RFC 1123 subdomain: lowercase labels of letters, digits and "-" separated by dots, at most 253 characters';
  }
  return undefined;
}

/** A public host name (RFC 1123 subdomain), optionally a wildcard "*.example.com" as an Ingress allows. */
export function checkHostName(text: string): string | undefined {
  const name = text.startsWith('*.') ? text.slice(2) : text;
  if (checkDnsSubdomain(name) !== undefined) {
    return 'a DNS host name (RFC 1123): lowercase labels of letters, digits and "-" separated by dots, at most 253 characters, e.g. "app.example.com"';
  }
  return undefined;
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

/** A TCP port a non-root container may listen on. */
export function checkUnprivilegedPort(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1024 && port <= 65535
    ? undefined
    : 'an unprivileged port from 1024 to 65535 (non-root containers listen on unprivileged ports)';
}

/** A whole number of at least `min`. */
export function checkWholeNumber(
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): string | undefined {
  return Number.isInteger(value) && value >= min && value <= max
    ? undefined
    : max === Number.MAX_SAFE_INTEGER
      ? `a whole number of at least ${min}`
      : `a whole number from ${min} to ${max}`;
}

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
  const factor = BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix] ?? 10 ** Number(suffix.slice(1));
  const value = Number(digits) * factor;
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

/** A storage size for a PersistentVolumeClaim: at least `min` bytes (default 1Mi). */
export function checkStorage(text: string, min = 2 ** 20): string | undefined {
  const value = parseQuantity(text);
  if (value === undefined) {
    return 'a Kubernetes storage quantity such as "10Gi"';
  }
  if (value < min) {
    return `a storage quantity of at least "${formatBinary(min)}"`;
  }
  return undefined;
}

function formatBinary(bytes: number): string {
  for (const [suffix, factor] of Object.entries(BINARY_SUFFIXES).reverse()) {
    if (bytes >= factor && bytes % factor === 0) {
      return `${bytes / factor}${suffix}`;
    }
  }
  return String(bytes);
}

const JVM_SIZE = /^([1-9]\d*)([kmg])$/i;
const JVM_FACTOR: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** Parses a JVM memory size ("512m", "2g", as -Xmx takes it) to bytes, or `undefined` when it is not one. */
export function parseJvmSize(text: string): number | undefined {
  const match = JVM_SIZE.exec(text);
  return match ? Number(match[1]) * JVM_FACTOR[match[2].toLowerCase()] : undefined;
}

/** A JVM heap size: a whole number with k, m or g, at least 128m. */
export function checkHeap(text: string): string | undefined {
  const bytes = parseJvmSize(text);
  if (bytes === undefined) {
    return 'a JVM heap size such as "512m" or "2g" (a whole number followed by k, m or g)';
  }
  if (bytes < 128 * 2 ** 20) {
    return 'a JVM heap of at least "128m"';
  }
  return undefined;
}

/** A "host:port" address (an SMTP smarthost): a host name or bracketed IPv6 address and a port from 1 to 65535. */
export function checkHostPort(text: string): string | undefined {
  const match = /^([a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  return match && Number(match[2]) > 0 && Number(match[2]) < 65536
    ? undefined
    : 'a server "host:port", e.g. "smtp.example.com:587"';
}

/** The port of a "host:port" address, or `undefined`. */
export function portOf(address: string): number | undefined {
  return checkHostPort(address) === undefined
    ? Number(address.slice(address.lastIndexOf(':') + 1))
    : undefined;
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A Kubernetes label key: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
export function checkLabelKey(text: string): string | undefined {
  const slash = text.lastIndexOf('/');
  const prefix = slash >= 0 ? text.slice(0, slash) : undefined;
  const name = slash >= 0 ? text.slice(slash + 1) : text;
  if (
    (prefix !== undefined && checkDnsSubdomain(prefix) !== undefined) ||
    name.length > 63 ||
    !LABEL_NAME.test(name)
  ) {
    return 'a Kubernetes label key: an optional DNS subdomain and "/", then at most 63 letters, digits, "-", "_" or "." starting and ending with a letter or digit, e.g. "app.kubernetes.io/name"';
  }
  return undefined;
}

/** The bytes of an IPv4 or IPv6 address, or `undefined`. */
function ipBytes(text: string): number[] | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const parts = text.split('.').map(Number);
    return parts.every((p, i) => p <= 255 && String(p) === text.split('.')[i]) ? parts : undefined;
  }
  if (!/^[0-9a-fA-F:]+$/.test(text) || (text.match(/::/g) ?? []).length > 1) {
    return undefined;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const missing = 8 - h.length - t.length;
  if ((tail === undefined && missing !== 0) || (tail !== undefined && missing < 1)) {
    return undefined;
  }
  const all = [...h, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...t];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    return undefined;
  }
  return all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]);
}

/** An IP block in CIDR form, as a NetworkPolicy's ipBlock takes it: address and prefix length, e.g. "10.0.0.0/16". */
export interface Cidr {
  bytes: number[];
  prefix: number;
}

/** Parses "address/prefix" (IPv4 or IPv6); `undefined` when it is not one. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const bytes = m ? ipBytes(m[1]) : undefined;
  if (!m || !bytes || String(Number(m[2])) !== m[2] || Number(m[2]) > bytes.length * 8) {
    return undefined;
  }
  return { bytes, prefix: Number(m[2]) };
}

/** True when every address of `inner` lies in `outer` (same family, longer or equal prefix, same leading bits). */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  if (inner.bytes.length !== outer.bytes.length || inner.prefix < outer.prefix) {
    return false;
  }
  for (let bit = 0; bit < outer.prefix; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((inner.bytes[bit >> 3] & mask) !== (outer.bytes[bit >> 3] & mask)) {
      return false;
    }
  }
  return true;
}

/** An IPv4 or IPv6 block in CIDR form. */
export function checkCidr(text: string): string | undefined {
  return parseCidr(text) === undefined
    ? 'an IPv4 or IPv6 block in CIDR form, e.g. "10.20.0.0/16" or "fd00::/64"'
    : undefined;
}
