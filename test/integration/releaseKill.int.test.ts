/**
 * Kill and resume on real pods (issue 13): the release command as an operator runs it (the package's bin, in its
 * own process, with the real engine and the real API server) promotes a release on a throwaway copy of the staging
 * stack (`it-kill`) whose app and gate pods run on the real node, and is killed from outside at one moment of the
 * promote, each test one moment:
 *
 * a. SIGTERM while the backup gate's Job runs;       b. SIGKILL while the smoke gate runs;
 * c. SIGTERM during the switch;                      d. SIGKILL during the recording update after the switch
 *                                                       (`pulumi up --target` of the two Services);
 * e. SIGKILL at the very start of the switch.
 *
 * After each kill: traffic is on exactly one fully ready slot (the active Service selects one slot, whose
 * Deployment has all its replicas ready, and the EndpointSlices list exactly that slot's ready pods); a bounded
 * load loop through the active Service from before the promote until after its re-run saw no failed request; no
 * process the command started (the Pulumi CLI, its language host and plugins, kubectl, the watchdogs) outlives it
 * for longer than its own cancellation; no Pulumi lock file is left in the stack's file backend, and the release
 * lock is still the same release's (so the re-run continues it and no other release interleaves). Then the
 * interrupted step is re-run (`pavemaster promote`; in (e) after `pavemaster recover`), which finishes it: the
 * new slot is active, the release lock is freed, and the stack file, the state, the live Services and the next
 * `pulumi preview` agree (no change).
 *
 * Each test prints its figures (`kill figures: ...`). Needs the real node and the images of scripts/images; fails
 * with the reason when either is missing, never skips.
 */
import * as fs from 'fs';
import * as path from 'path';
import { otherSlot, Slot, slotSelector } from '../../components/shared/slots';
import { LOCAL_SMOKE_TEST_IMAGE } from '../../components/versions';
import { deploy } from '../../release/commands';
import { findLockFiles } from '../../release/commands/recover';
import { jobName } from '../../release/gates';
import { JobObject, poll } from '../../release/kube';
import { LogRecord } from '../../release/log';
import { readReleaseLock } from '../../release/lock';
import { describeProcesses, descendants, ProcessInfo, stillRunning } from '../../release/processTree';
import { APP, CliProcess, CliRun, RealStack } from './releaseFixture';
import { LoadReport, startLoad } from './load';

jest.setTimeout(15 * 60 * 1000);

const STACK = 'it-kill';
const V1 = 'pavemaster/web:1.0.0';
const V11 = 'pavemaster/web:1.1.0';
const V2 = 'pavemaster/web:2.0.0';
const NODE = '/usr/local/bin/node';
/** How long the backup Job runs: long enough to kill the command while it waits for it. */
const BACKUP_SECONDS = 5;
/** The longest a killed command's children may take to end (the Pulumi CLI cancelling its update). */
const CHILDREN_GONE_MS = 60_000;

const real = new RealStack(STACK);

function figures(line: string): void {
  console.log(`kill figures: ${line}`);
}

beforeAll(async () => {
  await real.start(
    {
      blueImage: V1,
      greenImage: V1,
      replicas: 2,
      logging: { enabled: false },
      monitoring: { enabled: false },
      release: {
        readyTimeoutSeconds: 60,
        smoke: { timeoutSeconds: 60 },
        // A backup that takes a while, so that a kill can land while its Job runs; once per release.
        backup: {
          command: [NODE, '-e', `setTimeout(() => console.log('backup done'), ${BACKUP_SECONDS * 1000})`],
          timeoutSeconds: 60,
        },
        postPromotion: { windowSeconds: 0, intervalSeconds: 5 },
      },
    },
    [V1, V11, V2, LOCAL_SMOKE_TEST_IMAGE],
  );
});

afterAll(async () => {
  await real.stop('releaseKill.txt');
});

/** The stack's Pulumi lock files in its file backend (the CLI's, and the direct switch's). */
function pulumiLocks(): string[] {
  return findLockFiles(path.join(real.sandbox.dir, '.pulumi-state'), 'pavemaster', STACK);
}

/** A running command's release-log records (the stack's release log in the project), waited for as they come. */
interface Watch {
  /** Resolves with the first record of the command since it started that `match`es; fails once it has ended. */
  next: (match: (r: LogRecord) => boolean, what: string) => Promise<LogRecord>;
}

