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
import Ajv from 'ajv';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseDocument } from 'yaml';
import {
  abort,
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
import { Recorder, startRecorder } from '../../release/testing/recorder';
import { startStubPrometheus, StubPrometheus } from '../../release/testing/stubPrometheus';
import { parseReleaseFor } from '../unit/release/support';
import { withFrozenSelector } from './admission';

jest.setTimeout(15 * 60 * 1000);

const STACK = 'it-release';
const APP = 'pavemaster';
const V1 = 'pavemaster/web:1.0.0';
const V2 = 'pavemaster/web:2.0.0';
const V3 = 'pavemaster/web:3.0.0';

let sandbox: Sandbox;
let stub: StubPrometheus;
/** Stands in for Grafana's annotations API and the Slack webhook (both on 127.0.0.1). */
let recorder: Recorder;
// Fake credentials, built at run time: set as Pulumi secrets of the stack, required by the stubs.
const PROMETHEUS_TOKEN = ['it', 'prometheus', String(Date.now())].join('-');
const GRAFANA_TOKEN = ['it', 'grafana', String(Date.now())].join('-');
const SLACK_PATH = ['/slack', 'services', String(Date.now())].join('/');
let kube: Kube;
let opts: ReleaseOptions;
const output: string[] = [];
const BIN = path.join(REPO, 'release', 'bin', 'pavemaster.js');
const validateJson = new Ajv({ allErrors: true }).compile(
  JSON.parse(fs.readFileSync(path.join(REPO, 'release', 'schema.json'), 'utf8')) as object,
);

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The release command as an operator runs it (the package's bin), on this stack. `tty`: under script(1), a
 * pseudo-terminal (stdout and stderr arrive as one stream in `stdout`); its stdin stays open until it exits.
 */
function cli(args: readonly string[], opts: { tty?: boolean } = {}): Promise<CliRun> {
  const argv = [...args, '--work-dir', sandbox.dir];
  const child = opts.tty
    ? spawn('script', ['-qec', [BIN, ...argv].map((a) => `'${a}'`).join(' '), '/dev/null'], {
        env: { ...process.env, TERM: 'xterm' },
        stdio: 'pipe',
      })
    : spawn(BIN, argv, { env: process.env, stdio: 'pipe' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const run = {
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      output.push(`$ pavemaster ${args.join(' ')}${opts.tty ? ' (tty)' : ''}\n${run.stdout}${run.stderr}`);
      // RECORD_RELEASE_OUTPUT=<dir>: keep each run's output (the captures in release/README.md come from here).
      if (process.env.RECORD_RELEASE_OUTPUT) {
        const name = `${args[0]}-${opts.tty ? 'tty' : 'plain'}-${Date.now()}.txt`;
        fs.writeFileSync(path.join(process.env.RECORD_RELEASE_OUTPUT, name), `${run.stdout}${run.stderr}`);
      }
      resolve(run);
    });
  });
}

/** Parses and validates a --json document against release/schema.json. */
function jsonDoc(run: CliRun): Record<string, unknown> {
  const doc = JSON.parse(run.stdout) as Record<string, unknown>;
  if (!validateJson(doc)) {
    throw new Error(
      `--json output does not match release/schema.json: ${JSON.stringify(validateJson.errors)}\n${run.stdout}`,
    );
  }
  return doc;
}

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
  // The fix lines name the command as an operator types it (not `npx pavemaster`, as under `npx jest`).
  process.env.PAVEMASTER_RELEASE_PROG = 'pavemaster';
  await ensureCluster();
  stub = await startStubPrometheus();
  stub.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
  stub.authorization = `Bearer ${PROMETHEUS_TOKEN}`;
  recorder = await startRecorder();
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
        annotations: { grafanaUrl: recorder.url },
      },
    },
  });
  // The secrets as an operator sets them (`pulumi config set --secret`): encrypted in the stack file.
  await sandbox.stack.setAllConfig({
    'pavemaster:prometheusBearerToken': { value: PROMETHEUS_TOKEN, secret: true },
    'pavemaster:grafanaToken': { value: GRAFANA_TOKEN, secret: true },
    'pavemaster:releaseSlackWebhookUrl': { value: `${recorder.url}${SLACK_PATH}`, secret: true },
  });
  const file = fs.readFileSync(sandbox.stackFile, 'utf8');
  expect([PROMETHEUS_TOKEN, GRAFANA_TOKEN, SLACK_PATH].filter((t) => file.includes(t))).toEqual([]);
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
  await recorder?.close();
});

