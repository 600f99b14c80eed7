/**
 * Turns a stack's raw `pavemaster:*` configuration into one typed, validated settings object. Every problem in
 * every section is collected first and reported together in one {@link ConfigError}, before any resource is
 * registered, so a rejected change never touches what is running.
 */
import type * as pulumi from '@pulumi/pulumi';
import { APP_KEYS, AppSettings, parseApp } from './app';
import { ENVIRONMENTS, Environment, ParseContext } from './context';
import { Fields } from './fields';
import { KUBERNETES_KEYS, KubernetesSettings, parseKubernetes } from './kubernetes';
import { LOGGING_KEYS, LOGGING_SECRET_KEYS, LoggingSettings, parseLogging } from './logging';
import { MONITORING_KEYS, MONITORING_SECRET_KEYS, MonitoringSettings, parseMonitoring } from './monitoring';
import { Problems } from './problems';
import { withoutDeclaredDefaults } from './schema';
import { parseRelease, RELEASE_KEYS, RELEASE_SECRET_KEYS, ReleaseSettings } from './release';
import { secretOutput } from './secret';
import { checkDnsLabel, checkEnvName } from '../components/shared/checks';

/** The config namespace of this project. */
export const NAMESPACE = 'pavemaster';

/** Keys read at the top level, outside the sections. */
const ROOT_KEYS = ['environment', 'namespace', 'createNamespace', 'appSecrets'] as const;
/** Top-level keys whose values must stay secret (never shown, wrapped as Pulumi secrets). */
export const SECRET_KEYS: readonly string[] = [
  'appSecrets',
  ...MONITORING_SECRET_KEYS,
  ...LOGGING_SECRET_KEYS,
  ...RELEASE_SECRET_KEYS,
];
/** Every top-level key the program understands. */
export const KNOWN_KEYS: readonly string[] = [
  ...ROOT_KEYS,
  ...APP_KEYS,
  ...MONITORING_KEYS,
  ...LOGGING_KEYS,
  ...RELEASE_KEYS,
  ...KUBERNETES_KEYS,
];

export interface Settings {
  /** The Pulumi stack name. */
  stack: string;
  /** The environment profile in force. */
  environment: Environment;
  /** True for production. */
  production: boolean;
  /** The application namespace. */
  namespace: string;
  /** The stack creates the app namespace (false: it exists, and the stack needs namespaced rights only). */
  createNamespace: boolean;
  /** The blue/green application. */
  app: AppSettings;
  /** Secret environment values the program stores in a Kubernetes Secret for the app (Pulumi secrets). */
  appSecrets: { names: string[]; values: pulumi.Output<Record<string, string>> } | undefined;
  /** Prometheus, Alertmanager, Grafana. */
  monitoring: MonitoringSettings;
  /** Elasticsearch, Logstash, Kibana and the log shipper. */
  logging: LoggingSettings;
  /** How the release command gates and checks a release, and each slot's current release (id, time). */
  release: ReleaseSettings;
  /** Which kubeconfig context and cluster the stack deploys to. */
  kubernetes: KubernetesSettings;
}

/** What loadSettings checks besides the config itself. */
export interface LoadOptions {
  /**
   * Checks of the parsed settings against the world outside the config (infra/cluster.ts: the kubeconfig),
   * whose problems are listed in the same error as the config's own.
   * @default none
   */
  readonly check?: (
    settings: Pick<Settings, 'stack' | 'production' | 'kubernetes'>,
    problems: Problems,
  ) => void;
}

/**
 * Loads settings from raw config values keyed without the namespace (`replicas`, not `pavemaster:replicas`).
 * Throws a ConfigError listing every problem.
 */
export function loadSettings(
  stack: string,
  given: Readonly<Record<string, string>>,
  options: LoadOptions = {},
): Settings {
  const problems = new Problems();
  // A placeholder default of Pulumi.yaml ("", 0, -1, {}, []) means "not set", however it arrived: merged in by
  // Pulumi or typed by the user (stacks/schema.ts).
  const raw = withoutDeclaredDefaults(given);
  const root = new Fields(`${NAMESPACE}:`, raw, problems, new Set(SECRET_KEYS));

  const defaultEnvironment = (ENVIRONMENTS as readonly string[]).includes(stack)
    ? (stack as Environment)
    : undefined;
  if (defaultEnvironment === undefined && !root.has('environment')) {
    root.fail(
      'environment',
      undefined,
      `required for a stack not named after its environment: one of "staging", "production"`,
    );
  }
  const environment = root.string<Environment>('environment', defaultEnvironment ?? 'staging', {
    oneOf: ENVIRONMENTS,
  });
  const production = environment === 'production';
  const namespace = root.string('namespace', `${NAMESPACE}-${stack}`, { check: (v) => checkDnsLabel(v) });
  const createNamespace = root.bool('createNamespace', true);
  const ctx: ParseContext = { stack, environment, production, namespace };

  const app = parseApp(root, ctx);
  const secretValues = root.stringMap('appSecrets', { checkKey: checkEnvName });
  for (const name of Object.keys(secretValues)) {
    if (name in app.env || name in app.secretEnv) {
      problems.add(
        `${NAMESPACE}:appSecrets.${name}`,
        '[secret]',
        'a name not also set in pavemaster:env or pavemaster:secretEnv',
      );
    }
  }
  const monitoring = parseMonitoring(root, ctx);
  const logging = parseLogging(root, ctx);
  // The namespaced profile: monitoring and logging create namespaces, ClusterRoles and node agents.
  const clusterScoped = [
    ...(monitoring.enabled ? [`${NAMESPACE}:monitoring.enabled`] : []),
    ...(logging.enabled ? [`${NAMESPACE}:logging.enabled`] : []),
  ];
  if (!createNamespace && clusterScoped.length > 0) {
    problems.add(
      `${NAMESPACE}:createNamespace`,
      false,
      `true while ${clusterScoped.join(' and ')} ${clusterScoped.length > 1 ? 'are' : 'is'} true: the monitoring and logging stacks create namespaces and ClusterRoles, which a namespaced identity cannot; set ${clusterScoped.map((k) => `${k} false`).join(' and ')} for the namespaced profile (docs/security.md, "Least privilege")`,
    );
  }
  const release = parseRelease(root, ctx, app);
  const kubernetes = parseKubernetes(root, ctx);
  root.finish();
  options.check?.({ stack, production, kubernetes }, problems);

  problems.throwIfAny(stack);
  return {
    stack,
    environment,
    production,
    namespace,
    createNamespace,
    app,
    appSecrets:
      Object.keys(secretValues).length > 0
        ? { names: Object.keys(secretValues).sort(), values: secretOutput(secretValues) }
        : undefined,
    monitoring,
    logging,
    release,
    kubernetes,
  };
}

/**
 * The running stack's `pavemaster:*` config, keyed without the namespace, without the placeholder defaults
 * Pulumi merges in from Pulumi.yaml (stacks/schema.ts; loadSettings drops them too). `allConfig` is the program's
 * `pulumi.runtime.allConfig()` (passed in, so this module loads without the SDK).
 */
export function readStackConfig(allConfig: Record<string, string>): Record<string, string> {
  const prefix = `${NAMESPACE}:`;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(allConfig)) {
    if (key.startsWith(prefix)) {
      out[key.slice(prefix.length)] = value;
    }
  }
  return withoutDeclaredDefaults(out);
}
