/**
 * The post-promotion check, like Argo Rollouts' post-promotion analysis or Flagger's automatic rollback: for a
 * window after traffic moved, query Prometheus for the new slot's error ratio and p95 latency and for critical
 * alerts firing in the app's namespace; on a breach the release command flips traffic back and says why.
 *
 * Where Prometheus is: by default the stack's own (its `monitoring.prometheusUrl` output, an in-cluster
 * `http://prometheus.<namespace>.svc:9090`), reached from the machine that runs the release through the API
 * server's service proxy with the kubeconfig's credentials (the release command's own API client, no `kubectl`),
 * so no port-forward or ingress is needed. `pavemaster:release.prometheusUrl` (or `--prometheus-url`) names another one; an in-cluster
 * URL there is reached through the proxy too, any other URL directly.
 *
 * When Prometheus cannot be reached the release command says so loudly, before the switch and after it. A few
 * unanswered queries in a row (like Argo Rollouts' consecutiveErrorLimit) end the window: the release is kept
 * with a warning, or flipped back when the stack sets `requireCheck` (the default in production).
 *
 * `evaluateSample` and `decideWindow` are pure; `PrometheusClient` does the HTTP over a transport;
 * `watchWindow` runs the loop with an injectable clock.
 */
import * as fs from 'fs';
import { checkDnsLabel } from '../components/shared/checks';
import { Slot } from '../components/shared/slots';
import { PostPromotionSettings, PrometheusClientSettings, SecretText } from '../stacks/release';
import { Kube } from './kube';
import type { RawAnswer } from './kubeapi';
import { prog } from './prog';
import { EXIT, ReleaseError, type Session } from './session';
import { undici } from './undici';

/** One observation of the new slot. `undefined` values mean "no data" (e.g. no traffic yet). */
export interface Sample {
  errorRatio?: number;
  p95Seconds?: number;
  /** Names of firing critical alerts. */
  firingAlerts: string[];
}

export interface SampleVerdict {
  breach: boolean;
  reasons: string[];
  notes: string[];
}

export type Thresholds = Pick<PostPromotionSettings, 'maxErrorRatio' | 'maxP95Seconds'>;

/** Judges one sample against the thresholds. */
export function evaluateSample(sample: Sample, t: Thresholds): SampleVerdict {
  const reasons: string[] = [];
  const notes: string[] = [];
  if (sample.errorRatio === undefined) {
    notes.push('no error-ratio data');
  } else if (sample.errorRatio > t.maxErrorRatio) {
    reasons.push(`error ratio ${fmt(sample.errorRatio)} > ${fmt(t.maxErrorRatio)}`);
  }
  if (sample.p95Seconds === undefined) {
    notes.push('no latency data');
  } else if (sample.p95Seconds > t.maxP95Seconds) {
    reasons.push(`p95 latency ${fmt(sample.p95Seconds)}s > ${fmt(t.maxP95Seconds)}s`);
  }
  if (sample.firingAlerts.length > 0) {
    reasons.push(`critical alert firing: ${sample.firingAlerts.join(', ')}`);
  }
  return { breach: reasons.length > 0, reasons, notes };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(3).replace(/\.?0+$/, '');
}

/** One step of the window: a sample or a failure to get one. */
export type Observation = { ok: true; sample: Sample } | { ok: false; error: string };

/** What the window concluded. */
export type WindowDecision =
  { action: 'keep'; detail: string } | { action: 'rollback'; detail: string } | { action: 'continue' };

/**
 * Unanswered queries in a row that end the window (Argo Rollouts' analysis stops at its consecutiveErrorLimit
 * the same way): one lost query is no verdict, three are.
 */
export const CONSECUTIVE_ERROR_LIMIT = 3;

/** The warning (or flip-back reason) for a Prometheus that did not answer. */
export function unreachableDetail(error: string, requireCheck: boolean): string {
  return requireCheck
    ? `post-promotion check required but Prometheus is unreachable: ${error}`
    : `WARNING: Prometheus is unreachable (${error}); the release is kept UNVERIFIED (set pavemaster:release.postPromotion.requireCheck to flip back instead)`;
}

