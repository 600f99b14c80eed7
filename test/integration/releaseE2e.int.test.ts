/**
 * Releases end to end on real pods: the release command (the real Pulumi engine, the real API server) on a
 * throwaway copy of the staging stack (`it-e2e`: its own namespace, its own Prometheus, file backend in a
 * project copy) whose app and gate pods run on the real node (kubelet, containerd, runc, CNI, kube-proxy,
 * kube-router), with the reference app's releases and fault variants (scripts/images: `2.0.0-fail20` answers
 * every fifth request 500, `-failroot` answers "/" 500, `-notready` never passes readiness).
 *
 * 1. zero downtime: a bounded load loop from the host through the active Service's ClusterIP (a new connection
 *    per request, so kube-proxy picks an endpoint each time) during deploy → promote → rollback → promote: no
 *    failed request, the version header changes exactly once per switch; the post-promotion check reaches the
 *    stack's own Prometheus by default (the API server's service proxy, the kubeconfig's credentials) and reads
 *    real samples; a Prometheus that cannot be reached is a WARNING with the reason;
 * 2. + 3. the gates on real pods: a release answering 500 on a smoke path stops at the smoke gate with the path
 *    and status in the error; an idle slot that stops being ready (a rollout of the `-notready` variant) stops
 *    at the ready gate with the slot's state; exit 2 both times, traffic unchanged;
 * 5. automatic flip-back: `2.0.0-fail20` passes smoke, fails 20% under load, and the post-promotion check on the
 *    real Prometheus (scraping the real pods) flips it back within the window plus one interval, exit 4; the
 *    stack file, the state and the live Services agree, and the next preview shows no change;
 * 7. the scale-down delay: with idleReplicas below replicas, the old slot keeps its replicas after promote, an
 *    instant rollback (another process: the package's bin) inside the delay switches back with no gate, no
 *    scale-up and no failed request, and after its own delay the slot it left is scaled down, recorded in Pulumi.
 *
 * Each test prints its figures (`e2e figures: ...`). A step that fails aborts the open release, so the next test
 * starts clean; the load loop always stops in `finally`. Needs the real node (globalSetup starts it) and the
 * images of scripts/images; fails with the reason when either is missing, never skips.
 */
import * as fs from 'fs';
import * as path from 'path';
import { LOCAL_SMOKE_TEST_IMAGE } from '../../components/versions';
import { portForward } from '../../release/annotations';
import { abort, deploy, promote, PromoteResult, ReleaseOptions, rollback } from '../../release/commands';
import { DeploymentObject, Kube, poll } from '../../release/kube';
import { LogRecord } from '../../release/log';
import { readReleaseLock } from '../../release/lock';
import { ReleaseError } from '../../release/session';
import { Sandbox } from '../../release/testing/sandbox';
import { DEFAULT_SCALE_DOWN_DELAY_SECONDS } from '../../stacks/release';
import { APP, CliRun, Pod, RealStack, refused } from './releaseFixture';
import { LoadReport, startLoad } from './load';
import { hostGet } from './realnode';
import { kubectlRecorder } from './kubectlRecorder';

jest.setTimeout(20 * 60 * 1000);

const STACK = 'it-e2e';
const V1 = 'pavemaster/web:1.0.0';
const V11 = 'pavemaster/web:1.1.0';
const V2 = 'pavemaster/web:2.0.0';
const FAIL20 = 'pavemaster/web:2.0.0-fail20';
const FAILROOT = 'pavemaster/web:2.0.0-failroot';
const NOTREADY = 'pavemaster/web:2.0.0-notready';
/** The post-promotion window of the flip-back test (the last session's figures: flip-back 11 s after the switch). */
const FLIP_WINDOW = { windowSeconds: 40, intervalSeconds: 5 };

const real = new RealStack(STACK);
const { output, records, cli, editStackFile, stackConfig, setRelease, selector, readyPods, specReplicas } =
  real;
const { activeUrl, cleanOnFailure, expectAgreement } = real;
let sandbox: Sandbox;
let kube: Kube;
let opts: ReleaseOptions;

