/**
 * Who holds a stack's lock. Pulumi refuses a second update of a stack while one runs; the file backend writes a
 * lock file per update and names its holder in the error ("...: created by user@host (pid N) at TIME"). The
 * release command turns that into one sentence and tells the operator what to do.
 */
import * as fs from 'fs';
import * as os from 'os';
import { isSlot, Slot } from '../components/shared/slots';
import type { Kube } from './kube';
import { prog } from './prog';

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

/** Reads one lock file of the file backend (Pulumi writes `{pid, username, hostname, timestamp}`); throws when unreadable. */
export function readLockFile(file: string): LockHolder {
  const l = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    pid?: number;
    username?: string;
    hostname?: string;
    timestamp?: string;
  };
  return { file, user: l.username, host: l.hostname, pid: l.pid, time: l.timestamp };
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
  p: string = prog(),
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
      ? `The update was interrupted: run \`${p} recover ${stack}\` to clear it, then retry.`
      : 'Another release is running: wait for it to finish, then retry (two releases never interleave).')
  );
}

/**
 * The release lock. Pulumi's lock is held per `pulumi up`, not across a release: between deploy and the end of
 * promote a second deploy could change the idle image, and promote would then switch traffic to an image that
 * was never gated. The release command therefore holds its own lock for the whole release: a Kubernetes Lease
 * `<app>-release` in the stack's namespace. It lives in the cluster the stack deploys to, so it works the same
 * on every Pulumi backend (file, S3/GCS/Azure blob, Pulumi Cloud), and `kubectl create` makes taking it atomic.
 * deploy takes it, promote (or abort) ends it; a re-run of the same release (same release id) may continue.
 */

export const LEASE_ANNOTATIONS = {
  releaseId: 'pavemaster.io/release-id',
  holder: 'pavemaster.io/holder',
  command: 'pavemaster.io/command',
  since: 'pavemaster.io/since',
  /** The idle slot's release keys before the deploy, as JSON: what `abort` restores. */
  previous: 'pavemaster.io/previous-slot',
  /**
   * A slot that lost traffic and keeps its replicas until a time (the scale-down delay), as JSON
   * ({@link ScaleDownWindow}); while it is set an instant `rollback` may take the lock over.
   */
  scaleDown: 'pavemaster.io/scale-down',
} as const;

/** A slot kept warm after a switch until `after`, then scaled down to `idleReplicas`. */
export interface ScaleDownWindow {
  /** The slot that lost traffic. */
  slot: Slot;
  /** When it is scaled down (RFC 3339). */
  after: string;
  /** The `pavemaster:idleReplicas` value to write back then; `null`: remove the key (= replicas). */
  idleReplicas: string | null;
  /** Whether an instant `rollback` may take the window over (not after an automatic flip-back). */
  rollback: boolean;
}

/** Who is running the release: the CI actor and run, or user@host (pid). */
export function releaseHolder(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PAVEMASTER_RELEASE_ACTOR) {
    return env.PAVEMASTER_RELEASE_ACTOR;
  }
  if (env.GITHUB_ACTOR) {
    return `${env.GITHUB_ACTOR} (GitHub Actions run ${env.GITHUB_RUN_ID ?? '?'})`;
  }
  return `${os.userInfo().username}@${os.hostname()} (pid ${process.pid})`;
}

/** A held release lock, as read back from its Lease. */
export interface ReleaseLockInfo {
  releaseId: string;
  holder: string;
  command: string;
  since: string;
  previous?: Record<string, string | null>;
  /** Set while a slot that lost traffic is kept warm (the scale-down delay). */
  scaleDown?: ScaleDownWindow;
  /** The Lease's resourceVersion when it was read (for an update that must not overwrite another's). */
  resourceVersion?: string;
}

interface LeaseObject {
  metadata: { name: string; annotations?: Record<string, string>; resourceVersion?: string };
}

/** The Lease's name for an app. */
export function leaseName(app: string): string {
  return `${app}-release`;
}

/** The Lease manifest of a release lock. */
export function leaseManifest(
  app: string,
  namespace: string,
  info: ReleaseLockInfo,
): Record<string, unknown> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: leaseName(app),
      namespace,
      labels: { app, 'app.kubernetes.io/managed-by': 'pavemaster-release' },
      annotations: {
        [LEASE_ANNOTATIONS.releaseId]: info.releaseId,
        [LEASE_ANNOTATIONS.holder]: info.holder,
        [LEASE_ANNOTATIONS.command]: info.command,
        [LEASE_ANNOTATIONS.since]: info.since,
        ...(info.previous ? { [LEASE_ANNOTATIONS.previous]: JSON.stringify(info.previous) } : {}),
        ...(info.scaleDown ? { [LEASE_ANNOTATIONS.scaleDown]: JSON.stringify(info.scaleDown) } : {}),
      },
    },
    spec: { holderIdentity: info.holder.slice(0, 128) },
  };
}

