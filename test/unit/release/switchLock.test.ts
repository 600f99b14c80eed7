/**
 * The direct switch's Pulumi stack lock (release/selectors.ts fileBackend().lock) on real processes: a program of
 * the release command's own module (run by ts-node, as the bin runs the command) takes the lock of a file backend
 * and is killed with SIGKILL while it holds it, which runs no code of it: the lock file must still be gone at once
 * (its watchdog), so no later update finds the stack locked. A normal unlock removes the file and its watchdog.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { poll } from '../../../release/kube';
import { fileBackend, LOCK_WATCHDOG_INTERVAL_SECONDS } from '../../../release/selectors';
import { REPO } from '../../../release/testing/sandbox';
import { descendants } from '../../../release/processTree';

jest.setTimeout(60_000);

let dir: string;
let backend: string;
const lockDir = () => path.join(backend, '.pulumi', 'locks', 'organization', 'pm-lock-test', 'dev');
const lockFiles = () => (fs.existsSync(lockDir()) ? fs.readdirSync(lockDir()) : []);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-switch-lock-'));
  backend = path.join(dir, 'state');
  fs.mkdirSync(path.join(backend, '.pulumi'), { recursive: true });
  fs.writeFileSync(path.join(backend, '.pulumi', 'meta.yaml'), 'version: 1\n');
  fs.writeFileSync(path.join(dir, 'Pulumi.yaml'), 'name: pm-lock-test\nruntime: nodejs\n');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A program that takes the stack lock as the switch does and holds it (writes `held` once it does). */
function holder(): ChildProcess {
  const script = `
    require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(path.join(REPO, 'tsconfig.json'))} });
    const fs = require('fs');
    const { fileBackend } = require(${JSON.stringify(path.join(REPO, 'release', 'selectors.ts'))});
    const b = fileBackend(${JSON.stringify(`file://${backend}`)}, ${JSON.stringify(dir)});
    b.lock('dev');
    fs.writeFileSync(${JSON.stringify(path.join(dir, 'held'))}, '');
    setInterval(() => undefined, 1000);
  `;
  return spawn(process.execPath, ['-e', script], { cwd: REPO, stdio: 'ignore' });
}

describe("the direct switch's stack lock", () => {
  it('is gone right after a SIGKILL of the command that holds it', async () => {
    const child = holder();
    const exited = new Promise((r) => child.once('exit', r));
    await poll(() => Promise.resolve(fs.existsSync(path.join(dir, 'held')) ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 10,
      what: 'the lock to be held',
    });
    expect(lockFiles()).toHaveLength(1);
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await poll(() => Promise.resolve(lockFiles().length === 0 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 10,
      what: 'the lock file to be removed',
    });
    const goneMs = Date.now() - killedAt;
    // At most two looks of the watchdog (and the time a busy machine needs to run them).
    expect(goneMs).toBeLessThan(LOCK_WATCHDOG_INTERVAL_SECONDS * 1000 * 2 + 1000);
    // Now the stack can be locked again.
    const b = fileBackend(`file://${backend}`, dir);
    const unlock = b?.lock('dev');
    expect(lockFiles()).toHaveLength(1);
    unlock?.();
  });

  it('a normal unlock removes the file and stops the watchdog', async () => {
    const b = fileBackend(`file://${backend}`, dir);
    expect(b).toBeDefined();
    const unlock = b?.lock('dev');
    // The watchdog is this process's own child. Its shell forks for every `sleep`, and a fork carries the shell's
    // command line until it execs: counting every descendant with that command line saw two now and then.
    const watchdogs = () =>
      descendants(process.pid).filter(
        (p) => p.ppid === process.pid && p.state !== 'Z' && p.cmdline.includes('pavemaster-lock-watchdog'),
      );
    expect(watchdogs()).toHaveLength(1);
    unlock?.();
    expect(lockFiles()).toEqual([]);
    await poll(() => Promise.resolve(watchdogs().length === 0 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 10,
      what: 'the watchdog to end',
    });
  });
});
