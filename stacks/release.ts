/**
 * The release section of the stack config: how `release` (the release command, `release/cli.ts`) gates,
 * checks and records a blue/green release of this stack.
 *
 * - `pavemaster:release`: an object with the pre-promotion gates (`backup`, `migration`, `smoke`), the Jobs'
 *   common settings (`jobs`), the post-promotion check (`postPromotion`) and where Prometheus is
 *   (`prometheusUrl`, and `prometheusClient`: credentials and CA for one reached directly). Every field has a
 *   default, so a stack without it gets a readiness gate and a smoke test.
 * - `pavemaster:prometheusBearerToken`, `pavemaster:prometheusPassword`: secrets (`pulumi config set --secret`),
 *   the bearer token or basic-auth password of that Prometheus; they print as `[secret]` everywhere.
 * - `pavemaster:grafanaToken`, `pavemaster:releaseSlackWebhookUrl`: secrets of the release annotations
 *   (`pavemaster:release.annotations`): a Grafana service-account token and the Slack webhook releases go to.
 * - `pavemaster:blueReleaseId`, `pavemaster:blueReleasedAt`, `pavemaster:greenReleaseId`,
 *   `pavemaster:greenReleasedAt`: written by `release deploy` (never by hand); the program turns them into the
 *   slot Deployment's `pavemaster.io/release-id` and `pavemaster.io/released-at` annotations.
 */
import { BLUE_GREEN_APP_DEFAULTS } from '../components/appOptions';
import { checkDnsLabel, checkHttpPath } from '../components/shared/checks';
import { SlotRelease } from '../components/shared/release';
import { ContainerResources } from '../components/shared/resources';
import { perSlot, Slot } from '../components/shared/slots';
import { readResources } from './common';
import { ParseContext } from './context';
import { Fields } from './fields';
import { PROFILES } from './profiles';
import { checkImage } from './validators';

/** A one-shot gate Job run by the release command before traffic moves. */
export interface GateJobSettings {
  /** The command (exec form). An empty command turns the gate off. */
  command: string[];
  /** The image; default: the image being released (the idle slot's new image). */
  image?: string;
  /** How long the Job may run before the gate fails (Job `activeDeadlineSeconds`). */
  timeoutSeconds: number;
  /** Pod annotations of this gate's Job, over `jobs.podAnnotations`. */
  podAnnotations: Record<string, string>;
}

/** The smoke test: a Job that requests the preview Service's health and key endpoints. */
export interface SmokeSettings {
  /** Run the smoke test. */
  enabled: boolean;
  /** An image with `sh` and `curl`. */
  image: string;
  /** Paths to request through the preview Service; default: the app's `smokePaths`. */
  paths?: string[];
  /** Seconds each request may take. */
  requestTimeoutSeconds: number;
  /** How long the Job may run before the gate fails. */
  timeoutSeconds: number;
  /** Pod annotations of the smoke Job, over `jobs.podAnnotations`. */
  podAnnotations: Record<string, string>;
}

/** Settings shared by every gate Job. */
export interface JobSettings {
  /** Seconds a finished Job is kept before Kubernetes deletes it (Job `ttlSecondsAfterFinished`). */
  ttlSecondsAfterFinished: number;
  /** Retries before the Job fails (Job `backoffLimit`). */
  backoffLimit: number;
  /** Container requests and limits. */
  resources: ContainerResources;
  /** Annotations on the gate Jobs' pods (e.g. to opt out of a mesh sidecar). */
  podAnnotations: Record<string, string>;
  /** The UID the gate containers run as (non-root). */
  runAsUser: number;
}

/** The post-promotion check, after traffic moved: like Argo Rollouts' post-promotion analysis. */
export interface PostPromotionSettings {
  /** How long to watch the new slot after the switch; 0 turns the check off. */
  windowSeconds: number;
  /** Seconds between two Prometheus queries. */
  intervalSeconds: number;
  /** The highest acceptable share of 5xx responses of the new slot, from 0 to 1. */
  maxErrorRatio: number;
  /** The highest acceptable 95th percentile request latency of the new slot, in seconds. */
  maxP95Seconds: number;
  /**
   * Flip back when Prometheus cannot be queried (otherwise: a loud warning and the release is kept unverified).
   * Default: true in production (a release there is never kept unverified without someone saying so), false in
   * staging.
   */
  requireCheck: boolean;
  /** PromQL for the error ratio; `{namespace}`, `{app}`, `{slot}`, `{version}` are filled in. */
  errorRatioQuery: string;
  /** PromQL for the p95 latency in seconds; same placeholders. */
  p95Query: string;
  /** PromQL selecting the critical alerts that count as a breach; same placeholders. */
  alertsQuery: string;
}

