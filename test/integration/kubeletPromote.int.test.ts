/**
 * The kubelet restarting during a promote (issue 18): the release command (the real engine, the real API server)
 * promotes a throwaway copy of the staging stack (`it-kubelet`: its own namespace and file backend) whose app pods
 * run on the real node, while `scripts/node restart-kubelet` stops that node's kubelet (containerd, the pods'
 * containers, kube-proxy and the NetworkPolicy controller keep running) and starts it again:
 *
 * 1. SIGTERM, down long enough that the promote's ready gate runs while no kubelet reports anything, and the
 *    smoke gate's Job pod has to wait for the new kubelet;
 * 2. SIGKILL (a crash: no shutdown of its own), down while the ready gate passes and the switch moves traffic
 *    (the smoke gate is off here: its Job needs a kubelet, and with it the switch would follow the restart
 *    instead of overlapping it).
 *
 * Each case holds a bounded load loop through the active Service's ClusterIP (from the host, a new connection
 * per request) and samples the app's pods and the active Service's EndpointSlices every 250 ms. It asserts:
 * the promote either completed with traffic on a slot whose pods were all Ready when the switch started, or
 * failed at a gate with exit 2 and traffic unchanged; no failed request; no pod of either slot restarted or
 * replaced (uids and restart counts as before); the stack file, the state and the live Services agree; and
 * `pulumi preview --expect-no-changes` passes. It prints its figures (`kubelet figures: ...`) and a timeline of
 * the kubelet, the release steps, the pods' readiness and the endpoints (`kubelet timeline: ...`), which is
 * where a long gap in the promote is explained.
 *
 * Needs the real node of this checkout (globalSetup starts it) and the images of scripts/images; fails with the
 * reason when either is missing, never skips.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { otherSlot, Slot } from '../../components/shared/slots';
import { LOCAL_SMOKE_TEST_IMAGE } from '../../components/versions';
import { abort, deploy, promote, PromoteResult } from '../../release/commands';
import { EndpointSliceObject, poll } from '../../release/kube';
import { LogRecord } from '../../release/log';
import { readReleaseLock } from '../../release/lock';
import { ReleaseError } from '../../release/session';
import { REPO } from '../../release/testing/sandbox';
import { Answer, LoadReport, startLoad } from './load';
import { APP, RealStack } from './releaseFixture';

jest.setTimeout(20 * 60 * 1000);

const STACK = 'it-kubelet';
const V1 = 'pavemaster/web:1.0.0';
const V11 = 'pavemaster/web:1.1.0';
const V2 = 'pavemaster/web:2.0.0';
const REPLICAS = 2;

/** A pod of a slot as the sampler reads it. */
interface SlotPod {
  metadata: {
    name: string;
    uid: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
  };
  status?: {
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; restartCount?: number }[];
  };
}

/** What identifies a pod and its containers' lives: a replaced pod has a new uid, a restarted one a new count. */
interface PodIdentity {
  name: string;
  uid: string;
  restarts: number;
}

/** One look at the app's slot pods and the active Service's ready endpoints. */
interface Sample {
  at: number;
  pods: { name: string; slot: string; ready: boolean }[];
  activeEndpoints: string[];
}

const real = new RealStack(STACK);

function figures(line: string): void {
  // One line per figure, greppable in the jest output.
  console.log(`kubelet figures: ${line}`);
}

const isReady = (p: SlotPod): boolean =>
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

async function slotPods(): Promise<SlotPod[]> {
  // Gate Job pods carry `app` too, but no `slot`: only the slots' pods.
  return (await real.kube.list<SlotPod>('pods', `app=${APP},slot`)).filter((p) => !!p.metadata.labels?.slot);
}

/** The slots' pods once no pod is terminating and each slot has its replicas. */
async function settledPods(): Promise<SlotPod[]> {
  let last: SlotPod[] = [];
  return poll(
    async () => {
      last = await slotPods();
      return last.length === 2 * REPLICAS &&
        last.every((p) => !p.metadata.deletionTimestamp) &&
        last.every(isReady)
        ? last
        : undefined;
    },
    {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: `the slots' ${2 * REPLICAS} pods, all Ready and none terminating`,
      last: () =>
        Promise.resolve(
          last
            .map((p) => `${p.metadata.name}${p.metadata.deletionTimestamp ? ' (terminating)' : ''}`)
            .join(', '),
        ),
    },
  );
}

