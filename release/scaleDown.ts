/**
 * The scale-down delay, like Argo Rollouts' `scaleDownDelaySeconds`: when a switch leaves a slot with more
 * replicas than `idleReplicas` (the release command scaled it up for the switch), that slot keeps them for
 * `pavemaster:release.scaleDownDelaySeconds` after the switch (default 30 s, Argo's figure: the time kube-proxy
 * on every node and a load balancer's target list need to stop sending it requests), then the release command
 * scales it down itself: `pavemaster:idleReplicas` goes back to its value in the stack file and `pulumi up`
 * records it, so the state, the file and the cluster agree and the next preview shows no change.
 *
 * While a slot is kept warm the release lock (a Lease, release/lock.ts) carries the window (slot, until when,
 * the idleReplicas to write back). No deploy can start then. An instant `rollback` may take the window over: it
 * rewrites the Lease under the API server's optimistic concurrency (the resourceVersion it read), switches back
 * to the warm slot with no gate and no scale-up, and then keeps the slot it left warm the same way. The command
 * that was waiting sees the Lease changed and ends without scaling anything down. If the waiting command was
 * stopped, `promote` finishes the window (waits what is left, scales down, frees the lock).
 */
import { Slot } from '../components/shared/slots';
import {
  readReleaseLock,
  releaseHolder,
  ReleaseLockInfo,
  ScaleDownWindow,
  takeReleaseLock,
  updateReleaseLock,
} from './lock';
import { prog } from './prog';
import { EXIT, ReleaseError, Session } from './session';
import { scaleIdleDown } from './traffic';

/** What happened to the slot that lost traffic. */
export type ScaleDownOutcome =
  | { action: 'none'; detail: string }
  | { action: 'scaled-down'; slot: Slot; detail: string; keptMs: number }
  | { action: 'taken-over'; slot: Slot; detail: string; by: string };

/** When a slot that lost traffic at `switchedAt` (epoch ms) is scaled down. */
export function scaleDownAt(switchedAt: number, delaySeconds: number): number {
  return switchedAt + delaySeconds * 1000;
}

/**
 * Whether a rollback to `to` may take a held release lock over: only while it keeps `to` warm, and only when
 * the window allows it (an automatic flip-back's window does not: its slot failed the post-promotion check).
 */
export function rollbackMayTakeOver(held: ReleaseLockInfo, to: Slot): boolean {
  return held.scaleDown !== undefined && held.scaleDown.rollback && held.scaleDown.slot === to;
}

/**
 * A rollback's take-over of a scale-down window: the Lease rewritten with this command as holder and without
 * the window, only if nobody changed it since it was read. Returns the window taken over and the lock as it
 * is now, or `undefined` when another command got there first.
 */
