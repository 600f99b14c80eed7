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
 * - **No stack lock outlives it.** A CLI whose parent was killed does not always get to free its stack lock (the
 *   cancel above needs the CLI to live on; measured on the real node: a SIGKILL of promote during its recording
 *   update left the CLI's lock file with its holder gone, and every later update and release was refused until
 *   `recover`). On a file backend the command line starts a watchdog ({@link startCliLockWatchdog}) that outlives
 *   the command by as long as those CLIs run and then removes exactly their lock files; the direct switch's own
 *   lock has its watchdog too (release/selectors.ts lockWatchdog).
 *
 * Re-running the interrupted command continues it (promote: a succeeded backup or migration is not run again, a
 * switch that was made but not recorded is recorded); `pavemaster recover` removes a lock whose holder is gone.
 */
import { spawn } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import type { ReleaseLog } from './log';
import { descendants, ended, readProcess } from './processTree';

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
  /** The pid of the CLI-lock watchdog ({@link startCliLockWatchdog}), which the stop leaves running. */
  watchdog?: number;
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

/**
 * The pids of the running processes below `root`, parents first (release/processTree.ts), without the subtree of
 * the command's CLI-lock watchdog (it must outlive the command, see {@link startCliLockWatchdog}).
 */
export function descendantPids(root: number = process.pid): number[] {
  const exclude = new Set(state.watchdog === undefined ? [] : [state.watchdog]);
  return descendants(root, exclude)
    .filter((p) => !ended(p))
    .map((p) => p.pid);
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
  const direct = descendantPids().filter((pid) => readProcess(pid, false)?.ppid === process.pid);
  signalAll(direct, 'SIGTERM');
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

/**
 * The environment the command's children get: the guard folder first on PATH (their `pulumi` and `kubectl`
 * die with this process). Idempotent.
 */
export function guardedPath(current: string | undefined): string {
  const parts = (current ?? '').split(path.delimiter).filter((p) => p !== '' && p !== GUARD_DIR);
  return [GUARD_DIR, ...parts].join(path.delimiter);
}

/** The environment variable that marks the Pulumi CLIs this command started (their holder pid's environment). */
export const RELEASE_PID_ENV = 'PAVEMASTER_RELEASE_PID';

/** How often the CLI-lock watchdog looks at the lock files and at the command, in seconds. */
export const CLI_LOCK_WATCHDOG_INTERVAL_SECONDS = 0.1;

/** The folder of a file backend's lock files, or `undefined` for another backend. */
export function fileBackendLocks(backendUrl: string | undefined): string | undefined {
  if (backendUrl === undefined || !backendUrl.startsWith('file://')) {
    return undefined;
  }
  return path.join(backendUrl.slice('file://'.length).replace(/\?.*$/, ''), '.pulumi', 'locks');
}

/**
 * The watchdog's script (POSIX sh, builtins only in its loop): `$1` the command's pid, `$2` the backend's lock
 * folder, `$3` this host's name, `$4` the marker line of the command's CLIs (`PAVEMASTER_RELEASE_PID=<pid>`).
 * While the command runs it notes each new lock file whose holder (the pid in it, on this host) has the marker
 * in its environment: a Pulumi CLI this command started. Once the command has ended it looks once more, waits
 * for each noted CLI to end, and removes the lock file that is still there with that pid, saying so on stderr.
 */
const CLI_LOCK_WATCHDOG = `
p=$1; locks=$2; host=$3; mark=$4
nl='
'
seen=$nl
alive() {
  read -r s 2>/dev/null </proc/"$1"/stat || return 1
  s=\${s##*) }
  [ "\${s%% *}" != Z ]
}
holder() {
  l=; read -r l 2>/dev/null <"$1"
  t=\${l#*\\"pid\\":}; t=\${t# }; pid=\${t%%[!0-9]*}
  t=\${l#*\\"hostname\\":}; t=\${t# }; t=\${t#\\"}; h=\${t%%\\"*}
}
look() {
  for f in "$locks"/*/*/*/*.json "$locks"/*/*.json; do
    [ -f "$f" ] || continue
    case $seen in *"=$f$nl"*) continue ;; esac
    holder "$f"
    # Half written: look again next time.
    [ -n "$pid" ] || continue
    if [ "$h" = "$host" ] && tr '\\0' '\\n' 2>/dev/null </proc/"$pid"/environ | grep -qxF -- "$mark"; then
      seen="$seen$pid=$f$nl"
    else
      seen="$seen-=$f$nl"
    fi
  done
}
while alive "$p"; do
  look
  sleep ${CLI_LOCK_WATCHDOG_INTERVAL_SECONDS}
done
look
printf '%s' "$seen" | while IFS= read -r e; do
  cli=\${e%%=*}; f=\${e#*=}
  case $cli in ''|-) continue ;; esac
  while alive "$cli"; do sleep ${CLI_LOCK_WATCHDOG_INTERVAL_SECONDS}; done
  [ -f "$f" ] || continue
  holder "$f"
  [ "$pid" = "$cli" ] || continue
  rm -f -- "$f" "$f.attrs"
  echo "release: removed the Pulumi stack lock $f of pulumi (pid $cli), which this command (pid $p) started and which ended with it without freeing it" >&2
done
`;

/**
 * Starts the CLI-lock watchdog of this command (the command line only, on a file backend): a killed command
 * (SIGKILL runs no code of it) takes its Pulumi CLI with it (the guard's parent-death signal), but a CLI whose
 * parent is gone cannot always free its stack lock: its next write to the command's closed stdout pipe ends it
 * (measured: a `pulumi up` whose stdout reader had gone exited 141, SIGPIPE, and left its lock file, while with its
 * reader alive a SIGTERM cancelled it and freed the lock),
 * and the lock file would stay: every later update and release refused until `recover`. The watchdog, a small
 * shell that outlives the command by as long as those CLIs run, removes exactly their lock files once they have
 * ended; it removes no lock of any other process. Returns its pid, or `undefined` when there is nothing to watch.
 */
export function startCliLockWatchdog(
  backendUrl: string | undefined = process.env.PULUMI_BACKEND_URL,
): number | undefined {
  const locks = fileBackendLocks(backendUrl);
  if (locks === undefined || state.watchdog !== undefined) {
    return state.watchdog;
  }
  process.env[RELEASE_PID_ENV] = String(process.pid);
  const child = spawn(
    'sh',
    [
      '-c',
      CLI_LOCK_WATCHDOG,
      'pavemaster-cli-lock-watchdog',
      String(process.pid),
      locks,
      os.hostname(),
      `${RELEASE_PID_ENV}=${process.pid}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  child.on('error', () => undefined);
  child.unref();
  state.watchdog = child.pid;
  return child.pid;
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
  startCliLockWatchdog();
}
