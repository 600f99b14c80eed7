/**
 * Faults on the local cluster, through the real Pulumi engine: what an operator sees when the control plane or
 * the engine fails in the middle of a change, and that nothing is lost. One throwaway copy of the production
 * stack (monitoring and logging on, so there are protected StatefulSets and volume claims) lives in a checkout
 * of its own with its own file backend (test/integration/faults/project.ts), and goes through, in order:
 *
 * 1. the API server restarts (SIGTERM, then started again) in the middle of the first `pulumi up`: the update
 *    fails naming the API server it could not reach; the next `up` converges with no replacement and no
 *    deletion, and `preview --expect-no-changes` passes;
 * 2. etcd is killed (SIGKILL) and started again during an update: whatever the update reported, the next `up`
 *    converges with no replacement, and every object of the state is still in the cluster with the same uid;
 * 3. the whole cluster stops and starts (scripts/cluster stop/start): the stack, every resource and every
 *    protected volume claim survive (same uids, claims bound to the same volumes);
 * 4. `pulumi up` is frozen while it holds the stack lock and has written part of the state, a second checkout's
 *    `pulumi up` and `release deploy` are refused naming the holder, the first is killed with SIGKILL, the second
 *    checkout's release is refused pointing at `release recover`, `release recover` clears the stale lock and the
 *    pending operations, and the next `up` converges with nothing lost;
 * 5. `pulumi destroy` refuses to delete the protected stateful resources, names them and says how to proceed,
 *    and deletes none of them (in the state or in the cluster).
 *
 * Needs: scripts/toolchain built, the local cluster started by globalSetup. The faults are injected into this
 * checkout's kwok cluster only (test/integration/faults/cluster.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dig, eventually, items, kubectlJson, parseObject, run } from './helpers';
import { LocalCluster } from './faults/cluster';
import { Backend, Checkout, EngineEvent, readEvents, Running, stepOps, Timed } from './faults/project';

jest.setTimeout(40 * 60 * 1000);

const STACK = 'it-faults';
const NAMESPACE = 'pm-it-faults';
const PROJECT = 'pavemaster';

const cluster = new LocalCluster();
let backend: Backend;
let first: Checkout;
let second: Checkout;
const eventDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-faults-events-'));
let eventCount = 0;
/** Every background `pulumi up`: none may outlive the test. */
const started: Running[] = [];

function track(up: Running): Running {
  started.push(up);
  return up;
}

function eventLog(): string {
  eventCount += 1;
  return path.join(eventDir, `events-${eventCount}.jsonl`);
}

/** One resource of the state. */
interface StateResource {
  urn: string;
  type: string;
  id?: string;
  protect: boolean;
  namespace?: string;
  name?: string;
  uid?: string;
}

async function stateResources(c: Checkout = first): Promise<StateResource[]> {
  const state = await c.exportState(STACK);
  const list = dig(state, 'deployment', 'resources');
  return (Array.isArray(list) ? list : []).map((r: unknown) => ({
    urn: String(dig(r, 'urn')),
    type: String(dig(r, 'type')),
    id: typeof dig(r, 'id') === 'string' ? String(dig(r, 'id')) : undefined,
    protect: dig(r, 'protect') === true,
    namespace: dig(r, 'outputs', 'metadata', 'namespace') as string | undefined,
    name: dig(r, 'outputs', 'metadata', 'name') as string | undefined,
    uid: dig(r, 'outputs', 'metadata', 'uid') as string | undefined,
  }));
}

async function pendingOperations(c: Checkout = first): Promise<unknown[]> {
  const state = await c.exportState(STACK);
  const pending = dig(state, 'deployment', 'pending_operations');
  return Array.isArray(pending) ? (pending as unknown[]) : [];
}

