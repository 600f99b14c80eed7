/**
 * The declared schema of every top-level `pavemaster:*` key: the `config:` block of Pulumi.yaml, which
 * test/unit/config/schema.test.ts keeps equal to this table (and to the keys the loader reads). With it, the
 * Pulumi CLI checks each value's type before the program runs ("Stack 'x' with configuration key
 * 'pavemaster:replicas' must be of type 'integer'"), and `pulumi config` lists every key with its default.
 *
 * Why some defaults are placeholders: Pulumi 3.259 treats a declared key without a default as required, and
 * passes a declared default to the program as if the stack had set it. Many defaults here depend on the
 * environment profile or on other keys (replicas, the namespace, the host), so their declared default is a
 * placeholder that means "not set" (`""`, `-1`, `{}`, `[]`, each named in the description), and
 * {@link withoutDeclaredDefaults} drops a value equal to its placeholder before the loader reads it. Fixed
 * defaults (the port, the probe paths) are declared as they are.
 *
 * Why the secret keys ({@link SECRET_CONFIG_KEYS}) carry no `secret: true`: in Pulumi 3.259 a declared secret key
 * is either required (no default) or fails every stack that leaves it unset ("must be encrypted as it's
 * secret": the declared default is plain text). These keys are optional (an unset Slack webhook leaves the
 * receiver out), so their descriptions say "Secret" and the loader keeps their values out of every message.
 */
import { DEFAULT_SLOT } from '../components/shared/slots';

/** Keys whose values are secrets; declared without `secret: true` (see above). */
export const SECRET_CONFIG_KEYS: readonly string[] = [
  'appSecrets',
  'slackWebhookUrl',
  'smtpPassword',
  'prometheusBearerToken',
  'prometheusPassword',
  'grafanaToken',
  'releaseSlackWebhookUrl',
];

/** The schema types Pulumi.yaml's `config:` block knows. */
export type ConfigType = 'string' | 'integer' | 'boolean' | 'object' | 'array';

/** One declared key, as written in Pulumi.yaml. */
export interface ConfigDeclaration {
  readonly type: ConfigType;
  /** For arrays: the items' type. */
  readonly items?: { readonly type: ConfigType };
  readonly description: string;
  /** The declared default; a placeholder for "not set" when `placeholder` is true. Absent: required. */
  readonly default?: string | number | boolean | Record<string, never> | readonly never[];
  /** The default means "not set": the loader's own default (from the profile or other keys) applies. */
  readonly placeholder?: boolean;
}

const unset = { placeholder: true } as const;
const str = (description: string, def = ''): ConfigDeclaration => ({
  type: 'string',
  description,
  default: def,
  ...(def === '' ? unset : {}),
});
const obj = (description: string): ConfigDeclaration => ({
  type: 'object',
  description,
  default: {},
  ...unset,
});

