/**
 * The load test, run with the real tool (Artillery, pinned by scripts/setup/workflow-tools.sh) against small HTTP
 * servers this test starts on 127.0.0.1: each profile of loadtest/pavemaster.yml runs with its own thresholds but
 * a bounded few-second phase (Artillery's --overrides), so the test proves the thresholds pass a healthy server
 * and fail a slow one, an erroring one and an unreachable one. Every run is bounded in time and request count.
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO, run, RunResult, tempDir, tool } from './tools';

const SCRIPT = path.join(REPO, 'loadtest', 'pavemaster.yml');
/** Two seconds at five new visitors a second: about twenty requests. */
const BOUNDED = JSON.stringify({ config: { phases: [{ duration: 2, arrivalRate: 5 }] } });
const MAX_REQUESTS = 100;
const ENV = { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true' };

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

/** Runs the jobs at most `width` at a time (two cores: keep timing noise out of the latency thresholds). */
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
  const doc = parse(fs.readFileSync(SCRIPT, 'utf8')) as {
    config: {
      target: string;
      environments: Record<
        string,
        {
          phases: { duration: number; arrivalRate: number; rampTo?: number; maxVusers?: number }[];
          plugins: { ensure: { thresholds: Record<string, number>[]; maxErrorRate: number } };
        }
      >;
      plugins: Record<string, unknown>;
    };
  };

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
});

describe('Artillery against local servers', () => {
  const results: Record<string, RunResult & { requests: number }> = {};

  beforeAll(async () => {
    const cases: Record<string, { profile: string; behaviour?: { status?: number; delayMs?: number } }> = {
      healthyPeak: { profile: 'peak', behaviour: {} },
      slowPeak: { profile: 'peak', behaviour: { delayMs: 400 } },
      erroringPeak: { profile: 'peak', behaviour: { status: 500 } },
      refusedPeak: { profile: 'peak' },
      slowStress: { profile: 'stress', behaviour: { delayMs: 400 } },
      healthyEndurance: { profile: 'endurance', behaviour: {} },
    };
    await pool(
      Object.entries(cases).map(([name, c]) => async () => {
        if (c.behaviour === undefined) {
          const result = await artillery(c.profile, await closedPort());
          results[name] = { ...result, requests: 0 };
          return;
        }
        const server = await startServer(c.behaviour);
        try {
          const result = await artillery(c.profile, server.url);
          results[name] = { ...result, requests: server.requests() };
        } finally {
          await server.close();
        }
      }),
      2,
    );
  }, 300_000);

  it('passes a healthy server on the peak thresholds', () => {
    const r = results.healthyPeak;
    expect(r.stdout).toContain('ok: http.response_time.p95 < 300');
    expect(r.stdout).toContain('ok: http.response_time.p99 < 1000');
    expect(r.stdout).toContain('ok: maxErrorRate < 1');
    expect(r.stdout).toContain('ok: http.codes.200 / http.requests >= 0.99');
    expect(r.code).toBe(0);
    expect(r.requests).toBeGreaterThan(5);
    expect(r.requests).toBeLessThanOrEqual(MAX_REQUESTS);
  });

  it('fails a slow server on peak latency', () => {
    const r = results.slowPeak;
    expect(r.stdout).toContain('fail: http.response_time.p95 < 300');
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

  it('lets the stress profile accept latency that peak refuses', () => {
    const r = results.slowStress;
    expect(r.stdout).toContain('ok: http.response_time.p99 < 3000');
    expect(r.code).toBe(0);
  });

  it('passes a healthy server on the endurance thresholds', () => {
    const r = results.healthyEndurance;
    expect(r.stdout).toContain('ok: http.codes.200 / http.requests >= 0.995');
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
      const report = path.join(tmp.dir, 'report.json');
      const result = await run('.github/scripts/load-test.sh', ['staging', 'peak'], {
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