/**
 * Decides after each observation: a breach flips back at once; an unanswered query is tolerated until
 * `CONSECUTIVE_ERROR_LIMIT` in a row or the end of the window, then flips back when the check is required
 * (otherwise the release is kept, with the reason); at the end of a clean window, keep.
 * `consecutiveErrors` counts this observation too.
 */
export function decideWindow(
  obs: Observation,
  t: Thresholds & { requireCheck: boolean },
  last: boolean,
  consecutiveErrors = obs.ok ? 0 : CONSECUTIVE_ERROR_LIMIT,
): WindowDecision {
  if (!obs.ok) {
    if (!last && consecutiveErrors < CONSECUTIVE_ERROR_LIMIT) {
      return { action: 'continue' };
    }
    const detail = unreachableDetail(obs.error, t.requireCheck);
    return t.requireCheck ? { action: 'rollback', detail } : { action: 'keep', detail };
  }
  const v = evaluateSample(obs.sample, t);
  if (v.breach) {
    return { action: 'rollback', detail: `post-promotion breach: ${v.reasons.join('; ')}` };
  }
  return last
    ? {
        action: 'keep',
        detail: `post-promotion check passed${v.notes.length ? ` (${v.notes.join(', ')})` : ''}`,
      }
    : { action: 'continue' };
}

/** Fills `{namespace}`, `{app}`, `{slot}`, `{version}` into a PromQL template. */
export function fillQuery(
  template: string,
  vars: Record<'namespace' | 'app' | 'slot' | 'version', string>,
): string {
  return template.replace(/\{(namespace|app|slot|version)\}/g, (_, k: keyof typeof vars) => vars[k]);
}

/** Prometheus' `/api/v1/query` answer, as far as read here. */
interface QueryResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] };
}

/**
 * How a request reaches Prometheus: `get("api/v1/query?query=...")` resolves to the parsed JSON body or rejects
 * with a reason an operator can act on.
 */
export interface PrometheusTransport {
  /** What the messages call this Prometheus (URL, or the Service behind the API server's proxy). */
  readonly description: string;
  get(pathAndQuery: string): Promise<unknown>;
}