/**
 * A secret value read from the stack's config (`pulumi config set --secret`). It prints, logs and serializes as
 * `[secret]` (`String()`, `JSON.stringify`, `util.inspect`); only {@link SecretText.reveal} gives the text, at the
 * one place that sends it (an `Authorization` header, a webhook request).
 */
export class SecretText {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  /** The secret itself, for the request that needs it. */
  reveal(): string {
    return this.#text;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[secret]';
  }
}

/**
 * How the release command reaches a Prometheus it queries directly (a managed Prometheus behind a gateway:
 * Grafana Cloud, Amazon Managed Prometheus behind a proxy, a Thanos/Mimir query frontend). Like Prometheus' own
 * `remote_read`/`scrape_config` client: bearer token or basic auth (never both), a CA bundle for https. None of
 * it applies to an in-cluster URL: the API server's service proxy authenticates with the kubeconfig's credentials
 * and drops any other `Authorization` header.
 */
export interface PrometheusClientSettings {
  /** HTTP basic auth: the user; the password is the secret top-level `pavemaster:prometheusPassword`. */
  basicAuthUser?: string;
  /** The password of `basicAuthUser` (secret `pavemaster:prometheusPassword`). */
  basicAuthPassword?: SecretText;
  /** A bearer token (secret top-level `pavemaster:prometheusBearerToken`). */
  bearerToken?: SecretText;
  /**
   * A file on the machine running the release that holds the bearer token, read before every query (so a token
   * that rotates, such as a projected service-account token or one a CI step refreshes, keeps working).
   */
  bearerTokenFile?: string;
  /** PEM CA certificates trusted for an https `prometheusUrl`, instead of the system's roots (inline). */
  caPem?: string;
  /** A file holding PEM CA certificates, instead of `caPem`; read when the release starts. */
  caFile?: string;
  /** Seconds one query may take before it counts as unanswered. @default 10 */
  timeoutSeconds: number;
}

/**
 * Release annotations: each promote, automatic flip-back and rollback is marked on the Grafana dashboards (an
 * annotation through Grafana's HTTP API, tagged so the provisioned dashboards show it) and posted to Slack, with
 * the slot, image, version and who ran it. A failed post is a warning, never a failed release.
 */
export interface AnnotationSettings {
  /** Annotate Grafana. @default true */
  grafana: boolean;
  /**
   * The Grafana to annotate. Default: the stack's own (its `monitoring.grafanaUrl` output), reached through a
   * port-forward (`kubectl port-forward`) with its generated admin password. An in-cluster URL of another Grafana
   * goes through a port-forward too; any other URL directly. Either way with the secret `pavemaster:grafanaToken`
   * (a Grafana service-account token, Editor role) when it is set; another Grafana than the stack's own needs it.
   */
  grafanaUrl?: string;
  /** A Grafana service-account token (secret top-level `pavemaster:grafanaToken`). */
  grafanaToken?: SecretText;
  /** Tags added to every annotation, besides `pavemaster-release`, `namespace:<ns>`, `app:<app>` and the step. */
  tags: string[];
  /** Post to Slack when a webhook is configured. @default true */
  slack: boolean;
  /**
   * The Slack incoming webhook: the secret top-level `pavemaster:releaseSlackWebhookUrl`; none: no Slack post
   * (the alerts' `pavemaster:slackWebhookUrl` is not used: the delivery workflows already post there).
   */
  slackWebhookUrl?: SecretText;
  /** Seconds each post may take. @default 10 */
  timeoutSeconds: number;
}

