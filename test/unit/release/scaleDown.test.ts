/**
 * The scale-down delay (release/scaleDown.ts) against an in-memory Lease store that behaves like the API server
 * where it matters: `create` fails when the object exists, `replace` fails when the resourceVersion it carries is
 * not the current one (optimistic concurrency), each write bumps the resourceVersion. The real cluster runs it in
 * test/integration/releaseE2e.int.test.ts.
 */
import { leaseName, readReleaseLock, ReleaseLockInfo } from '../../../release/lock';
import {
  keepWarmThenScaleDown,
  rollbackMayTakeOver,
  scaleDownAt,
  takeOverWindow,
} from '../../../release/scaleDown';
import type { Session } from '../../../release/session';

interface Stored {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
}

/** The part of `Kube` the release lock uses, in memory. */
class FakeKube {
  readonly namespace = 'pm';
  private objects = new Map<string, Stored>();
  private version = 1;

  get<T>(kind: string, name: string): Promise<T | undefined> {
    const o = this.objects.get(`${kind}/${name}`);
    return Promise.resolve(o === undefined ? undefined : (JSON.parse(JSON.stringify(o)) as T));
  }

  create(manifest: Record<string, unknown>): Promise<{ created: boolean }> {
    const m = manifest as unknown as Stored;
    const key = `lease/${m.metadata.name}`;
    if (this.objects.has(key)) {
      return Promise.resolve({ created: false });
    }
    this.store(key, m);
    return Promise.resolve({ created: true });
  }

  replace(
    manifest: Record<string, unknown>,
  ): Promise<{ replaced: true; resourceVersion: string } | { replaced: false }> {
    const m = manifest as unknown as Stored;
    const key = `lease/${m.metadata.name}`;
    const current = this.objects.get(key);
    if (current === undefined || current.metadata.resourceVersion !== m.metadata.resourceVersion) {
      return Promise.resolve({ replaced: false });
    }
    return Promise.resolve({ replaced: true, resourceVersion: this.store(key, m) });
  }

  delete(kind: string, name: string): Promise<void> {
    this.objects.delete(`${kind}/${name}`);
    return Promise.resolve();
  }

  private store(key: string, m: Stored): string {
    const resourceVersion = String(++this.version);
    this.objects.set(key, { metadata: { ...m.metadata, resourceVersion } });
    return resourceVersion;
  }
}

interface FakeSession {
  session: Session;
  out: string[];
  /** Each setConfig call with the time it came. */
  configs: { values: Record<string, string>; remove: readonly string[]; at: number }[];
  ups: string[];
}

/** A session of a stack whose active slot is `active`, replicas 2, idleReplicas raised to 2 for the switch. */
function fakeSession(kube: FakeKube, active: 'blue' | 'green', delaySeconds = 30): FakeSession {
  const out: string[] = [];
  const configs: FakeSession['configs'] = [];
  const ups: string[] = [];
  const app = { idleReplicas: 2, replicas: 2, appName: 'pavemaster', activeSlot: active };
  const s = {
    name: 'staging',
    kube,
    app: 'pavemaster',
    activeSlot: active,
    idleSlot: active === 'blue' ? 'green' : 'blue',
    release: { scaleDownDelaySeconds: delaySeconds },
    settings: { app },
    raw: { idleReplicas: '2' } as Record<string, string>,
    out: (line: string) => out.push(line),
    log: { write: () => ({}) },
    setConfig(values: Record<string, string>, remove: readonly string[] = []) {
      configs.push({ values, remove, at: Date.now() });
      app.idleReplicas = values.idleReplicas !== undefined ? Number(values.idleReplicas) : app.replicas;
      return Promise.resolve();
    },
    up(message: string) {
      ups.push(message);
      return Promise.resolve({ changes: {}, touched: [], durationMs: 0, events: [] });
    },
  };
  return { session: s as unknown as Session, out, configs, ups };
}

async function holdLock(kube: FakeKube, releaseId: string): Promise<void> {
  await kube.create({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: leaseName('pavemaster'),
      annotations: {
        'pavemaster.io/release-id': releaseId,
        'pavemaster.io/holder': 'alice@ci-7 (pid 1)',
        'pavemaster.io/command': 'deploy',
        'pavemaster.io/since': '2026-01-05T09:00:00.000Z',
      },
    },
  });
}

const lockOf = (kube: FakeKube) => readReleaseLock(kube as unknown as Session['kube'], 'pavemaster');

// The fix lines name the command as an operator types it (not `npx pavemaster`, as under `npx jest`).
beforeAll(() => {
  process.env.PAVEMASTER_RELEASE_PROG = 'pavemaster';
});

