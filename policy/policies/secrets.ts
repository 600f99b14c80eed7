/**
 * Secret values live in Kubernetes Secrets (and Pulumi secrets), never in plain text where anyone who may read
 * a Deployment or a ConfigMap sees them:
 *  - an environment variable whose name says it holds a secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL) takes
 *    its value from a Secret (`valueFrom`), not `value`; a value that is a file path (`/etc/secrets/x`,
 *    `certs/node.key`: a secret mounted as a file) is a reference, not a secret, and is allowed;
 *  - a ConfigMap has no secret-named key holding a plain value, no private key file (.key, .p12, .pfx, .jks), no
 *    known token format (PEM private key, AWS key id, Slack token or webhook, GitHub token, JWT, credentials in
 *    a URL), and no `password: literal`-style assignment in its files; placeholders filled at run time
 *    (`${VAR}`, `$__file{...}`, `{{ .Env.X }}`, `%{x}`, `@@X@@`), paths, and `*_file`/`*Name` references are
 *    fine.
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import {
  containers,
  describe,
  identity,
  kindOf,
  objects,
  str,
  stringMap,
  Obj,
  Workload,
  workload,
} from '../lib/kubernetes';

/** Environment variable names that must come from a Secret. */
export const SECRET_ENV_NAME = /PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL/i;
/** A file path (a secret mounted as a file): absolute, or relative with an extension ("certs/node.key"). */
const FILE_PATH = /^(\/[\w.@-]+)+\/?$|^([\w.@-]+\/)+[\w@-]+\.[A-Za-z0-9]+$/;

/** ConfigMap keys that name a secret. */
const SECRET_KEY_NAME = /password|passwd|secret|token|api[-_]?key|private[-_]?key|credential/i;
/** ConfigMap keys that are private key material by their file extension. */
const PRIVATE_FILE = /\.(key|p12|pfx|jks)$/i;
/** Keys (in a key name or an assignment) that merely refer to a secret: a file, path, name or env variable. */
const REFERENCE_SUFFIX = /(_file|file|_path|path|_name|name|ref|_env|_from)$/i;
/** `key: value` / `key = value` / `"key": "value"` assignments whose key names a secret. */
const ASSIGNMENT =
  /(?<![\w${./-])["']?([A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[-_]?key|apikey|credentials?)[A-Za-z0-9_.-]*)["']?[ \t]*(?:[:=]>?)[ \t]*["']?([^"'\s#,}]*)/gi;
/** Values that are placeholders filled in at run time (`${VAR}`, `$__file{..}`, `{{ .. }}`, `%{..}`) or paths. */
const PLACEHOLDER = /^(\$\{|\$[A-Z_]|\$__(file|env|vault)\{|\{\{|%\{|<|\/|@@[A-Za-z0-9_]+@@)/;
/**
 * Literals that are no secret: booleans, null, the rest of a comparison (`token_expired == 1`), or a port
 * (`logstash.ns-secrets.svc:5044`: a host name that happens to contain a secret word).
 */
const NOT_A_VALUE = /^(true|false|null|~|=.*|\d{1,5})$/i;
/** Well-known secret formats. */
const TOKEN_FORMATS: [string, RegExp][] = [
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['an AWS access key id', /\bAKIA[0-9A-Z]{16}\b/],
  ['a Slack token', /\bxox[abprs]-[0-9A-Za-z-]{10,}/],
  ['a Slack webhook URL', /hooks\.slack\.com\/services\/[A-Za-z0-9/]+/],
  ['a GitHub token', /\bgh[pousr]_[A-Za-z0-9]{30,}/],
  ['a JSON Web Token', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/],
  ['credentials in a URL', /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:[^\s/@$]+@/i],
];

/** Plain-text secrets in a workload's environment. */
export function envSecretViolations(w: Workload): string[] {
  const out: string[] = [];
  for (const c of containers(w.podSpec)) {
    for (const env of objects(c.spec.env)) {
      const name = str(env.name) ?? '';
      if (!SECRET_ENV_NAME.test(name) || env.valueFrom != null) {
        continue;
      }
      if (FILE_PATH.test(str(env.value) ?? '')) {
        continue;
      }
      out.push(
        `${describe(w)} ${c.role} "${c.name}": env ${name} looks like a secret but has a plain value; ` +
          'take it from a Secret with valueFrom.secretKeyRef.',
      );
    }
  }
  return out;
}

/** True when a key (a ConfigMap key, a config key) names a secret rather than a reference to one. */
export function namesSecret(key: string): boolean {
  return SECRET_KEY_NAME.test(key) && !REFERENCE_SUFFIX.test(key);
}

/** What in one ConfigMap entry looks like a secret, or undefined. */
export function configEntryProblem(key: string, value: string): string | undefined {
  if (PRIVATE_FILE.test(key)) {
    return `key "${key}" is private key material`;
  }
  // A secret-named key holding one plain value is that secret; a secret-named file is judged by its content.
  const single = value.trim();
  if (namesSecret(key) && single !== '' && !/[\n{}:=]/.test(single) && !PLACEHOLDER.test(single)) {
    return `key "${key}" is named like a secret and holds a plain value`;
  }
  for (const [what, pattern] of TOKEN_FORMATS) {
    if (pattern.test(value)) {
      return `key "${key}" holds ${what}`;
    }
  }
  for (const m of value.matchAll(ASSIGNMENT)) {
    const [, name, literal] = m;
    if (
      literal === '' ||
      REFERENCE_SUFFIX.test(name) ||
      PLACEHOLDER.test(literal) ||
      NOT_A_VALUE.test(literal)
    ) {
      continue;
    }
    return `key "${key}" sets ${name} to a literal value`;
  }
  return undefined;
}

/** Plain-text secrets in a ConfigMap. */
export function configMapViolations(props: Obj, fallbackName: string): string[] {
  const { name, namespace } = identity(props, fallbackName);
  const out: string[] = [];
  const entries = {
    ...stringMap(props.data),
    ...Object.fromEntries(Object.keys(stringMap(props.binaryData)).map((k) => [k, ''])),
  };
  for (const [key, value] of Object.entries(entries)) {
    const problem = configEntryProblem(key, value);
    if (problem !== undefined) {
      out.push(`ConfigMap ${namespace}/${name}: ${problem}; put secrets in a Secret.`);
    }
  }
  return out;
}

export const secretsPolicy: ResourceValidationPolicy = {
  name: 'no-plaintext-secrets',
  description:
    'Secret-named environment variables (PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL) use valueFrom, and ' +
    'ConfigMaps hold no secret-looking keys or values.',
  severity: 'critical',
  validateResource: (args, reportViolation) => {
    if (kindOf(args.type) === 'ConfigMap') {
      configMapViolations(args.props, args.name).forEach((m) => reportViolation(m));
      return;
    }
    const w = workload(args.type, args.props, args.name);
    if (w !== undefined) {
      envSecretViolations(w).forEach((m) => reportViolation(m));
    }
  },
};
