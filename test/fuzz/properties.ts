/**
 * What the fuzz test (settings.fuzz.test.ts) holds each rejected config to: one ConfigError, its problems naming
 * the fuzzed key (or a key a documented rule ties to it), key, value and what is allowed in the message, and a
 * secret key's value never shown.
 */
import { checkClusterTarget, readKubeconfig } from '../../infra/cluster';
import { ConfigError } from '../../stacks/problems';
import { loadSettings, SECRET_KEYS } from '../../stacks/settings';
import { MOCK_KUBECONFIG } from '../support/kubeconfig';
import { Json, keyOf, objectKeys, Shape, stringLeaves } from './shapes';

/** The kubeconfig the program entry sees under the harnesses (test/support/kubeconfig.ts). */
const MOCK_KUBECONFIG_VIEW = readKubeconfig({ KUBECONFIG: MOCK_KUBECONFIG });

/**
 * Keys whose value decides what another key may be: a problem may name the dependent key when the fuzzed key
 * takes a value that is fine on its own. Each entry is a documented rule of the loader.
 */
export const DEPENDENTS: { key: RegExp; dependent: RegExp; rule: string }[] = [
  {
    key: /^pavemaster:environment$/,
    dependent: /.*/,
    rule: 'the environment picks the profile: production requires digests, more replicas, longer retention',
  },
  {
    key: /^pavemaster:namespace$/,
    dependent: /^pavemaster:(monitoring|logging)\.(namespace|nodeNamespace)$/,
    rule: 'the monitoring and logging namespaces derive from the app namespace and must stay DNS labels',
  },
  {
    key: /^pavemaster:(blue|green)Image$/,
    dependent: /^pavemaster:(blue|green)Version$/,
    rule: "a slot's version label defaults to its image tag and must be a label value",
  },
  {
    key: /^pavemaster:replicas$/,
    dependent: /^pavemaster:(idleReplicas|pdbMaxUnavailable)$/,
    rule: 'the idle slot and the PodDisruptionBudget are bounded by the active replicas',
  },
  {
    key: /^pavemaster:logging\.kibana\.host$/,
    dependent: /^pavemaster:logging\.kibana\.ingressFrom$/,
    rule: 'a Kibana host needs a source in kibana.ingressFrom: otherwise no ingress controller may reach Kibana',
  },
  {
    key: /^pavemaster:allowExternalServices$/,
    dependent: /^pavemaster:serviceType$/,
    rule: 'NodePort and LoadBalancer Services need allowExternalServices',
  },
  {
    key: /^pavemaster:(env|secretEnv|appSecrets)$/,
    dependent: /^pavemaster:(env|secretEnv|appSecrets)\./,
    rule: 'one environment variable name is set by one of env, secretEnv and appSecrets only',
  },
  {
    key: /[rR]esources(\.|$)/,
    dependent: /([rR]esources\.|\.heap$)/,
    rule: 'a request is at most its limit, and a JVM heap at most half the memory limit',
  },
  {
    key: /\.heap$/,
    dependent: /\.heap$/,
    rule: 'a JVM heap is at most half the memory limit',
  },
  {
    key: /^pavemaster:logging(\.(retentionDays|rollover(\..*)?))?$/,
    dependent: /^pavemaster:logging\.rollover\.maxAge$/,
    rule: 'the rollover age is at most the retention',
  },
  {
    key: /^pavemaster:logging(\.namespace)?$/,
    dependent: /^pavemaster:logging\.nodeNamespace$/,
    rule: 'the node-agent namespace derives from the logging namespace and differs from it',
  },
  {
    key: /^pavemaster:monitoring(\.alerting(\.email(\..*)?)?)?$/,
    dependent: /^pavemaster:monitoring\.alerting\.email\.(to|from|smarthost)$/,
    rule: 'email alerting, once enabled, needs recipients, a sender and a server',
  },
  {
    key: /^pavemaster:release(\.postPromotion(\..*)?)?$/,
    dependent: /^pavemaster:release\.postPromotion\.intervalSeconds$/,
    rule: 'the post-promotion interval is at most its window',
  },
  {
    key: /^pavemaster:logging(\.requireDigest)?$/,
    dependent: /^pavemaster:logging\..*[iI]mage$/,
    rule: 'requireDigest makes every logging image need a digest, the defaults of those without one included',
  },
  {
    key: /^pavemaster:activeSlot$/,
    dependent: /^pavemaster:imageBuild\.slot$/,
    rule: 'the image build targets the idle slot by default',
  },
];