/** The Kubernetes kind and API group of a resource type token (`kubernetes:apps/v1:Deployment`). */
function kubeKind(type: string): string | undefined {
  const m = /^kubernetes:([^/]+)\/([^:]+):(.+)$/.exec(type);
  if (m === null) {
    return undefined;
  }
  const [, group, , kind] = m;
  return group === 'core' ? kind : `${kind}.${group.replace(/^rbac$/, 'rbac.authorization.k8s.io')}`;
}

/** A string field of an API object, or "" (cluster-scoped objects have no namespace). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The `<Kind>.<group>` (core: `<Kind>`) of an object as the API server lists it, the form {@link kubeKind} gives. */
function listedKind(obj: unknown): string {
  const apiVersion = text(dig(obj, 'apiVersion'));
  const kind = text(dig(obj, 'kind'));
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? kind : `${kind}.${apiVersion.slice(0, slash)}`;
}

/**
 * Every object of the given kinds in the cluster (all namespaces), keyed `<kind>|<namespace>|<name>` with its uid;
 * the kinds that could not be listed, with kubectl's error. One `kubectl get` of every kind at once (a few
 * seconds), not one per object (over a hundred kubectl processes, minutes here under load); when that fails
 * (a kind the API server no longer serves fails the whole call), each kind is listed on its own, so a kind that
 * cannot be listed makes exactly its objects missing, with the reason.
 */
async function listKinds(
  kinds: readonly string[],
): Promise<{ uids: Map<string, string>; failed: Map<string, string> }> {
  const uids = new Map<string, string>();
  const failed = new Map<string, string>();
  const add = (stdout: string) => {
    for (const obj of items(parseObject(stdout))) {
      const key = `${listedKind(obj)}|${text(dig(obj, 'metadata', 'namespace'))}|${text(dig(obj, 'metadata', 'name'))}`;
      uids.set(key, text(dig(obj, 'metadata', 'uid')));
    }
  };
  const all = await run('kubectl', ['get', kinds.join(','), '--all-namespaces', '-o', 'json'], {
    timeoutMs: 120_000,
  });
  if (all.code === 0) {
    add(all.stdout);
    return { uids, failed };
  }
  for (const kind of kinds) {
    const one = await run('kubectl', ['get', kind, '--all-namespaces', '-o', 'json'], { timeoutMs: 60_000 });
    if (one.code === 0) {
      add(one.stdout);
    } else {
      failed.set(kind, one.stderr.trim());
    }
  }
  return { uids, failed };
}

/**
 * Every Kubernetes object of the state, read back from the cluster: the ones missing, and the ones whose uid
 * differs from the state's (deleted and created again: data of a claim would be gone).
 */
async function compareWithCluster(resources: readonly StateResource[]): Promise<{
  checked: number;
  missing: string[];
  recreated: string[];
}> {
  const objects = resources.flatMap((r) => {
    const kind = kubeKind(r.type);
    return kind === undefined || r.name === undefined ? [] : [{ r, kind, name: r.name }];
  });
  const { uids, failed } = await listKinds([...new Set(objects.map((o) => o.kind))]);
  const missing: string[] = [];
  const recreated: string[] = [];
  for (const { r, kind, name } of objects) {
    const uid = uids.get(`${kind}|${r.namespace ?? ''}|${name}`);
    if (uid === undefined) {
      const why = failed.get(kind) ?? `not found in the cluster (listed ${kind} in every namespace)`;
      missing.push(`${r.type} ${r.namespace ?? ''}/${name}: ${why}`);
    } else if (r.uid !== undefined && uid !== r.uid) {
      recreated.push(`${r.type} ${r.namespace ?? ''}/${name}`);
    }
  }
  return { checked: objects.length, missing, recreated };
}