/** What a direct transport sends and trusts: `pavemaster:release.prometheusClient` and its secrets. */
export interface DirectAccess {
  /** A bearer token; or `bearerTokenFile`, read before every request. */
  bearerToken?: SecretText;
  bearerTokenFile?: string;
  /** HTTP basic auth. */
  basicAuth?: { user: string; password: SecretText };
  /** PEM CA certificates trusted instead of the system's roots. */
  ca?: string;
  /** @default 5000 */
  timeoutMs?: number;
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

/**
 * An aborted fetch (its timeout signal). By name: the DOMException it rejects with may come from another realm
 * (a test runner's), where `instanceof Error` is false.
 */
export function isTimeout(e: unknown): boolean {
  const name = typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** fetch's "fetch failed" says nothing: the reason is its cause (ECONNREFUSED, a TLS verification error). */
function fetchFailure(e: unknown, origin: string, timeoutMs: number): Error {
  if (isTimeout(e)) {
    return new Error(`no answer from ${origin} within ${timeoutMs} ms`);
  }
  const cause = e instanceof Error ? (e.cause as (Error & { code?: string }) | undefined) : undefined;
  const code = cause?.code;
  const why = cause
    ? `${cause.message}${code && !cause.message.includes(code) ? ` (${code})` : ''}`
    : String(e);
  const hint =
    code !== undefined && TLS_TRUST_CODES.has(code)
      ? '; trust its CA with pavemaster:release.prometheusClient.caPem or caFile'
      : '';
  return new Error(`${origin}: ${e instanceof Error && !cause ? e.message : why}${hint}`);
}

/** The `Authorization` header of a request, if the access sets credentials (a token file is read now). */
export function authorization(access: DirectAccess): string | undefined {
  if (access.basicAuth) {
    const pair = `${access.basicAuth.user}:${access.basicAuth.password.reveal()}`;
    return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
  }
  let token = access.bearerToken?.reveal();
  if (token === undefined && access.bearerTokenFile !== undefined) {
    try {
      token = fs.readFileSync(access.bearerTokenFile, 'utf8').trim();
    } catch (e) {
      throw new Error(
        `pavemaster:release.prometheusClient.bearerTokenFile ${access.bearerTokenFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }
  return token === undefined ? undefined : `Bearer ${token}`;
}

/** Which credentials a direct access sends, for messages: 'basic auth', 'bearer token' or '' (none). */
function authKind(access: DirectAccess): string {
  if (access.basicAuth) {
    return 'basic auth';
  }
  return access.bearerToken || access.bearerTokenFile ? 'bearer token' : '';
}

/**
 * Plain HTTP(S) to a base URL the machine running the release can reach, on `fetch` (undici's, whose dispatcher
 * takes the CA). Redirects are refused rather than followed, so credentials never go to another address.
 */
export function directTransport(baseUrl: string, access: DirectAccess = {}): PrometheusTransport {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const timeoutMs = access.timeoutMs ?? 5000;
  const dispatcher =
    access.ca !== undefined ? new (undici().Agent)({ connect: { ca: access.ca } }) : undefined;
  const auth = authKind(access);
  return {
    description: baseUrl,
    async get(pathAndQuery) {
      const url = new URL(pathAndQuery, base);
      const headers: Record<string, string> = { accept: 'application/json' };
      const header = authorization(access);
      if (header !== undefined) {
        headers.authorization = header;
      }
      let res;
      try {
        res = await undici().fetch(url, {
          headers,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
          ...(dispatcher ? { dispatcher } : {}),
        });
      } catch (e) {
        throw fetchFailure(e, url.origin, timeoutMs);
      }
      const body = await res.text();
      if (res.status >= 300 && res.status < 400) {
        throw new Error(
          `HTTP ${res.status} from ${url.origin}${url.pathname}: redirected to ${res.headers.get('location') ?? '?'}, which is not followed (credentials stay with the configured URL): set pavemaster:release.prometheusUrl to where it leads`,
        );
      }
      if (res.status === 401 || res.status === 403) {
        throw new Error(
          `HTTP ${res.status} from ${url.origin}${url.pathname}${auth ? ` (sent ${auth})` : ' (sent no credentials)'}: ${body.slice(0, 200)}; check pavemaster:prometheusBearerToken, or prometheusClient.basicAuthUser and pavemaster:prometheusPassword`,
        );
      }
      if (res.status >= 300) {
        throw new Error(`HTTP ${res.status} from ${url.origin}${url.pathname}: ${body.slice(0, 200)}`);
      }
      try {
        return JSON.parse(body) as unknown;
      } catch {
        throw new Error(`not JSON from ${url.origin}${url.pathname}: ${body.slice(0, 200)}`);
      }
    },
  };
}

/**
 * The direct access of `pavemaster:release.prometheusClient` (its CA file read now: a missing file is an error
 * before anything moves). `undefined` settings: none.
 */
export function directAccess(c: PrometheusClientSettings | undefined): DirectAccess {
  if (c === undefined) {
    return {};
  }
  let ca = c.caPem;
  if (c.caFile !== undefined) {
    try {
      ca = fs.readFileSync(c.caFile, 'utf8');
    } catch (e) {
      throw new Error(
        `pavemaster:release.prometheusClient.caFile ${c.caFile} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }
  return {
    bearerToken: c.bearerToken,
    bearerTokenFile: c.bearerTokenFile,
    basicAuth:
      c.basicAuthUser !== undefined && c.basicAuthPassword !== undefined
        ? { user: c.basicAuthUser, password: c.basicAuthPassword }
        : undefined,
    ca,
    timeoutMs: c.timeoutSeconds * 1000,
  };
}

/** A Service inside the cluster: namespace, name, port (number or name) and scheme. */
export interface ServiceRef {
  namespace: string;
  service: string;
  port: string;
  scheme: 'http' | 'https';
}

/**
 * An in-cluster URL, `http(s)://<service>.<namespace>.svc[.cluster.local][:port]`, as the Service it names;
 * `undefined` for any other URL (which is then reached directly).
 */
export function inClusterService(url: string): ServiceRef | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const [service, namespace, ...domain] = u.hostname.replace(/\.$/, '').split('.');
  const svcDomain = domain.join('.') === 'svc' || domain.join('.') === 'svc.cluster.local';
  const labels = [service, namespace].every((l) => l !== undefined && checkDnsLabel(l) === undefined);
  if (!svcDomain || !labels || (u.pathname !== '/' && u.pathname !== '')) {
    return undefined;
  }
  const scheme = u.protocol === 'https:' ? 'https' : 'http';
  return { service, namespace, port: u.port || (scheme === 'https' ? '443' : '80'), scheme };
}

/** The API server path that proxies to a Service (`kubectl get --raw` would take it as is). */
export function serviceProxyPath(ref: ServiceRef, pathAndQuery: string): string {
  return `/api/v1/namespaces/${ref.namespace}/services/${ref.scheme}:${ref.service}:${ref.port}/proxy/${pathAndQuery.replace(/^\//, '')}`;
}

/** What the service proxy needs of the cluster client: one request to an API path (release/kube.ts `Kube`). */
export interface ApiProxy {
  proxy(method: string, apiPath: string, opts: { timeoutMs: number }): Promise<RawAnswer>;
}

/** Why an answer through the proxy is not a success: the API server's `Status` message, or the body's start. */
function proxyRefusal(answer: RawAnswer): string {
  let message: string | undefined;
  try {
    const parsed = JSON.parse(answer.body) as { kind?: unknown; message?: unknown; error?: unknown };
    // The API server's own refusal (no such Service, no endpoints), or the Prometheus API's error.
    const why = parsed.kind === 'Status' ? parsed.message : parsed.error;
    message = typeof why === 'string' ? why : undefined;
  } catch {
    // not JSON: the body itself
  }
  return `HTTP ${answer.status}: ${message ?? (answer.body.trim().split('\n')[0].slice(0, 200) || 'no body')}`;
}

/**
 * Through the API server's service proxy, with the credentials of the kubeconfig the release command uses (its
 * own API client, release/kube.ts: client certificates, tokens and basic auth directly, credential plugins through
 * the client library; no `kubectl` process).
 */
export function serviceProxyTransport(
  ref: ServiceRef,
  opts: { kube?: ApiProxy; env?: NodeJS.ProcessEnv; timeoutSeconds?: number } = {},
): PrometheusTransport {
  const kube = opts.kube ?? new Kube(ref.namespace, undefined, opts.env ?? process.env);
  const timeoutMs = (opts.timeoutSeconds ?? 10) * 1000;
  const description = `Service ${ref.namespace}/${ref.service}:${ref.port} through the API server's service proxy`;
  return {
    description,
    async get(pathAndQuery) {
      let answer: RawAnswer;
      try {
        answer = await kube.proxy('GET', serviceProxyPath(ref, pathAndQuery).replace(/^\//, ''), {
          timeoutMs,
        });
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(`${description}: ${/timeout/i.test(why) ? `no answer within ${timeoutMs} ms` : why}`);
      }
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(`${description}: ${proxyRefusal(answer)}`);
      }
      try {
        return JSON.parse(answer.body) as unknown;
      } catch {
        throw new Error(`${description}: not JSON: ${answer.body.slice(0, 200)}`);
      }
    },
  };
}

/** Where the post-promotion check's Prometheus is, and why; `transport` is absent when there is none. */
export interface PrometheusTarget {
  transport?: PrometheusTransport;
  /** Where the address came from, or why there is none. */
  source: string;
}

/**
 * Picks the Prometheus of a release: the flag, else the stack's `pavemaster:release.prometheusUrl`, else the
 * stack's own (`monitoring.prometheusUrl` output). In-cluster URLs go through the API server's service proxy.
 */
export function resolvePrometheus(opts: {
  flagUrl?: string;
  configUrl?: string;
  /** The stack's `monitoring` output, if it runs its own monitoring. */
  monitoringOutput?: unknown;
  /**
   * Credentials and CA of `configUrl` (`pavemaster:release.prometheusClient`): used only for a URL of the same
   * origin reached directly, so a `--prometheus-url` elsewhere never receives them.
   */
  client?: PrometheusClientSettings;
  /** The cluster client the service proxy goes through (default: one for `env`'s kubeconfig). */
  kube?: ApiProxy;
  env?: NodeJS.ProcessEnv;
}): PrometheusTarget {
  const own =
    typeof opts.monitoringOutput === 'object' && opts.monitoringOutput !== null
      ? (opts.monitoringOutput as { prometheusUrl?: unknown }).prometheusUrl
      : undefined;
  const [url, source] =
    opts.flagUrl !== undefined
      ? [opts.flagUrl, '--prometheus-url']
      : opts.configUrl !== undefined
        ? [opts.configUrl, 'pavemaster:release.prometheusUrl']
        : typeof own === 'string' && own !== ''
          ? [own, "the stack's own monitoring (output monitoring.prometheusUrl)"]
          : [undefined, undefined];
  if (url === undefined || source === undefined) {
    return {
      source:
        'no Prometheus: the stack runs no monitoring of its own (pavemaster:monitoring.enabled) and sets no pavemaster:release.prometheusUrl',
    };
  }
  const ref = inClusterService(url);
  if (ref) {
    return {
      transport: serviceProxyTransport(ref, {
        kube: opts.kube,
        env: opts.env,
        timeoutSeconds: opts.client?.timeoutSeconds,
      }),
      source: `${source}: ${url}`,
    };
  }
  const sameOrigin = opts.configUrl !== undefined && origin(opts.configUrl) === origin(url);
  const access = sameOrigin
    ? directAccess(opts.client)
    : { timeoutMs: (opts.client?.timeoutSeconds ?? 10) * 1000 };
  const kind = authKind(access);
  const sends = kind === '' ? '' : `, ${kind}`;
  return {
    transport: directTransport(url, access),
    source: `${source}: ${url}${sends}${access.ca !== undefined ? ', own CA' : ''}`,
  };
}

function origin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** A minimal instant-query client. */
export class PrometheusClient {
  readonly transport: PrometheusTransport;

  /** A base URL (reached directly) or a transport. */
  constructor(target: string | PrometheusTransport, timeoutMs = 5000) {
    this.transport = typeof target === 'string' ? directTransport(target, { timeoutMs }) : target;
  }

  /** Runs an instant query and returns its vector. */
  async query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
    const body = (await this.transport.get(
      `api/v1/query?${new URLSearchParams({ query: promql }).toString()}`,
    )) as QueryResponse;
    if (body.status !== 'success' || body.data === undefined) {
      throw new Error(`Prometheus query failed: ${body.error ?? body.status}`);
    }
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value?.[1]) }));
  }

  /** Whether Prometheus answers a query at all (before the switch: a loud warning early, not after). */
  async check(): Promise<string | undefined> {
    try {
      await this.query('vector(1)');
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  /** A sample of the slot: the first value of each query, NaN and no result read as "no data". */
  async sample(queries: { errorRatio: string; p95: string; alerts: string }): Promise<Sample> {
    const [errors, p95, alerts] = await Promise.all([
      this.query(queries.errorRatio),
      this.query(queries.p95),
      this.query(queries.alerts),
    ]);
    const first = (v: { value: number }[]) =>
      v.length > 0 && Number.isFinite(v[0].value) ? v[0].value : undefined;
    return {
      errorRatio: first(errors),
      p95Seconds: first(p95),
      firingAlerts: alerts.map((a) => a.metric.alertname ?? JSON.stringify(a.metric)).sort(),
    };
  }
}

/** Runs the window: observe every interval until a decision. */
export async function watchWindow(opts: {
  settings: PostPromotionSettings;
  observe: () => Promise<Observation>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onObservation?: (obs: Observation, elapsedSeconds: number) => void;
}): Promise<{ action: 'keep' | 'rollback'; detail: string; observations: number }> {
  const s = opts.settings;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? (() => Date.now());
  if (s.windowSeconds === 0) {
    return { action: 'keep', detail: 'post-promotion check disabled (windowSeconds 0)', observations: 0 };
  }
  const start = now();
  let count = 0;
  let errors = 0;
  for (;;) {
    const obs = await opts.observe();
    count++;
    errors = obs.ok ? 0 : errors + 1;
    const elapsed = (now() - start) / 1000;
    opts.onObservation?.(obs, elapsed);
    const last = elapsed + s.intervalSeconds > s.windowSeconds;
    const d = decideWindow(obs, s, last, errors);
    if (d.action !== 'continue') {
      return { ...d, observations: count };
    }
    await sleep(s.intervalSeconds * 1000);
  }
}

/** What `runPostPromotion` concluded, and where it looked. */
export interface PostPromotionResult {
  action: 'keep' | 'rollback';
  detail: string;
  observations: number;
  /** Where Prometheus was looked for. */
  source: string;
  /** True when the release was kept without a verdict (Prometheus unreachable or none). */
  unverified: boolean;
}

/** The queries of a slot, placeholders filled. */
export function slotQueries(
  p: Pick<PostPromotionSettings, 'errorRatioQuery' | 'p95Query' | 'alertsQuery'>,
  vars: Record<'namespace' | 'app' | 'slot' | 'version', string>,
): { errorRatio: string; p95: string; alerts: string } {
  return {
    errorRatio: fillQuery(p.errorRatioQuery, vars),
    p95: fillQuery(p.p95Query, vars),
    alerts: fillQuery(p.alertsQuery, vars),
  };
}

/**
 * Finds the stack's Prometheus and checks that it answers, before the switch, so an operator learns of an
 * unverifiable release before traffic moves (printed as a WARNING line, logged as a warning).
 */
export async function preparePostPromotion(
  s: Session,
  flagUrl: string | undefined,
): Promise<{ client?: PrometheusClient; source: string; problem?: string }> {
  if (s.release.postPromotion.windowSeconds === 0) {
    return { source: 'post-promotion check disabled (windowSeconds 0)' };
  }
  const outputs = await s.outputs();
  let target: PrometheusTarget;
  try {
    target = resolvePrometheus({
      flagUrl,
      configUrl: s.release.prometheusUrl,
      client: s.release.prometheusClient,
      monitoringOutput: outputs.monitoring?.value,
      kube: s.kube,
    });
  } catch (e) {
    // A CA file that cannot be read: fixed before traffic moves, not discovered after.
    const message = `${e instanceof Error ? e.message : String(e)}; traffic did not move: fix it and re-run \`${prog()} promote ${s.name}\``;
    s.log.write('post-promotion', 'failed', { detail: message });
    throw new ReleaseError(message, EXIT.usage);
  }
  const client = target.transport ? new PrometheusClient(target.transport) : undefined;
  const problem = client ? await client.check() : target.source;
  if (problem !== undefined) {
    const required = s.release.postPromotion.requireCheck;
    const line = `WARNING: the post-promotion check cannot reach Prometheus (${problem})${
      required
        ? '; requireCheck is set, so the release will be flipped back unless it answers after the switch'
        : '; the release will be kept UNVERIFIED unless it answers after the switch'
    }`;
    s.log.write('post-promotion', 'warning', { detail: line });
    s.out(line);
  } else {
    s.log.write('post-promotion', 'info', { detail: `Prometheus: ${target.source}` });
  }
  return { client, source: target.source, problem };
}

/** The post-promotion window of a slot that just took the traffic. */
export async function runPostPromotion(
  s: Session,
  slot: Slot,
  prepared: { client?: PrometheusClient; source: string },
): Promise<PostPromotionResult> {
  const p = s.release.postPromotion;
  const queries = slotQueries(p, {
    namespace: s.settings.namespace,
    app: s.app,
    slot,
    version: s.version(slot),
  });
  const client = prepared.client;
  const observe = async (): Promise<Observation> => {
    if (client === undefined) {
      return { ok: false, error: prepared.source };
    }
    try {
      return { ok: true, sample: await client.sample(queries) };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  };
  s.log.write('post-promotion', 'started', {
    detail: `${p.windowSeconds}s window, every ${p.intervalSeconds}s, max error ratio ${p.maxErrorRatio}, max p95 ${p.maxP95Seconds}s; ${prepared.source}`,
  });
  const r = await watchWindow({
    settings: p,
    observe,
    onObservation: (obs, elapsed) =>
      s.log.write('post-promotion:sample', obs.ok ? 'info' : 'warning', {
        elapsedSeconds: Math.round(elapsed),
        ...(obs.ok ? { sample: obs.sample } : { error: obs.error }),
      }),
  });
  return {
    ...r,
    source: prepared.source,
    unverified: r.action === 'keep' && r.detail.startsWith('WARNING'),
  };
}