export interface ReleaseSettings {
  /**
   * The Prometheus the post-promotion check queries (http or https). Default: the stack's own (its
   * `monitoring.prometheusUrl` output). An in-cluster URL (`http://<service>.<namespace>.svc:<port>`) is reached
   * through the API server's service proxy with the kubeconfig's credentials; any other URL directly.
   */
  prometheusUrl?: string;
  /** Credentials and trust for a `prometheusUrl` reached directly (`pavemaster:release.prometheusClient`). */
  prometheusClient: PrometheusClientSettings;
  /** Release annotations on Grafana and Slack (`pavemaster:release.annotations`). */
  annotations: AnnotationSettings;
  /**
   * Seconds to wait for a slot to become Ready (Deployment and EndpointSlices).
   * @default the app's `pavemaster:progressDeadlineSeconds` (600)
   */
  readyTimeoutSeconds: number;
  /**
   * Seconds the slot that lost traffic keeps its replicas after a switch, before the release command scales it
   * down to `idleReplicas` (Argo Rollouts' `scaleDownDelaySeconds`, whose default is the same 30 s: the time
   * kube-proxy on every node and the load balancers need to stop sending it requests). Inside the delay an
   * instant `rollback` switches back to it with no gates and no scale-up. Only matters when `idleReplicas` is
   * below `replicas` (otherwise the idle slot is never scaled down). Production: at least 30.
   * @default 30
   */
  scaleDownDelaySeconds: number;
  backup: GateJobSettings;
  migration: GateJobSettings;
  smoke: SmokeSettings;
  jobs: JobSettings;
  postPromotion: PostPromotionSettings;
  /** The release id and time of each slot's current release, written by `release deploy`. */
  slots: Record<Slot, SlotRelease>;
}

/** The top-level keys this section reads. */
export const RELEASE_KEYS = [
  'release',
  'prometheusBearerToken',
  'prometheusPassword',
  'grafanaToken',
  'releaseSlackWebhookUrl',
  'blueReleaseId',
  'blueReleasedAt',
  'greenReleaseId',
  'greenReleasedAt',
] as const;

/** Top-level keys of this section whose values are secrets. */
export const RELEASE_SECRET_KEYS: readonly string[] = [
  'prometheusBearerToken',
  'prometheusPassword',
  'grafanaToken',
  'releaseSlackWebhookUrl',
];

/**
 * The slot's 5xx share over the last minute. The app labels responses `status` (docs/monitoring.md's contract,
 * the same label the alert rules read). A slot that never answered 5xx has no such series at all, so the
 * numerator falls back to 0 (`or vector(0)`): "0 errors", not "no data"; without any traffic the ratio stays
 * empty (no data).
 */
export const DEFAULT_ERROR_RATIO_QUERY =
  '(sum(rate(http_requests_total{namespace="{namespace}",app="{app}",slot="{slot}",status=~"5.."}[1m]))' +
  ' or vector(0)) / sum(rate(http_requests_total{namespace="{namespace}",app="{app}",slot="{slot}"}[1m]))';
export const DEFAULT_P95_QUERY =
  'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket' +
  '{namespace="{namespace}",app="{app}",slot="{slot}"}[1m])))';
export const DEFAULT_ALERTS_QUERY = 'ALERTS{alertstate="firing",severity="critical",namespace="{namespace}"}';

/**
 * Argo Rollouts' default `scaleDownDelaySeconds`: how long the slot that lost traffic keeps its replicas, so
 * that kube-proxy on every node (and a load balancer's target list) has dropped it before its pods stop.
 */
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;

/** A release id: lowercase letters, digits and "-", at most 32 characters (it becomes part of Job names). */
export function checkReleaseId(text: string): string | undefined {
  return checkDnsLabel(text, 32) === undefined
    ? undefined
    : 'a release id of lowercase letters, digits and "-", at most 32 characters';
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** How Pulumi hands over an unquoted YAML timestamp (Go's time format), e.g. "2026-01-31 12:00:00 +0000 UTC". */
const GO_TIME_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) \+0000 UTC$/;

/**
 * A release time as RFC 3339 UTC. An unquoted time in a hand-edited stack file reaches the program as a YAML
 * timestamp that Pulumi renders in Go's format: it is accepted and turned back into the RFC 3339 text.
 */
export function normalizeReleasedAt(text: string): string | undefined {
  if (RFC3339_UTC.test(text) && !Number.isNaN(Date.parse(text))) {
    return text;
  }
  const m = GO_TIME_UTC.exec(text);
  return m ? `${m[1]}T${m[2]}Z` : undefined;
}

function checkTimestamp(text: string): string | undefined {
  return normalizeReleasedAt(text) !== undefined
    ? undefined
    : 'an RFC 3339 UTC time such as "2026-01-31T12:00:00Z"';
}

function checkUrl(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:'
      ? undefined
      : 'an http or https URL such as "http://prometheus.monitoring.svc:9090"';
  } catch {
    return 'an http or https URL such as "http://prometheus.monitoring.svc:9090"';
  }
}