/** The claims of the stack's namespaces: name -> uid, volume, phase. */
async function claims(): Promise<Map<string, { uid: string; volume: string; phase: string }>> {
  const list = await kubectlJson(['get', 'pvc', '--all-namespaces']);
  const out = new Map<string, { uid: string; volume: string; phase: string }>();
  for (const pvc of items(list)) {
    const ns = String(dig(pvc, 'metadata', 'namespace'));
    if (!ns.startsWith(NAMESPACE)) {
      continue;
    }
    out.set(`${ns}/${String(dig(pvc, 'metadata', 'name'))}`, {
      uid: String(dig(pvc, 'metadata', 'uid')),
      volume: String(dig(pvc, 'spec', 'volumeName')),
      phase: String(dig(pvc, 'status', 'phase')),
    });
  }
  return out;
}

/** `pulumi up` to convergence, returning the operations it ran. */
async function upAndOps(c: Checkout = first): Promise<{ result: Timed; ops: { op: string; urn: string }[] }> {
  const log = eventLog();
  const result = await c.pulumi(
    ['up', '--yes', '--skip-preview', '--stack', STACK, '--event-log', log],
    30 * 60_000,
  );
  return { result, ops: stepOps(readEvents(log)) };
}

/** Replacements and deletions among operations: what must never follow a fault. */
function destructive(ops: readonly { op: string; urn: string }[]): string[] {
  return ops
    .filter((o) => /replace|delete|discard/.test(o.op))
    .map((o) => `${o.op} ${o.urn.split('::').slice(-2).join('::')}`);
}

function tail(text: string, n = 40): string {
  return text.split('\n').slice(-n).join('\n');
}

/** Fails with the output when an operator command failed. */
function ok(r: Timed, what: string): Timed {
  if (r.code !== 0) {
    throw new Error(`${what} exited ${r.code}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`);
  }
  return r;
}

/** Counted as it happens; printed at the end as the figures docs/security.md cites. */
const survived: string[] = [];

beforeAll(async () => {
  await cluster.waitReady();
  backend = new Backend('faults');
  first = Checkout.create('faults-a', backend);
  second = Checkout.create('faults-b', backend);
  await first.initStack(STACK, 'production', {
    environment: 'production',
    namespace: NAMESPACE,
    // The protected stateful data of production (Prometheus, Alertmanager, Elasticsearch, Logstash claims)
    // without the Ingress controller namespace of a real cluster.
    host: undefined,
    tlsSecretName: undefined,
  });
  first.shareStackFile(STACK, second);
});

afterAll(async () => {
  for (const up of started.filter((u) => u.running)) {
    up.signal('SIGKILL');
    up.signal('SIGCONT');
    await up.exited;
  }
  try {
    // Whatever happened, the cluster runs again and the throwaway stack and its namespaces are gone.
    if (!(await cluster.apiReady())) {
      await cluster.startStopped();
    }
    if (first !== undefined) {
      await first.pulumi(['cancel', '--yes', '--stack', STACK]);
      for (const lock of backend.lockFiles(PROJECT, STACK)) {
        fs.rmSync(lock, { force: true });
      }
      await first.pulumi(['state', 'unprotect', '--all', '--yes', '--stack', STACK]);
      await first.pulumi(['destroy', '--yes', '--skip-preview', '--stack', STACK], 30 * 60_000);
      await first.pulumi(['stack', 'rm', STACK, '--yes', '--force']);
    }
  } finally {
    first?.remove();
    second?.remove();
    backend?.remove();
    fs.rmSync(eventDir, { recursive: true, force: true });
    console.log(`faults survived: ${survived.length}\n  ${survived.join('\n  ')}`);
  }
});

