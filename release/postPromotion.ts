/**
 * The post-promotion check, like Argo Rollouts' post-promotion analysis or Flagger's automatic rollback: for a
 * window after traffic moved, query Prometheus for the new slot's error ratio and p95 latency and for critical
 * alerts firing in the app's namespace; on a breach the release command flips traffic back and says why.
 *
 * When Prometheus cannot be reached the release stays as it is (with a warning) unless the stack sets
 * `requireCheck`, in which case an unverifiable release is flipped back too.
 *
 * `evaluateSample` and `decideWindow` are pure; `PrometheusClient` does the HTTP; `watchWindow` runs the loop
 * with an injectable clock.
 */
import * as http from 'http';
import * as https from 'https';
import { PostPromotionSettings } from '../stacks/release';

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
 * Decides after each observation: a breach flips back at once; an unreachable Prometheus flips back only when
 * the check is required (otherwise the release is kept, with the reason); at the end of a clean window, keep.
 */
export function decideWindow(
  obs: Observation,
  t: Thresholds & { requireCheck: boolean },
  last: boolean,
): WindowDecision {
  if (!obs.ok) {
    return t.requireCheck
      ? {
          action: 'rollback',
          detail: `post-promotion check required but Prometheus is unreachable: ${obs.error}`,
        }
      : {
          action: 'keep',
          detail: `Prometheus is unreachable (${obs.error}); the release is kept unverified (set pavemaster:release.postPromotion.requireCheck to flip back instead)`,
        };
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

function getJson(url: URL, timeoutMs: number): Promise<unknown> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) {
          reject(
            new Error(`HTTP ${res.statusCode} from ${url.origin}${url.pathname}: ${body.slice(0, 200)}`),
          );
          return;
        }
        try {
          resolve(JSON.parse(body) as unknown);
        } catch {
          reject(new Error(`not JSON from ${url.origin}${url.pathname}: ${body.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** A minimal instant-query client. */
export class PrometheusClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Runs an instant query and returns its vector. */
  async query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]> {
    const url = new URL('api/v1/query', this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    url.searchParams.set('query', promql);
    const body = (await getJson(url, this.timeoutMs)) as QueryResponse;
    if (body.status !== 'success' || body.data === undefined) {
      throw new Error(`Prometheus query failed: ${body.error ?? body.status}`);
    }
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value?.[1]) }));
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
  for (;;) {
    const obs = await opts.observe();
    count++;
    const elapsed = (now() - start) / 1000;
    opts.onObservation?.(obs, elapsed);
    const last = elapsed + s.intervalSeconds > s.windowSeconds;
    const d = decideWindow(obs, s, last);
    if (d.action !== 'continue') {
      return { ...d, observations: count };
    }
    await sleep(s.intervalSeconds * 1000);
  }
}
