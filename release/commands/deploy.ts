/** `release deploy`: a new image on the idle slot, `pulumi up`; the active slot and its Service are untouched. */
import { Slot } from '../../components/shared/slots';
import { imageVersion } from '../../components/shared/image';
import { checkLabelValue } from '../../components/shared/checks';
import { checkReleaseId } from '../../stacks/release';
import { checkImage } from '../../stacks/validators';
import { explain } from '../errors';
import { commitStackFile } from '../git';
import { freeReleaseLock, releaseHolder, releaseLockMessage, takeReleaseLock } from '../lock';
import { prog } from '../prog';
import { EXIT, ReleaseError, Session, UpResult } from '../session';
import { releaseFields, waitReady } from '../traffic';
import { slotKeys } from './abort';
import { newReleaseId, ReleaseOptions } from './options';

/** Puts a new image on the idle slot and runs `pulumi up`; the active slot and its Service are untouched. */
export async function deploy(
  stackName: string,
  image: string,
  opts: ReleaseOptions & { version?: string; releaseId?: string },
): Promise<{ releaseId: string; slot: Slot; image: string; version: string; up: UpResult }> {
  const s = await Session.open(stackName, 'deploy', opts);
  const problem = checkImage(image, { production: s.settings.production, requireDigest: false });
  if (problem !== undefined) {
    throw new ReleaseError(`image "${image}" is not valid: ${problem}`, EXIT.usage);
  }
  const version = opts.version ?? imageVersion(image);
  if (version === undefined || checkLabelValue(version) !== undefined) {
    throw new ReleaseError(`give --version: "${image}" has no usable tag for the version label`, EXIT.usage);
  }
  const releaseId = opts.releaseId ?? newReleaseId();
  if (checkReleaseId(releaseId) !== undefined) {
    throw new ReleaseError(`release id "${releaseId}": ${checkReleaseId(releaseId)}`, EXIT.usage);
  }
  const slot = s.idleSlot;
  s.log.set({ releaseId, slot, ...releaseFields(s) });
  // The release lock, held until promote or abort ends this release: no second deploy can change the idle
  // image under a promote's gates. What the idle slot ran before is kept in it, for abort.
  const previous = Object.fromEntries(slotKeys(slot).map((k) => [k, s.raw[k] ?? null]));
  const lockInfo = {
    releaseId,
    holder: releaseHolder(),
    command: 'deploy',
    since: new Date().toISOString(),
    previous,
  };
  let lock = await takeReleaseLock(s.kube, s.app, lockInfo);
  if (lock.held) {
    const message = releaseLockMessage(stackName, lock.held, prog(), `deploy of ${image}`);
    s.log.write('lock', 'failed', { detail: message });
    throw new ReleaseError(message, EXIT.locked);
  }
  s.log.write('deploy', 'started', { detail: `${image} (version ${version}) to idle slot ${slot}` });

  const values: Record<string, string> = {
    [`${slot}Image`]: image,
    [`${slot}ReleaseId`]: releaseId,
    [`${slot}ReleasedAt`]: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  const remove: string[] = [];
  if (opts.version !== undefined) {
    values[`${slot}Version`] = opts.version;
  } else {
    remove.push(`${slot}Version`);
  }
  let up: UpResult;
  try {
    await s.setConfig(values, remove);
    s.log.set(releaseFields(s));
    up = await s.up(`release deploy ${releaseId}: ${image} to ${slot}`);
  } catch (e) {
    // This deploy never finished: it ends no other release's lock, only its own.
    if (lock.taken) {
      await freeReleaseLock(s.kube, s.app, releaseId).catch(() => false);
    }
    if (e instanceof ReleaseError) {
      throw e;
    }
    s.log.write('deploy', 'failed', { detail: e instanceof Error ? e.message : String(e) });
    throw new ReleaseError(
      `pulumi up of the deploy failed, traffic is unchanged on ${s.activeSlot}: ${explain(e, { stack: stackName, command: 'deploy' }).message}`,
      EXIT.failed,
    );
  }
  if (lock.noNamespace) {
    // The first deploy created the namespace: take the lock now.
    lock = await takeReleaseLock(s.kube, s.app, lockInfo);
  }
  // The idle slot may run no replica at all (idleReplicas 0): then promote scales it up and checks it.
  const readyPods =
    s.settings.app.idleReplicas > 0 ? (await waitReady(s, slot, s.previewService)).readyPods.length : 0;
  s.log.write('deploy', 'succeeded', {
    detail: `${slot} runs ${version}; ${readyPods} pod(s) Ready behind ${s.previewService}`,
    changes: up.changes,
    durationMs: up.durationMs,
  });
  s.out(`deployed ${image} (version ${version}, release ${releaseId}) to the idle slot ${slot}`);
  s.out(
    `traffic stays on ${s.activeSlot}; test it through Service ${s.previewService}, then: ${prog()} promote ${stackName}`,
  );
  await commitStackFile(s, opts.commit, `release ${stackName}: deploy ${version} to ${slot} (${releaseId})`);
  return { releaseId, slot, image, version, up };
}