describe('faults on the local cluster', () => {
  it('the API server restarts in the middle of the first `pulumi up`: the update fails clearly, the next converges', async () => {
    const log = eventLog();
    const up = track(first.startUp(STACK, log));
    // In the middle: some objects exist, many are still to be created.
    await up.waitFor(
      'ten resources created',
      (events) => events.filter((e) => e.resOutputsEvent?.metadata?.op === 'create').length >= 10,
    );
    const stoppedPid = await cluster.stopComponent('kube-apiserver', 'SIGTERM');
    // The API server stays down until the engine has seen the outage (an operation failed), so the outcome does
    // not depend on timing; then it comes back while the update is still running.
    const failedOp = (events: EngineEvent[]) =>
      events.some((e) => e.resOpFailedEvent !== undefined || e.diagnosticEvent?.severity === 'error');
    let sawOutage = true;
    await up.waitFor('an operation to fail on the outage', failedOp, 5 * 60_000).catch((e: unknown) => {
      sawOutage = failedOp(up.events());
      if (!sawOutage) {
        throw e;
      }
    });
    await cluster.startStopped();
    expect(cluster.pid('kube-apiserver')).not.toBe(stoppedPid);
    const exit = await up.exited;
    const restarted = await cluster.settle();
    // What the operator sees: a failed update naming the API server it could not reach.
    expect(exit.code).not.toBe(0);
    const said = `${up.stdout}\n${up.stderr}`;
    expect(said).toMatch(/connection refused|unable to connect|EOF|i\/o timeout|connection reset/i);
    expect(said).toMatch(/https:\/\/127\.0\.0\.1:\d+/);
    const created = readEvents(log).filter((e) => e.resOutputsEvent?.metadata?.op === 'create').length;

    // The next `up` converges: it creates what is missing, replaces and deletes nothing.
    const next = await upAndOps();
    ok(next.result, 'pulumi up after the API server restart');
    expect(destructive(next.ops)).toEqual([]);
    ok(
      await first.pulumi(['preview', '--expect-no-changes', '--stack', STACK], 15 * 60_000),
      'preview --expect-no-changes',
    );
    expect(await pendingOperations()).toEqual([]);
    const cmp = await compareWithCluster(await stateResources());
    expect(cmp.missing).toEqual([]);
    expect(cmp.checked).toBeGreaterThan(100);
    survived.push(
      `API server restart mid-up: ${created} resources created before the fault, update failed clearly ` +
        `(components restarted after their leases lapsed: ${restarted.join(', ') || 'none'}); ` +
        `next up: ${next.ops.length} operations, 0 replacements, 0 deletions; ${cmp.checked} objects present`,
    );
  });

  it('etcd restarts during an update: the next `up` converges with no replacement and nothing lost', async () => {
    const before = await stateResources();
    const claimsBefore = await claims();
    expect(claimsBefore.size).toBeGreaterThan(0);
    // An update that rolls both app Deployments and the monitoring config.
    first.setConfig(STACK, 'env', { NODE_ENV: 'production', LOG_FORMAT: 'json', FAULT_DRILL: 'etcd' });
    const log = eventLog();
    const up = track(first.startUp(STACK, log));
    await up.waitFor('the first update step', (events) =>
      events.some((e) => e.resourcePreEvent?.metadata?.op === 'update'),
    );
    await cluster.stopComponent('etcd', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 5_000));
    await cluster.startStopped();
    const exit = await up.exited;
    await cluster.settle();
    // Either the update rode out the restart or it failed; both are reported, neither may lose anything.
    const outcome = exit.code === 0 ? 'the update finished' : 'the update failed and said so';
    if (exit.code !== 0) {
      expect(`${up.stdout}\n${up.stderr}`).toMatch(/error/i);
    }
    const next = await upAndOps();
    ok(next.result, 'pulumi up after the etcd restart');
    expect(destructive(next.ops)).toEqual([]);
    ok(
      await first.pulumi(['preview', '--expect-no-changes', '--stack', STACK], 15 * 60_000),
      'preview --expect-no-changes',
    );
    const after = await stateResources();
    expect(after.map((r) => r.urn).sort()).toEqual(before.map((r) => r.urn).sort());
    const cmp = await compareWithCluster(after);
    expect(cmp.missing).toEqual([]);
    expect(cmp.recreated).toEqual([]);
    expect(await claims()).toEqual(claimsBefore);
    survived.push(
      `etcd SIGKILL during an update: ${outcome}; next up: 0 replacements, 0 deletions; ` +
        `${cmp.checked} objects with unchanged uids, ${claimsBefore.size} claims unchanged`,
    );
  });

  it('the cluster stops and starts: the stack, its resources and its protected volumes survive', async () => {
    const before = await stateResources();
    const claimsBefore = await claims();
    const protectedBefore = before.filter((r) => r.protect).map((r) => r.urn);
    expect(protectedBefore.length).toBeGreaterThan(0);

    // `stop` stops the real node too (when this checkout runs one); `start` brings back what ran before.
    const realNode = await cluster.realNodeRuns();
    await cluster.script('stop');
    expect(await cluster.apiReady()).toBe(false);
    await cluster.script('start', realNode ? ['--real-node'] : []);
    expect(await cluster.realNodeRuns()).toBe(realNode);
    await cluster.settle();

    const after = await stateResources();
    expect(after).toEqual(before);
    const cmp = await compareWithCluster(after);
    expect(cmp.missing).toEqual([]);
    expect(cmp.recreated).toEqual([]);
    // The claims come back bound to the same volumes.
    const claimsAfter = await eventually('the claims to be Bound again', async () => {
      const c = await claims();
      return [...c.values()].every((v) => v.phase === 'Bound') ? c : undefined;
    });
    expect(claimsAfter).toEqual(claimsBefore);
    ok(
      await first.pulumi(['preview', '--expect-no-changes', '--stack', STACK], 15 * 60_000),
      'preview --expect-no-changes after the restart',
    );
    survived.push(
      `cluster stop/start${realNode ? ' (with the real node)' : ''}: ${after.length} resources in the state, ${cmp.checked} objects with unchanged uids, ` +
        `${claimsAfter.size} claims bound to the same volumes, ${protectedBefore.length} protected resources`,
    );
  });

  it('pulumi killed with SIGKILL while writing state: a second checkout is refused, `release recover` brings the stack back', async () => {
    const before = await stateResources();
    const claimsBefore = await claims();
    // A deploy-like change on the idle slot, started from the first checkout.
    first.setConfig(STACK, 'env', { NODE_ENV: 'production', LOG_FORMAT: 'json', FAULT_DRILL: 'sigkill' });
    first.shareStackFile(STACK, second);
    const up = track(first.startUp(STACK, eventLog()));
    // The engine records a step as pending in the state when it starts it: freeze it right then, while it holds
    // the lock and the state says an update is in flight (deterministic, whatever the timing).
    await up.waitFor('the first update step', (events) =>
      events.some((e) => e.resourcePreEvent?.metadata?.op === 'update'),
    );
    up.signal('SIGSTOP');
    try {
      const locks = backend.lockFiles(PROJECT, STACK);
      expect(locks).toHaveLength(1);
      const holder = JSON.parse(fs.readFileSync(locks[0], 'utf8')) as { pid?: number };

      // A second checkout's `pulumi up` is refused, naming the holder.
      const concurrent = await second.pulumi(['up', '--yes', '--skip-preview', '--stack', STACK]);
      expect(concurrent.code).not.toBe(0);
      expect(concurrent.stderr + concurrent.stdout).toContain('the stack is currently locked by');
      expect(concurrent.stderr + concurrent.stdout).toContain(`(pid ${holder.pid})`);
      // Its release command says who holds it and not to interleave (exit 3: locked).
      const release = await second.release([
        'deploy',
        STACK,
        'pavemaster/web:9.9.9@sha256:' + 'b'.repeat(64),
      ]);
      expect(release.code).toBe(3);
      expect(release.stderr).toContain('Another release is running');
      expect(fs.readFileSync(second.stackFile(STACK), 'utf8')).not.toContain('9.9.9');
    } finally {
      up.signal('SIGKILL');
      up.signal('SIGCONT');
    }
    const killed = await up.exited;
    expect(killed.signal).toBe('SIGKILL');
    expect(backend.lockFiles(PROJECT, STACK)).toHaveLength(1);

    // Now the lock is stale: the release command points at recover.
    const refused = await second.release(['deploy', STACK, 'pavemaster/web:9.9.9@sha256:' + 'b'.repeat(64)]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`pavemaster recover ${STACK}`);
    expect(refused.stderr).toContain('no longer runs');

    const recovered = ok(await second.release(['recover', STACK]), 'release recover');
    expect(recovered.stdout + recovered.stderr).toMatch(/recovered it-faults: 1 stale lock\(s\) removed/);
    expect(backend.lockFiles(PROJECT, STACK)).toEqual([]);
    expect(await pendingOperations(second)).toEqual([]);

    // The next `up` (from the first checkout, which has the change) converges; nothing was lost.
    const next = await upAndOps();
    ok(next.result, 'pulumi up after recover');
    expect(destructive(next.ops)).toEqual([]);
    ok(
      await first.pulumi(['preview', '--expect-no-changes', '--stack', STACK], 15 * 60_000),
      'preview --expect-no-changes',
    );
    const after = await stateResources();
    expect(after.map((r) => r.urn).sort()).toEqual(before.map((r) => r.urn).sort());
    const cmp = await compareWithCluster(after);
    expect(cmp.missing).toEqual([]);
    expect(await claims()).toEqual(claimsBefore);
    survived.push(
      `SIGKILL of pulumi while writing state: second checkout refused (pulumi up: locked; release: exit 3); ` +
        `release recover removed the stale lock; next up: 0 replacements, 0 deletions, ${cmp.checked} objects present`,
    );
  });

  it('pulumi destroy refuses to delete the protected stateful resources and says how to proceed', async () => {
    const before = await stateResources();
    const protectedUrns = before.filter((r) => r.protect).map((r) => r.urn);
    const claimsBefore = await claims();
    expect(protectedUrns.length).toBeGreaterThan(0);

    // As an operator types it (the preview runs first): refused before anything is deleted.
    const destroy = await first.pulumi(['destroy', '--yes', '--stack', STACK], 30 * 60_000);
    const said = `${destroy.stdout}\n${destroy.stderr}`;
    expect(destroy.code).not.toBe(0);
    expect(said).toMatch(/cannot be deleted\s+because it is protected/);
    expect(said).toContain('pulumi state unprotect');
    const named = protectedUrns.filter((urn) => said.includes(urn)).length;
    expect(named).toBeGreaterThan(0);
    const afterPreview = await stateResources();
    expect(afterPreview.map((r) => r.urn).sort()).toEqual(before.map((r) => r.urn).sort());
    const all = await compareWithCluster(afterPreview);
    expect(all.missing).toEqual([]);

    // With the preview skipped, the engine deletes what is not protected and stops at the first protected
    // resource: the stateful data and its claims stay, in the state and in the cluster.
    const skipped = await first.pulumi(['destroy', '--yes', '--skip-preview', '--stack', STACK], 30 * 60_000);
    expect(skipped.code).not.toBe(0);
    expect(`${skipped.stdout}\n${skipped.stderr}`).toContain('pulumi state unprotect');
    const after = await stateResources();
    for (const urn of protectedUrns) {
      expect(after.map((r) => r.urn)).toContain(urn);
    }
    const cmp = await compareWithCluster(after.filter((r) => r.protect));
    expect(cmp.missing).toEqual([]);
    expect(cmp.recreated).toEqual([]);
    expect(await claims()).toEqual(claimsBefore);
    const deleted = before.filter((r) => !after.some((a) => a.urn === r.urn)).length;
    survived.push(
      `pulumi destroy --yes of production: refused in its preview, 0 of ${before.length} resources deleted, ` +
        `${named} protected resources named with "pulumi state unprotect"; with --skip-preview: refused, ` +
        `${cmp.checked} protected objects and ${claimsBefore.size} claims kept, ${deleted} unprotected resources deleted`,
    );
  });
});
