/**
 * The direct switch (release/traffic.ts) against the real Pulumi engine and the local Kubernetes API server: the
 * two Services' selectors are server-side applied under the Kubernetes provider's field manager, then recorded by
 * `pulumi up --target` the two Services. Pulumi stays the source of truth: after each switch `pulumi preview
 * --expect-no-changes` passes and `pulumi stack history` has the switch. The failure paths run for real: the
 * recording update refused by the engine (the stack locked by another update at that moment: the release stays
 * open, and re-running promote only records it; or abort puts traffic back), a selector patch refused by the API
 * server (a ValidatingAdmissionPolicy).
 *
 * A throwaway stack `it-switch` (config from Pulumi.staging.yaml, its own namespace and file backend, monitoring,
 * logging and the Job gates off), blue on 1.0.0, green on 2.0.0. kwok nodes are enough (no pod runs for real).
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { abort, deploy, promote, ReleaseOptions, rollback } from '../../release/commands';
import { DeploymentObject, Kube, PodObject, poll, ServiceLike } from '../../release/kube';
import { readReleaseLock } from '../../release/lock';
import { ReleaseError, Session } from '../../release/session';
import { withoutDeclaredDefaults } from '../../stacks/schema';
import { createSandbox, ensureCluster, envFromScript, Sandbox } from '../../release/testing/sandbox';
import { withFrozenSelector } from './admission';
import { kubectlRecorder } from './kubectlRecorder';

jest.setTimeout(15 * 60 * 1000);

const STACK = 'it-switch';
const APP = 'pavemaster';
const V1 = 'pavemaster/web:1.0.0';
const V3 = 'pavemaster/web:3.0.0';

let sandbox: Sandbox;
let kube: Kube;
let opts: ReleaseOptions;
/** The release log records of the current step, and a hook called on each. */
let records: {
  step: string;
  outcome: string;
  time: number;
  detail?: string;
  stackOpen?: { source: string; reason?: string };
}[] = [];
let onRecord: (r: { step: string; outcome: string }) => void = () => undefined;

interface ManagedField {
  manager?: string;
  operation?: string;
  fieldsV1?: { 'f:spec'?: Record<string, unknown> };
}

