/**
 * The load test, run with the real tool (Artillery, pinned by scripts/setup/workflow-tools.sh) against small HTTP
 * servers this test starts on 127.0.0.1: each profile of loadtest/pavemaster.yml runs with a bounded few-second
 * phase (Artillery's --overrides), so the test proves its thresholds fail a slow server, an erroring one and an
 * unreachable one, and that a healthy one passes. Every run is bounded in time and request count.
 *
 * Speed is never asserted: a measured latency is the server's delay plus whatever a loaded machine adds (CI runs
 * jest workers in parallel), so only a bound from below is certain. A latency threshold is shown to fail with a
 * server whose injected delay is well above it (every request takes at least that long), and to pass with the
 * same scenario whose latency thresholds are raised far above any plausible latency (LENIENT_MS, the
 * `lenient` copy; every other condition as committed), never with the committed 300 ms against a live server.
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { REPO, run, RunResult, tempDir, tool } from './tools';

const SCRIPT = path.join(REPO, 'loadtest', 'pavemaster.yml');
/** Two seconds at five new visitors a second: about twenty requests. */
const BOUNDED = JSON.stringify({ config: { phases: [{ duration: 2, arrivalRate: 5 }] } });
const MAX_REQUESTS = 100;
const ENV = { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true' };
/**
 * The latency thresholds of the passing runs, in ms: ten times the scenario's request timeout (10 s, after which a
 * request fails anyway), so no load on this machine can make a loopback answer miss them.
 */
const LENIENT_MS = 100_000;
/** The injected delays of the failing runs: well above the threshold each one proves (every request waits this). */
const ABOVE_PEAK_MS = 1500; // peak: p95 < 300, p99 < 1000
const ABOVE_STRESS_MS = 3500; // stress: p99 < 3000

type Threshold = Record<string, number>;
interface Scenario {
  config: {
    target: string;
    environments: Record<
      string,
      {
        phases: { duration: number; arrivalRate: number; rampTo?: number; maxVusers?: number }[];
        plugins: { ensure: { thresholds: Threshold[]; maxErrorRate: number } };
      }
    >;
    plugins: Record<string, unknown>;
  };
}

const isLatency = (metric: string) => metric.startsWith('http.response_time.');

/** The scenario with every latency threshold of every profile set to `ms`, and nothing else changed. */
function withLatencyThresholds(doc: Scenario, ms: number): Scenario {
  const copy = JSON.parse(JSON.stringify(doc)) as Scenario;
  for (const env of Object.values(copy.config.environments)) {
    env.plugins.ensure.thresholds = env.plugins.ensure.thresholds.map((t) =>
      Object.fromEntries(Object.entries(t).map(([metric, v]) => [metric, isLatency(metric) ? ms : v])),
    );
  }
  return copy;
}

const committed = (): Scenario => parse(fs.readFileSync(SCRIPT, 'utf8')) as Scenario;

/** Writes the lenient copy of the scenario file to `dir`; returns its path. */
function lenientScript(dir: string): string {
  const file = path.join(dir, 'pavemaster.yml');
  fs.writeFileSync(file, stringify(withLatencyThresholds(committed(), LENIENT_MS)));
  return file;
}

interface TestServer {
  url: string;
  requests: () => number;
  close: () => Promise<void>;
}

function startServer(behaviour: { status?: number; delayMs?: number }): Promise<TestServer> {
  let count = 0;
  const server = http.createServer((_req, res) => {
    count++;
    setTimeout(() => {
      res.writeHead(behaviour.status ?? 200, { 'content-type': 'text/plain' });
      res.end('ok');
    }, behaviour.delayMs ?? 0);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests: () => count,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A loopback port with nothing listening: bound, then released. */
async function closedPort(): Promise<string> {
  const s = await startServer({});
  await s.close();
  return s.url;
}

function artillery(profile: string, target: string, script = SCRIPT): Promise<RunResult> {
  return run(
    tool('artillery'),
    ['run', '--environment', profile, '--target', target, '--overrides', BOUNDED, script],
    { env: ENV, timeoutMs: 90_000 },
  );
}

/**
 * Runs the jobs at most `width` at a time: two cores. No result depends on it (the passing runs' latency
 * thresholds are lenient, the failing runs' delays only add to what load adds); it keeps the runs short.
 */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

describe('loadtest/pavemaster.yml', () => {
  const doc = committed();

  it('targets only the loopback port-forward unless told otherwise', () => {
    expect(doc.config.target).toBe('http://127.0.0.1:18080');
  });

  it('has the peak, stress and endurance profiles, each bounded and with pass/fail thresholds', () => {
    const envs = doc.config.environments;
    expect(Object.keys(envs).sort()).toEqual(['endurance', 'peak', 'stress']);
    const minutes = (name: string) => envs[name].phases.reduce((sum, p) => sum + p.duration, 0) / 60;
    expect(minutes('peak')).toBe(8);
    expect(minutes('stress')).toBe(8);
    expect(minutes('endurance')).toBe(30);
    for (const [name, env] of Object.entries(envs)) {
      expect([name, env.plugins.ensure.thresholds.length > 0]).toEqual([name, true]);
      expect([name, typeof env.plugins.ensure.maxErrorRate]).toEqual([name, 'number']);
      for (const phase of env.phases) {
        expect(phase.duration).toBeGreaterThan(0);
        expect(Math.max(phase.arrivalRate, phase.rampTo ?? 0)).toBeLessThanOrEqual(120);
      }
    }
    // Stress goes well past peak; endurance stays below it.
    const top = (name: string) =>
      Math.max(...envs[name].phases.map((p) => Math.max(p.arrivalRate, p.rampTo ?? 0)));
    expect(top('stress')).toBeGreaterThan(2 * top('peak'));
    expect(top('endurance')).toBeLessThan(top('peak'));
  });

  it('has the latency thresholds the runs below prove are enforced, stress looser than peak', () => {
    const latency = (name: string) =>
      Object.fromEntries(
        doc.config.environments[name].plugins.ensure.thresholds
          .flatMap((t) => Object.entries(t))
          .filter(([metric]) => isLatency(metric)),
      );
    expect(latency('peak')).toEqual({ 'http.response_time.p95': 300, 'http.response_time.p99': 1000 });
    expect(latency('endurance')).toEqual({ 'http.response_time.p95': 300, 'http.response_time.p99': 1000 });
    expect(latency('stress')).toEqual({ 'http.response_time.p99': 3000 });
    // Stress accepts latency that peak refuses: it checks no metric peak does not, and each at a higher limit.
    for (const [metric, limit] of Object.entries(latency('stress'))) {
      expect([metric, limit > latency('peak')[metric]]).toEqual([metric, true]);
    }
    expect(Math.max(ABOVE_PEAK_MS, ABOVE_STRESS_MS)).toBeLessThan(10_000); // below the request timeout
    expect(ABOVE_PEAK_MS).toBeGreaterThan(latency('peak')['http.response_time.p99']);
    expect(ABOVE_STRESS_MS).toBeGreaterThan(latency('stress')['http.response_time.p99']);
  });

  it('has a lenient copy that differs only in its latency thresholds', () => {
    const tmp = tempDir('loadtest-lenient');
    try {
      const lenient = parse(fs.readFileSync(lenientScript(tmp.dir), 'utf8')) as Scenario;
      expect(lenient).toEqual(withLatencyThresholds(doc, LENIENT_MS));
      // Raising them again to the committed values gives the committed scenario back, whatever they were.
      for (const [name, env] of Object.entries(lenient.config.environments)) {
        env.plugins.ensure.thresholds = doc.config.environments[name].plugins.ensure.thresholds;
      }
      expect(lenient).toEqual(doc);
      const thresholds = Object.values(withLatencyThresholds(doc, LENIENT_MS).config.environments).flatMap(
        (e) => e.plugins.ensure.thresholds.flatMap((t) => Object.entries(t)),
      );
      expect(thresholds.filter(([m]) => isLatency(m)).every(([, v]) => v === LENIENT_MS)).toBe(true);
      expect(thresholds.filter(([m]) => isLatency(m)).length).toBe(5);
    } finally {
      tmp.remove();
    }
  });
});

describe('Artillery against local servers', () => {
  const results: Record<string, RunResult & { requests: number }> = {};
  let tmp: ReturnType<typeof tempDir> | undefined;
  afterAll(() => tmp?.remove());

  beforeAll(async () => {
    tmp = tempDir('loadtest-runs');
    const lenient = lenientScript(tmp.dir);
    const cases: Record<
      string,
      { profile: string; script: string; behaviour?: { status?: number; delayMs?: number } }
    > = {
      // Passing runs: the lenient copy, every other condition as committed.
      healthyPeak: { profile: 'peak', script: lenient, behaviour: {} },
      slowStress: { profile: 'stress', script: lenient, behaviour: { delayMs: 400 } },
      healthyEndurance: { profile: 'endurance', script: lenient, behaviour: {} },
      // Failing runs: the committed file.
      slowPeak: { profile: 'peak', script: SCRIPT, behaviour: { delayMs: ABOVE_PEAK_MS } },
      slowerStress: { profile: 'stress', script: SCRIPT, behaviour: { delayMs: ABOVE_STRESS_MS } },
      erroringPeak: { profile: 'peak', script: SCRIPT, behaviour: { status: 500 } },
      refusedPeak: { profile: 'peak', script: SCRIPT },
    };
    await pool(
      Object.entries(cases).map(([name, c]) => async () => {
        if (c.behaviour === undefined) {
          const result = await artillery(c.profile, await closedPort(), c.script);
          results[name] = { ...result, requests: 0 };
          return;
        }
        const server = await startServer(c.behaviour);
        try {
          const result = await artillery(c.profile, server.url, c.script);
          results[name] = { ...result, requests: server.requests() };
        } finally {
          await server.close();
        }
      }),
      2,
    );
  }, 300_000);

  it('passes a healthy server on the peak conditions (latency thresholds lenient)', () => {
    const r = results.healthyPeak;
    expect(r.stdout).toContain(`ok: http.response_time.p95 < ${LENIENT_MS}`);
    expect(r.stdout).toContain(`ok: http.response_time.p99 < ${LENIENT_MS}`);
    expect(r.stdout).toContain('ok: maxErrorRate < 1');
    expect(r.stdout).toContain('ok: http.codes.200 / http.requests >= 0.99');
    expect(r.code).toBe(0);
    expect(r.requests).toBeGreaterThan(5);
    expect(r.requests).toBeLessThanOrEqual(MAX_REQUESTS);
  });

  it('fails a server slower than the peak latency thresholds', () => {
    const r = results.slowPeak;
    expect(r.stdout).toContain('fail: http.response_time.p95 < 300');
    expect(r.stdout).toContain('fail: http.response_time.p99 < 1000');
    // Only latency: the slow server answers every request 200.
    expect(r.stdout).toContain('ok: http.codes.200 / http.requests >= 0.99');
    expect(r.code).not.toBe(0);
    expect(r.requests).toBeLessThanOrEqual(MAX_REQUESTS);
  });

  it('fails a server that answers 500', () => {
    const r = results.erroringPeak;
    expect(r.stdout).toContain('fail: http.codes.200 / http.requests >= 0.99');
    expect(r.code).not.toBe(0);
  });

  it('fails when nothing answers (every virtual user fails)', () => {
    const r = results.refusedPeak;
    expect(r.stdout).toContain('fail: maxErrorRate < 1');
    expect(r.code).not.toBe(0);
  });

  it("passes a slow server on the stress profile's other conditions, and fails one slower than its p99", () => {
    const slow = results.slowStress;
    expect(slow.stdout).toContain(`ok: http.response_time.p99 < ${LENIENT_MS}`);
    expect(slow.stdout).toContain('ok: http.codes.200 / http.requests >= 0.95');
    // Stress has no p95 threshold at all: nothing of it is reported.
    expect(slow.stdout).not.toMatch(/(ok|fail): http\.response_time\.p95/);
    expect(slow.code).toBe(0);
    const slower = results.slowerStress;
    expect(slower.stdout).toContain('fail: http.response_time.p99 < 3000');
    expect(slower.code).not.toBe(0);
    expect(slower.requests).toBeLessThanOrEqual(MAX_REQUESTS);
  });

  it('passes a healthy server on the endurance conditions (latency thresholds lenient)', () => {
    const r = results.healthyEndurance;
    expect(r.stdout).toContain('ok: http.codes.200 / http.requests >= 0.995');
    expect(r.stdout).toContain(`ok: http.response_time.p95 < ${LENIENT_MS}`);
    expect(r.code).toBe(0);
  });
});

describe('Artillery script validation', () => {
  it('rejects a malformed scenario before sending anything', async () => {
    const tmp = tempDir('loadtest');
    const server = await startServer({});
    try {
      const broken = path.join(tmp.dir, 'broken.yml');
      fs.writeFileSync(
        broken,
        [
          'config:',
          `  target: ${server.url}`,
          'scenarios:',
          '  - flow:',
          '      - get:',
          '          qs: {}',
          '',
        ].join('\n'),
      );
      const result = await run(tool('artillery'), ['run', broken], { env: ENV, timeoutMs: 60_000 });
      expect(result.stdout + result.stderr).toMatch(/Scenario validation error/);
      expect(result.code).not.toBe(0);
      expect(server.requests()).toBe(0);
    } finally {
      await server.close();
      tmp.remove();
    }
  }, 90_000);
});

describe('.github/scripts/load-test.sh', () => {
  it('runs a profile against a given target and passes a healthy server', async () => {
    const server = await startServer({});
    const tmp = tempDir('loadtest-report');
    try {
      // The script as committed, in a tree whose scenario has lenient latency thresholds (see the top).
      fs.mkdirSync(path.join(tmp.dir, '.github', 'scripts'), { recursive: true });
      fs.mkdirSync(path.join(tmp.dir, 'loadtest'));
      const script = path.join(tmp.dir, '.github', 'scripts', 'load-test.sh');
      fs.copyFileSync(path.join(REPO, '.github', 'scripts', 'load-test.sh'), script);
      fs.chmodSync(script, 0o755);
      lenientScript(path.join(tmp.dir, 'loadtest'));
      const report = path.join(tmp.dir, 'report.json');
      const result = await run(script, ['staging', 'peak'], {
        env: { ...ENV, LOADTEST_TARGET: server.url, LOADTEST_OVERRIDES: BOUNDED, LOADTEST_REPORT: report },
        timeoutMs: 90_000,
      });
      expect(result.stdout).toContain(`load-test: peak against ${server.url} (staging preview)`);
      expect(result.code).toBe(0);
      const json = JSON.parse(fs.readFileSync(report, 'utf8')) as {
        aggregate: { counters: Record<string, number> };
      };
      expect(json.aggregate.counters['http.requests']).toBe(server.requests());
      expect(server.requests()).toBeLessThanOrEqual(MAX_REQUESTS);
    } finally {
      await server.close();
      tmp.remove();
    }
  }, 120_000);

  it('refuses an unknown profile', async () => {
    const result = await run('.github/scripts/load-test.sh', ['staging', 'soak'], { env: ENV });
    expect(result.stderr).toContain('unknown profile "soak"');
    expect(result.code).toBe(64);
  });
});
