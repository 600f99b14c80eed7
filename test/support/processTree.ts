/**
 * The process tree below a pid, read from /proc (Linux): which processes a command started, directly or through
 * its children, and whether they still run. A process is named by its pid and its start time (field 22 of
 * /proc/<pid>/stat), so a reused pid is never taken for the process that had it before.
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
  /** The command line, arguments joined by spaces. */
  cmdline: string;
}

function readStat(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      // gone meanwhile: keep the stat fields
    }
    return { pid, state: rest[0], ppid: Number(rest[1]), start: Number(rest[19]), cmdline };
  } catch {
    return undefined;
  }
}

/** Every process on the machine. */
export function allProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(entry)) {
      const p = readStat(Number(entry));
      if (p) {
        out.push(p);
      }
    }
  }
  return out;
}

/** The processes below `root` (not `root` itself), at this moment. */
export function descendants(root: number): ProcessInfo[] {
  const all = allProcesses();
  const children = new Map<number, ProcessInfo[]>();
  for (const p of all) {
    children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  }
  const out: ProcessInfo[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** The given processes that still run (a zombie has ended: it only waits to be reaped). */
export function stillRunning(processes: readonly ProcessInfo[]): ProcessInfo[] {
  return processes.flatMap((p) => {
    const now = readStat(p.pid);
    return now !== undefined && now.start === p.start && now.state !== 'Z' && now.state !== 'X'
      ? [{ ...now, cmdline: now.cmdline || p.cmdline }]
      : [];
  });
}

/** A short description of processes for an assertion message. */
export function describe(processes: readonly ProcessInfo[]): string {
  return processes
    .map((p) => `pid ${p.pid} (ppid ${p.ppid}, ${p.state}): ${p.cmdline.slice(0, 160)}`)
    .join('\n');
}