function watchRecords(run: CliProcess, since: number): Watch {
  let ended: CliRun | undefined;
  void run.done.then((r) => (ended = r));
  return {
    next: (match, what) =>
      poll(
        () => {
          const found = real.logSince(since).find((r) => r.command === 'promote' && match(r));
          if (found === undefined && ended !== undefined) {
            throw new Error(
              `the command ended (${ended.signal ?? `exit ${ended.code}`}) before ${what}:\n${ended.stdout}${ended.stderr.slice(-4000)}`,
            );
          }
          return Promise.resolve(found);
        },
        { timeoutMs: 5 * 60_000, intervalMs: 10, what },
      ),
  };
}

/** Resolves once the running command (`pid`) is at the moment it is to be killed. */
type Moment = (watch: Watch, releaseId: string, pid: number) => Promise<void>;

/** Whether the record is step `step` with outcome `outcome`. */
const at =
  (step: string, outcome = 'started') =>
  (r: LogRecord): boolean =>
    r.step === step && r.outcome === outcome;

/**
 * Traffic is on exactly one fully ready slot: the active Service selects one slot (exactly its selector), whose
 * Deployment has all its replicas updated, ready and available, and whose ready pods are exactly what the active
 * Service's EndpointSlices list. Waits up to 30 s for the EndpointSlices to follow a selector that just changed.
 */
async function trafficOnOneReadySlot(): Promise<{ slot: Slot; pods: string[]; waitedMs: number }> {
  const started = Date.now();
  let last = '';
  return poll(
    async () => {
      const selector = await real.kube.serviceSelector(APP);
      const slot = (['blue', 'green'] as const).find(
        (s) => JSON.stringify(selector) === JSON.stringify(slotSelector(APP, s)),
      );
      if (slot === undefined) {
        last = `Service ${APP} selects ${JSON.stringify(selector)}, not one slot`;
        return undefined;
      }
      const r = await real.kube.slotReadiness(
        { deployment: `${APP}-${slot}`, selector: slotSelector(APP, slot) },
        APP,
      );
      last = `${slot}: ${r.reasons.join('; ')}`;
      return r.ready && r.endpointPods.length > 0
        ? { slot, pods: r.endpointPods, waitedMs: Date.now() - started }
        : undefined;
    },
    {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'traffic on one fully ready slot',
      last: () => Promise.resolve(last),
    },
  );
}

/** What one kill saw. */
interface Killed {
  run: CliRun;
  releaseId: string;
  /** Where traffic was right after the kill. */
  after: { slot: Slot; pods: string[]; stackFile: string };
  /** The processes below the command right before the kill. */
  below: ProcessInfo[];
  goneMs: number;
  /** The Pulumi lock files there were at the kill, and how long after it the last was gone. */
  locksAtKill: number;
  locksGoneMs: number;
  /** Whether the command's CLI-lock watchdog said it removed a lock (the CLI had not freed it). */
  watchdogRemoved: boolean;
}

/**
 * Promotes through the bin, waits for `moment` (resolves once the command is where it should be killed), sends
 * `signal`, then checks what every kill must leave: the command ended by it, nothing it started still running,
 * no Pulumi lock file, the release lock still this release's, traffic on one fully ready slot.
 */
async function promoteAndKill(signal: 'SIGTERM' | 'SIGKILL', moment: Moment): Promise<Killed> {
  const since = Date.now();
  const run = real.startCli(['promote', STACK]);
  const watch = watchRecords(run, since);
  const first = await watch.next((r) => typeof r.releaseId === 'string', 'the first release-log record');
  const releaseId = String(first.releaseId);
  await moment(watch, releaseId, run.pid);
  const below = descendants(run.pid);
  const locksAtKill = pulumiLocks().length;
  const killedAt = Date.now();
  process.kill(run.pid, signal);
  const ended = await run.done;
  const left = await poll(() => Promise.resolve(stillRunning(below).length === 0 ? [] : undefined), {
    timeoutMs: CHILDREN_GONE_MS,
    intervalMs: 50,
    what: 'the processes below the killed command to end',
  }).catch(() => stillRunning(below));
  const goneMs = Date.now() - killedAt;
  expect(describeProcesses(left)).toBe('');
  // The stack is not left locked: any Pulumi lock file there was at the kill is gone (its CLI freed it, or the
  // command's watchdog removed it once that CLI had ended).
  await poll(() => Promise.resolve(pulumiLocks().length === 0 ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 20,
    what: 'the Pulumi lock files to be gone',
    last: () =>
      Promise.resolve(
        pulumiLocks()
          .map((f) => `${f}: ${fs.readFileSync(f, 'utf8')}`)
          .join('; '),
      ),
  }).catch(() => undefined);
  const locksGoneMs = Date.now() - killedAt;
  expect(pulumiLocks()).toEqual([]);
  if (signal === 'SIGTERM') {
    expect({
      code: ended.code,
      interrupted: ended.stderr.includes(`release: interrupted by SIGTERM`),
    }).toEqual({
      code: 143,
      interrupted: true,
    });
  } else {
    expect(ended.signal).toBe('SIGKILL');
  }
  // The release stays open, held by the same release: the re-run continues it, no other release interleaves.
  expect((await readReleaseLock(real.kube, APP))?.releaseId).toBe(releaseId);
  const traffic = await trafficOnOneReadySlot();
  const stackFile = String(real.stackConfig()['pavemaster:activeSlot']);
  return {
    run: ended,
    releaseId,
    after: { slot: traffic.slot, pods: traffic.pods, stackFile },
    below,
    goneMs,
    locksAtKill,
    locksGoneMs,
    watchdogRemoved: ended.stderr.includes('release: removed the Pulumi stack lock'),
  };
}