/** The fuzzed key itself, or a key below it (`pavemaster:env.FOO` below `pavemaster:env`). */
function namesKey(fuzzed: string, problemKey: string): boolean {
  return problemKey === fuzzed || problemKey.startsWith(`${fuzzed}.`) || problemKey.startsWith(`${fuzzed}[`);
}

/**
 * A problem about the fuzzed key, a key below it, the object it belongs to (`secretEnv.X` is one object
 * `{secret, key}`: a bad half makes the whole reference unusable), or a key that depends on it.
 */
function related(fuzzed: string, problemKey: string): boolean {
  return (
    namesKey(fuzzed, problemKey) || fuzzed.startsWith(`${problemKey}.`) || dependentOf(fuzzed, problemKey)
  );
}

function dependentOf(fuzzed: string, problemKey: string): boolean {
  return DEPENDENTS.some((d) => d.key.test(fuzzed) && d.dependent.test(problemKey));
}

/** The outcome of loading one config. */
export type Outcome = { ok: true } | { ok: false; error: ConfigError };

export function load(stack: string, raw: Record<string, string>): Outcome {
  try {
    // The program entry checks the stack's cluster against the kubeconfig inside loadSettings (infra/index.ts):
    // the loader here does the same with the harnesses' kubeconfig, so a context the kubeconfig lacks is a rejected
    // case (with its key), not an accepted one the entry then refuses.
    loadSettings(stack, raw, {
      check: (s, problems) => {
        checkClusterTarget(s, MOCK_KUBECONFIG_VIEW, problems);
      },
    });
    return { ok: true };
  } catch (e) {
    if (e instanceof ConfigError) {
      return { ok: false, error: e };
    }
    // Anything else is a crash of the loader: the property fails with the exception and the input.
    throw new Error(`loadSettings threw something other than a ConfigError: ${String(e)}`, { cause: e });
  }
}

/** Checks one rejected case; returns a description of what is wrong, or undefined. */
export function checkRejection(
  shape: Shape,
  value: Json | undefined,
  error: ConfigError,
  baseValues: ReadonlySet<string>,
): string | undefined {
  const fuzzed = keyOf(shape.path);
  if (error.problems.length === 0) {
    return 'a ConfigError with no problem';
  }
  for (const p of error.problems) {
    if (!p.key.startsWith('pavemaster:') || p.allowed.trim() === '') {
      return `a problem without its key or what is allowed: ${JSON.stringify(p)}`;
    }
    if (!error.message.includes(p.key)) {
      return `the message does not name ${p.key}`;
    }
  }
  // The key itself must be named, except when it was left unset: then the object that needs it may be.
  const named = error.problems.some((p) =>
    value === undefined ? related(fuzzed, p.key) : namesKey(fuzzed, p.key) || dependentOf(fuzzed, p.key),
  );
  if (!named) {
    return `no problem names ${fuzzed}: ${error.problems.map((p) => p.key).join(', ')}`;
  }
  const unrelated = error.problems.filter((p) => !related(fuzzed, p.key)).map((p) => p.key);
  if (unrelated.length > 0) {
    return `problems on keys ${fuzzed} does not decide: ${unrelated.join(', ')}`;
  }
  if (SECRET_KEYS.includes(shape.path[0])) {
    const keys = new Set(objectKeys(value));
    const leaked = stringLeaves(value).filter(
      (s) => s.trim().length >= 8 && !keys.has(s) && !baseValues.has(s) && error.message.includes(s),
    );
    if (leaked.length > 0) {
      return `the message shows the secret value ${JSON.stringify(leaked[0].slice(0, 40))}`;
    }
  }
  return undefined;
}

/** Every string leaf of a base config (a value found there may show up in a message legitimately). */
export function baseStrings(raw: Record<string, string>): Set<string> {
  const out = new Set<string>();
  for (const text of Object.values(raw)) {
    out.add(text);
    try {
      for (const s of stringLeaves(JSON.parse(text) as Json)) {
        out.add(s);
      }
    } catch {
      // plain text
    }
  }
  return out;
}
