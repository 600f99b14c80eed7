/**
 * What the release command does when it is stopped (SIGTERM, Ctrl-C) or killed, so that an interrupted step
 * leaves traffic on exactly one fully ready slot, no stack locked and no process of its own running:
 *
 * - **Its children die with it.** `release/bin/guard/` is put first on the PATH its children see: there
 *   `pulumi` and `kubectl` are a wrapper that runs the real binary with a parent-death signal (`setpriv
 *   --pdeathsig TERM`), so even a SIGKILL of the command (which runs no code of ours) sends SIGTERM to the Pulumi
 *   CLI it started. The CLI cancels the update gracefully on SIGTERM (it lets the running resource operations
 *   finish, writes the state and frees the stack lock), and its language host and plugins exit once their engine
 *   is gone (toolchain/pulumi-language-nodejs/lifetime.go, toolchain/pulumi-resource-{random,kubernetes}/enginewatch.go).
 * - **A stop waits for the switch.** The few calls that move traffic (the two Services' selectors, the stack
 *   file's active slot, under Pulumi's lock) run as one critical section: a SIGTERM during it lets it finish,
 *   so the selectors never point both Services at one slot and the stack file always says where traffic is.
 *   Then the command stops its children (the CLI cancels, as above), waits for them, logs the interruption and
 *   exits 128 + the signal's number (143 for SIGTERM, 130 for SIGINT). A second signal stops at once.
 *
 * Re-running the interrupted command continues it (promote: a succeeded backup or migration is not run again, a
 * switch that was made but not recorded is recorded); `pavemaster recover` removes a lock whose holder is gone.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ReleaseLog } from './log';

/** The folder of the guarded `pulumi` and `kubectl` (see the file comment). */
export const GUARD_DIR = path.join(__dirname, 'bin', 'guard');

/** The exit code of a command stopped by a signal (the shell's convention, 128 + the signal number). */
export const SIGNAL_EXIT = { SIGTERM: 143, SIGINT: 130 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT;

/** How long the children (the Pulumi CLI cancelling its update) may take to exit after a stop. */
export const CHILDREN_GRACE_MS = 60_000;

/** Thrown by {@link checkRunning} once a stop has begun: no new work starts. */
export class InterruptedError extends Error {
  constructor(readonly signal: StopSignal) {
    super(`interrupted by ${signal}`);
    this.name = 'InterruptedError';
  }
}

interface State {
  stopping?: StopSignal;
  sections: Set<Promise<unknown>>;
  /** The log of the running command and its last step that started, for the interruption's record. */
  log?: ReleaseLog;
  step?: string;
}

const state: State = { sections: new Set() };

/** Called by the release log for every record: which step runs, for the interruption's message. */
export function noteStep(log: ReleaseLog, step: string, outcome: string): void {
  state.log = log;
  if (outcome === 'started') {
    state.step = step;
  }
}

/** The signal being handled, once a stop has begun. */
export function stopping(): StopSignal | undefined {
  return state.stopping;
}

/** Throws once a stop has begun, so that nothing new starts (called before each update and switch). */
export function checkRunning(): void {
  if (state.stopping !== undefined) {
    throw new InterruptedError(state.stopping);
  }
}

/**
 * Runs `fn` as a critical section: a stop that arrives meanwhile waits until it has finished. Refused (nothing
 * runs) once a stop has begun.
 */
export async function critical<T>(fn: () => Promise<T>): Promise<T> {
  checkRunning();
  const p = fn();
  state.sections.add(p);
  try {
    return await p;
  } finally {
    state.sections.delete(p);
  }
}

/** The pids of the processes below `root` (children first), read from /proc. */
export function descendantPids(root: number = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') {
        continue;
      }
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stops the children: SIGTERM to the direct ones (the Pulumi CLI cancels its update and frees the stack lock;
 * kubectl ends), then waits up to `graceMs` for every process below this one to end, then SIGKILLs what is left.
 * Returns how many were still running at the end of the grace time.
 */
export async function stopChildren(graceMs: number = CHILDREN_GRACE_MS): Promise<number> {
  const direct = new Set(descendantPids().filter((pid) => parentOf(pid) === process.pid));
  signalAll([...direct], 'SIGTERM');
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = descendantPids();
    if (left.length === 0) {
      return 0;
    }
    if (Date.now() > deadline) {
      signalAll(left, 'SIGKILL');
      return left.length;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * The environment the command's children get: the guard folder first on PATH (their `pulumi` and `kubectl`
 * die with this process). Idempotent.
 */
export function guardedPath(current: string | undefined): string {
  const parts = (current ?? '').split(path.delimiter).filter((p) => p !== '' && p !== GUARD_DIR);
  return [GUARD_DIR, ...parts].join(path.delimiter);
}

/**
 * Installs the SIGTERM and SIGINT handlers of the command line (never of a library caller): the first signal
 * stops at a safe point (see the file comment), a second one at once. `say` writes one line for the operator;
 * `hint` names what to run next.
 */
export function installStopHandlers(say: (line: string) => void, hint: () => string): void {
  const onSignal = (signal: StopSignal) => {
    if (state.stopping !== undefined) {
      signalAll(descendantPids(), 'SIGKILL');
      process.exit(SIGNAL_EXIT[signal]);
    }
    state.stopping = signal;
    const during = state.step ? ` during ${state.step}` : '';
    say(
      `release: ${signal} received${during}: stopping once the running step can be left safely (send it again to stop at once)`,
    );
    void (async () => {
      await Promise.allSettled([...state.sections]);
      const forced = await stopChildren();
      state.log?.write(state.step ?? 'command', 'failed', {
        detail: `interrupted by ${signal}${during}${forced > 0 ? ` (${forced} child process(es) killed after ${CHILDREN_GRACE_MS / 1000}s)` : ''}`,
      });
      say(`release: interrupted by ${signal}${during}: ${hint()}`);
      process.exit(SIGNAL_EXIT[signal]);
    })();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