/** The release annotations posted since `from` (an index into the recorder's requests), Grafana's and Slack's. */
function annotationsSince(from: number): {
  grafana: { tags: string[]; text: string; time: number; authorization?: string }[];
  slack: string[];
} {
  const requests = recorder.requests.slice(from);
  return {
    grafana: requests
      .filter((r) => r.method === 'POST' && r.path === '/api/annotations')
      .map((r) => ({
        ...(JSON.parse(r.body) as { tags: string[]; text: string; time: number }),
        authorization: r.headers.authorization,
      })),
    slack: requests
      .filter((r) => r.method === 'POST' && r.path === SLACK_PATH)
      .map((r) => (JSON.parse(r.body) as { text: string }).text),
  };
}

describe('release lifecycle on the local cluster', () => {
  let deployedReleaseId = '';
  it('deploy v2 puts it on the idle green slot; the active Service still lists only blue pods', async () => {
    const before = await snapshot();
    const bluePods = await podNames('blue');
    expect(before.active).toEqual({ app: APP, slot: 'blue' });
    expect(bluePods).toHaveLength(2);
    expect(before.activePods).toEqual(bluePods);

    const r = await deploy(STACK, V2, opts);
    deployedReleaseId = r.releaseId;

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

  it('while a release is open (deployed, not promoted), a second deploy, a rollback and another release are refused naming the holder', async () => {
    const fileBefore = fs.readFileSync(sandbox.stackFile, 'utf8');
    const holder = new RegExp(
      `^stack ${STACK} is locked by release ${deployedReleaseId} of \\S+@\\S+ \\(pid \\d+\\) \\(deploy since \\d{4}-`,
    );
    const second = (await deploy(STACK, V3, opts).then(
      () => undefined,
      (e: unknown) => e,
    )) as ReleaseError;
    expect(second).toBeInstanceOf(ReleaseError);
    expect(second.exitCode).toBe(3);
    expect(second.message).toMatch(holder);
    expect(second.message).toContain(
      `finish it with \`pavemaster promote ${STACK}\` or end it with \`pavemaster abort ${STACK}\``,
    );
    const back = (await rollback(STACK, opts).then(
      () => undefined,
      (e: unknown) => e,
    )) as ReleaseError;
    expect(back.exitCode).toBe(3);
    expect(back.message).toMatch(holder);
    // The same through the bin, with --json: exit 3, the holder in the one-line error, the document to its schema.
    const run = await cli(['deploy', STACK, V3, '--json']);
    expect(run.code).toBe(3);
    const doc = jsonDoc(run);
    expect(doc).toMatchObject({ command: 'deploy', stack: STACK, ok: false, exitCode: 3 });
    expect((doc.error as { message: string }).message).toMatch(holder);
    expect(run.stderr).toMatch(/^release: stack it-release is locked by release /m);
    // Nothing moved: the stack file, the idle slot's image and the lock are as the first deploy left them.
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toBe(fileBefore);
    const green = await kube.get<DeploymentObject>('deployment', `${APP}-green`);
    expect(green?.spec?.template?.spec?.containers?.[0]?.image).toBe(V2);
    expect((await status(STACK, opts)).lock?.releaseId).toBe(deployedReleaseId);
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
    const posted = recorder.requests.length;
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
    // It queried Prometheus with the stack's secret bearer token (the stub refuses any other).
    expect(stub.unauthorized).toBe(0);
    // The promote is annotated on Grafana (its token) and posted to Slack: slot, image, version, who.
    const notes = annotationsSince(posted);
    expect(notes.grafana).toEqual([
      {
        tags: [
          'pavemaster-release',
          `namespace:${STACK}`,
          `app:${APP}`,
          `stack:${STACK}`,
          'step:promote',
          'slot:green',
          'version:2.0.0',
        ],
        text: expect.stringMatching(
          new RegExp(
            `^${STACK}: promote ${promotedReleaseId}: traffic blue -> green \\(version 2\\.0\\.0, image pavemaster/web:2\\.0\\.0\\) by \\S+@\\S+ \\(pid \\d+\\)$`,
          ),
        ),
        authorization: `Bearer ${GRAFANA_TOKEN}`,
        time: expect.any(Number) as number,
      },
    ]);
    expect(notes.slack).toEqual([notes.grafana[0].text]);
    // The release is over: its lock is freed.
    expect((await status(STACK, opts)).lock).toBeNull();
  });

  it('rollback flips back to blue (still v1) in one pulumi up that changes only the selectors', async () => {
    const versionsBefore = await historyLength();
    const posted = recorder.requests.length;
    const r = await rollback(STACK, opts);
    const notes = annotationsSince(posted);
    expect(notes.grafana.map((n) => n.tags.slice(4))).toEqual([
      ['step:rollback', 'slot:blue', 'version:1.0.0'],
    ]);
    expect(notes.slack).toEqual([
      expect.stringMatching(
        /: rollback\b.*: traffic green -> blue \(version 1\.0\.0, image pavemaster\/web:1\.0\.0\) by /,
      ),
    ]);
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

  it('a switch that fails half-way (the API server refuses the preview Service) leaves the stack file and the cluster agreeing', async () => {
    // A ValidatingAdmissionPolicy freezes the preview Service's selector: the switch's update changes the
    // active Service and fails on the preview one, a partial update.
    const before = await snapshot();
    const fileBefore = fs.readFileSync(sandbox.stackFile, 'utf8');
    const err = await withFrozenSelector(
      kube,
      { name: `${STACK}-freeze-preview`, service: `${APP}-preview`, probeSlot: 'blue' },
      () =>
        rollback(STACK, opts).then(
          () => undefined,
          (e: unknown) => e,
        ) as Promise<ReleaseError>,
    );
    expect(err).toBeInstanceOf(ReleaseError);
    expect(err.exitCode).toBe(1);
    // The switch applies the selectors itself (release/traffic.ts): the active one went through, the refused
    // preview one made it put the active one back before anything was written.
    expect(err.message).toContain('put back on the previous selector');
    expect(err.message).not.toMatch(/at Object\.|code: -?\d/);
    // File, state and cluster agree on the slot that was active before: blue, both Services as before.
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toBe(fileBefore);
    expect(await snapshot()).toEqual(before);
    const state = (await sandbox.stack.exportStack()).deployment as {
      resources?: {
        type: string;
        outputs?: { metadata?: { name?: string }; spec?: { selector?: Record<string, string> } };
      }[];
    };
    const services = (state.resources ?? []).filter((r) => r.type === 'kubernetes:core/v1:Service');
    expect(
      Object.fromEntries(services.map((r) => [r.outputs?.metadata?.name, r.outputs?.spec?.selector?.slot])),
    ).toMatchObject({ [APP]: 'blue', [`${APP}-preview`]: 'green' });
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
    // The failed release stays open (its lock held) until it is promoted or aborted.
    expect((await status(STACK, opts)).lock?.command).toBe('promote');
    const aborted = await abort(STACK, opts);
    expect(aborted.lockFreed).toBe(true);
    expect((await status(STACK, opts)).lock).toBeNull();
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

  it('a post-promotion breach (high error rate in Prometheus) flips traffic back and says why (bin, no terminal, --json)', async () => {
    stub.values = { errorRatio: 0.5, p95Seconds: 0.05, alerts: [] };
    const bluePods = await podNames('blue');
    const posted = recorder.requests.length;
    const run = await cli(['promote', STACK, '--json']);
    stub.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
    expect(run.code).toBe(4);
    // Both traffic moves are annotated: the promote, then the automatic flip-back with its reason.
    const notes = annotationsSince(posted);
    expect(notes.grafana.map((n) => n.tags.slice(4))).toEqual([
      ['step:promote', 'slot:green', 'version:3.0.0'],
      ['step:flip-back', 'slot:blue', 'version:1.0.0'],
    ]);
    expect(notes.grafana[1].text).toMatch(
      /: automatic flip-back \S+: traffic green -> blue .*: post-promotion breach: error ratio 0\.5 > 0\.05$/,
    );
    expect(notes.slack).toHaveLength(2);
    const doc = jsonDoc(run);
    const message = (doc.error as { message: string }).message;
    expect(message).toContain('rolled back to blue: post-promotion breach: error ratio 0.5 > 0.05');
    const result = doc.result as {
      switched: unknown;
      rolledBack: unknown;
      postPromotion: { action: string };
      annotations: { event: string; target: string; outcome: string; detail: string }[];
    };
    expect(result.switched).not.toBeNull();
    expect(result.rolledBack).not.toBeNull();
    expect(result.postPromotion.action).toBe('rollback');
    // The document says what each traffic move posted, where, and never the webhook's secret path.
    expect(result.annotations).toEqual(
      ['promote', 'flip-back'].flatMap((event) => [
        {
          event,
          target: 'grafana',
          outcome: 'posted',
          detail: `annotated on Grafana: pavemaster:release.annotations.grafanaUrl (${recorder.url})`,
        },
        {
          event,
          target: 'slack',
          outcome: 'posted',
          detail: `posted to the Slack webhook at ${new URL(recorder.url).host}`,
        },
      ]),
    );
    expect(run.stdout).not.toContain(SLACK_PATH);
    // Without a terminal: plain timestamped lines, the samples with the measured values against the thresholds.
    const stamp = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(run.stderr).toMatch(new RegExp(`^${stamp} gate:ready started \\(timeout 120s\\)$`, 'm'));
    expect(run.stderr).toMatch(new RegExp(`^${stamp} gate:ready succeeded in \\d+\\.\\ds: `, 'm'));
    expect(run.stderr).toMatch(
      new RegExp(
        `^${stamp} post-promotion sample at \\d+s: error ratio 0\\.5 \\(max 0\\.05\\), p95 0\\.05s \\(max 1s\\)$`,
        'm',
      ),
    );
    expect(run.stderr).not.toContain('\x1b[');
    expect(run.stderr).toMatch(
      /^release: release \S+ rolled back to blue: post-promotion breach: error ratio 0\.5 > 0\.05$/m,
    );
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'blue' });
    expect(s.activePods).toEqual(bluePods);
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toContain('pavemaster:activeSlot: blue');
    expect((await status(STACK, opts)).lock).toBeNull();
  });

  it('rollback --to N restores exactly the slot and images of stack version N', async () => {
    const versions = await history(STACK, opts);
    // The version the first promote produced: green active with v2, blue on v1.
    const target = versions
      .filter((v) => v.result === 'succeeded' && v.activeSlot === 'green' && v.images.green === V2)
      .sort((a, b) => a.version - b.version)[0];
    expect(target).toBeDefined();
    expect(target.images.blue).toBe(V1);
    // Since then: more replicas and other resources (one `pulumi up`, as an operator would).
    const resourcesOf = async (slot: string) => {
      const d = await kube.get<DeploymentObject>('deployment', `${APP}-${slot}`);
      return {
        replicas: d?.spec?.replicas,
        resources: (d?.spec?.template?.spec?.containers?.[0] as { resources?: unknown } | undefined)
          ?.resources,
      };
    };
    const original = await resourcesOf('green');
    expect(original.replicas).toBe(2);
    editStackFile((c) => {
      c['pavemaster:replicas'] = 3;
      c['pavemaster:resources'] = {
        requests: { cpu: '150m', memory: '160Mi' },
        limits: { cpu: '600m', memory: '320Mi' },
      };
    });
    await sandbox.stack.up({ onOutput: () => undefined });
    expect((await resourcesOf('green')).replicas).toBe(3);
    expect((await resourcesOf('green')).resources).not.toEqual(original.resources);

    const posted = recorder.requests.length;
    const r = await rollbackTo(STACK, target.version, opts);
    expect(
      annotationsSince(posted).grafana.map((n) => [
        n.tags.slice(4),
        n.text.endsWith(`stack version ${target.version} restored`),
      ]),
    ).toEqual([[['step:rollback-to', 'slot:green', 'version:2.0.0'], true]]);
    // The diff it showed first names both keys.
    expect(r.changes.map((c) => c.key)).toEqual(expect.arrayContaining(['replicas', 'resources']));
    expect(output.some((l) => l.startsWith('  pavemaster:replicas: 3 -> 2'))).toBe(true);
    for (const slot of ['blue', 'green']) {
      expect(await resourcesOf(slot)).toEqual(original);
    }
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).not.toContain('pavemaster:resources');
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

  it('the bin on a terminal: deploy, then a promote with a live line per step, then status/history --json to their schema', async () => {
    const deployed = await cli(['deploy', STACK, V3, '--json']);
    expect(deployed.code).toBe(0);
    const d = jsonDoc(deployed).result as { slot: string; releaseId: string; image: string };
    expect(d).toMatchObject({ slot: 'blue', image: V3 });
    const run = await cli(['promote', STACK], { tty: true });
    expect(run.code).toBe(0);
    // A live line per step, redrawn in place (carriage return + erase line) with elapsed time against the timeout.
    expect(run.stdout).toContain('\r\x1b[2K… gate:ready  0s / 120s');
    expect(run.stdout).toContain('\r\x1b[2K… post-promotion  0s / 3s');
    expect(run.stdout).toMatch(/✔ gate:ready succeeded \d+\.\ds {2}\d pod\(s\) of blue Ready/);
    expect(run.stdout).toMatch(/✔ gate:smoke succeeded \d+\.\ds/);
    expect(run.stdout).toMatch(
      /· post-promotion sample at \d+s: error ratio 0 \(max 0\.05\), p95 0\.05s \(max 1s\)/,
    );
    expect(run.stdout).toMatch(/✔ promote succeeded \d+\.\ds/);
    expect(run.stdout).toContain('traffic: green -> blue');
    expect((await snapshot()).active).toEqual({ app: APP, slot: 'blue' });

    const st = await cli(['status', STACK, '--json']);
    expect(st.code).toBe(0);
    const report = jsonDoc(st).result as {
      activeSlot: string;
      lock: unknown;
      slots: { slot: string; version: string }[];
    };
    expect(report.activeSlot).toBe('blue');
    expect(report.lock).toBeNull();
    expect(report.slots.find((x) => x.slot === 'blue')?.version).toBe('3.0.0');
    const hist = await cli(['history', STACK, '--json']);
    expect(hist.code).toBe(0);
    const versions = jsonDoc(hist).result as { version: number }[];
    expect(versions.length).toBe(await historyLength());
    expect(versions[0].version).toBe(versions.length);

    // Back to green (v2) without a terminal: plain lines, no escape sequences.
    const back = await cli(['rollback', STACK]);
    expect(back.code).toBe(0);
    expect(back.stderr).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z switch succeeded in \d+\.\ds: blue -> green; /m);
    expect(back.stderr).not.toContain('\x1b[');
    expect((await snapshot()).active).toEqual({ app: APP, slot: 'green' });
  });

  it('abort ends an open release: the idle slot is back on its previous image, the lock is freed, traffic stays', async () => {
    const before = await snapshot();
    const r = await deploy(STACK, V1, opts);
    expect(r.slot).toBe('blue');
    expect((await status(STACK, opts)).lock?.releaseId).toBe(r.releaseId);
    const run = await cli(['abort', STACK, '--json']);
    expect(run.code).toBe(0);
    const a = jsonDoc(run).result as {
      releaseId: string;
      slot: string;
      restored: Record<string, string | null>;
      lockFreed: boolean;
    };
    expect(a).toMatchObject({ releaseId: r.releaseId, slot: 'blue', lockFreed: true });
    expect(a.restored.blueImage).toBe(V3);
    const blue = await kube.get<DeploymentObject>('deployment', `${APP}-blue`);
    expect(blue?.spec?.template?.spec?.containers?.[0]?.image).toBe(V3);
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toContain(`pavemaster:blueImage: ${V3}`);
    expect((await status(STACK, opts)).lock).toBeNull();
    const after = await snapshot();
    expect(after.active).toEqual(before.active);
    expect(after.activePods).toEqual(before.activePods);
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

  it('an update killed mid-way is recovered with `pavemaster recover`, and the next release finishes', async () => {
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
    expect(refused.message).toContain(`pavemaster recover ${STACK}`);

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
