/**
 * The command's CLI-lock watchdog (release/interrupt.ts startCliLockWatchdog) on real processes: a program of the
 * release command's own module (run by ts-node, as the bin runs the command) installs the stop handlers on a
 * file backend and starts a `pulumi` through the guard folder, a stand-in that takes the stack's lock as the CLI
 * does (a lock file naming its pid and host) and never frees it, as the real CLI does not when its parent is
 * killed during an update. The program is killed with SIGKILL, which runs no code of it: the stand-in dies with
 * it (parent-death signal) and its lock file must be gone right after, while the lock files of a live process and
 * of a dead one that the command did not start stay (they are `recover`'s to judge), and the watchdog ends.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLI_LOCK_WATCHDOG_INTERVAL_SECONDS } from '../../../release/interrupt';
import { poll } from '../../../release/kube';
import { readProcess } from '../../../release/processTree';
import { REPO } from '../../../release/testing/sandbox';

jest.setTimeout(60_000);

let dir: string;
let locks: string;

const lockFile = (name: string, pid: number): string => {
  const f = path.join(locks, `${name}.json`);
  fs.writeFileSync(
    f,
    JSON.stringify({ pid, username: 'test', hostname: os.hostname(), timestamp: new Date().toISOString() }),
  );
  return f;
};

const alive = (pid: number): boolean => {
  const p = readProcess(pid, false);
  return p !== undefined && p.state !== 'Z' && p.state !== 'X';
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-cli-lock-'));
  locks = path.join(dir, 'state', '.pulumi', 'locks', 'organization', 'pavemaster', 'dev');
  fs.mkdirSync(locks, { recursive: true });
  fs.mkdirSync(path.join(dir, 'bin'));
  // The stand-in CLI: takes the lock (its pid, this host) and holds it until it is killed.
  fs.writeFileSync(
    path.join(dir, 'bin', 'pulumi'),
    [
      '#!/bin/sh',
      `f="${locks}/cli-$$.json"`,
      'printf \'{"pid":%s,"username":"test","hostname":"%s","timestamp":"2026-12-03T00:00:00Z"}\' $$ "$(cat /proc/sys/kernel/hostname)" >"$f.tmp"',
      'mv "$f.tmp" "$f"',
      `echo $$ >"${dir}/cli.pid"`,
      'exec sleep 30',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The program: stop handlers on the file backend, then the guarded stand-in `pulumi`. */
function program(): ChildProcess {
  const script = `
    require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(path.join(REPO, 'tsconfig.json'))} });
    const { spawn } = require('child_process');
    const i = require(${JSON.stringify(path.join(REPO, 'release', 'interrupt.ts'))});
    process.env.PATH = i.guardedPath(${JSON.stringify(path.join(dir, 'bin'))} + ':' + process.env.PATH);
    i.installStopHandlers((line) => process.stderr.write(line + '\\n'), () => 're-run it');
    spawn('pulumi', ['up'], { stdio: 'ignore' });
    setInterval(() => undefined, 1000);
  `;
  return spawn(process.execPath, ['-e', script], {
    cwd: REPO,
    env: { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(dir, 'state')}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

describe("the command's CLI-lock watchdog", () => {
  it("removes the lock of a CLI killed with the command, and no other process's lock", async () => {
    // A live process's lock and a dead process's lock, neither started by the command: not the watchdog's.
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    const liveLock = lockFile('live', bystander.pid as number);
    const gone = spawn('true', { stdio: 'ignore' });
    await new Promise((r) => gone.once('exit', r));
    const staleLock = lockFile('stale', gone.pid as number);
    try {
      const child = program();
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
      const closed = new Promise((r) => child.once('close', r));
      // Waits for the pid file AND its lock: the stand-in writes one after the other, and a busy machine ran this
      // check between the two (the lock not there yet) once.
      const cli = await poll(
        () => {
          const pidFile = path.join(dir, 'cli.pid');
          const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : undefined;
          return Promise.resolve(
            pid !== undefined && fs.existsSync(path.join(locks, `cli-${pid}.json`)) ? pid : undefined,
          );
        },
        {
          timeoutMs: 20_000,
          intervalMs: 20,
          what: 'the stand-in CLI to hold the lock',
          last: () => Promise.resolve(stderr),
        },
      );
      const cliLock = path.join(locks, `cli-${cli}.json`);
      expect(fs.existsSync(cliLock)).toBe(true);
      // Let the watchdog see the lock while the command runs (it looks every CLI_LOCK_WATCHDOG_INTERVAL_SECONDS).
      await new Promise((r) => setTimeout(r, CLI_LOCK_WATCHDOG_INTERVAL_SECONDS * 1000 * 3));
      child.kill('SIGKILL');
      const killedAt = Date.now();
      await poll(() => Promise.resolve(alive(cli) ? undefined : true), {
        timeoutMs: 5000,
        intervalMs: 10,
        what: 'the stand-in CLI to die with the command',
      });
      await poll(() => Promise.resolve(fs.existsSync(cliLock) ? undefined : true), {
        timeoutMs: 5000,
        intervalMs: 10,
        what: "the killed CLI's lock file to be removed",
      });
      const goneMs = Date.now() - killedAt;
      // Two looks of the watchdog after the CLI ended, and the time a busy machine needs to run them.
      expect(goneMs).toBeLessThan(CLI_LOCK_WATCHDOG_INTERVAL_SECONDS * 1000 * 2 + 1500);
      // The watchdog had the command's stderr: it says what it removed, and ends (closing it).
      await closed;
      expect(stderr).toContain(`release: removed the Pulumi stack lock ${cliLock} of pulumi (pid ${cli})`);
      expect(fs.readdirSync(locks).sort()).toEqual(['live.json', 'stale.json']);
      expect([fs.existsSync(liveLock), fs.existsSync(staleLock)]).toEqual([true, true]);
    } finally {
      bystander.kill('SIGKILL');
    }
  });
});