/** Every top-level key, in the order Pulumi.yaml lists them. */
export const CONFIG_SCHEMA: Readonly<Record<string, ConfigDeclaration>> = {
  environment: str(
    'The environment profile, "staging" or "production". "" (the default): the stack name, which must then be one of the two.',
  ),
  namespace: str(
    'The app namespace; the monitoring and logging namespaces derive from it. "" (the default): "pavemaster-<stack>".',
  ),
  createNamespace: {
    type: 'boolean',
    description:
      'Create the app namespace (a cluster-scoped object). false: it exists already, made by the cluster\'s admins, and the stack deploys with namespaced rights only (docs/security.md, "Least privilege"); then pavemaster:monitoring.enabled and pavemaster:logging.enabled must be false, as their namespaces, ClusterRoles and node agents are cluster-scoped.',
    default: true,
  },
  appName: str('The app name (a DNS label of at most 50 characters).', 'pavemaster'),
  activeSlot: str(
    'The slot that takes traffic, "blue" or "green". Changed by `release promote` and `release rollback`.',
    DEFAULT_SLOT,
  ),
  blueImage: {
    type: 'string',
    description:
      'The image of the blue slot, "[registry/]repository[:tag][@sha256:digest]" (production: pinned by digest). Required.',
  },
  greenImage: { type: 'string', description: 'The image of the green slot. Required.' },
  blueVersion: str('The blue slot\'s `version` label. "" (the default): the image tag.'),
  greenVersion: str('The green slot\'s `version` label. "" (the default): the image tag.'),
  replicas: {
    type: 'integer',
    description:
      "Replicas of the active slot (1-100; production at least 2). -1 (the default): the profile's, staging 1, production 3.",
    default: -1,
    ...unset,
  },
  idleReplicas: {
    type: 'integer',
    description:
      'Replicas of the idle slot (0 up to replicas; equal keeps it warm for an instant rollback). -1 (the default): as many as replicas.',
    default: -1,
    ...unset,
  },
  resources: obj(
    "The app container's requests and limits, {requests: {cpu, memory}, limits: {cpu, memory}}. {} (the default): the profile's.",
  ),
  env: obj('Plain environment variables of the app, NAME: value. {} (the default): none.'),
  secretEnv: obj(
    'Environment variables from existing Kubernetes Secrets, NAME: {secret, key}. {} (the default): none.',
  ),
  appSecrets: obj(
    'Secret: environment values the program stores in a Secret for the app, NAME: value. Set with `pulumi config set --secret --path`. {} (the default): none.',
  ),
  host: str('The Ingress host. "" (the default): "<appName>.<namespace>.localtest.me".'),
  tlsSecretName: str('The TLS Secret of the Ingress. "" (the default): no TLS on the Ingress.'),
  ingressClassName: str('The IngressClass. "" (the default): the cluster\'s default class.'),
  port: { type: 'integer', description: 'The port the app listens on (1024-65535).', default: 8080 },
  healthPath: str("The app's liveness path.", '/healthz'),
  readyPath: str("The app's readiness path.", '/readyz'),
  metricsPath: str("The app's Prometheus metrics path.", '/metrics'),
  smokePaths: {
    type: 'array',
    items: { type: 'string' },
    description: 'Paths the release smoke check requests. [] (the default): healthPath, readyPath and "/".',
    default: [],
    ...unset,
  },
  antiAffinity: str(
    'Spread of the slot\'s pods over nodes, "none", "preferred" or "required". "" (the default): the profile\'s, staging "preferred", production "required".',
  ),
  pdbMaxUnavailable: {
    type: 'integer',
    description:
      "The PodDisruptionBudget's maxUnavailable (1 up to replicas). -1 (the default): the component's default.",
    default: -1,
    ...unset,
  },
  progressDeadlineSeconds: {
    type: 'integer',
    description:
      "Seconds a slot's rollout may go without progress before Kubernetes marks it failed (30-3600); also the default of release.readyTimeoutSeconds.",
    default: 600,
  },
  serviceType: str(
    'The Services\' type: "ClusterIP"; "NodePort" or "LoadBalancer" only with allowExternalServices.',
    'ClusterIP',
  ),
  ingressFrom: {
    type: 'array',
    items: { type: 'object' },
    description:
      "Who else may reach the app (an ingress controller), a list of {namespace | namespaceLabels, podLabels} or {cidr, except}; the app's namespace and monitoring always may. [] (the default): nobody else.",
    default: [],
  },
  egress: {
    type: 'array',
    items: { type: 'object' },
    description:
      'What the app may reach besides cluster DNS (its database), a list of peers as in ingressFrom with {ports, protocol}. [] (the default): nothing else.',
    default: [],
  },
  allowExternalServices: {
    type: 'boolean',
    description: 'Allow Services of type NodePort or LoadBalancer.',
    default: false,
  },
  benchServices: {
    type: 'integer',
    description: 'Benchmarks only: how many copies of the app the stack deploys.',
    default: 1,
  },
  imageBuild: obj(
    "Build and push the target slot's image, {context, dockerfile, repository, slot}. {} (the default): deploy the configured images.",
  ),
  monitoring: obj(
    "Prometheus, Alertmanager, Grafana and the exporters (docs/monitoring.md). {} (the default): the profile's.",
  ),
  slackWebhookUrl: str(
    'Secret: the Slack incoming-webhook URL alerts are posted to. Set with `pulumi config set --secret`. "" (the default): no Slack receiver.',
  ),
  smtpPassword: str(
    'Secret: the SMTP password of the email receiver. Set with `pulumi config set --secret`. "" (the default): none.',
  ),
  logging: obj(
    "Elasticsearch, Logstash, Kibana and Filebeat (docs/logging.md), TLS on every hop. tls.rotation (a whole number from 1, default 1): the certificates' generation, raise it to rotate every certificate (docs/logging.md, TLS); tls.enabled: false is refused. elasticsearch.external ({hosts, ca: {configMap | secret, key} or {systemTrustStore: true}, credentials: {secret, type: apiKey | basic}, egress, dataStream}): ship to an existing Elasticsearch instead of deploying one, with its CA and an existing Secret of the logging namespace (docs/logging.md, An existing Elasticsearch). {} (the default): the profile's.",
  ),
  release: obj(
    'How the release command gates, checks and scales down a release (release/README.md: gates, post-promotion check, scaleDownDelaySeconds). {} (the default): its defaults.',
  ),
  prometheusBearerToken: str(
    'Secret: the bearer token the release command sends to pavemaster:release.prometheusUrl (a managed Prometheus reached directly). Set with `pulumi config set --secret`. "" (the default): none.',
  ),
  prometheusPassword: str(
    'Secret: the basic-auth password of pavemaster:release.prometheusClient.basicAuthUser for pavemaster:release.prometheusUrl. Set with `pulumi config set --secret`. "" (the default): none.',
  ),
  grafanaToken: str(
    'Secret: a Grafana service-account token (Editor) the release command annotates releases with (pavemaster:release.annotations). Set with `pulumi config set --secret`. "" (the default): the stack\'s own Grafana with its generated admin password.',
  ),
  releaseSlackWebhookUrl: str(
    'Secret: the Slack incoming-webhook URL the release command posts each promote, flip-back and rollback to. Set with `pulumi config set --secret`. "" (the default): no post (the delivery workflows post to pavemaster:slackWebhookUrl themselves).',
  ),
  kubernetes: obj(
    'Which cluster the stack deploys to, {context, cluster, server, caFingerprint}: the kubeconfig context the provider uses, the cluster entry it must point at, and the API server URL and CA (SHA-256 fingerprint) of that entry; checked before anything is registered. Production requires context and cluster. {} (the default, staging only): the current context, unchecked.',
  ),
  blueReleaseId: str('Written by the release command: the blue slot\'s release id. "" (the default): none.'),
  blueReleasedAt: str(
    'Written by the release command: when the blue slot was released. "" (the default): never.',
  ),
  greenReleaseId: str(
    'Written by the release command: the green slot\'s release id. "" (the default): none.',
  ),
  greenReleasedAt: str(
    'Written by the release command: when the green slot was released. "" (the default): never.',
  ),
};

/** The text Pulumi passes the program for a declared default (objects and lists as JSON). */
function asConfigText(value: NonNullable<ConfigDeclaration['default']>): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * The raw config without the values that only repeat a placeholder default Pulumi merged in (or the user typed),
 * so the loader applies its own default for them. Keys without the namespace, as the loader reads them.
 */
export function withoutDeclaredDefaults(raw: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    const declared = CONFIG_SCHEMA[key];
    if (declared?.placeholder === true && declared.default !== undefined) {
      const text = asConfigText(declared.default);
      if (value === text || (text === '{}' && value.replace(/\s/g, '') === '{}')) {
        continue;
      }
    }
    out[key] = value;
  }
  return out;
}
