/**
 * A stub Prometheus for tests: `/api/v1/query` on 127.0.0.1 answering instant queries with the values the test
 * sets (error ratio, p95 latency, firing critical alerts), and recording every query it was asked.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface StubPrometheus {
  url: string;
  /** What the next queries answer; `undefined` answers an empty vector (no data). */
  values: { errorRatio?: number; p95Seconds?: number; alerts: string[] };
  queries: string[];
  close(): Promise<void>;
}

export async function startStubPrometheus(): Promise<StubPrometheus> {
  const stub: Omit<StubPrometheus, 'url' | 'close'> = { values: { alerts: [] }, queries: [] };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('content-type', 'application/json');
    if (u.pathname !== '/api/v1/query') {
      res.statusCode = 404;
      res.end(JSON.stringify({ status: 'error', error: 'not found' }));
      return;
    }
    const q = u.searchParams.get('query') ?? '';
    stub.queries.push(q);
    const now = Date.now() / 1000;
    const scalar = (v: number | undefined) =>
      v === undefined ? [] : [{ metric: {}, value: [now, String(v)] }];
    const result = q.startsWith('ALERTS')
      ? stub.values.alerts.map((name) => ({
          metric: { __name__: 'ALERTS', alertname: name, alertstate: 'firing', severity: 'critical' },
          value: [now, '1'],
        }))
      : q.includes('histogram_quantile')
        ? scalar(stub.values.p95Seconds)
        : scalar(stub.values.errorRatio);
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
