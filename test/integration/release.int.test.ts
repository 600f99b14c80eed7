/**
 * The release lifecycle against the real Pulumi engine and the local (kwok) Kubernetes control plane.
 *
 * A throwaway stack `it-release` (config copied from Pulumi.staging.yaml, its own namespace and file backend, in a
 * temporary copy of the project) goes through deploy, promote, rollback, gate failures, an automatic flip-back
 * on a post-promotion breach, `rollback --to`, status/drift, the stack lock and recovery from a killed update.
 * Every traffic claim is checked on the EndpointSlices of the Services, read with kubectl.
 *
 * Needs: scripts/toolchain built (pulumi, kubectl, kwokctl...), the cluster started with the Stages of
 * release/kwok-stages.yaml (Job pods succeed, or fail when annotated `pavemaster.io/kwok-result: fail`).
 */
import { ChildProcess, spawn } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseDocument } from 'yaml';
import {
  deploy,
  findLockFiles,
  history,
  previewPromote,
  promote,
  recover,
  ReleaseOptions,
  rollback,
  rollbackTo,
  status,
} from '../../release/commands';
import { EngineEventLike } from '../../release/events';
import { jobManifest, jobState } from '../../release/gates';
import { DeploymentObject, JobObject, Kube, PodObject, poll } from '../../release/kube';
import { ReleaseError } from '../../release/session';
import { createSandbox, ensureCluster, envFromScript, REPO, Sandbox } from '../../release/testing/sandbox';
import { startStubPrometheus, StubPrometheus } from '../../release/testing/stubPrometheus';
import { parseReleaseFor } from '../unit/release/support';

jest.setTimeout(15 * 60 * 1000);

const STACK = 'it-release';
const APP = 'pavemaster';
const V1 = 'pavemaster/web:1.0.0';
const V2 = 'pavemaster/web:2.0.0';
const V3 = 'pavemaster/web:3.0.0';

let sandbox: Sandbox;
let stub: StubPrometheus;
let kube: Kube;
let opts: ReleaseOptions;
const output: string[] = [];

interface Snapshot {
  active: Record<string, string> | undefined;
  preview: Record<string, string> | undefined;
  activePods: string[];
  previewPods: string[];
}

async function snapshot(): Promise<Snapshot> {
  return {
    active: await kube.serviceSelector(APP),
    preview: await kube.serviceSelector(`${APP}-preview`),
    activePods: await kube.endpointPods(APP),
    previewPods: await kube.endpointPods(`${APP}-preview`),
  };
}

