/**
 * Secret values live in Kubernetes Secrets (and Pulumi secrets), never in plain text where anyone who may read
 * a Deployment or a ConfigMap sees them:
 *  - an environment variable whose name says it holds a secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL) takes
 *    its value from a Secret (`valueFrom`), not `value`; a `*_FILE`/`*__FILE` variable pointing at a mounted
 *    secret file by absolute path is a reference, not a secret, and is allowed;
 *  - a ConfigMap has no key named like a secret, no private key, no known token format, and no
 *    `password: literal`-style assignment in its files (placeholders such as `${VAR}`, `$__file{...}` or
 *    `{{ .Env }}` and `*_file` references are fine).
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
/** A reference to a secret mounted as a file: NAME_FILE=/absolute/path. */
const FILE_REFERENCE_NAME = /_FILE$/i;

/** ConfigMap keys that name a secret. */
const SECRET_KEY_NAME =
  /password|passwd|secret|token|api[-_]?key|private[-_]?key|credential|\.(pem|key|p12|pfx|jks)$/i;
/** Keys (in a key name or an assignment) that merely refer to a secret: a file, path, name or env variable. */
const REFERENCE_SUFFIX = /(_file|file|_path|path|_name|name|ref|_env|_from)$/i;
/** `key: value` / `key = value` / `"key": "value"` assignments whose key names a secret. */
const ASSIGNMENT =
  /["']?([A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[-_]?key|apikey|credentials?)[A-Za-z0-9_.-]*)["']?[ \t]*[:=][ \t]*["']?([^"'\s#,}]*)/gi;
/** Values that are placeholders filled in at run time (`${VAR}`, `$__file{..}`, `{{ .. }}`, `%{..}`) or paths. */
const PLACEHOLDER = /^(\$\{|\$[A-Z_]|\$__(file|env|vault)\{|\{\{|%\{|<|\/)/;
/** Literals that are no secret: booleans, null, or the rest of a comparison (`token_expired == 1`). */
const NOT_A_VALUE = /^(true|false|null|~|=.*)$/i;
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
      const value = str(env.value) ?? '';
      if (FILE_REFERENCE_NAME.test(name) && value.startsWith('/')) {
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
  if (namesSecret(key)) {
    return `key "${key}" is named like a secret`;
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
