import * as http from 'http';
import { AddressInfo } from 'net';
import {
  decideWindow,
  evaluateSample,
  fillQuery,
  Observation,
  PrometheusClient,
  watchWindow,
} from '../../../release/postPromotion';
import { parseReleaseFor } from './support';

const t = { maxErrorRatio: 0.01, maxP95Seconds: 0.5, requireCheck: false };

describe('evaluateSample', () => {
  it('passes a healthy slot', () => {
    expect(evaluateSample({ errorRatio: 0.001, p95Seconds: 0.2, firingAlerts: [] }, t)).toEqual({
      breach: false,
      reasons: [],
      notes: [],
    });
  });

  it('breaches on errors, latency and critical alerts, each named', () => {
    expect(
      evaluateSample({ errorRatio: 0.25, p95Seconds: 1.5, firingAlerts: ['AppDown'] }, t).reasons,
    ).toEqual(['error ratio 0.25 > 0.01', 'p95 latency 1.5s > 0.5s', 'critical alert firing: AppDown']);
  });

  it('treats missing data as no data, not as a breach', () => {
    expect(evaluateSample({ firingAlerts: [] }, t)).toEqual({
      breach: false,
      reasons: [],
      notes: ['no error-ratio data', 'no latency data'],
    });
  });
});

describe('decideWindow', () => {
  const ok = (errorRatio: number): Observation => ({
    ok: true,
    sample: { errorRatio, p95Seconds: 0.1, firingAlerts: [] },
  });
  it('rolls back at once on a breach, keeps after a clean window', () => {
    expect(decideWindow(ok(0.5), t, false)).toEqual({
      action: 'rollback',
      detail: 'post-promotion breach: error ratio 0.5 > 0.01',
    });
    expect(decideWindow(ok(0), t, false)).toEqual({ action: 'continue' });
    expect(decideWindow(ok(0), t, true)).toEqual({ action: 'keep', detail: 'post-promotion check passed' });
  });

  it('keeps the release when Prometheus is unreachable, unless the stack requires the check', () => {
    const down: Observation = { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:9' };
    expect(decideWindow(down, t, false)).toMatchObject({
      action: 'keep',
      detail: expect.stringContaining('unreachable'),
    });
    expect(decideWindow(down, { ...t, requireCheck: true }, false)).toMatchObject({
      action: 'rollback',
      detail: expect.stringContaining('required'),
    });
  });
});

describe('watchWindow', () => {
  const settings = { ...parseReleaseFor({}).postPromotion, windowSeconds: 60, intervalSeconds: 15 };
  function clock() {
    let now = 0;
    return { now: () => now, sleep: (ms: number) => ((now += ms), Promise.resolve()) };
  }

  it('observes every interval over the window and keeps a clean release', async () => {
    const c = clock();
    let calls = 0;
    const r = await watchWindow({
      settings,
      ...c,
      observe: () => (
        calls++,
        Promise.resolve({ ok: true, sample: { errorRatio: 0, p95Seconds: 0.1, firingAlerts: [] } })
      ),
    });
    expect(r.action).toBe('keep');
    expect(calls).toBe(5); // t = 0, 15, 30, 45, 60: the window's both ends
  });

  it('stops at the first breach', async () => {
    const c = clock();
    const samples = [0, 0, 0.3, 0];
    const r = await watchWindow({
      settings,
      ...c,
      observe: () => Promise.resolve({ ok: true, sample: { errorRatio: samples.shift(), firingAlerts: [] } }),
    });
    expect(r).toEqual({
      action: 'rollback',
      detail: 'post-promotion breach: error ratio 0.3 > 0.01',
      observations: 3,
    });
  });

  it('does nothing with a zero window', async () => {
    const r = await watchWindow({
      settings: { ...settings, windowSeconds: 0 },
      observe: () => Promise.reject(new Error('x')),
    });
    expect(r.action).toBe('keep');
    expect(r.observations).toBe(0);
  });
});

describe('PrometheusClient against a stub Prometheus on 127.0.0.1', () => {
  let server: http.Server;
  let url: string;
  const seen: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const q = u.searchParams.get('query') ?? '';
      seen.push(q);
      res.setHeader('content-type', 'application/json');
      if (u.pathname !== '/api/v1/query') {
        res.statusCode = 404;
        res.end('{}');
        return;
      }
      const vector = (metric: Record<string, string>, v: string) => ({ metric, value: [1700000000, v] });
      const result = q.startsWith('ALERTS')
        ? [vector({ alertname: 'PaveMasterDown', severity: 'critical' }, '1')]
        : q.startsWith('histogram_quantile')
          ? [vector({}, 'NaN')]
          : [vector({}, '0.2')];
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('queries error ratio, p95 and alerts with the slot filled in', async () => {
    const p = parseReleaseFor({}).postPromotion;
    const vars = { namespace: 'ns', app: 'pavemaster', slot: 'green', version: '2.0.0' };
    const sample = await new PrometheusClient(url).sample({
      errorRatio: fillQuery(p.errorRatioQuery, vars),
      p95: fillQuery(p.p95Query, vars),
      alerts: fillQuery(p.alertsQuery, vars),
    });
    expect(sample).toEqual({ errorRatio: 0.2, p95Seconds: undefined, firingAlerts: ['PaveMasterDown'] });
    expect(seen).toContain('ALERTS{alertstate="firing",severity="critical",namespace="ns"}');
    expect(seen.some((q) => q.includes('slot="green"') && q.includes('code=~"5.."'))).toBe(true);
  });

  it('reports an unreachable Prometheus as an error', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(new PrometheusClient(`http://127.0.0.1:${port}`, 1000).query('up')).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});