function figures(line: string): void {
  // One line per figure, greppable in the jest output.
  console.log(`e2e figures: ${line}`);
}

beforeAll(async () => {
  await real.start(
    {
      blueImage: V1,
      greenImage: V1,
      replicas: 2,
      logging: { enabled: false },
      // The stack's own Prometheus, scraping every 5 s so a release's errors show within seconds.
      monitoring: { scrapeInterval: '5s' },
      release: {
        readyTimeoutSeconds: 30,
        smoke: { timeoutSeconds: 60 },
        postPromotion: { windowSeconds: 10, intervalSeconds: 5, maxErrorRatio: 0.05, maxP95Seconds: 1 },
      },
    },
    [V1, V11, V2, FAIL20, FAILROOT, NOTREADY, LOCAL_SMOKE_TEST_IMAGE],
  );
  ({ sandbox, kube, opts } = real);
});

afterAll(async () => {
  await real.stop('releaseE2e.txt');
});

describe('releases on real pods', () => {
  it('zero downtime: deploy, promote, rollback, promote under load; no failed request, one version change per switch; the check reads the stack own Prometheus', async () => {
    const load = startLoad(await activeUrl());
    let report: LoadReport | undefined;
    const results: { promote1?: PromoteResult; promote2?: PromoteResult } = {};
    let mark = 0;
    const started = Date.now();
    try {
      await cleanOnFailure(async () => {
        await deploy(STACK, V2, opts);
        // A Prometheus that cannot be reached: a loud WARNING with the reason, before the switch.
        const unreachable = await promote(STACK, {
          ...opts,
          prometheusUrl: `http://no-such-prometheus.${STACK}-monitoring.svc:9090`,
        });
        expect(unreachable.postPromotion?.unverified).toBe(true);
        results.promote1 = unreachable;
        await rollback(STACK, opts);
        // By default the stack's own Prometheus, through the API server's service proxy.
        mark = records.length;
        results.promote2 = await promote(STACK, opts);
      });
    } finally {
      report = await load.stop();
    }
    figures(
      `zero downtime (deploy, promote, rollback, promote): ${report.sent} requests, ${report.failed} failed, ` +
        `longest gap ${report.longestGapMs} ms, versions ${report.versions.join(' -> ')}, ${Math.round((Date.now() - started) / 1000)} s`,
    );
    expect(report.sent).toBeGreaterThan(300);
    expect({ failed: report.failed, versions: report.versions }).toEqual({
      failed: 0,
      versions: ['1.0.0', '2.0.0', '1.0.0', '2.0.0'],
    });
    const warning = output.find((l) =>
      l.startsWith('WARNING: the post-promotion check cannot reach Prometheus'),
    );
    expect(warning).toMatch(/no-such-prometheus/);
    expect(warning).toMatch(/the release will be kept UNVERIFIED/);
    const p2 = results.promote2?.postPromotion;
    expect(p2?.source).toBe(
      `the stack's own monitoring (output monitoring.prometheusUrl): http://prometheus.${STACK}-monitoring.svc:9090`,
    );
    expect(p2).toMatchObject({ action: 'keep', unverified: false });
    // Real samples of the new slot, read through the proxy: an error ratio of 0 (not "no data").
    const samples = records.slice(mark).filter((r) => r.step === 'post-promotion:sample');
    const ratios = samples.map((r) => (r.sample as { errorRatio?: number } | undefined)?.errorRatio);
    figures(`post-promotion samples through the service proxy: error ratio ${ratios.join(', ')}`);
    expect(ratios).toContain(0);
    expect(await selector(APP)).toBe('green');
  });

  it('the port-forward the annotations reach Grafana through carries a POST body and its headers to a real pod (the stack own Prometheus), no kubectl', async () => {
    const kubectl = kubectlRecorder();
    let calls: string[];
    try {
      const forward = await portForward(kube, {
        namespace: `${STACK}-monitoring`,
        service: 'prometheus',
        port: '9090',
        scheme: 'http',
      });
      try {
        const started = Date.now();
        // A form-encoded instant query in the body, as Prometheus' API takes it by POST: its answer proves the body
        // arrived whole; the Authorization header rides along as an annotation's does (Prometheus ignores it).
        const answers = await Promise.all(
          [1, 2, 3].map(async (n) => {
            const res = await fetch(`http://127.0.0.1:${forward.localPort}/api/v1/query`, {
              method: 'POST',
              headers: {
                'content-type': 'application/x-www-form-urlencoded',
                authorization: `Basic ${Buffer.from('admin:not-checked').toString('base64')}`,
              },
              body: new URLSearchParams({ query: `vector(${40 + n})` }).toString(),
            });
            const body = (await res.json()) as { data?: { result?: { value?: [number, string] }[] } };
            return [res.status, body.data?.result?.[0]?.value?.[1]];
          }),
        );
        figures(`port-forward to prometheus: 3 POSTs answered in ${Date.now() - started} ms`);
        expect(answers).toEqual([
          [200, '41'],
          [200, '42'],
          [200, '43'],
        ]);
      } finally {
        await forward.close();
      }
    } finally {
      calls = kubectl.calls();
      kubectl.remove();
    }
    expect(calls).toEqual([]);
  });

  it('the smoke gate on a real pod stops a release answering 500 on "/" (path and status in the error), and the ready gate an idle slot that stops being ready; exit 2, traffic stays', async () => {
    const before = {
      active: await selector(APP),
      pods: (await readyPods('green')).map((p) => p.metadata.name),
    };
    expect(before.active).toBe('green');
    await cleanOnFailure(async () => {
      await deploy(STACK, FAILROOT, opts);
      const smoke = await refused(promote(STACK, opts));
      figures(`smoke gate: exit ${smoke.exitCode}: ${smoke.message}`);
      expect(smoke.exitCode).toBe(2);
      expect(smoke.details.gate).toBe('smoke');
      expect(smoke.message).toContain('gate smoke failed, traffic stays on green');
      expect(smoke.message).toMatch(
        new RegExp(`smoke test failed: http://${APP}-preview\\.${STACK}\\.svc/ answered 500`),
      );
      expect(await selector(APP)).toBe('green');
      expect((await readyPods('green')).map((p) => p.metadata.name)).toEqual(before.pods);
      const through = await hostGet(await activeUrl('/'));
      expect(
        'error' in through ? through.error : [through.status, through.headers['x-pavemaster-version']],
      ).toEqual([200, '2.0.0']);

      // The idle slot stops being ready after its deploy (a rollout of the never-ready variant): the ready gate.
      const set = await kube.kubectlRun(['set', 'image', `deployment/${APP}-blue`, `web=${NOTREADY}`]);
      expect(`${set.code} ${set.stderr.trim()}`).toBe('0 ');
      await poll(
        async () =>
          (await kube.list<Pod>('pods', `app=${APP},slot=blue`)).some((p) =>
            (p.spec?.containers ?? []).some((c) => c.image === NOTREADY),
          )
            ? true
            : undefined,
        { timeoutMs: 60_000, what: 'a pod of the never-ready variant' },
      );
      const ready = await refused(promote(STACK, opts));
      figures(`ready gate: exit ${ready.exitCode}: ${ready.message}`);
      expect(ready.exitCode).toBe(2);
      expect(ready.details.gate).toBe('ready');
      expect(ready.message).toContain('gate ready failed, traffic stays on green');
      // The slot's state: how far its rollout got, the pod that never became ready.
      expect(ready.message).toMatch(
        /waiting for slot blue to be Ready behind Service pavemaster-preview: .*pavemaster-blue: \d\/2 replicas updated/,
      );
      expect(ready.message).toContain('rollout in progress');
      expect(await selector(APP)).toBe('green');
      expect((await readyPods('green')).map((p) => p.metadata.name)).toEqual(before.pods);
    });
    // The release is ended (exactly what the release workflow does after exit 2): blue runs its old image again.
    await abort(STACK, opts);
    expect(await readReleaseLock(kube, APP)).toBeUndefined();
    const blue = await kube.get<DeploymentObject>('deployment', `${APP}-blue`);
    expect(blue?.spec?.template?.spec?.containers?.[0]?.image).toBe(V1);
  });

  it('flips a release failing 20% of requests back automatically on the real Prometheus, within the window plus one interval; exit 4; file, state, Services and preview agree', async () => {
    setRelease({ postPromotion: { ...FLIP_WINDOW, maxErrorRatio: 0.05, maxP95Seconds: 1 } });
    const run: { load?: ReturnType<typeof startLoad>; e?: ReleaseError } = {};
    let report: LoadReport | undefined;
    let kubectlCalls: string[] = [];
    try {
      await cleanOnFailure(async () => {
        const url = await activeUrl();
        // The whole release, deploy to flip-back, its Prometheus through the service proxy: no kubectl process.
        const kubectl = kubectlRecorder();
        try {
          await deploy(STACK, FAIL20, opts);
          run.load = startLoad(url);
          run.e = await refused(promote(STACK, opts));
        } finally {
          kubectlCalls = kubectl.calls();
          kubectl.remove();
        }
      });
    } finally {
      report = await run.load?.stop();
    }
    expect(kubectlCalls).toEqual([]);
    const e = run.e;
    if (e === undefined || report === undefined) {
      throw new Error('the promote did not run');
    }
    expect(e.exitCode).toBe(4);
    const result = (e as ReleaseError & { result?: PromoteResult }).result;
    const switched = result?.switched;
    const back = result?.rolledBack;
    if (switched === undefined || back === undefined) {
      throw new Error(`no switch and flip-back in the result: ${e.message}`);
    }
    const flipMs = back.switchedAt - back.switchMs - switched.switchedAt;
    const ratio = Number(/error ratio ([\d.]+) >/.exec(e.message)?.[1]);
    figures(
      `flip-back: ${(flipMs / 1000).toFixed(1)} s after the switch (window ${FLIP_WINDOW.windowSeconds} s + interval ${FLIP_WINDOW.intervalSeconds} s), ` +
        `exit ${e.exitCode}, measured error ratio ${ratio}; load: ${report.sent} requests, ${report.serverErrors} answered 5xx, ${report.errors} connection errors, longest gap ${report.longestGapMs} ms`,
    );
    expect(flipMs).toBeLessThanOrEqual((FLIP_WINDOW.windowSeconds + FLIP_WINDOW.intervalSeconds) * 1000);
    expect(ratio).toBeGreaterThan(0.05);
    expect(e.message).toMatch(/rolled back to green: post-promotion breach: error ratio/);
    // Both traffic moves say what they posted: Grafana and Slack each, posted, skipped or failed with the reason.
    const notes = result?.annotations ?? [];
    figures(
      `annotations: ${notes.map((n) => `${n.event} ${n.target} ${n.outcome} (${n.detail})`).join('; ')}`,
    );
    expect(notes.map((n) => [n.event, n.target])).toEqual([
      ['promote', 'grafana'],
      ['promote', 'slack'],
      ['flip-back', 'grafana'],
      ['flip-back', 'slack'],
    ]);
    // Only the application's answers failed (the faulty release's 500s), never a connection.
    expect(report.errors).toBe(0);
    // The faulty release's version took the traffic once, and gave it back once.
    expect(report.versions).toEqual(['2.0.0', '2.0.0-fail20', '2.0.0']);
    expect(await readReleaseLock(kube, APP)).toBeUndefined();
    await expectAgreement('green');
  });

  it('keeps the old slot warm after promote, an instant rollback inside the delay switches back with no gate and no failed request, then the slot it left is scaled down, recorded in Pulumi', async () => {
    // The default: the stack sets no scaleDownDelaySeconds.
    const delay = DEFAULT_SCALE_DOWN_DELAY_SECONDS;
    expect(delay).toBeGreaterThanOrEqual(30);
    editStackFile((c) => {
      c['pavemaster:idleReplicas'] = 1;
    });
    setRelease({ postPromotion: { windowSeconds: 0, intervalSeconds: 5 } });
    const load = startLoad(await activeUrl());
    let report: LoadReport | undefined;
    const t: Record<string, number> = {};
    const run: { promoted?: PromoteResult; back?: CliRun } = {};
    try {
      await cleanOnFailure(async () => {
        // blue (idle, 1 replica with idleReplicas 1) gets 1.1.0; promote scales it up to 2 for the switch.
        await deploy(STACK, V11, opts);
        expect(await specReplicas('blue')).toBe(1);
        const promoting = promote(STACK, opts);
        // The window is in the release lock once the switch is done.
        const window = await poll(async () => (await readReleaseLock(kube, APP))?.scaleDown, {
          timeoutMs: 180_000,
          intervalMs: 200,
          what: 'the scale-down window in the release lock',
        });
        t.window = Date.now();
        expect(window).toMatchObject({ slot: 'green', idleReplicas: '1', rollback: true });
        t.after = Date.parse(window.after);
        expect(await selector(APP)).toBe('blue');
        // green lost the traffic and keeps both replicas.
        expect(await specReplicas('green')).toBe(2);
        expect(await readyPods('green')).toHaveLength(2);
        t.rollback = Date.now();
        run.back = await cli(['rollback', STACK]);
        t.rollbackDone = Date.now();
        run.promoted = await promoting;
      });
    } finally {
      report = await load.stop();
    }
    const { back, promoted } = run;
    if (back === undefined || promoted === undefined || report === undefined) {
      throw new Error('the promote and the rollback did not run');
    }
    const log = fs
      .readFileSync(path.join(sandbox.dir, '.pulumi-state', 'releases', `${STACK}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogRecord)
      .filter((r) => Date.parse(r.time) >= t.rollback);
    const rb = log.filter((r) => r.command === 'rollback');
    const at = (step: string, outcome: string) => {
      const r = rb.find((x) => x.step === step && x.outcome === outcome);
      return r === undefined ? NaN : Date.parse(r.time);
    };
    const switchedAt = at('switch', 'succeeded');
    const scaledAt = at('scale-down', 'succeeded');
    figures(
      `scale-down delay ${delay} s: green kept 2 replicas after promote; rollback inside the delay ${((t.after - t.rollback) / 1000).toFixed(1)} s before its end, ` +
        `traffic back ${((switchedAt - t.rollback) / 1000).toFixed(1)} s after the command started (process start included); blue scaled down ` +
        `${((scaledAt - switchedAt) / 1000).toFixed(1)} s after it lost the traffic; load: ${report.sent} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms`,
    );
    expect(
      `${back.code} ${back.stderr
        .split('\n')
        .filter((l) => l.startsWith('release:'))
        .join(' ')}`,
    ).toBe('0 ');
    // Inside the delay the rollback was the take-over: no gate, no scale-up, just the switch.
    expect(t.rollback).toBeLessThan(t.after);
    expect(rb.filter((r) => r.step.startsWith('gate:') || r.step === 'scale-up')).toEqual([]);
    expect(rb.find((r) => r.step === 'rollback' && r.outcome === 'started')?.detail).toContain(
      'inside the scale-down delay of release',
    );
    expect(promoted.scaleDown).toMatchObject({ action: 'taken-over', slot: 'green' });
    expect({ failed: report.failed, versions: report.versions }).toEqual({
      failed: 0,
      versions: ['2.0.0', '1.1.0', '2.0.0'],
    });
    // The slot the rollback left kept its replicas for the delay, then the rollback scaled it down, recorded.
    expect(scaledAt - switchedAt).toBeGreaterThanOrEqual(delay * 1000);
    expect(await specReplicas('blue')).toBe(1);
    expect(await readyPods('blue')).toHaveLength(1);
    expect(await specReplicas('green')).toBe(2);
    expect(String(stackConfig()['pavemaster:idleReplicas'])).toBe('1');
    expect(await readReleaseLock(kube, APP)).toBeUndefined();
    await expectAgreement('green');
  });
});
