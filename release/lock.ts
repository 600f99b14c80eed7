/**
 * Who holds a stack's lock. Pulumi refuses a second update of a stack while one runs; the file backend writes a
 * lock file per update and names its holder in the error ("...: created by user@host (pid N) at TIME"). The
 * release command turns that into one sentence and tells the operator what to do.
 */

/** One lock holder. */
export interface LockHolder {
  /** The lock file, as the backend names it. */
  file?: string;
  user?: string;
  host?: string;
  pid?: number;
  time?: string;
}

// The lock's URL may carry a query (`...json?no_tmp_dir=true` for the local file backend).
const HOLDER = /^\s*(\S+?\.json)(?:\?\S*)?:\s+created by\s+([^@\s]+)@(\S+)\s+\(pid\s+(\d+)\)\s+at\s+(\S+)/;

/** Parses the holders out of a lock error's text (file backend); empty when it names none. */
export function parseLockHolders(text: string): LockHolder[] {
  const out: LockHolder[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = HOLDER.exec(line.replace(/^error:\s*/, ''));
    if (m) {
      out.push({ file: m[1], user: m[2], host: m[3], pid: Number(m[4]), time: m[5] });
    }
  }
  return out;
}

/** True when the text is Pulumi's "another update is running" error, for any backend. */
export function isLockError(text: string): boolean {
  return (
    text.includes('the stack is currently locked by') ||
    text.includes('[409] Conflict: Another update is currently in progress')
  );
}

/**
 * The message for an operator who hit a held lock. `alive` tells whether a holder's process still runs on this
 * host (`undefined` when unknown, e.g. another host).
 */
export function lockMessage(
  stack: string,
  holders: readonly LockHolder[],
  alive: (holder: LockHolder) => boolean | undefined = () => undefined,
): string {
  if (holders.length === 0) {
    return `stack ${stack} is being updated by someone else (Pulumi's stack lock); wait for that update to finish, then retry`;
  }
  const parts = holders.map((h) => {
    const who = `${h.user ?? '?'}@${h.host ?? '?'} (pid ${h.pid ?? '?'}) since ${h.time ?? '?'}`;
    const state = alive(h);
    return state === false ? `${who}, a process that no longer runs` : who;
  });
  const stale = holders.some((h) => alive(h) === false);
  return (
    `stack ${stack} is locked by ${parts.join('; ')}. ` +
    (stale
      ? `The update was interrupted: run \`release recover ${stack}\` to clear it, then retry.`
      : 'Another release is running: wait for it to finish, then retry (two releases never interleave).')
  );
}
