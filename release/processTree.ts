/**
 * The process tree below a pid, read from /proc (Linux): which processes a command started, directly or through
 * its children, and whether they still run. The release command stops its children with it
 * (release/interrupt.ts), and the tests check from outside that nothing it started outlives it; both read the
 * tree here. A process is named by its pid and its start time (field 22 of /proc/<pid>/stat), so a reused pid is
 * never taken for the process that had it before.
 */
import * as fs from 'fs';

/** One process, as /proc shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks after boot: with the pid, what identifies the process. */
  start: number;
  /** One-letter state (R, S, D, Z, ...). */
  state: string;
  /** The command line, arguments joined by spaces ('' when not read: see {@link allProcesses}). */
  cmdline: string;
}

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    // gone meanwhile: keep the stat fields
    return '';
  }
}

/** One process's stat fields (and its command line when `cmdline`), or `undefined` once it is gone. */
export function readProcess(pid: number, cmdline = true): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      state: rest[0],
      ppid: Number(rest[1]),
      start: Number(rest[19]),
      cmdline: cmdline ? readCmdline(pid) : '',
    };
  } catch {
    return undefined;
  }
}

/**
 * Every process on the machine. The command lines are read only when asked: the release command looks at the
 * tree ten times a second while it stops its children, and needs only the parent links then.
 */
export function allProcesses(cmdline = true): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) {
      const p = readProcess(Number(entry), cmdline);
      if (p) {
        out.push(p);
      }
    }
  }
  return out;
}

/**
 * The processes below `root` (not `root` itself), at this moment, parents before their children, with their
 * command lines. The subtrees of `exclude` are left out (the command's own watchdog, which must outlive it).
 */
export function descendants(root: number, exclude: ReadonlySet<number> = new Set()): ProcessInfo[] {
  const children = new Map<number, ProcessInfo[]>();
  for (const p of allProcesses(false)) {
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  }
  const out: ProcessInfo[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      if (exclude.has(c.pid)) {
        continue;
      }
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  for (const p of out) {
    p.cmdline = readCmdline(p.pid);
  }
  return out;
}

/** Whether a process has ended (a zombie has: it only waits to be reaped). */
export function ended(p: Pick<ProcessInfo, 'state'>): boolean {
  return p.state === 'Z' || p.state === 'X';
}

/** The given processes that still run (same pid and start time, not a zombie). */
export function stillRunning(processes: readonly ProcessInfo[]): ProcessInfo[] {
  return processes.flatMap((p) => {
    const now = readProcess(p.pid);
    return now !== undefined && now.start === p.start && !ended(now)
      ? [{ ...now, cmdline: now.cmdline || p.cmdline }]
      : [];
  });
}

/** A short description of processes for a message. */
export function describeProcesses(processes: readonly ProcessInfo[]): string {
  return processes
    .map((p) => `pid ${p.pid} (ppid ${p.ppid}, ${p.state}): ${p.cmdline.slice(0, 160)}`)
    .join('\n');
}
