import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from '../../../release/cli';
import { compareSources, findLockFiles, newReleaseId } from '../../../release/commands';
import { checkReleaseId } from '../../../stacks/release';

describe('release command line', () => {
  it('parses commands, positionals and flags', () => {
    expect(parseArgs(['deploy', 'staging', 'pavemaster/web:2.0.0', '--version', 'v2', '--commit'])).toEqual({
      command: 'deploy',
      positional: ['staging', 'pavemaster/web:2.0.0'],
      flags: { version: 'v2', commit: true },
    });
    expect(parseArgs(['rollback', 'staging', '--to=7']).flags).toEqual({ to: '7' });
    expect(parseArgs([]).command).toBe('help');
  });

  it('refuses unknown flags and flags without their value', () => {
    expect(() => parseArgs(['promote', 'staging', '--force'])).toThrow('unknown option --force');
    expect(() => parseArgs(['rollback', 'staging', '--to'])).toThrow('--to needs a value');
  });

  it('makes release ids that are valid and sortable', () => {
    const id = newReleaseId(new Date('2026-01-05T09:08:07.123Z'));
    expect(id).toBe('r20260105-090807');
    expect(checkReleaseId(id)).toBeUndefined();
  });
});

describe('status drift', () => {
  const last = {
    version: 5,
    kind: 'update',
    result: 'succeeded',
    startTime: '',
    activeSlot: 'green' as const,
    images: { blue: 'web:1', green: 'web:2' },
    versions: { blue: '1', green: '2' },
    releaseIds: { blue: undefined, green: undefined },
  };
  it('is empty when the cluster, the last update and the committed file agree', () => {
    expect(
      compareSources({ activeSlot: 'green', images: { blue: 'web:1', green: 'web:2' } }, last, {
        activeSlot: 'green',
        images: { blue: 'web:1', green: 'web:2' },
      }),
    ).toEqual([]);
  });

  it('names each difference and its source', () => {
    expect(
      compareSources({ activeSlot: 'blue', images: { blue: 'web:1', green: 'web:2' } }, last, {
        activeSlot: 'blue',
        images: { blue: 'web:1', green: 'web:3' },
      }),
    ).toEqual([
      'active slot: live blue, last update (v5) green',
      'green image: live web:2, the committed stack file web:3',
    ]);
  });
});

describe('recover: lock files of a file backend', () => {
  it('finds the lock files of one stack only, project-scoped or not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'locks-'));
    try {
      const scoped = path.join(dir, '.pulumi', 'locks', 'organization', 'pavemaster', 'staging');
      const other = path.join(dir, '.pulumi', 'locks', 'organization', 'pavemaster', 'production');
      fs.mkdirSync(scoped, { recursive: true });
      fs.mkdirSync(other, { recursive: true });
      fs.writeFileSync(path.join(scoped, 'a.json'), '{}');
      fs.writeFileSync(path.join(scoped, 'notes.txt'), '');
      fs.writeFileSync(path.join(other, 'b.json'), '{}');
      expect(findLockFiles(dir, 'pavemaster', 'staging')).toEqual([path.join(scoped, 'a.json')]);
      expect(findLockFiles(dir, 'pavemaster', 'qa')).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
