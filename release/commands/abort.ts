/**
 * `abort`: ends a release that will not be promoted, like Argo Rollouts' abort. Traffic stays where it is; the
 * idle slot's pods of the aborted release are scaled down by putting the slot back on what it ran before the
 * deploy (recorded in the release lock), so the idle slot is again the previous release, warm for an instant
 * rollback; the release lock is freed so the next deploy can start. When the release's promote already switched
 * traffic to the deployed slot (its recording update may have failed), traffic goes back to the other slot first.
 */
import { perSlot, SLOTS } from '../../components/shared/slots';
import { commitStackFile } from '../git';
import { freeReleaseLock, readReleaseLock, releaseLockMessage } from '../lock';
import { prog } from '../prog';
import { takeOverWindow } from '../scaleDown';
import { EXIT, ReleaseError, Session } from '../session';
import { releaseFields, settleForAbort } from '../traffic';
import { ReleaseOptions } from './options';

/** The idle slot's release keys (what deploy writes). */
export function slotKeys(slot: string): string[] {
  return [`${slot}Image`, `${slot}Version`, `${slot}ReleaseId`, `${slot}ReleasedAt`];
}

export interface AbortResult {
  releaseId: string | null;
  slot: string;
  restored: Record<string, string | null>;
  lockFreed: boolean;
}

export async function abort(stackName: string, opts: ReleaseOptions): Promise<AbortResult> {
  const s = await Session.open(stackName, 'abort', opts);
  const held = await readReleaseLock(s.kube, s.app);
  if (held === undefined) {
    throw new ReleaseError(
      `stack ${stackName} has no release in progress (no release lock): nothing to abort`,
      EXIT.usage,
    );
  }
  // A command keeping a slot warm (the scale-down delay) waits on the lock: take it over first, so it stops.
  if (held.scaleDown !== undefined && (await takeOverWindow(s, held, 'abort')) === undefined) {
    const now = await readReleaseLock(s.kube, s.app);
    throw new ReleaseError(
      now
        ? releaseLockMessage(stackName, now, prog(), 'abort')
        : `the release lock of ${held.releaseId} was freed meanwhile: nothing to abort`,
      now ? EXIT.locked : EXIT.usage,
    );
  }
  // A promote that switched (recorded or not): traffic back first, so the slot restored below is the idle one.
  await settleForAbort(s, held);
  const slot = s.idleSlot;
  s.log.set({ releaseId: held.releaseId, slot, ...releaseFields(s) });
  s.log.write('abort', 'started', {
    detail: `release ${held.releaseId} of ${held.holder}: idle slot ${slot} back to its previous release`,
  });
  const restored: Record<string, string | null> = {};
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const key of held.previous !== undefined ? slotKeys(slot) : []) {
    const v = held.previous?.[key];
    restored[key] = v ?? null;
    if (typeof v === 'string') {
      set[key] = v;
    } else {
      remove.push(key);
    }
  }
  // Stopped inside a scale-down delay: the slot kept warm goes back to the idleReplicas it had before.
  if (held.scaleDown !== undefined) {
    restored.idleReplicas = held.scaleDown.idleReplicas;
    if (held.scaleDown.idleReplicas === null) {
      remove.push('idleReplicas');
    } else {
      set.idleReplicas = held.scaleDown.idleReplicas;
    }
  }
  const changes = Object.keys(set).length + remove.length > 0;
  if (changes) {
    await s.setConfig(set, remove);
    await s.up(`release abort ${held.releaseId}: ${slot} back to ${s.image(slot)}`);
  }
  const lockFreed = await freeReleaseLock(s.kube, s.app, held.releaseId);
  s.log.write('abort', 'succeeded', {
    detail: `${slot} runs ${s.image(slot)} again; traffic stays on ${s.activeSlot}; release lock freed`,
    ...releaseFields(s),
  });
  s.out(
    `aborted release ${held.releaseId}: ${slot} is back on ${s.image(slot)} (${perSlot((x) => s.version(x))[slot]}); traffic stays on ${s.activeSlot} (${SLOTS.map((x) => `${x} ${s.version(x)}`).join(', ')})`,
  );
  if (changes) {
    await commitStackFile(s, opts.commit, `release ${stackName}: abort ${held.releaseId}`);
  }
  return { releaseId: held.releaseId, slot, restored, lockFreed };
}