/** True for a URL naming an in-cluster Service (reached through the API server's service proxy). */
export function isInClusterUrl(text: string): boolean {
  try {
    return /\.svc(\.cluster\.local)?\.?$/.test(new URL(text).hostname);
  } catch {
    return false;
  }
}

/** True for a URL on this machine's loopback interface (a port-forward, a test server). */
export function isLoopbackUrl(text: string): boolean {
  try {
    const host = new URL(text).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * Reads `pavemaster:release.prometheusClient` and the two secret top-level keys, and checks them against the URL
 * they are for: every problem is recorded, none thrown.
 */
function readPrometheusClient(
  root: Fields,
  f: Fields,
  prometheusUrl: string | undefined,
): PrometheusClientSettings {
  const c = f.object('prometheusClient');
  const basicAuthUser = c.optionalString('basicAuthUser', {
    check: (text) => (text.includes(':') ? 'a user name without ":" (HTTP basic auth)' : undefined),
  });
  const bearerTokenFile = c.optionalString('bearerTokenFile');
  const caPem = c.optionalString('caPem', {
    check: (text) =>
      PEM_CERTIFICATE.test(text) ? undefined : 'PEM text of one or more "BEGIN CERTIFICATE" blocks',
  });
  const caFile = c.optionalString('caFile');
  const timeoutSeconds = c.int('timeoutSeconds', 10, { min: 1, max: 120 });
  const token = root.optionalString('prometheusBearerToken', {
    check: (text) => (/\s/.test(text) ? 'a token without whitespace' : undefined),
  });
  const password = root.optionalString('prometheusPassword');
  const s: PrometheusClientSettings = {
    basicAuthUser,
    basicAuthPassword: password === undefined ? undefined : new SecretText(password),
    bearerToken: token === undefined ? undefined : new SecretText(token),
    bearerTokenFile,
    caPem,
    caFile,
    timeoutSeconds,
  };
  if (token !== undefined && bearerTokenFile !== undefined) {
    c.fail(
      'bearerTokenFile',
      bearerTokenFile,
      'unset while pavemaster:prometheusBearerToken is set (one token)',
    );
  }
  const bearer = token !== undefined || bearerTokenFile !== undefined;
  const basic = basicAuthUser !== undefined || password !== undefined;
  if (bearer && basic) {
    c.fail(
      'basicAuthUser',
      basicAuthUser,
      'unset (with pavemaster:prometheusPassword) while a bearer token is set: one of bearer token or basic auth, as Prometheus itself allows',
    );
  } else if (basicAuthUser !== undefined && password === undefined) {
    c.fail('basicAuthUser', basicAuthUser, 'set together with the secret pavemaster:prometheusPassword');
  } else if (basicAuthUser === undefined && password !== undefined) {
    root.fail(
      'prometheusPassword',
      password,
      'set together with pavemaster:release.prometheusClient.basicAuthUser',
    );
  }
  if (caPem !== undefined && caFile !== undefined) {
    c.fail('caFile', caFile, 'unset while caPem is set (one CA bundle)');
  }
  // Each setting that needs a direct URL says so on its own key (the URL itself may be fine for other uses).
  const given: [Fields, string, unknown, 'credentials' | 'ca'][] = [];
  const add = (where: Fields, name: string, value: unknown, kind: 'credentials' | 'ca') => {
    if (value !== undefined) {
      given.push([where, name, value, kind]);
    }
  };
  add(root, 'prometheusBearerToken', token, 'credentials');
  add(root, 'prometheusPassword', password, 'credentials');
  add(c, 'basicAuthUser', basicAuthUser, 'credentials');
  add(c, 'bearerTokenFile', bearerTokenFile, 'credentials');
  add(c, 'caPem', caPem, 'ca');
  add(c, 'caFile', caFile, 'ca');
  const url = prometheusUrl === undefined ? 'unset' : `"${prometheusUrl}"`;
  for (const [where, name, value, kind] of given) {
    if (prometheusUrl === undefined || isInClusterUrl(prometheusUrl)) {
      where.fail(
        name,
        value,
        `unset, or a pavemaster:release.prometheusUrl reached directly (it is ${url}: the stack's own or an in-cluster Prometheus is queried through the API server's proxy with the kubeconfig's credentials)`,
      );
    } else if (kind === 'ca' && !prometheusUrl.startsWith('https:')) {
      where.fail(name, value, `unset, or an https pavemaster:release.prometheusUrl (it is ${url})`);
    } else if (
      kind === 'credentials' &&
      !prometheusUrl.startsWith('https:') &&
      !isLoopbackUrl(prometheusUrl)
    ) {
      where.fail(
        name,
        value,
        `unset, or an https pavemaster:release.prometheusUrl (or a loopback one, such as a port-forward; it is ${url}): credentials are never sent in clear`,
      );
    }
  }
  c.finish();
  return s;
}

const TAG = /^[A-Za-z0-9][-A-Za-z0-9_.:/]{0,62}$/;

/** An https URL, or http to this machine's loopback (a relay, a test server): secrets never travel in clear. */
function checkSecureUrl(what: string): (text: string) => string | undefined {
  return (text) => {
    try {
      const u = new URL(text);
      return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackUrl(text))
        ? undefined
        : `an https URL of ${what} (http only to 127.0.0.1 or localhost)`;
    } catch {
      return `an https URL of ${what}`;
    }
  };
}

/** Reads `pavemaster:release.annotations` and its secrets (`grafanaToken`, `releaseSlackWebhookUrl`). */
function readAnnotations(root: Fields, f: Fields): AnnotationSettings {
  const a = f.object('annotations');
  const grafana = a.bool('grafana', true);
  const grafanaUrl = a.optionalString('grafanaUrl', { check: checkUrl });
  const tags = a.stringList('tags', [], {
    check: (t) => (TAG.test(t) ? undefined : 'a tag of at most 63 letters, digits and "-_.:/"'),
  });
  const slack = a.bool('slack', true);
  const timeoutSeconds = a.int('timeoutSeconds', 10, { min: 1, max: 60 });
  const token = root.optionalString('grafanaToken', {
    check: (text) => (/\s/.test(text) ? 'a token without whitespace' : undefined),
  });
  const releaseWebhook = root.optionalString('releaseSlackWebhookUrl', {
    check: checkSecureUrl('a Slack incoming webhook'),
  });
  // Only a webhook set for releases: the delivery workflows already tell the alerts' channel of each release
  // (falling back to pavemaster:slackWebhookUrl posted every release twice there, seen in workflows.int).
  const webhook = releaseWebhook;
  if (token !== undefined && grafanaUrl !== undefined && !isInClusterUrl(grafanaUrl)) {
    const problem = checkSecureUrl('Grafana')(grafanaUrl);
    if (problem !== undefined) {
      a.fail('grafanaUrl', grafanaUrl, `${problem}, since pavemaster:grafanaToken is sent to it`);
    }
  }
  a.finish();
  return {
    grafana,
    grafanaUrl,
    grafanaToken: token === undefined ? undefined : new SecretText(token),
    tags,
    slack,
    slackWebhookUrl: webhook === undefined ? undefined : new SecretText(webhook),
    timeoutSeconds,
  };
}

function checkPlaceholders(text: string): string | undefined {
  const unknown = [...text.matchAll(/\{([a-zA-Z]+)\}/g)]
    .map((m) => m[1])
    .filter((name) => !['namespace', 'app', 'slot', 'version'].includes(name));
  return unknown.length === 0
    ? undefined
    : `PromQL whose placeholders are {namespace}, {app}, {slot}, {version} (unknown: ${unknown.join(', ')})`;
}

function checkAnnotationKey(k: string): string | undefined {
  return /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(k) &&
    k.length <= 316
    ? undefined
    : 'an annotation key "[prefix/]name"';
}

function readGate(parent: Fields, name: string, ctx: ParseContext, defaultTimeout: number): GateJobSettings {
  const f = parent.object(name);
  const command = f.stringList('command', []);
  const image = f.optionalString('image', {
    check: (text) => checkImage(text, { production: ctx.production, requireDigest: false }),
  });
  const timeoutSeconds = f.int('timeoutSeconds', defaultTimeout, { min: 10, max: 86400 });
  const podAnnotations = f.stringMap('podAnnotations', { checkKey: checkAnnotationKey });
  f.finish();
  return { command, image, timeoutSeconds, podAnnotations };
}

function normalizeReleasedAtOrUndefined(text: string | undefined): string | undefined {
  return text === undefined ? undefined : normalizeReleasedAt(text);
}

/** Reads the release section. */
export function parseRelease(
  root: Fields,
  ctx: ParseContext,
  app: { progressDeadlineSeconds: number } = {
    progressDeadlineSeconds: BLUE_GREEN_APP_DEFAULTS.progressDeadlineSeconds,
  },
): ReleaseSettings {
  const f = root.object('release');
  const prometheusUrl = f.optionalString('prometheusUrl', { check: checkUrl });
  const prometheusClient = readPrometheusClient(root, f, prometheusUrl);
  const annotations = readAnnotations(root, f);
  // As long as Kubernetes gives the slot's rollout by default: the wait ends when the controller would call it stuck.
  const readyTimeoutSeconds = f.int('readyTimeoutSeconds', app.progressDeadlineSeconds, {
    min: 5,
    max: 3600,
  });
  const scaleDownDelaySeconds = f.int('scaleDownDelaySeconds', DEFAULT_SCALE_DOWN_DELAY_SECONDS, {
    min: ctx.production ? DEFAULT_SCALE_DOWN_DELAY_SECONDS : 0,
    max: 3600,
    why: ctx.production
      ? 'production keeps the old slot until kube-proxy and the load balancers stopped sending it requests'
      : undefined,
  });
  const backup = readGate(f, 'backup', ctx, 1800);
  const migration = readGate(f, 'migration', ctx, 1800);

  const s = f.object('smoke');
  const smokePaths = s.has('paths') ? s.stringList('paths', [], { check: checkHttpPath }) : undefined;
  const smoke: SmokeSettings = {
    enabled: s.bool('enabled', true),
    image: s.string('image', PROFILES[ctx.environment].release.smokeImage, {
      check: (text) => checkImage(text, { production: false, requireDigest: false }),
    }),
    paths: smokePaths,
    requestTimeoutSeconds: s.int('requestTimeoutSeconds', 5, { min: 1, max: 120 }),
    timeoutSeconds: s.int('timeoutSeconds', 300, { min: 10, max: 3600 }),
    podAnnotations: s.stringMap('podAnnotations', { checkKey: checkAnnotationKey }),
  };
  s.finish();

  const j = f.object('jobs');
  const podAnnotations = j.stringMap('podAnnotations', { checkKey: checkAnnotationKey });
  const jobs: JobSettings = {
    ttlSecondsAfterFinished: j.int('ttlSecondsAfterFinished', 86400, { min: 0, max: 31 * 86400 }),
    backoffLimit: j.int('backoffLimit', 0, {
      min: 0,
      max: 10,
      why: 'a migration is not blindly retried by default',
    }),
    resources: readResources(j, 'resources', {
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '500m', memory: '256Mi' },
    }),
    podAnnotations,
    runAsUser: j.int('runAsUser', 10001, { min: 1, max: 2147483647, why: 'gate Jobs never run as root' }),
  };
  j.finish();

  const p = f.object('postPromotion');
  const postPromotion: PostPromotionSettings = {
    windowSeconds: p.int('windowSeconds', ctx.production ? 300 : 60, { min: 0, max: 86400 }),
    intervalSeconds: p.int('intervalSeconds', 15, { min: 1, max: 3600 }),
    maxErrorRatio: p.number('maxErrorRatio', 0.01, { min: 0, max: 1 }),
    maxP95Seconds: p.number('maxP95Seconds', 1, { min: 0 }),
    requireCheck: p.bool('requireCheck', ctx.production),
    errorRatioQuery: p.string('errorRatioQuery', DEFAULT_ERROR_RATIO_QUERY, { check: checkPlaceholders }),
    p95Query: p.string('p95Query', DEFAULT_P95_QUERY, { check: checkPlaceholders }),
    alertsQuery: p.string('alertsQuery', DEFAULT_ALERTS_QUERY, { check: checkPlaceholders }),
  };
  if (postPromotion.intervalSeconds > postPromotion.windowSeconds && postPromotion.windowSeconds > 0) {
    p.fail('intervalSeconds', postPromotion.intervalSeconds, 'at most postPromotion.windowSeconds');
  }
  p.finish();
  f.finish();

  const slots = perSlot((slot) => ({
    releaseId: root.optionalString(`${slot}ReleaseId`, { check: checkReleaseId }),
    releasedAt: normalizeReleasedAtOrUndefined(
      root.optionalString(`${slot}ReleasedAt`, { check: checkTimestamp }),
    ),
  }));
  return {
    prometheusUrl,
    prometheusClient,
    annotations,
    readyTimeoutSeconds,
    scaleDownDelaySeconds,
    backup,
    migration,
    smoke,
    jobs,
    postPromotion,
    slots,
  };
}