async function readyPodsOf(slot: string): Promise<PodObject[]> {
  const pods = await kube.list<PodObject>('pods', `app=${APP},slot=${slot}`);
  return pods.filter(
    (p) =>
      !p.metadata.deletionTimestamp &&
      (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  );
}

async function podNames(slot: string): Promise<string[]> {
  return (await readyPodsOf(slot)).map((p) => p.metadata.name).sort();
}

/** Edits the sandbox's stack file as an operator would (the release section is an object). */
function editStackFile(edit: (config: Record<string, unknown>) => void): void {
  // Only the edited keys are rewritten; every other value keeps its quoting (a quoted time stays a string).
  const doc = parseDocument(fs.readFileSync(sandbox.stackFile, 'utf8'));
  const config = (doc.toJS() as { config: Record<string, unknown> }).config;
  const before = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  edit(config);
  for (const [key, value] of Object.entries(config)) {
    if (JSON.stringify(value) !== JSON.stringify(before[key])) {
      doc.setIn(['config', key], doc.createNode(value));
    }
  }
  fs.writeFileSync(sandbox.stackFile, doc.toString());
}

function releaseConfig(config: Record<string, unknown>): Record<string, Record<string, unknown>> {
  return config['pavemaster:release'] as Record<string, Record<string, unknown>>;
}

async function historyLength(): Promise<number> {
  return (await sandbox.stack.history()).length;
}

beforeAll(async () => {
  Object.assign(process.env, envFromScript());
  await ensureCluster();
  stub = await startStubPrometheus();
  stub.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
  sandbox = await createSandbox({
    stackName: STACK,
    fromStack: 'staging',
    env: {},
    overrides: {
      namespace: STACK,
      blueImage: V1,
      greenImage: V1,
      replicas: 2,
      host: undefined,
      monitoring: { enabled: false },
      logging: { enabled: false },
      release: {
        prometheusUrl: stub.url,
        readyTimeoutSeconds: 120,
        // The gate Jobs stay simulated (kwok Stages decide them) even when the cluster runs a real node: the
        // app's image is served locally, so the placement rule would run them for real, and the reference app has
        // no ./bin/migrate. This test is about the release command; real gate pods are the end-to-end tests'.
        jobs: { podAnnotations: { 'pavemaster.local/placement': 'kwok' } },
        migration: { command: ['./bin/migrate', 'up'], timeoutSeconds: 60 },
        smoke: { timeoutSeconds: 60 },
        postPromotion: { windowSeconds: 3, intervalSeconds: 1, maxErrorRatio: 0.05, maxP95Seconds: 1 },
      },
    },
  });
  opts = {
    workDir: sandbox.dir,
    envVars: { PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? '' },
    out: (line) => output.push(line),
    logEcho: (line) => output.push(line),
  };
  kube = new Kube(sandbox.namespace);
  // v1 on both slots, blue active.
  await sandbox.stack.up({ onOutput: () => undefined });
  await requireFailingJobs();
});

/**
 * The failing-gate tests need a cluster that can fail a Job (release/kwok-stages.yaml): probe it once with a Job
 * annotated to fail, so a cluster without those Stages is named as the cause instead of a confusing assertion.
 */
async function requireFailingJobs(): Promise<void> {
  const probe = jobManifest({
    app: APP,
    namespace: sandbox.namespace,
    gate: 'backup',
    releaseId: 'stage-probe',
    slot: 'blue',
    image: V1,
    command: ['false'],
    timeoutSeconds: 60,
    jobs: parseReleaseFor({}).jobs,
    podAnnotations: { 'pavemaster.io/kwok-result': 'fail' },
  });
  await kube.apply(probe);
  const state = await poll(
    async () => {
      const st = jobState(await kube.get<JobObject>('job', `${APP}-backup-stage-probe`));
      return st === 'running' || st === 'absent' ? undefined : st;
    },
    { timeoutMs: 90000, what: 'the Stage probe Job to finish' },
  );
  const pods = await kube.list<PodObject>('pods', `job-name=${APP}-backup-stage-probe`);
  const podFailed = pods.some((p) => p.status?.phase === 'Failed');
  await kube.delete('job', `${APP}-backup-stage-probe`);
  if (state !== 'failed' || !podFailed) {
    throw new Error(
      'this cluster cannot fail a Job: create it with the Stages of release/kwok-stages.yaml ' +
        '(kwokctl create cluster --config release/kwok-stages.yaml; see release/README.md)',
    );
  }
}

afterAll(async () => {
  await sandbox?.cleanup();
  await stub?.close();
});

describe('release lifecycle on the local cluster', () => {
  it('deploy v2 puts it on the idle green slot; the active Service still lists only blue pods', async () => {
    const before = await snapshot();
    const bluePods = await podNames('blue');
    expect(before.active).toEqual({ app: APP, slot: 'blue' });
    expect(bluePods).toHaveLength(2);
    expect(before.activePods).toEqual(bluePods);

    const r = await deploy(STACK, V2, opts);

    expect(r.slot).toBe('green');
    const after = await snapshot();
    expect(after.active).toEqual(before.active);
    expect(after.preview).toEqual(before.preview);
    expect(after.activePods).toEqual(bluePods);
    // The deploy touched no Service; green's pods run v2 and are what the preview Service lists.
    expect(r.up.touched.filter((u) => u.includes('core/v1:Service'))).toEqual([]);
    const green = await readyPodsOf('green');
    expect(green.map((p) => p.metadata.labels?.version)).toEqual(['2.0.0', '2.0.0']);
    expect(after.previewPods).toEqual(green.map((p) => p.metadata.name).sort());
    const deployment = await kube.get<DeploymentObject>('deployment', `${APP}-green`);
    expect(deployment?.metadata.annotations?.['pavemaster.io/release-id']).toBe(r.releaseId);
    expect(deployment?.metadata.annotations?.['pavemaster.io/released-at']).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The stack file says so (a clean checkout of it deploys the same thing).
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toContain(`pavemaster:greenImage: ${V2}`);
    // The step is logged.
    const log = fs.readFileSync(
      path.join(sandbox.dir, '.pulumi-state', 'releases', `${STACK}.jsonl`),
      'utf8',
    );
    expect(log).toContain(`"releaseId":"${r.releaseId}"`);
  });

  it("the Markdown preview of the promote shows the traffic line and only the Services' selectors changing", async () => {
    const before = fs.readFileSync(sandbox.stackFile, 'utf8');
    const events: EngineEventLike[] = [];
    const md = await previewPromote(STACK, { ...opts, onEvents: (e) => events.push(...e) });
    expect(md).toContain('**traffic: blue -> green**');
    expect(md).toContain('update: 2');
    const rows = md.split('\n').filter((l) => /^\| (update|create|delete|replace)/.test(l));
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toContain('`kubernetes:core/v1:Service`');
      expect(row).toMatch(/`spec\.selector\.slot`: `"(blue|green)"` → `"(blue|green)"` \|$/);
    }
    expect(md).not.toContain('WARNING');
    // A preview changes nothing: same stack file, same traffic.
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toBe(before);
    expect((await snapshot()).active).toEqual({ app: APP, slot: 'blue' });
    if (process.env.RECORD_FIXTURES === '1') {
      fs.writeFileSync(
        path.join(REPO, 'test', 'unit', 'release', 'fixtures', 'promote-preview.events.json'),
        `${JSON.stringify(
          events.filter((e) => e.resourcePreEvent || e.summaryEvent),
          null,
          1,
        )}\n`,
      );
    }
  });

  let promotedReleaseId = '';
  it('promote runs the gates, then the active Service lists only green pods', async () => {
    const result = await promote(STACK, opts);
    expect(result.gates.map((g) => [g.gate, g.ok])).toEqual([
      ['ready', true],
      ['migration', true],
      ['smoke', true],
    ]);
    expect(result.postPromotion?.action).toBe('keep');
    const greenPods = await podNames('green');
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'green' });
    expect(s.activePods).toEqual(greenPods);
    expect(s.previewPods).toEqual(await podNames('blue'));
    // The switch touched the two Services and nothing else.
    expect(result.switched?.up.touched.map((u) => u.split('::').pop()).sort()).toEqual([
      'pavemaster-active',
      'pavemaster-preview',
    ]);
    // The gate Jobs ran once, named after the release; the post-promotion check asked about green.
    promotedReleaseId = (await kube.get<DeploymentObject>('deployment', `${APP}-green`))?.metadata
      .annotations?.['pavemaster.io/release-id'] as string;
    const migration = await kube.get<JobObject>('job', `${APP}-migration-${promotedReleaseId}`);
    expect(migration?.status?.succeeded).toBe(1);
    expect(stub.queries.some((q) => q.includes('slot="green"'))).toBe(true);
  });

  it('rollback flips back to blue (still v1) in one pulumi up that changes only the selectors', async () => {
    const versionsBefore = await historyLength();
    const r = await rollback(STACK, opts);
    expect(await historyLength()).toBe(versionsBefore + 1);
    expect(r.up.touched.map((u) => u.split('::').pop()).sort()).toEqual([
      'pavemaster-active',
      'pavemaster-preview',
    ]);
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'blue' });
    expect(s.activePods).toEqual(await podNames('blue'));
    expect((await readyPodsOf('blue')).map((p) => p.metadata.labels?.version)).toEqual(['1.0.0', '1.0.0']);
  });

  it('a failing smoke Job stops the release with its name and logs; selectors and endpoints are unchanged', async () => {
    editStackFile((c) => {
      releaseConfig(c).smoke = {
        timeoutSeconds: 60,
        podAnnotations: { 'pavemaster.io/kwok-result': 'fail' },
      };
    });
    const before = await snapshot();
    const err = await promote(STACK, opts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReleaseError);
    const e = err as ReleaseError;
    expect(e.exitCode).toBe(2);
    expect(e.details.gate).toBe('smoke');
    expect(e.message).toContain(
      `gate smoke failed, traffic stays on blue: job/${APP}-smoke-${promotedReleaseId} failed`,
    );
    expect(e.details.logs).toContain(`${APP}-smoke-${promotedReleaseId}`);
    expect(await snapshot()).toEqual(before);
    // The migration of this release had already succeeded: it was not run again.
    expect(
      output.some((l) =>
        l.includes(`gate migration: skipped - job/${APP}-migration-${promotedReleaseId} already succeeded`),
      ),
    ).toBe(true);
    editStackFile((c) => {
      releaseConfig(c).smoke = { timeoutSeconds: 60 };
    });
  });

  it('a failing migration Job of a new release stops it before the smoke test', async () => {
    editStackFile((c) => {
      releaseConfig(c).migration = {
        command: ['./bin/migrate', 'up'],
        timeoutSeconds: 60,
        podAnnotations: { 'pavemaster.io/kwok-result': 'fail' },
      };
    });
    const d = await deploy(STACK, V3, opts);
    const before = await snapshot();
    const err = (await promote(STACK, opts).then(
      () => undefined,
      (e: unknown) => e,
    )) as ReleaseError;
    expect(err.exitCode).toBe(2);
    expect(err.details.gate).toBe('migration');
    expect(err.details.logs).toMatch(/exit code 1/);
    expect(await kube.get<JobObject>('job', `${APP}-smoke-${d.releaseId}`)).toBeUndefined();
    expect(await snapshot()).toEqual(before);
    editStackFile((c) => {
      releaseConfig(c).migration = { command: ['./bin/migrate', 'up'], timeoutSeconds: 60 };
    });
  });

  it('a post-promotion breach (high error rate in Prometheus) flips traffic back and says why', async () => {
    stub.values = { errorRatio: 0.5, p95Seconds: 0.05, alerts: [] };
    const bluePods = await podNames('blue');
    const err = (await promote(STACK, opts).then(
      () => undefined,
      (e: unknown) => e,
    )) as ReleaseError & { result?: { switched?: unknown; rolledBack?: unknown } };
    stub.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('rolled back to blue: post-promotion breach: error ratio 0.5 > 0.05');
    expect(err.result?.switched).toBeDefined();
    expect(err.result?.rolledBack).toBeDefined();
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'blue' });
    expect(s.activePods).toEqual(bluePods);
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toContain('pavemaster:activeSlot: blue');
  });

  it('rollback --to N restores exactly the slot and images of stack version N', async () => {
    const versions = await history(STACK, opts);
    // The version the first promote produced: green active with v2, blue on v1.
    const target = versions
      .filter((v) => v.result === 'succeeded' && v.activeSlot === 'green' && v.images.green === V2)
      .sort((a, b) => a.version - b.version)[0];
    expect(target).toBeDefined();
    expect(target.images.blue).toBe(V1);
    await rollbackTo(STACK, target.version, opts);
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'green' });
    expect(s.activePods).toEqual(await podNames('green'));
    for (const [slot, image] of [
      ['blue', V1],
      ['green', V2],
    ] as const) {
      const d = await kube.get<DeploymentObject>('deployment', `${APP}-${slot}`);
      expect(d?.spec?.template?.spec?.containers?.[0]?.image).toBe(image);
    }
    const file = fs.readFileSync(sandbox.stackFile, 'utf8');
    expect(file).toContain('pavemaster:activeSlot: green');
    expect(file).toContain(`pavemaster:greenImage: ${V2}`);
    expect(file).toContain(`pavemaster:blueImage: ${V1}`);
  });

  it('status shows the live slots, and drift when the cluster no longer matches the last update', async () => {
    const clean = await status(STACK, opts);
    expect(clean.activeSlot).toBe('green');
    expect(clean.slots.map((x) => [x.slot, x.version, x.ready, x.replicas])).toEqual([
      ['blue', '1.0.0', 2, 2],
      ['green', '2.0.0', 2, 2],
    ]);
    expect(clean.drift.filter((d) => d.startsWith('active slot: live'))).toEqual([]);
    // Someone patches the Service by hand: status says so, naming both sources.
    await kube.kubectlRun([
      'patch',
      'service',
      APP,
      '--type=merge',
      '-p',
      '{"spec":{"selector":{"slot":"blue"}}}',
    ]);
    try {
      const drifted = await status(STACK, opts);
      expect(drifted.activeSlot).toBe('blue');
      expect(drifted.drift).toContain(
        `active slot: live blue, last update (v${await historyLength()}) green`,
      );
    } finally {
      await kube.kubectlRun([
        'patch',
        'service',
        APP,
        '--type=merge',
        '-p',
        '{"spec":{"selector":{"slot":"green"}}}',
      ]);
    }
  });

  it('two releases never interleave: the second is refused naming the lock holder, and recover leaves a live lock alone', async () => {
    const backendDir = (process.env.PULUMI_BACKEND_URL ?? '').replace(/^file:\/\//, '');
    const fileBefore = fs.readFileSync(sandbox.stackFile, 'utf8');
    // Another release holds the stack: its lock, exactly as the file backend writes one, names a live process
    // (this one), so the timing of a second real update cannot make the test pass or fail by chance.
    const lockDir = path.join(backendDir, '.pulumi', 'locks', 'organization', 'pavemaster', STACK);
    const lockFile = path.join(lockDir, `${randomUUID()}.json`);
    fs.mkdirSync(lockDir, { recursive: true });
    fs.writeFileSync(
      lockFile,
      JSON.stringify({
        pid: process.pid,
        username: os.userInfo().username,
        hostname: os.hostname(),
        timestamp: new Date(),
      }),
    );
    let err: ReleaseError;
    try {
      err = (await rollback(STACK, opts).then(
        () => undefined,
        (e: unknown) => e,
      )) as ReleaseError;
      // `recover` refuses to remove the lock of a process that still runs.
      const refused = (await recover(STACK, opts).then(
        () => undefined,
        (e: unknown) => e,
      )) as ReleaseError;
      expect(refused.exitCode).toBe(3);
      expect(refused.message).toContain('still runs: not removing its lock');
      expect(fs.existsSync(lockFile)).toBe(true);
    } finally {
      fs.rmSync(lockFile, { force: true });
    }
    expect(err).toBeInstanceOf(ReleaseError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(
      new RegExp(`stack ${STACK} is locked by \\S+@\\S+ \\(pid \\d+\\) since \\S+`),
    );
    expect(err.message).toContain('Another release is running');
    // The refused step left the stack file as it was: it still says what is deployed.
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toBe(fileBefore);
    expect((await snapshot()).active).toEqual({ app: APP, slot: 'green' });
  });

  it('an update killed mid-way is recovered with `release recover`, and the next release finishes', async () => {
    const backendDir = (process.env.PULUMI_BACKEND_URL ?? '').replace(/^file:\/\//, '');
    // Start a deploy-like update (new image on the idle blue slot) with the CLI and kill it hard mid-way.
    editStackFile((c) => {
      c['pavemaster:blueImage'] = V3;
    });
    const child: ChildProcess = spawn('pulumi', ['up', '--yes', '--skip-preview', '-s', STACK], {
      cwd: sandbox.dir,
      env: process.env,
      stdio: 'ignore',
      detached: true,
    });
    const exited = new Promise((r) => child.once('exit', r));
    await poll(
      () => Promise.resolve(findLockFiles(backendDir, 'pavemaster', STACK).length > 0 || undefined),
      {
        timeoutMs: 60000,
        intervalMs: 10,
        what: 'the update to take the stack lock',
      },
    );
    // Killed as soon as it holds the lock, before it can finish (the program alone takes about a second).
    process.kill(-(child.pid as number), 'SIGKILL');
    await exited;
    expect(findLockFiles(backendDir, 'pavemaster', STACK).length).toBeGreaterThan(0);

    // The next release is refused clearly, pointing at recover.
    const refused = (await deploy(STACK, V3, opts).then(
      () => undefined,
      (e: unknown) => e,
    )) as ReleaseError;
    expect(refused.exitCode).toBe(3);
    expect(refused.message).toContain(`release recover ${STACK}`);

    const r = await recover(STACK, opts);
    expect(r.locks).toBeGreaterThan(0);
    const d = await deploy(STACK, V3, opts);
    expect(d.slot).toBe('blue');
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'green' });
    expect(s.activePods).toEqual(await podNames('green'));
    expect(s.previewPods).toEqual(await podNames('blue'));
  });
});