export async function takeOverWindow(
  s: Session,
  held: ReleaseLockInfo,
  command: string,
): Promise<{ window: ScaleDownWindow; lock: ReleaseLockInfo } | undefined> {
  if (held.scaleDown === undefined) {
    return undefined;
  }
  const lock: ReleaseLockInfo = { ...held, holder: releaseHolder(), command, scaleDown: undefined };
  const u = await updateReleaseLock(s.kube, s.app, lock);
  return u.updated
    ? { window: held.scaleDown, lock: { ...lock, resourceVersion: u.resourceVersion } }
    : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * After a switch away from `from`: keeps `from` at its replicas until `after` (epoch ms), then scales it down
 * to `restore` (`pavemaster:idleReplicas` as the stack file had it before the scale-up; '' removes the key).
 * `restore` undefined: nothing was scaled up, nothing to scale down. The caller holds the release lock
 * `releaseId` (a plain rollback holds none: it is taken here) and frees it afterwards unless the window was
 * taken over.
 */
export async function keepWarmThenScaleDown(
  s: Session,
  o: {
    from: Slot;
    restore: string | undefined;
    after: number;
    releaseId: string;
    command: string;
    /** Whether an instant rollback may take the window over. */
    rollback: boolean;
    pollMs?: number;
  },
): Promise<ScaleDownOutcome> {
  if (o.restore === undefined) {
    return {
      action: 'none',
      detail: `${o.from} keeps ${s.settings.app.idleReplicas} replica(s) (idleReplicas): nothing to scale down`,
    };
  }
  if (s.activeSlot === o.from) {
    throw new ReleaseError(
      `slot ${o.from} carries the traffic again: it is not scaled down (run \`${prog()} status ${s.name}\`)`,
      EXIT.failed,
    );
  }
  const started = Date.now();
  const delay = s.release.scaleDownDelaySeconds;
  const until = new Date(o.after).toISOString();
  if (o.after > Date.now()) {
    const window: ScaleDownWindow = {
      slot: o.from,
      after: until,
      idleReplicas: o.restore === '' ? null : o.restore,
      rollback: o.rollback,
    };
    const lock = await holdWindow(s, o, window);
    if (lock === undefined) {
      return takenOver(s, o.from, await readReleaseLock(s.kube, s.app));
    }
    const replicas = s.settings.app.idleReplicas;
    s.log.write('scale-down', 'started', {
      detail: `${o.from} keeps its ${replicas} replica(s) until ${until} (scaleDownDelaySeconds ${delay})`,
    });
    s.out(
      `${o.from} keeps its ${replicas} replica(s) until ${until} (scale-down delay ${delay}s)` +
        (o.rollback
          ? `: \`${prog()} rollback ${s.name}\` until then switches back to it at once, with no gates`
          : ''),
    );
    while (Date.now() < o.after) {
      await sleep(Math.min(o.pollMs ?? 1000, Math.max(0, o.after - Date.now())));
      const now = await readReleaseLock(s.kube, s.app);
      if (now === undefined || now.resourceVersion !== lock.resourceVersion) {
        return takenOver(s, o.from, now);
      }
    }
    // End the window before scaling down: from here on a rollback is refused as for any running release.
    const u = await updateReleaseLock(s.kube, s.app, { ...lock, scaleDown: undefined });
    if (!u.updated) {
      return takenOver(s, o.from, await readReleaseLock(s.kube, s.app));
    }
  }
  await scaleIdleDown(s, o.restore);
  const keptMs = Date.now() - (o.after - delay * 1000);
  const detail = `${o.from} scaled down to ${s.settings.app.idleReplicas} replica(s), ${Math.round(keptMs / 1000)}s after it lost the traffic`;
  s.log.write('scale-down', 'succeeded', { detail, durationMs: Date.now() - started });
  s.out(detail);
  return { action: 'scaled-down', slot: o.from, detail, keptMs };
}

/** Puts the window into the release lock (taking the lock for a command that ran without one). */
async function holdWindow(
  s: Session,
  o: { releaseId: string; command: string },
  window: ScaleDownWindow,
): Promise<ReleaseLockInfo | undefined> {
  const held = await readReleaseLock(s.kube, s.app);
  if (held === undefined) {
    const info: ReleaseLockInfo = {
      releaseId: o.releaseId,
      holder: releaseHolder(),
      command: o.command,
      since: new Date().toISOString(),
      scaleDown: window,
    };
    const taken = await takeReleaseLock(s.kube, s.app, info);
    if (taken.held) {
      return undefined;
    }
    return readReleaseLock(s.kube, s.app);
  }
  if (held.releaseId !== o.releaseId) {
    return undefined;
  }
  const u = await updateReleaseLock(s.kube, s.app, { ...held, scaleDown: window });
  return u.updated ? { ...held, scaleDown: window, resourceVersion: u.resourceVersion } : undefined;
}

function takenOver(s: Session, slot: Slot, now: ReleaseLockInfo | undefined): ScaleDownOutcome {
  const by = now === undefined ? 'a command that freed the release lock' : `${now.command} of ${now.holder}`;
  const detail = `the scale-down delay of ${slot} was taken over by ${by}: ${slot} was not scaled down here`;
  s.log.write('scale-down', 'warning', { detail });
  s.out(detail);
  return { action: 'taken-over', slot, detail, by };
}