/** A Service with its managedFields (kubectl leaves them out unless asked). */
async function service(
  name: string,
): Promise<ServiceLike & { metadata: { managedFields?: ManagedField[] } }> {
  const r = await kube.kubectlRun(['get', 'service', name, '-o', 'json', '--show-managed-fields']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as ServiceLike & { metadata: { managedFields?: ManagedField[] } };
}

async function podNames(slot: string): Promise<string[]> {
  const pods = await kube.list<PodObject>('pods', `app=${APP},slot=${slot}`);
  return pods
    .filter((p) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.metadata.name)
    .sort();
}

async function snapshot() {
  return {
    active: (await service(APP)).spec?.selector,
    preview: (await service(`${APP}-preview`)).spec?.selector,
    activePods: (await kube.endpointPods(APP)).sort(),
    previewPods: (await kube.endpointPods(`${APP}-preview`)).sort(),
  };
}

function stackFileSlot(): unknown {
  return (parse(fs.readFileSync(sandbox.stackFile, 'utf8')) as { config: Record<string, unknown> }).config[
    'pavemaster:activeSlot'
  ];
}

/** The field manager the provider recorded for a Service (`__fieldManager` in its outputs). */
async function providerManager(name: string): Promise<string> {
  const state = (await sandbox.stack.exportStack()).deployment as {
    resources: { type: string; outputs?: { __fieldManager?: string; metadata?: { name?: string } } }[];
  };
  const r = state.resources.find(
    (x) => x.type === 'kubernetes:core/v1:Service' && x.outputs?.metadata?.name === name,
  );
  return r?.outputs?.__fieldManager ?? '';
}

/** Holds the stack's lock as another live update would (a lock file naming this process). */
function holdLock(): string {
  const backendDir = (process.env.PULUMI_BACKEND_URL ?? '').replace(/^file:\/\//, '');
  const dir = path.join(backendDir, '.pulumi', 'locks', 'organization', 'pavemaster', STACK);
  const file = path.join(dir, `${randomUUID()}.json`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({
      pid: process.pid,
      username: os.userInfo().username,
      hostname: os.hostname(),
      timestamp: new Date(),
    }),
  );
  return file;
}

/** Config values as data (object values compared parsed: the CLI prints them with sorted keys). */
function configData(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    try {
      out[k] = JSON.parse(v) as unknown;
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** The plain (not secret) outputs of a stack. */
function plainOutputs(outputs: Record<string, { value: unknown; secret: boolean }>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(outputs)
      .filter(([, o]) => !o.secret)
      .map(([k, o]) => [k, o.value]),
  );
}

async function expectNoChanges(): Promise<void> {
  await sandbox.stack.preview({ expectNoChanges: true });
}

async function failure(p: Promise<unknown>): Promise<ReleaseError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ReleaseError);
  return e as ReleaseError;
}

beforeAll(async () => {
  Object.assign(process.env, envFromScript());
  process.env.PAVEMASTER_RELEASE_PROG = 'pavemaster';
  await ensureCluster();
  sandbox = await createSandbox({
    stackName: STACK,
    fromStack: 'staging',
    env: {},
    overrides: {
      namespace: STACK,
      blueImage: 'pavemaster/web:1.0.0',
      greenImage: 'pavemaster/web:2.0.0',
      replicas: 2,
      host: undefined,
      monitoring: { enabled: false },
      logging: { enabled: false },
      release: {
        readyTimeoutSeconds: 120,
        jobs: { podAnnotations: { 'pavemaster.local/placement': 'kwok' } },
        smoke: { enabled: false },
        postPromotion: { windowSeconds: 0 },
      },
    },
  });
  opts = {
    workDir: sandbox.dir,
    envVars: { PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? '' },
    out: () => undefined,
    logEcho: (line) => {
      const r = JSON.parse(line) as {
        step: string;
        outcome: string;
        time: string;
        detail?: string;
        stackOpen?: { source: string; reason?: string };
      };
      records.push({
        step: r.step,
        outcome: r.outcome,
        time: Date.parse(r.time),
        detail: r.detail,
        stackOpen: r.stackOpen,
      });
      onRecord(r);
    },
  };
  kube = new Kube(sandbox.namespace);
  await sandbox.stack.up({ onOutput: () => undefined });
  await poll(async () => ((await podNames('green')).length === 2 ? true : undefined), {
    timeoutMs: 120000,
    what: 'green pods Ready',
  });
});

afterAll(async () => {
  await sandbox?.cleanup();
});

beforeEach(() => {
  records = [];
  onRecord = () => undefined;
});

describe('the direct switch', () => {
  it('promote moves traffic before the recording update, which then records it: history has it, preview shows no change', async () => {
    const historyBefore = (await sandbox.stack.history()).length;
    const manager = await providerManager(APP);
    expect(manager).toMatch(/^pulumi-kubernetes-/);
    const kubectl = kubectlRecorder();
    let result: Awaited<ReturnType<typeof promote>>;
    let kubectlCalls: string[];
    try {
      result = await promote(STACK, opts);
    } finally {
      kubectlCalls = kubectl.calls();
      kubectl.remove();
    }
    expect(result.switched?.to).toBe('green');
    // Opened from the files, and the cluster called directly: no kubectl process at all (the release lock's
    // delete too: a Lease has no finalizers, it is gone when the API server answers).
    expect(records[0].stackOpen).toEqual(expect.objectContaining({ source: 'files' }));
    expect(kubectlCalls).toEqual([]);
    // Traffic moved first: the switch succeeded (EndpointSlices list only green) before the update started.
    const switched = records.find((r) => r.step === 'switch' && r.outcome === 'succeeded');
    const recordStarted = records.find((r) => r.step === 'record' && r.outcome === 'started');
    const recorded = records.find((r) => r.step === 'record' && r.outcome === 'succeeded');
    expect(switched && recordStarted && recorded).toBeTruthy();
    expect(switched!.time).toBeLessThanOrEqual(recordStarted!.time);
    // The recording update touched the two Services and nothing else.
    expect(result.switched?.up.touched.map((u) => u.split('::').pop()).sort()).toEqual([
      'pavemaster-active',
      'pavemaster-preview',
    ]);
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'green' });
    expect(s.preview).toEqual({ app: APP, slot: 'blue' });
    expect(s.activePods).toEqual(await podNames('green'));
    expect(s.previewPods).toEqual(await podNames('blue'));
    const history = await sandbox.stack.history();
    expect(history.length).toBe(historyBefore + 1);
    expect(history[0].message).toContain('release: traffic blue -> green');
    expect(stackFileSlot()).toBe('green');
    // The provider's manager still owns the whole Service (ports too), and nobody else owns the selector.
    const live = await service(APP);
    const owners = (live.metadata.managedFields ?? []).filter(
      (f) => f.fieldsV1?.['f:spec']?.['f:selector'] !== undefined,
    );
    expect(owners.map((f) => [f.manager, f.operation])).toEqual([[manager, 'Apply']]);
    expect(owners[0].fieldsV1?.['f:spec']?.['f:ports']).toBeDefined();
    await expectNoChanges();
  });

  it('rollback takes the selector back from an out-of-band kubectl patch and records it', async () => {
    // An operator patched the active selector by hand (same value): kubectl-patch now owns it.
    const patched = await kube.kubectlRun([
      'patch',
      'service',
      APP,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { selector: { slot: 'green' } } }),
    ]);
    expect(patched.code).toBe(0);
    const historyBefore = (await sandbox.stack.history()).length;
    const r = await rollback(STACK, opts);
    expect(r.to).toBe('blue');
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'blue' });
    expect(s.activePods).toEqual(await podNames('blue'));
    expect(s.previewPods).toEqual(await podNames('green'));
    const history = await sandbox.stack.history();
    expect(history.length).toBe(historyBefore + 1);
    expect(history[0].message).toContain('release: traffic green -> blue (rollback)');
    await expectNoChanges();
  });

  it('a recording update that fails keeps the release open; re-running promote only records it (no traffic change) and frees the lock', async () => {
    const historyBefore = (await sandbox.stack.history()).length;
    let lock = '';
    // Another update takes the stack's lock the moment the selectors have switched: the real engine then
    // refuses the recording update.
    onRecord = (r) => {
      if (r.step === 'switch' && r.outcome === 'succeeded' && lock === '') {
        lock = holdLock();
      }
    };
    let err: ReleaseError;
    try {
      err = await failure(promote(STACK, opts));
    } finally {
      if (lock !== '') {
        fs.rmSync(lock, { force: true });
      }
    }
    onRecord = () => undefined;
    expect(lock).not.toBe('');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('traffic is on green (switched at the API server)');
    expect(err.message).toContain(`is locked by`);
    expect(err.message).toContain('the release stays open (its lock held)');
    expect(err.message).toContain(`re-run \`pavemaster promote ${STACK}\` to record it and end the release`);
    expect(err.message).toContain(`\`pavemaster abort ${STACK}\``);
    expect(records.some((r) => r.step === 'record' && r.outcome === 'failed')).toBe(true);
    // Traffic is on green, the stack file says so, the state does not have it yet, the release lock is held.
    const green = await podNames('green');
    expect((await snapshot()).activePods).toEqual(green);
    expect(stackFileSlot()).toBe('green');
    expect((await sandbox.stack.history()).length).toBe(historyBefore);
    const held = await readReleaseLock(kube, APP);
    expect(held).toBeDefined();
    // No other release step starts meanwhile: a rollback is refused on the release lock, nothing touched.
    const refused = await failure(rollback(STACK, opts));
    expect(refused.exitCode).toBe(3);
    expect(refused.message).toContain(`finish it with \`pavemaster promote ${STACK}\``);
    // The fix the message names, watched: the active Service never lists anything but green while it runs.
    records = [];
    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.add((await kube.endpointPods(APP)).sort().join(','));
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    let finished: Awaited<ReturnType<typeof promote>>;
    try {
      finished = await promote(STACK, opts);
    } finally {
      watching = false;
      await watcher;
    }
    expect([...seen]).toEqual([green.join(',')]);
    // Only recorded: no gate, no switch step, one targeted update of the two Services.
    expect(finished.gates).toEqual([]);
    expect(records.filter((r) => r.step === 'switch')).toEqual([]);
    expect(records.some((r) => r.step.startsWith('gate'))).toBe(false);
    expect(records.some((r) => r.step === 'record' && r.outcome === 'succeeded')).toBe(true);
    expect(finished.switched?.up.touched.map((u) => u.split('::').pop()).sort()).toEqual([
      'pavemaster-active',
      'pavemaster-preview',
    ]);
    const history = await sandbox.stack.history();
    expect(history.length).toBe(historyBefore + 1);
    expect(history[0].message).toContain('release: traffic blue -> green');
    expect(await readReleaseLock(kube, APP)).toBeUndefined();
    expect(stackFileSlot()).toBe('green');
    await expectNoChanges();
  });

  it('a stack locked by another update before the switch: refused naming the holder, nothing touched', async () => {
    const before = await snapshot();
    const fileBefore = fs.readFileSync(sandbox.stackFile, 'utf8');
    const lock = holdLock();
    let err: ReleaseError;
    try {
      err = await failure(rollback(STACK, opts));
    } finally {
      fs.rmSync(lock, { force: true });
    }
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(
      new RegExp(`stack ${STACK} is locked by \\S+@\\S+ \\(pid \\d+\\) since \\S+`),
    );
    expect(await snapshot()).toEqual(before);
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toBe(fileBefore);
  });

  it('a selector patch the API server refuses: the Services are put back, nothing is written or recorded', async () => {
    // Freeze the preview Service's selector (on blue now): the rollback applies the active one first, then the
    // preview one is refused.
    const before = await snapshot();
    const fileBefore = fs.readFileSync(sandbox.stackFile, 'utf8');
    const historyBefore = (await sandbox.stack.history()).length;
    const err = await withFrozenSelector(
      kube,
      { name: `${STACK}-freeze-preview`, service: `${APP}-preview`, probeSlot: 'green' },
      () => failure(rollback(STACK, opts)),
    );
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain('the API server refused the switch green -> blue');
    expect(err.message).toContain('frozen');
    expect(err.message).toContain(`${APP} put back on the previous selector`);
    expect(err.message).toContain('traffic stays on green');
    expect(await snapshot()).toEqual(before);
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toBe(fileBefore);
    expect((await sandbox.stack.history()).length).toBe(historyBefore);
    await expectNoChanges();
  });

  it('abort of a release whose promote switched but did not record it: traffic back on the previous slot, the deployed slot back on its image, the lock freed, all recorded', async () => {
    expect(stackFileSlot()).toBe('green');
    const d = await deploy(STACK, V3, opts);
    expect(d.slot).toBe('blue');
    let lock = '';
    onRecord = (r) => {
      if (r.step === 'switch' && r.outcome === 'succeeded' && lock === '') {
        lock = holdLock();
      }
    };
    let err: ReleaseError;
    try {
      err = await failure(promote(STACK, opts));
    } finally {
      if (lock !== '') {
        fs.rmSync(lock, { force: true });
      }
    }
    onRecord = () => undefined;
    expect(err.exitCode).toBe(1);
    expect((await snapshot()).active).toEqual({ app: APP, slot: 'blue' });
    expect((await readReleaseLock(kube, APP))?.releaseId).toBe(d.releaseId);
    const historyBefore = (await sandbox.stack.history()).length;
    const a = await abort(STACK, opts);
    expect(a).toMatchObject({ releaseId: d.releaseId, slot: 'blue', lockFreed: true });
    expect(a.restored.blueImage).toBe(V1);
    const s = await snapshot();
    expect(s.active).toEqual({ app: APP, slot: 'green' });
    expect(s.preview).toEqual({ app: APP, slot: 'blue' });
    expect(s.activePods).toEqual(await podNames('green'));
    const blue = await kube.get<DeploymentObject>('deployment', `${APP}-blue`);
    expect(blue?.spec?.template?.spec?.containers?.[0]?.image).toBe(V1);
    expect(stackFileSlot()).toBe('green');
    expect(fs.readFileSync(sandbox.stackFile, 'utf8')).toContain(`pavemaster:blueImage: ${V1}`);
    // Recorded in order: the unrecorded switch, the switch back, the abort's own update.
    const history = await sandbox.stack.history();
    expect(history.length).toBe(historyBefore + 3);
    expect(history[2].message).toContain('release: traffic green -> blue');
    expect(history[1].message).toContain(`release: traffic blue -> green (abort ${d.releaseId})`);
    expect(history[0].message).toContain(`release abort ${d.releaseId}`);
    expect(await readReleaseLock(kube, APP)).toBeUndefined();
    await expectNoChanges();
  });

  it('the stack opens from its files with the config and outputs the CLI gives; with a secret in the stack file it opens through the CLI, and with the client library making every cluster call a rollback switches the same way, no kubectl started', async () => {
    const fromFiles = await Session.open(STACK, 'status', opts);
    expect(fromFiles.openedFrom).toEqual({ source: 'files' });
    // What the CLI says of the same stack: `pulumi config --json` and `pulumi stack output`.
    const cliConfig = await sandbox.stack.getAllConfig();
    const cliRaw = withoutDeclaredDefaults(
      Object.fromEntries(
        Object.entries(cliConfig)
          .filter(([k]) => k.startsWith('pavemaster:'))
          .map(([k, v]) => [k.slice('pavemaster:'.length), v.value]),
      ),
    );
    expect(configData(fromFiles.raw)).toEqual(configData(cliRaw));
    expect(Object.keys(fromFiles.raw).length).toBeGreaterThan(8);
    const cliOutputs = plainOutputs(await sandbox.stack.outputs());
    expect(plainOutputs(await fromFiles.outputs())).toEqual(cliOutputs);
    expect(cliOutputs.activeServiceName).toBe(APP);

    // A secret only the CLI can decrypt: the session opens through it, with the same config and the secret.
    const secret = ['fake', 'smtp', String(Date.now())].join('-');
    await sandbox.stack.setConfig('pavemaster:smtpPassword', { value: secret, secret: true });
    const kubectl = kubectlRecorder();
    process.env.PAVEMASTER_KUBE_CLIENT = 'library';
    try {
      const viaCli = await Session.open(STACK, 'status', opts);
      expect(viaCli.openedFrom).toEqual({
        source: 'cli',
        reason: expect.stringContaining('has a secret in pavemaster:smtpPassword'),
      });
      expect([...viaCli.secretKeys]).toEqual(['smtpPassword']);
      expect(viaCli.raw.smtpPassword).toBe(secret);
      expect(configData({ ...viaCli.raw, smtpPassword: '' })).toEqual(
        configData({ ...fromFiles.raw, smtpPassword: '' }),
      );
      expect(viaCli.kube.api()).toBe('PAVEMASTER_KUBE_CLIENT=library');
      // The rollback: the same direct switch and recording, every cluster call through the client library.
      const historyBefore = (await sandbox.stack.history()).length;
      records = [];
      const r = await rollback(STACK, opts);
      expect(r.to).toBe('blue');
      expect(records[0].stackOpen?.source).toBe('cli');
      expect(records.find((x) => x.step === 'switch' && x.outcome === 'started')?.detail).not.toContain(
        'through pulumi up',
      );
      expect(kubectl.calls()).toEqual([]);
      const s = await snapshot();
      expect(s.active).toEqual({ app: APP, slot: 'blue' });
      expect(s.activePods).toEqual(await podNames('blue'));
      const history = await sandbox.stack.history();
      expect(history.length).toBe(historyBefore + 1);
      expect(history[0].message).toContain('release: traffic green -> blue (rollback)');
      await expectNoChanges();
    } finally {
      delete process.env.PAVEMASTER_KUBE_CLIENT;
      kubectl.remove();
      await sandbox.stack.removeConfig('pavemaster:smtpPassword');
    }
    expect((await Session.open(STACK, 'status', opts)).openedFrom).toEqual({ source: 'files' });
  });
});
