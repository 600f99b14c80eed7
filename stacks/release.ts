/**
 * The release section of the stack config: how `release` (the release command, `release/cli.ts`) gates,
 * checks and records a blue/green release of this stack.
 *
 * - `pavemaster:release`: an object with the pre-promotion gates (`backup`, `migration`, `smoke`), the Jobs'
 *   common settings (`jobs`), the post-promotion check (`postPromotion`) and where Prometheus is
 *   (`prometheusUrl`). Every field has a default, so a stack without it gets a readiness gate and a smoke test.
 * - `pavemaster:blueReleaseId`, `pavemaster:blueReleasedAt`, `pavemaster:greenReleaseId`,
 *   `pavemaster:greenReleasedAt`: written by `release deploy` (never by hand); the program turns them into the
 *   slot Deployment's `pavemaster.io/release-id` and `pavemaster.io/released-at` annotations.
 */
import { checkHttpPath } from '../components/shared/checks';
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

export interface ReleaseSettings {
  /**
   * The Prometheus the post-promotion check queries (http or https). Default: the stack's own (its
   * `monitoring.prometheusUrl` output). An in-cluster URL (`http://<service>.<namespace>.svc:<port>`) is reached
   * through the API server's service proxy with the kubeconfig's credentials; any other URL directly.
   */
  prometheusUrl?: string;
  /** Seconds to wait for a slot to become Ready (Deployment and EndpointSlices). */
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
  'blueReleaseId',
  'blueReleasedAt',
  'greenReleaseId',
  'greenReleasedAt',
] as const;

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

const RELEASE_ID = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

/** A release id: lowercase letters, digits and "-", at most 32 characters (it becomes part of Job names). */
export function checkReleaseId(text: string): string | undefined {
  return RELEASE_ID.test(text)
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
export function parseRelease(root: Fields, ctx: ParseContext): ReleaseSettings {
  const f = root.object('release');
  const prometheusUrl = f.optionalString('prometheusUrl', { check: checkUrl });
  const readyTimeoutSeconds = f.int('readyTimeoutSeconds', 600, { min: 5, max: 3600 });
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