function identities(pods: readonly SlotPod[]): PodIdentity[] {
  return pods
    .map((p) => ({
      name: p.metadata.name,
      uid: p.metadata.uid,
      restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Samples the slots' pods and the active Service's ready endpoints every `intervalMs` until stopped. */
function startSampler(intervalMs = 250) {
  const samples: Sample[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const at = Date.now();
      try {
        const [pods, slices] = await Promise.all([
          slotPods(),
          real.kube.list<EndpointSliceObject>('endpointslices', `kubernetes.io/service-name=${APP}`),
        ]);
        samples.push({
          at,
          pods: pods
            .filter((p) => !p.metadata.deletionTimestamp)
            .map((p) => ({ name: p.metadata.name, slot: p.metadata.labels?.slot ?? '', ready: isReady(p) }))
            .sort((a, b) => a.name.localeCompare(b.name)),
          activeEndpoints: slices
            .flatMap((s) => s.endpoints ?? [])
            .filter((e) => e.conditions?.ready === true)
            .map((e) => e.targetRef?.name ?? '?')
            .sort(),
        });
      } catch {
        // one missed look (the API server busy); the next one follows
      }
      await new Promise((res) => setTimeout(res, intervalMs));
    }
  })();
  return {
    samples,
    async stop(): Promise<Sample[]> {
      stopped = true;
      await done;
      return samples;
    },
  };
}

/** The kubelet restart as scripts/node reports it, each output line with the time it arrived. */
interface KubeletRestart {
  lines: { at: number; text: string }[];
  stoppedAt?: number;
  startedAt?: number;
  code?: number | null;
  /** From the script's last line: seconds down, and until the node was Ready again (after the stop). */
  downSeconds?: number;
  readySeconds?: number;
}

/** Starts `scripts/node restart-kubelet`; resolves `stopped` once the old kubelet is gone. */
function restartKubelet(args: readonly string[]) {
  const r: KubeletRestart = { lines: [] };
  const child = spawn(path.join(REPO, 'scripts', 'node'), ['restart-kubelet', ...args], {
    cwd: REPO,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((res) => (resolveStopped = res));
  let partial = '';
  const onData = (c: Buffer) => {
    const at = Date.now();
    const text = partial + c.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      r.lines.push({ at, text: line });
      if (/kubelet \(pid \d+\) stopped by SIG/.test(line)) {
        r.stoppedAt = at;
        resolveStopped();
      }
      if (/kubelet started again/.test(line)) {
        r.startedAt = at;
      }
      const m = /kubelet restart: SIG\w+, down (\d+)s, node Ready again (\d+)s after the stop/.exec(line);
      if (m) {
        r.downSeconds = Number(m[1]);
        r.readySeconds = Number(m[2]);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const done = new Promise<KubeletRestart>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (partial !== '') {
        r.lines.push({ at: Date.now(), text: partial });
      }
      r.code = code;
      // A script that failed before stopping anything must not leave the test waiting for the stop.
      resolveStopped();
      resolve(r);
    });
  });
  return { report: r, stopped, done };
}

/**
 * Stalls of this process's event loop (a timer firing more than `thresholdMs` late): the load loop runs in this
 * process, so while the loop is blocked no request is sent or answered, and a gap it measures then is the
 * client's, not the Service's.
 */
function startStallMonitor(tickMs = 20, thresholdMs = 250) {
  const stalls: { from: number; to: number }[] = [];
  let last = Date.now();
  const look = () => {
    const now = Date.now();
    if (now - last - tickMs > thresholdMs) {
      stalls.push({ from: last + tickMs, to: now });
    }
    last = now;
  };
  const timer = setInterval(look, tickMs);
  return {
    stalls,
    stop: (): { from: number; to: number }[] => {
      // A stall that just ended is seen here too: the code after an awaited call runs before any overdue timer.
      look();
      clearInterval(timer);
      return stalls;
    },
  };
}

/** How much of [from, to] the event loop was stalled. */
function stalledWithin(stalls: readonly { from: number; to: number }[], from: number, to: number): number {
  return stalls.reduce((ms, st) => ms + Math.max(0, Math.min(to, st.to) - Math.max(from, st.from)), 0);
}

/** The longest time without a successful answer, and where it was. */
function longestGap(answers: readonly Answer[]): { ms: number; from: number; to: number } {
  let best = { ms: 0, from: 0, to: 0 };
  let lastOk: number | undefined;
  for (const a of answers) {
    if (a.error === undefined && a.status !== undefined && a.status < 500) {
      const from = lastOk ?? a.start;
      if (a.end - from > best.ms) {
        best = { ms: a.end - from, from, to: a.end };
      }
      lastOk = a.end;
    }
  }
  return best;
}

/** When each pod's readiness changed, and when the active Service's ready endpoints changed. */
function transitions(samples: readonly Sample[]): { at: number; what: string }[] {
  const out: { at: number; what: string }[] = [];
  const ready = new Map<string, boolean>();
  let endpoints: string | undefined;
  for (const s of samples) {
    for (const p of s.pods) {
      if (ready.get(p.name) !== p.ready) {
        if (ready.has(p.name) || !p.ready) {
          out.push({ at: s.at, what: `pod ${p.name} (${p.slot}) ${p.ready ? 'Ready' : 'NOT Ready'}` });
        }
        ready.set(p.name, p.ready);
      }
    }
    const e = s.activeEndpoints.join(',');
    if (e !== endpoints) {
      out.push({ at: s.at, what: `Service ${APP} ready endpoints: ${e === '' ? 'NONE' : e}` });
      endpoints = e;
    }
  }
  return out;
}

/** The timeline of one case, times in seconds from `t0`. */
function timeline(
  t0: number,
  kubelet: KubeletRestart,
  records: readonly LogRecord[],
  samples: readonly Sample[],
  gap: { ms: number; from: number; to: number },
  stalls: readonly { from: number; to: number }[],
): string {
  const events: { at: number; what: string }[] = [
    ...(kubelet.stoppedAt ? [{ at: kubelet.stoppedAt, what: 'kubelet stopped' }] : []),
    ...(kubelet.startedAt ? [{ at: kubelet.startedAt, what: 'kubelet started again' }] : []),
    ...kubelet.lines
      .filter((l) => /node Ready again/.test(l.text))
      .map((l) => ({ at: l.at, what: 'node Ready (new kubelet)' })),
    ...records.map((r) => ({
      at: Date.parse(r.time),
      what: `release ${r.step} ${r.outcome}${r.durationMs !== undefined ? ` (${r.durationMs} ms)` : ''}`,
    })),
    ...transitions(samples),
    { at: gap.from, what: `longest load gap begins (${gap.ms} ms)` },
    ...stalls.map((st) => ({ at: st.from, what: `this process's event loop stalled ${st.to - st.from} ms` })),
  ];
  return events
    .sort((a, b) => a.at - b.at)
    .map((e) => `${((e.at - t0) / 1000).toFixed(2).padStart(7)} s  ${e.what}`)
    .join('\n');
}

interface CaseResult {
  outcome: 'promoted' | 'refused';
  from: Slot;
  to: Slot;
  load: LoadReport;
  kubelet: KubeletRestart;
  gateReadyAt: number;
  switchStartedAt?: number;
}

/**
 * One promote with the kubelet restarted under it: deploys `image` to the idle slot, starts the load loop and
 * the sampler, stops the kubelet (`restartArgs`), promotes once the old kubelet is gone, and checks everything
 * the header lists.
 */
async function promoteThroughRestart(
  name: string,
  image: string,
  restartArgs: string[],
): Promise<CaseResult> {
  const from = real.stackConfig()['pavemaster:activeSlot'] as Slot;
  const to: Slot = otherSlot(from);
  await deploy(STACK, image, real.opts);
  // Every slot pod before the fault: after it, the same pods (uids) with the same restart counts. The deploy's
  // rollout leaves the old pods terminating (their preStop drain) for a few seconds: the set is taken once they
  // are gone.
  const before = identities(await settledPods());
  const versionBefore = await real.activeVersion();
  const mark = real.records.length;
  const load = startLoad(await real.activeUrl());
  const sampler = startSampler();
  const monitor = startStallMonitor();
  const t0 = Date.now();
  let report: LoadReport | undefined;
  let samples: Sample[] = [];
  let stalls: { from: number; to: number }[] = [];
  let kubelet: KubeletRestart | undefined;
  const run: { result?: PromoteResult; error?: unknown } = {};
  try {
    // A second of load and samples before the fault.
    await new Promise((res) => setTimeout(res, 1000));
    const restart = restartKubelet(restartArgs);
    await restart.stopped;
    if (restart.report.stoppedAt === undefined) {
      throw new Error(
        `scripts/node restart-kubelet did not stop the kubelet:\n${restart.report.lines.map((l) => l.text).join('\n')}`,
      );
    }
    await promote(STACK, real.opts).then(
      (r) => (run.result = r),
      (e: unknown) => (run.error = e),
    );
    kubelet = await restart.done;
    // The load runs on until the new kubelet has posted Ready and a few probe periods have passed, so a
    // readiness change the restart causes after the promote is seen by the loop too.
    await new Promise((res) => setTimeout(res, 12_000));
  } finally {
    report = await load.stop();
    samples = await sampler.stop();
    stalls = monitor.stop();
  }
  const records = real.records.slice(mark);
  const gap = longestGap(load.answers);
  console.log(`kubelet timeline: ${name}\n${timeline(t0, kubelet, records, samples, gap, stalls)}`);
  console.log(`kubelet restart output (${name}):\n${kubelet.lines.map((l) => l.text).join('\n')}`);
  expect({
    code: kubelet.code,
    down: typeof kubelet.downSeconds,
    ready: typeof kubelet.readySeconds,
  }).toEqual({
    code: 0,
    down: 'number',
    ready: 'number',
  });
  const at = (step: string, outcome: string) => {
    const r = records.find((x) => x.command === 'promote' && x.step === step && x.outcome === outcome);
    return r === undefined ? undefined : Date.parse(r.time);
  };
  const gateReadyAt = at('gate:ready', 'started');
  const switchStartedAt = at('switch', 'started');
  const stoppedAt = kubelet.stoppedAt ?? NaN;
  const startedAt = kubelet.startedAt ?? NaN;
  // Pods back to Ready after the new kubelet started: the last readiness change of a slot pod after it.
  const backReady = transitions(samples)
    .filter((e) => e.at >= startedAt && e.what.startsWith('pod '))
    .map((e) => e.at);
  const lastPodChange = backReady.length > 0 ? Math.max(...backReady) : undefined;
  const outcome = run.error === undefined ? 'promoted' : 'refused';
  figures(
    `${name}: ${outcome}; kubelet down ${kubelet.downSeconds} s, node Ready ${kubelet.readySeconds} s after the stop; ` +
      `ready gate ${gateReadyAt === undefined ? 'not reached' : `${((gateReadyAt - stoppedAt) / 1000).toFixed(1)} s after the stop`}, ` +
      `switch ${switchStartedAt === undefined ? 'not reached' : `${((switchStartedAt - stoppedAt) / 1000).toFixed(1)} s after the stop`}; ` +
      `pod readiness changes after the start: ${backReady.length}${lastPodChange === undefined ? '' : ` (last ${((lastPodChange - startedAt) / 1000).toFixed(1)} s after it)`}; ` +
      `load: ${report.sent} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms ` +
      `(this process's event loop stalled ${stalledWithin(stalls, gap.from, gap.to)} ms of it; longest stall ` +
      `${Math.max(0, ...stalls.map((st) => st.to - st.from))} ms), versions ${report.versions.join(' -> ')}`,
  );

  if (run.error !== undefined) {
    // Refused: only at a gate (exit 2), and traffic where it was.
    const e = run.error;
    expect(e).toBeInstanceOf(ReleaseError);
    const re = e as ReleaseError;
    figures(`${name}: refused with exit ${re.exitCode}: ${re.message}`);
    expect(re.exitCode).toBe(2);
    expect(await real.selector(APP)).toBe(from);
    expect(await real.activeVersion()).toBe(versionBefore);
    await abort(STACK, real.opts);
  } else {
    // Promoted: every pod of the new slot was Ready in the last look before the switch began.
    if (switchStartedAt === undefined) {
      throw new Error('the promote succeeded without a switch record');
    }
    const last = [...samples].reverse().find((s) => s.at <= switchStartedAt);
    expect(last?.pods.filter((p) => p.slot === to).map((p) => p.ready)).toEqual(Array(REPLICAS).fill(true));
    expect(report.versions.length).toBe(2);
  }
  expect(await readReleaseLock(real.kube, APP)).toBeUndefined();
  expect(report.sent).toBeGreaterThan(100);
  expect({ failed: report.failed, errors: report.errors, serverErrors: report.serverErrors }).toEqual({
    failed: 0,
    errors: 0,
    serverErrors: 0,
  });
  // No pod of either slot was restarted or lost: the same pods (uids), the same restart counts.
  expect(identities(await slotPods())).toEqual(before);
  await real.expectAgreement(run.error === undefined ? to : from);
  return { outcome, from, to, load: report, kubelet, gateReadyAt: gateReadyAt ?? NaN, switchStartedAt };
}

beforeAll(async () => {
  await real.start(
    {
      blueImage: V1,
      greenImage: V1,
      replicas: REPLICAS,
      logging: { enabled: false },
      monitoring: { enabled: false },
      release: {
        readyTimeoutSeconds: 120,
        smoke: { timeoutSeconds: 120 },
        // No post-promotion window: this stack has no Prometheus, and the fault is the kubelet, not the release.
        postPromotion: { windowSeconds: 0, intervalSeconds: 5 },
      },
    },
    [V1, V11, V2, LOCAL_SMOKE_TEST_IMAGE],
  );
  // The release command's first watch loads the Kubernetes client library, which blocks this process's event
  // loop for seconds on a busy machine (the 4.7 s "gap" of the first runs): the load loop shares this process,
  // so the library is loaded before any load runs, and a gap measures the Service, not the client.
  const monitor = startStallMonitor();
  const started = Date.now();
  await real.kube.library();
  const took = Date.now() - started;
  const stalls = monitor.stop();
  figures(
    `loading the Kubernetes client library: ${took} ms, this process's event loop stalled ` +
      `${stalledWithin(stalls, started, Date.now())} ms (longest stall ${Math.max(0, ...stalls.map((st) => st.to - st.from))} ms)`,
  );
});

afterAll(async () => {
  await real.stop('kubeletPromote.txt');
});

describe('the kubelet restarts during a promote', () => {
  it('SIGTERM, down across the ready gate and into the smoke gate: traffic stays on a fully ready slot, no failed request, no pod restarted, no change left', async () => {
    const r = await real.cleanOnFailure(() =>
      promoteThroughRestart('SIGTERM across the ready gate', V2, ['--down', '20']),
    );
    // The fault overlapped the gate: the ready gate ran while no kubelet was running.
    expect(r.gateReadyAt).toBeGreaterThanOrEqual(r.kubelet.stoppedAt ?? Infinity);
    expect(r.gateReadyAt).toBeLessThan(r.kubelet.startedAt ?? -Infinity);
  });

  it('SIGKILL, down across the ready gate and the switch: traffic stays on a fully ready slot, no failed request, no pod restarted, no change left', async () => {
    // Without the smoke Job (it needs a kubelet) the switch follows the ready gate inside the down time.
    real.setRelease({ smoke: { enabled: false } });
    const r = await real.cleanOnFailure(() =>
      promoteThroughRestart('SIGKILL across the switch', V11, ['--kill', '--down', '20']),
    );
    if (r.outcome === 'promoted') {
      expect(r.switchStartedAt).toBeGreaterThanOrEqual(r.kubelet.stoppedAt ?? Infinity);
      expect(r.switchStartedAt).toBeLessThan(r.kubelet.startedAt ?? -Infinity);
    }
  });
});