describe('the scale-down delay', () => {
  it('scales down at the switch time plus the delay', () => {
    expect(scaleDownAt(Date.parse('2026-01-05T09:00:00Z'), 30)).toBe(Date.parse('2026-01-05T09:00:30Z'));
  });

  it('keeps the slot that lost traffic warm until the delay ends, with the window in the lock, then scales it down', async () => {
    const kube = new FakeKube();
    await holdLock(kube, 'r1');
    const f = fakeSession(kube, 'green');
    const after = Date.now() + 400;
    const done = keepWarmThenScaleDown(f.session, {
      from: 'blue',
      restore: '1',
      after,
      releaseId: 'r1',
      command: 'promote',
      rollback: true,
      pollMs: 20,
    });
    await new Promise((r) => setTimeout(r, 150));
    const during = await lockOf(kube);
    expect(f.configs).toEqual([]);
    const outcome = await done;
    expect(during?.scaleDown).toEqual({
      slot: 'blue',
      after: new Date(after).toISOString(),
      idleReplicas: '1',
      rollback: true,
    });
    expect(outcome).toMatchObject({ action: 'scaled-down', slot: 'blue' });
    // Written back once, not before the delay ended, and recorded by an update.
    expect(f.configs).toHaveLength(1);
    expect(f.configs[0].values).toEqual({ idleReplicas: '1' });
    expect(f.configs[0].at).toBeGreaterThanOrEqual(after);
    expect(f.ups).toHaveLength(1);
    // The window ended before the scale-down: the lock (the caller frees it) no longer invites a rollback.
    const lock = await lockOf(kube);
    expect(lock?.releaseId).toBe('r1');
    expect(lock?.scaleDown).toBeUndefined();
    expect(f.out.join('\n')).toContain('blue keeps its 2 replica(s) until');
    expect(f.out.join('\n')).toContain(
      '`pavemaster rollback staging` until then switches back to it at once',
    );
  });

  it('stops without scaling anything when a rollback takes the window over, and the rollback gets what to write back', async () => {
    const kube = new FakeKube();
    await holdLock(kube, 'r1');
    const promote = fakeSession(kube, 'green');
    const waiting = keepWarmThenScaleDown(promote.session, {
      from: 'blue',
      restore: '',
      after: Date.now() + 5000,
      releaseId: 'r1',
      command: 'promote',
      rollback: true,
      pollMs: 20,
    });
    await new Promise((r) => setTimeout(r, 100));
    const rollback = fakeSession(kube, 'green');
    const held = await lockOf(kube);
    expect(held !== undefined && rollbackMayTakeOver(held, 'blue')).toBe(true);
    const taken = await takeOverWindow(rollback.session, held as ReleaseLockInfo, 'rollback');
    expect(taken?.window).toMatchObject({ slot: 'blue', idleReplicas: null });
    expect(taken?.lock.command).toBe('rollback');
    const outcome = await waiting;
    expect(outcome).toMatchObject({ action: 'taken-over', slot: 'blue' });
    expect(outcome.detail).toContain('taken over by rollback of');
    expect(promote.configs).toEqual([]);
    expect(promote.ups).toEqual([]);
    // The first to rewrite the Lease wins: a second take-over with the same (now stale) read fails.
    expect(await takeOverWindow(rollback.session, held as ReleaseLockInfo, 'rollback')).toBeUndefined();
  });

  it('refuses a rollback to another slot, or into the window of an automatic flip-back', () => {
    const window = {
      slot: 'blue' as const,
      after: '2026-01-05T09:00:30Z',
      idleReplicas: '1',
      rollback: true,
    };
    const held: ReleaseLockInfo = {
      releaseId: 'r1',
      holder: 'a',
      command: 'promote',
      since: 'x',
      scaleDown: window,
    };
    expect(rollbackMayTakeOver(held, 'blue')).toBe(true);
    expect(rollbackMayTakeOver(held, 'green')).toBe(false);
    expect(rollbackMayTakeOver({ ...held, scaleDown: { ...window, rollback: false } }, 'blue')).toBe(false);
    expect(rollbackMayTakeOver({ ...held, scaleDown: undefined }, 'blue')).toBe(false);
  });

  it('takes the release lock for the window when the command held none (a plain rollback)', async () => {
    const kube = new FakeKube();
    const f = fakeSession(kube, 'blue');
    const done = keepWarmThenScaleDown(f.session, {
      from: 'green',
      restore: '0',
      after: Date.now() + 200,
      releaseId: 'r2',
      command: 'rollback',
      rollback: true,
      pollMs: 20,
    });
    await new Promise((r) => setTimeout(r, 80));
    const during = await lockOf(kube);
    expect(during).toMatchObject({ releaseId: 'r2', command: 'rollback', scaleDown: { slot: 'green' } });
    expect(await done).toMatchObject({ action: 'scaled-down' });
    expect(f.configs[0].values).toEqual({ idleReplicas: '0' });
  });

  it('scales down at once when the delay is already over (a post-promotion window longer than it), and not at all without a scale-up', async () => {
    const kube = new FakeKube();
    await holdLock(kube, 'r1');
    const f = fakeSession(kube, 'green');
    const outcome = await keepWarmThenScaleDown(f.session, {
      from: 'blue',
      restore: '1',
      after: Date.now() - 1,
      releaseId: 'r1',
      command: 'promote',
      rollback: true,
    });
    expect(outcome.action).toBe('scaled-down');
    expect((await lockOf(kube))?.scaleDown).toBeUndefined();
    const none = await keepWarmThenScaleDown(f.session, {
      from: 'blue',
      restore: undefined,
      after: Date.now() + 60_000,
      releaseId: 'r1',
      command: 'promote',
      rollback: true,
    });
    expect(none.action).toBe('none');
    expect(f.configs).toHaveLength(1);
  });
});
