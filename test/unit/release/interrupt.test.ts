/**
 * How the release command stops (release/interrupt.ts), on real processes: a small program of its own modules
 * (run by ts-node, as the bin runs the command) starts children through the guard folder and a critical
 * section, then gets a real SIGTERM or SIGKILL. Checked from outside: a SIGTERM lets the critical section finish,
 * stops the children and exits 143; a second SIGTERM stops at once; a SIGKILL, which runs no code of the command,
 * still ends its guarded children (parent-death signal) while an unguarded one, the control, stays.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { GUARD_DIR, guardedPath } from '../../../release/interrupt';
import { poll } from '../../../release/kube';
import { REPO } from '../../../release/testing/sandbox';

jest.setTimeout(60_000);

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-interrupt-'));
  // Stand-ins for the real binaries, found on PATH after the guard folder: they write their pid and sleep.
  for (const name of ['pulumi', 'kubectl']) {
    fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho $$ > "${dir}/${name}.pid"\nexec sleep 30\n`, {
      mode: 0o755,
    });
  }
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/**
 * The program: stop handlers as the command line installs them, `pulumi` started through PATH (guarded),
 * `kubectl` started by its full path in `dir` (not guarded: the control), and a critical section of 1.5 s that
 * writes `section-done` when it finishes. It writes `ready` once all run.
 */
function program(): ChildProcess {
  const script = `
    require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(path.join(REPO, 'tsconfig.json'))} });
    const { spawn } = require('child_process');
    const fs = require('fs');
    const i = require(${JSON.stringify(path.join(REPO, 'release', 'interrupt.ts'))});
    process.env.PATH = i.guardedPath(${JSON.stringify(dir)} + ':' + process.env.PATH);
    i.installStopHandlers((line) => process.stderr.write(line + '\\n'), () => 're-run it');
    spawn('pulumi', [], { stdio: 'ignore' });
    spawn(${JSON.stringify(path.join(dir, 'kubectl'))}, [], { stdio: 'ignore' });
    i.critical(async () => {
      fs.writeFileSync(${JSON.stringify(path.join(dir, 'ready'))}, '');
      await new Promise((r) => setTimeout(r, 1500));
      fs.writeFileSync(${JSON.stringify(path.join(dir, 'section-done'))}, String(Date.now()));
    });
    setInterval(() => undefined, 1000);
  `;
  for (const f of ['ready', 'section-done', 'pulumi.pid', 'kubectl.pid']) {
    fs.rmSync(path.join(dir, f), { force: true });
  }
  return spawn(process.execPath, ['-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function started(child: ChildProcess): Promise<{ pulumi: number; kubectl: number }> {
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const pid = (name: string) => {
    const f = path.join(dir, `${name}.pid`);
    return fs.existsSync(f) && fs.readFileSync(f, 'utf8').trim() !== ''
      ? Number(fs.readFileSync(f, 'utf8'))
      : undefined;
  };
  const wait = <T>(what: string, probe: () => T | undefined) =>
    poll(() => Promise.resolve(probe()), {
      timeoutMs: 15_000,
      intervalMs: 25,
      what,
      last: () => Promise.resolve(`stderr: ${err}`),
    });
  await wait('the program to start', () => (fs.existsSync(path.join(dir, 'ready')) ? true : undefined));
  return {
    pulumi: await wait('the guarded pulumi', () => pid('pulumi')),
    kubectl: await wait('the unguarded kubectl', () => pid('kubectl')),
  };
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('stopping the release command', () => {
  it('puts the guard folder first on PATH once', () => {
    const once = guardedPath('/usr/bin:/bin');
    expect(once).toBe(`${GUARD_DIR}:/usr/bin:/bin`);
    expect(guardedPath(once)).toBe(once);
  });

  it('SIGTERM: the critical section finishes, the children are stopped, exit 143 with the step to re-run', async () => {
    const child = program();
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const pids = await started(child);
    const exited = exitOf(child);
    const signalled = Date.now();
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(143);
    // The section ran to its end after the signal came, and before the command exited.
    const doneAt = Number(fs.readFileSync(path.join(dir, 'section-done'), 'utf8'));
    expect(doneAt).toBeGreaterThan(signalled);
    // Both children were stopped before the exit (the command stops its direct children itself).
    expect([alive(pids.pulumi), alive(pids.kubectl)]).toEqual([false, false]);
    expect(stderr).toContain('release: SIGTERM received: stopping once the running step can be left safely');
    expect(stderr).toContain('release: interrupted by SIGTERM: re-run it');
  });

  it('a second SIGTERM stops at once, without waiting for the critical section', async () => {
    const child = program();
    await started(child);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(143);
    expect(fs.existsSync(path.join(dir, 'section-done'))).toBe(false);
  });

  it('SIGKILL: no code of the command runs, yet its guarded pulumi ends; the unguarded control stays', async () => {
    const child = program();
    const pids = await started(child);
    const exited = exitOf(child);
    child.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    await poll(() => Promise.resolve(alive(pids.pulumi) ? undefined : true), {
      timeoutMs: 5000,
      intervalMs: 25,
      what: 'the guarded pulumi to end',
    });
    try {
      expect(alive(pids.kubectl)).toBe(true);
    } finally {
      process.kill(pids.kubectl, 'SIGKILL');
    }
  });
});
