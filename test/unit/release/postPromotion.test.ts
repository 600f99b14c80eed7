import * as http from 'http';
import { AddressInfo } from 'net';
import {
  CONSECUTIVE_ERROR_LIMIT,
  decideWindow,
  evaluateSample,
  fillQuery,
  inClusterService,
  Observation,
  PrometheusClient,
  resolvePrometheus,
  serviceProxyPath,
  watchWindow,
} from '../../../release/postPromotion';
import { DEFAULT_ERROR_RATIO_QUERY } from '../../../stacks/release';
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

  it('keeps the release when Prometheus is unreachable, loudly, unless the stack requires the check', () => {
    const down: Observation = { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:9' };
    expect(decideWindow(down, t, false)).toMatchObject({
      action: 'keep',
      detail: expect.stringMatching(/^WARNING: Prometheus is unreachable \(connect ECONNREFUSED.*UNVERIFIED/),
    });
    expect(decideWindow(down, { ...t, requireCheck: true }, false)).toMatchObject({
      action: 'rollback',
      detail: expect.stringContaining('required'),
    });
  });

  it('tolerates unanswered queries until the limit in a row or the end of the window', () => {
    const down: Observation = { ok: false, error: 'HTTP 503' };
    for (let n = 1; n < CONSECUTIVE_ERROR_LIMIT; n++) {
      expect(decideWindow(down, { ...t, requireCheck: true }, false, n)).toEqual({ action: 'continue' });
    }
    expect(decideWindow(down, { ...t, requireCheck: true }, false, CONSECUTIVE_ERROR_LIMIT).action).toBe(
      'rollback',
    );
    expect(decideWindow(down, t, true, 1).action).toBe('keep');
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

  it('goes on after a lost query, and ends after the limit of lost queries in a row', async () => {
    const c = clock();
    const lost: Observation = { ok: false, error: 'HTTP 503' };
    const fine: Observation = { ok: true, sample: { errorRatio: 0, p95Seconds: 0.1, firingAlerts: [] } };
    const seq = [lost, fine, lost, lost, fine];
    const r = await watchWindow({ settings, ...c, observe: () => Promise.resolve(seq.shift() ?? fine) });
    expect(r).toEqual({ action: 'keep', detail: 'post-promotion check passed', observations: 5 });
    const c2 = clock();
    const r2 = await watchWindow({
      settings: { ...settings, requireCheck: true },
      ...c2,
      observe: () => Promise.resolve(lost),
    });
    expect(r2.action).toBe('rollback');
    expect(r2.observations).toBe(CONSECUTIVE_ERROR_LIMIT);
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
    expect(seen.some((q) => q.includes('slot="green"') && q.includes('status=~"5.."'))).toBe(true);
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

describe('where the post-promotion check finds Prometheus', () => {
  it("filters the error ratio on the contract's `status` label, never `code`", () => {
    expect(DEFAULT_ERROR_RATIO_QUERY).toContain('status=~"5.."');
    expect(DEFAULT_ERROR_RATIO_QUERY).not.toMatch(/\bcode\b/);
  });

  it('requires the check in production by default, not in staging', () => {
    expect(parseReleaseFor({}, { production: true }).postPromotion.requireCheck).toBe(true);
    expect(parseReleaseFor({}).postPromotion.requireCheck).toBe(false);
  });

  it('reads an in-cluster URL as the Service it names', () => {
    expect(inClusterService('http://prometheus.pavemaster-staging-monitoring.svc:9090')).toEqual({
      service: 'prometheus',
      namespace: 'pavemaster-staging-monitoring',
      port: '9090',
      scheme: 'http',
    });
    expect(inClusterService('https://prom.mon.svc.cluster.local')).toEqual({
      service: 'prom',
      namespace: 'mon',
      port: '443',
      scheme: 'https',
    });
    expect(inClusterService('http://127.0.0.1:9090')).toBeUndefined();
    expect(inClusterService('https://prometheus.example.com')).toBeUndefined();
    expect(inClusterService('http://prometheus.mon.svc:9090/prefix')).toBeUndefined();
    // Service and namespace are RFC 1123 labels (the one shared check), the domain svc[.cluster.local][.].
    expect(inClusterService('http://prom.mon.svc.:9090')).toEqual(
      expect.objectContaining({ namespace: 'mon' }),
    );
    expect(inClusterService('http://-prom.mon.svc:9090')).toBeUndefined();
    expect(inClusterService(`http://prom.${'n'.repeat(64)}.svc:9090`)).toBeUndefined();
    expect(inClusterService('http://prom.mon.other.svc:9090')).toBeUndefined();
    expect(inClusterService('http://mon.svc:9090')).toBeUndefined();
  });

  it('builds the API server proxy path', () => {
    const ref = { service: 'prometheus', namespace: 'mon', port: '9090', scheme: 'http' as const };
    expect(serviceProxyPath(ref, 'api/v1/query?query=up')).toBe(
      '/api/v1/namespaces/mon/services/http:prometheus:9090/proxy/api/v1/query?query=up',
    );
  });

  it("prefers the flag, then the stack setting, then the stack's own monitoring; says when there is none", () => {
    const own = { prometheusUrl: 'http://prometheus.ns-monitoring.svc:9090', grafanaUrl: 'x' };
    expect(resolvePrometheus({ monitoringOutput: own }).transport?.description).toBe(
      "Service ns-monitoring/prometheus:9090 through the API server's service proxy",
    );
    expect(resolvePrometheus({ monitoringOutput: own }).source).toContain('monitoring.prometheusUrl');
    const configured = resolvePrometheus({ configUrl: 'http://127.0.0.1:9', monitoringOutput: own });
    expect(configured.transport?.description).toBe('http://127.0.0.1:9');
    expect(configured.source).toContain('pavemaster:release.prometheusUrl');
    expect(
      resolvePrometheus({ flagUrl: 'http://127.0.0.1:8', configUrl: 'http://127.0.0.1:9' }).transport
        ?.description,
    ).toBe('http://127.0.0.1:8');
    const none = resolvePrometheus({});
    expect(none.transport).toBeUndefined();
    expect(none.source).toMatch(
      /no Prometheus.*pavemaster:monitoring.enabled.*pavemaster:release.prometheusUrl/,
    );
  });
});
