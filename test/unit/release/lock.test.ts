import {
  isLockError,
  leaseManifest,
  leaseName,
  lockMessage,
  parseLease,
  parseLockHolders,
  parseScaleDown,
  releaseHolder,
  releaseLockMessage,
} from '../../../release/lock';

// The file backend's error, as `pulumi up` 3.259 prints it when another update holds the stack (the local
// backend's lock URL carries `?no_tmp_dir=true`).
const DIY =
  'error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n' +
  '  file:///srv/state/.pulumi/locks/organization/pavemaster/staging/0b6c.json?no_tmp_dir=true: created by alice@ci-7 (pid 4242) at 2026-01-05T09:00:00Z\n' +
  '  file:///srv/state/.pulumi/locks/organization/pavemaster/staging/9f1e.json: created by bob@laptop (pid 17) at 2026-01-05T09:01:00Z\n';

describe('lock holders', () => {
  it('parses every holder of a file-backend lock error', () => {
    expect(parseLockHolders(DIY)).toEqual([
      {
        file: 'file:///srv/state/.pulumi/locks/organization/pavemaster/staging/0b6c.json',
        user: 'alice',
        host: 'ci-7',
        pid: 4242,
        time: '2026-01-05T09:00:00Z',
      },
      expect.objectContaining({ user: 'bob', host: 'laptop', pid: 17 }),
    ]);
    expect(isLockError(DIY)).toBe(true);
    expect(isLockError('error: [409] Conflict: Another update is currently in progress.')).toBe(true);
    expect(isLockError('error: update failed')).toBe(false);
  });

  it('names who holds the lock and says to wait while it runs', () => {
    const msg = lockMessage('staging', parseLockHolders(DIY), () => true);
    expect(msg).toBe(
      'stack staging is locked by alice@ci-7 (pid 4242) since 2026-01-05T09:00:00Z; bob@laptop (pid 17) since 2026-01-05T09:01:00Z. ' +
        'Another release is running: wait for it to finish, then retry (two releases never interleave).',
    );
  });

  it('points at `release recover` when the holder is gone', () => {
    const msg = lockMessage('staging', parseLockHolders(DIY).slice(0, 1), () => false, 'release');
    expect(msg).toContain('alice@ci-7 (pid 4242) since 2026-01-05T09:00:00Z, a process that no longer runs');
    expect(msg).toContain('run `release recover staging`');
  });

  it('still explains a lock whose holder is not named (Pulumi Cloud)', () => {
    expect(lockMessage('production', [])).toMatch(/^stack production is being updated by someone else/);
  });
});

describe('the release lock (a Lease in the stack namespace)', () => {
  const info = {
    releaseId: 'r20260105-090807',
    holder: 'alice@ci-7 (pid 4242)',
    command: 'deploy',
    since: '2026-01-05T09:08:07.000Z',
    previous: { greenImage: 'pavemaster/web:1.0.0', greenVersion: null },
  };

  it('is a Lease named after the app that records the release, its holder and what the idle slot ran', () => {
    const m = leaseManifest('pavemaster', 'pavemaster-staging', info) as {
      kind: string;
      metadata: { name: string; namespace: string; annotations: Record<string, string> };
      spec: { holderIdentity: string };
    };
    expect(m.kind).toBe('Lease');
    expect(m.metadata.name).toBe(leaseName('pavemaster'));
    expect(m.metadata.namespace).toBe('pavemaster-staging');
    expect(m.spec.holderIdentity).toBe('alice@ci-7 (pid 4242)');
    expect(parseLease(m)).toEqual(info);
    expect(parseLease(undefined)).toBeUndefined();
    expect(parseLease({ metadata: { name: 'x', annotations: {} } })).toBeUndefined();
  });

  it('refuses naming the holder and the two commands that end the release', () => {
    expect(releaseLockMessage('staging', info, 'pavemaster', 'deploy of pavemaster/web:3.0.0')).toBe(
      'stack staging is locked by release r20260105-090807 of alice@ci-7 (pid 4242) (deploy since 2026-01-05T09:08:07.000Z); ' +
        'deploy of pavemaster/web:3.0.0 is refused so two releases never interleave: finish it with `pavemaster promote staging` ' +
        'or end it with `pavemaster abort staging`, then retry',
    );
  });

  it('records a scale-down window (the slot kept warm, until when, what idleReplicas goes back to) and refuses naming it', () => {
    const scaleDown = {
      slot: 'blue' as const,
      after: '2026-01-05T09:10:00.000Z',
      idleReplicas: '1',
      rollback: true,
    };
    const held = { ...info, command: 'promote', scaleDown };
    const m = leaseManifest('pavemaster', 'pavemaster-staging', held) as {
      metadata: { name: string; annotations: Record<string, string>; resourceVersion?: string };
    };
    expect(JSON.parse(m.metadata.annotations['pavemaster.io/scale-down'])).toEqual(scaleDown);
    m.metadata.resourceVersion = '42';
    expect(parseLease(m)).toEqual({ ...held, resourceVersion: '42' });
    expect(releaseLockMessage('staging', held, 'pavemaster', 'deploy of pavemaster/web:3.0.0')).toBe(
      'stack staging is locked by release r20260105-090807 of alice@ci-7 (pid 4242) (promote since 2026-01-05T09:08:07.000Z): ' +
        'slot blue keeps its replicas until 2026-01-05T09:10:00.000Z (the scale-down delay), then it is scaled down; ' +
        'deploy of pavemaster/web:3.0.0 is refused until then so two releases never interleave ' +
        '(an instant `pavemaster rollback staging` back to blue is allowed until then); ' +
        'if the command that holds it was stopped, `pavemaster promote staging` finishes the scale-down',
    );
    // An automatic flip-back's window names no rollback.
    expect(
      releaseLockMessage(
        'staging',
        { ...held, scaleDown: { ...scaleDown, rollback: false } },
        'pavemaster',
        'deploy',
      ),
    ).not.toContain('rollback');
  });

  it('ignores a scale-down annotation that is not one', () => {
    for (const text of [
      'nope',
      '{}',
      '{"slot":"red","after":"2026-01-05T09:10:00Z","idleReplicas":"1"}',
      '{"slot":"blue","after":"later","idleReplicas":null}',
    ]) {
      expect(parseScaleDown(text)).toBeUndefined();
    }
    expect(parseScaleDown('{"slot":"green","after":"2026-01-05T09:10:00Z","idleReplicas":null}')).toEqual({
      slot: 'green',
      after: '2026-01-05T09:10:00Z',
      idleReplicas: null,
      rollback: false,
    });
  });

  it('names a CI run by its actor', () => {
    expect(releaseHolder({ GITHUB_ACTOR: 'octo', GITHUB_RUN_ID: '99' })).toBe('octo (GitHub Actions run 99)');
    expect(releaseHolder({})).toMatch(/^\S+@\S+ \(pid \d+\)$/);
  });
});