/** The names of the processes below the command, for the figures (pulumi, its language host and plugins). */
function kinds(below: readonly ProcessInfo[]): string {
  const names = below.map((p) => path.basename(p.cmdline.split(' ')[0] ?? '?'));
  const counts = new Map<string, number>();
  for (const n of names) {
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  return [...counts].map(([n, c]) => (c > 1 ? `${n} x${c}` : n)).join(', ');
}

/**
 * One kill-and-resume: deploys `image` to the idle slot, runs the load loop, promotes and kills it at `moment`
 * with `signal`, checks the kill (promoteAndKill), re-runs promote (after `recover` when asked), and checks that
 * the release finished on the new slot with file, state, Services and preview agreeing, no lock left and no
 * failed request. Returns what it saw for the test's own assertions.
 */
async function killAndResume(o: {
  name: string;
  image: string;
  signal: 'SIGTERM' | 'SIGKILL';
  moment: Moment;
  recoverFirst?: boolean;
}): Promise<{ killed: Killed; from: Slot; to: Slot; rerun: CliRun; recovered?: CliRun; report: LoadReport }> {
  const from = (await real.selector(APP)) as Slot;
  const to = otherSlot(from);
  await deploy(STACK, o.image, real.opts);
  const load = startLoad(await real.activeUrl());
  let report: LoadReport | undefined;
  const out: { killed?: Killed; rerun?: CliRun; recovered?: CliRun; rerunMs?: number } = {};
  try {
    await real.cleanOnFailure(async () => {
      out.killed = await promoteAndKill(o.signal, o.moment);
      if (o.recoverFirst) {
        out.recovered = await real.cli(['recover', STACK]);
        expect(`${out.recovered.code} ${out.recovered.stderr.slice(-2000)}`).toMatch(/^0 /);
      }
      const started = Date.now();
      out.rerun = await real.cli(['promote', STACK]);
      out.rerunMs = Date.now() - started;
      expect(`${out.rerun.code} ${out.rerun.stdout}${out.rerun.stderr.slice(-3000)}`).toMatch(/^0 /);
    });
  } finally {
    report = await load.stop();
  }
  const { killed, rerun, recovered, rerunMs } = out;
  if (killed === undefined || rerun === undefined || rerunMs === undefined) {
    throw new Error('the promote and its re-run did not run');
  }
  figures(
    `${o.name}: ${o.signal}, exit ${killed.run.signal ?? killed.run.code}; ` +
      `${killed.below.length} processes below the command (${kinds(killed.below)}), all gone ${killed.goneMs} ms after the kill; ` +
      `Pulumi lock files at the kill: ${killed.locksAtKill}, none left ${killed.locksGoneMs} ms after it` +
      `${killed.watchdogRemoved ? ' (removed by the watchdog: its CLI had not freed it)' : ''}; ` +
      `traffic after the kill on ${killed.after.slot} (${killed.after.pods.length} ready pods, stack file says ${killed.after.stackFile}); ` +
      `${o.recoverFirst ? 'recover, then ' : ''}re-run promote exit ${rerun.code} in ${(rerunMs / 1000).toFixed(1)} s; ` +
      `load: ${report.sent} requests, ${report.failed} failed, longest gap ${report.longestGapMs} ms, versions ${report.versions.join(' -> ')}`,
  );
  expect(report.sent).toBeGreaterThan(50);
  expect({ failed: report.failed, errors: report.errors }).toEqual({ failed: 0, errors: 0 });
  // The release finished on the new slot: its lock freed, no Pulumi lock, everything agrees, preview shows no change.
  expect(await real.selector(APP)).toBe(to);
  expect(await readReleaseLock(real.kube, APP)).toBeUndefined();
  expect(pulumiLocks()).toEqual([]);
  await real.expectAgreement(to);
  return { killed, from, to, rerun, recovered, report };
}

describe('kill and resume on real pods', () => {
  it('a. SIGTERM while the backup Job runs: exit 143, traffic stays, the re-run waits for or skips that Job (one backup) and finishes', async () => {
    const r = await killAndResume({
      name: 'a. SIGTERM during the backup Job',
      image: V2,
      signal: 'SIGTERM',
      moment: async (watch, releaseId) => {
        await watch.next(at('gate:backup'), 'the backup gate');
        // The Job exists and has not finished: the command is waiting for it.
        await poll(
          async () => {
            const job = await real.kube.get<JobObject>('job', jobName(APP, 'backup', releaseId));
            return job !== undefined && !(job.status?.succeeded ?? 0) ? true : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'the backup Job to run' },
        );
      },
    });
    // Stopped before the switch: traffic stayed where it was, the stack file says so.
    expect(r.killed.after).toMatchObject({ slot: r.from, stackFile: r.from });
    expect(r.killed.run.stderr).toContain('interrupted by SIGTERM during gate:backup');
    // One backup of this release: the re-run did not run it again.
    const job = await real.kube.get<JobObject>('job', jobName(APP, 'backup', r.killed.releaseId));
    expect(job?.status?.succeeded).toBe(1);
    expect(r.rerun.stdout).toMatch(/gate backup: (skipped|passed)/);
  });

  it('b. SIGKILL while the smoke gate runs: traffic stays, the re-run runs the smoke test again and finishes', async () => {
    const r = await killAndResume({
      name: 'b. SIGKILL during the smoke gate',
      image: V11,
      signal: 'SIGKILL',
      moment: async (watch, releaseId) => {
        await watch.next(at('gate:smoke'), 'the smoke gate');
        await poll(
          async () =>
            (await real.kube.get<JobObject>('job', jobName(APP, 'smoke', releaseId))) !== undefined
              ? true
              : undefined,
          { timeoutMs: 30_000, intervalMs: 50, what: 'the smoke Job to exist' },
        );
      },
    });
    expect(r.killed.after).toMatchObject({ slot: r.from, stackFile: r.from });
    expect(r.rerun.stdout).toMatch(/gate backup: skipped/);
    expect(r.rerun.stdout).toMatch(/gate smoke: passed/);
  });

  it('c. SIGTERM during the switch: the switch is finished before the exit (selectors and stack file agree), the re-run records it', async () => {
    const r = await killAndResume({
      name: 'c. SIGTERM during the switch',
      image: V2,
      signal: 'SIGTERM',
      moment: async (watch) => {
        await watch.next(at('switch'), 'the switch');
      },
    });
    // Never half made: the stack file says where the live selector sends traffic.
    expect(r.killed.after.stackFile).toBe(r.killed.after.slot);
  });

  it('d. SIGKILL during the recording update: no Pulumi lock is left, the next command is not refused, the re-run records the switch', async () => {
    const r = await killAndResume({
      name: 'd. SIGKILL during the recording update',
      image: V11,
      signal: 'SIGKILL',
      moment: async (watch, _releaseId, pid) => {
        await watch.next(at('record'), 'the recording update');
        // The CLI holds the stack's lock and its engine runs the Kubernetes provider: the update is in its steps.
        await poll(
          () =>
            Promise.resolve(
              pulumiLocks().length > 0 &&
                descendants(pid).some((p) => /pulumi-resource-kubernetes/.test(p.cmdline))
                ? true
                : undefined,
            ),
          {
            timeoutMs: 60_000,
            intervalMs: 20,
            what: 'the recording update to hold the lock and run its plugins',
          },
        );
      },
    });
    // The switch was made before the kill: traffic on the new slot, the stack file says so.
    expect(r.killed.after).toMatchObject({ slot: r.to, stackFile: r.to });
    expect(r.killed.below.some((p) => /(^|\/)pulumi( |$)/.test(p.cmdline))).toBe(true);
    expect(r.killed.locksAtKill).toBeGreaterThan(0);
    expect(r.rerun.stdout).toContain('switch recorded');
  });

  it('e. SIGKILL at the very start of the switch: traffic on one ready slot, `recover` then the re-run finish the release', async () => {
    const r = await killAndResume({
      name: 'e. SIGKILL at the start of the switch',
      image: V2,
      signal: 'SIGKILL',
      moment: async (watch) => {
        await watch.next(at('switch'), 'the switch');
      },
      recoverFirst: true,
    });
    expect(r.recovered?.stdout).toMatch(/recovered it-kill: 0 stale lock\(s\) removed/);
  });
});
