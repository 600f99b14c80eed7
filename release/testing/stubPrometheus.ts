/**
 * A stub Prometheus for tests: `/api/v1/query` on 127.0.0.1 answering instant queries with the values the test
 * sets (error ratio, p95 latency, firing critical alerts), and recording every query it was asked; optionally
 * requiring an `Authorization` header, as a managed Prometheus does.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface StubPrometheus {
  url: string;
  /** What the next queries answer; `undefined` answers an empty vector (no data). */
  values: { errorRatio?: number; p95Seconds?: number; alerts: string[] };
  queries: string[];
  /** When set, a request without exactly this `Authorization` header is answered 401 (and counted). */
  authorization?: string;
  /** Requests refused for their `Authorization` header. */
  unauthorized: number;
  close(): Promise<void>;
}

export async function startStubPrometheus(): Promise<StubPrometheus> {
  const stub: Omit<StubPrometheus, 'url' | 'close'> = {
    values: { alerts: [] },
    queries: [],
    unauthorized: 0,
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('content-type', 'application/json');
    if (stub.authorization !== undefined && req.headers.authorization !== stub.authorization) {
      stub.unauthorized++;
      res.statusCode = 401;
      res.end(JSON.stringify({ status: 'error', error: 'unauthorized' }));
      return;
    }
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