/** Reads a Lease back into the lock it records. */
export function parseLease(lease: LeaseObject | undefined): ReleaseLockInfo | undefined {
  const a = lease?.metadata.annotations;
  if (!a || !a[LEASE_ANNOTATIONS.releaseId]) {
    return undefined;
  }
  let previous: Record<string, string | null> | undefined;
  try {
    previous = a[LEASE_ANNOTATIONS.previous]
      ? (JSON.parse(a[LEASE_ANNOTATIONS.previous]) as Record<string, string | null>)
      : undefined;
  } catch {
    previous = undefined;
  }
  return {
    releaseId: a[LEASE_ANNOTATIONS.releaseId],
    holder: a[LEASE_ANNOTATIONS.holder] ?? '?',
    command: a[LEASE_ANNOTATIONS.command] ?? '?',
    since: a[LEASE_ANNOTATIONS.since] ?? '?',
    previous,
    scaleDown: parseScaleDown(a[LEASE_ANNOTATIONS.scaleDown]),
    resourceVersion: lease?.metadata.resourceVersion,
  };
}

/** The scale-down window annotation, or `undefined` when absent or not one. */
export function parseScaleDown(text: string | undefined): ScaleDownWindow | undefined {
  if (text === undefined) {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<ScaleDownWindow>;
    const slotOk = isSlot(v.slot);
    const afterOk = typeof v.after === 'string' && !Number.isNaN(Date.parse(v.after));
    const replicasOk = v.idleReplicas === null || typeof v.idleReplicas === 'string';
    return slotOk && afterOk && replicasOk
      ? {
          slot: v.slot as Slot,
          after: v.after as string,
          idleReplicas: v.idleReplicas as string | null,
          rollback: v.rollback === true,
        }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Rewrites the held release lock as `info`, only if nobody changed it since it was read (`info.resourceVersion`,
 * the API server's optimistic concurrency): `updated` with the new resourceVersion, or not when another
 * command rewrote or freed it first (then it is not this command's any more).
 */
export async function updateReleaseLock(
  kube: Kube,
  app: string,
  info: ReleaseLockInfo,
): Promise<{ updated: true; resourceVersion: string } | { updated: false }> {
  const manifest = leaseManifest(app, kube.namespace, info);
  const metadata = manifest.metadata as Record<string, unknown>;
  metadata.resourceVersion = info.resourceVersion;
  const r = await kube.replace(manifest);
  return r.replaced ? { updated: true, resourceVersion: r.resourceVersion } : { updated: false };
}

/** The message for a step refused because another release holds the stack. */
export function releaseLockMessage(
  stack: string,
  held: ReleaseLockInfo,
  prog: string,
  refused: string,
): string {
  if (held.scaleDown !== undefined) {
    return (
      `stack ${stack} is locked by release ${held.releaseId} of ${held.holder} (${held.command} since ${held.since}): ` +
      `slot ${held.scaleDown.slot} keeps its replicas until ${held.scaleDown.after} (the scale-down delay), then it is scaled down; ` +
      `${refused} is refused until then so two releases never interleave` +
      (held.scaleDown.rollback
        ? ` (an instant \`${prog} rollback ${stack}\` back to ${held.scaleDown.slot} is allowed until then)`
        : '') +
      `; if the command that holds it was stopped, \`${prog} promote ${stack}\` finishes the scale-down`
    );
  }
  return (
    `stack ${stack} is locked by release ${held.releaseId} of ${held.holder} (${held.command} since ${held.since}); ` +
    `${refused} is refused so two releases never interleave: finish it with \`${prog} promote ${stack}\` or end it with \`${prog} abort ${stack}\`, then retry`
  );
}

/** Reads the release lock of an app (`undefined`: none held). */
export async function readReleaseLock(kube: Kube, app: string): Promise<ReleaseLockInfo | undefined> {
  return parseLease(await kube.get<LeaseObject>('lease', leaseName(app)));
}

/**
 * Takes the release lock for `info.releaseId`. Returns `{ taken: true }` when this call created it, `{ taken:
 * false }` when the same release already holds it (a re-run), and `{ held }` when another release holds it.
 * `{ noNamespace: true }`: the namespace does not exist yet (a first deploy creates it).
 */
export async function takeReleaseLock(
  kube: Kube,
  app: string,
  info: ReleaseLockInfo,
): Promise<{ taken: boolean; held?: ReleaseLockInfo; noNamespace?: boolean }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await kube.create(leaseManifest(app, kube.namespace, info));
    if (r.created) {
      return { taken: true };
    }
    if (r.namespaceMissing) {
      return { taken: false, noNamespace: true };
    }
    const held = await readReleaseLock(kube, app);
    if (held === undefined) {
      continue; // released between the two calls: try again
    }
    return held.releaseId === info.releaseId ? { taken: false } : { taken: false, held };
  }
  throw new Error(`could not take the release lock lease/${leaseName(app)}`);
}

/** Frees the release lock (only the given release's, unless `releaseId` is undefined). */
export async function freeReleaseLock(kube: Kube, app: string, releaseId?: string): Promise<boolean> {
  const held = await readReleaseLock(kube, app);
  if (held === undefined || (releaseId !== undefined && held.releaseId !== releaseId)) {
    return false;
  }
  await kube.delete('lease', leaseName(app));
  return true;
}
