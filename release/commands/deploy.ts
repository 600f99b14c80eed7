/** `release deploy`: a new image on the idle slot, `pulumi up`; the active slot and its Service are untouched. */
import { Slot } from '../../components/shared/slots';
import { imageVersion } from '../../components/shared/image';
import { checkLabelValue } from '../../components/shared/checks';
import { checkReleaseId } from '../../stacks/release';
import { checkImage } from '../../stacks/validators';
import { commitStackFile } from '../git';
import { EXIT, ReleaseError, Session, UpResult } from '../session';
import { releaseFields, waitReady } from '../traffic';
import { newReleaseId, ReleaseOptions } from './options';

/** Puts a new image on the idle slot and runs `pulumi up`; the active slot and its Service are untouched. */
export async function deploy(
  stackName: string,
  image: string,
  opts: ReleaseOptions & { version?: string; releaseId?: string },
): Promise<{ releaseId: string; slot: Slot; up: UpResult }> {
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
  await s.setConfig(values, remove);
  s.log.set(releaseFields(s));
  let up: UpResult;
  try {
    up = await s.up(`release deploy ${releaseId}: ${image} to ${slot}`);
  } catch (e) {
    if (e instanceof ReleaseError) {
      throw e;
    }
    s.log.write('deploy', 'failed', { detail: e instanceof Error ? e.message : String(e) });
    throw new ReleaseError(
      `pulumi up failed; traffic is unchanged on ${s.activeSlot}. ${e instanceof Error ? e.message : String(e)}`,
      EXIT.failed,
    );
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
    `traffic stays on ${s.activeSlot}; test it through Service ${s.previewService}, then: release promote ${stackName}`,
  );
  await commitStackFile(s, opts.commit, `release ${stackName}: deploy ${version} to ${slot} (${releaseId})`);
  return { releaseId, slot, up };
}
