/**
 * `release rollback`: an instant flip back to the other slot, which still runs the previous version; with `--to N`,
 * a restore of what stack version N deployed.
 */
import { SLOTS } from '../../components/shared/slots';
import { AnnotationOutcome, annotateRelease } from '../annotations';
import { commitStackFile } from '../git';
import { ConfigChange, parseHistory, planFullRestore, ReleaseVersion, renderChanges } from '../history';
import { EXIT, ReleaseError, Session, UpResult } from '../session';
import { releaseFields, scaleIdleUp, SwitchResult, switchTraffic, waitActiveEndpoints } from '../traffic';
import { freeReleaseLock, readReleaseLock, releaseLockMessage } from '../lock';
import { prog } from '../prog';
import {
  keepWarmThenScaleDown,
  rollbackMayTakeOver,
  scaleDownAt,
  ScaleDownOutcome,
  takeOverWindow,
} from '../scaleDown';
import { confirmProduction, newReleaseId, ReleaseOptions } from './options';

/** A rollback during a release would send traffic to its ungated idle slot: refused while the lock is held. */
async function refuseDuringRelease(s: Session, what: string): Promise<void> {
  const held = await readReleaseLock(s.kube, s.app);
  if (held !== undefined) {
    const message = releaseLockMessage(s.name, held, prog(), what);
    s.log.write('lock', 'failed', { detail: message });
    throw new ReleaseError(message, EXIT.locked);
  }
}

/**
 * Flips traffic back to the other slot, which still runs the previous version: a selector-only update. Inside a
 * release's scale-down delay (the previous slot still has all its replicas) it takes the release over: no gate,
 * no scale-up, just the switch. A slot scaled up for the switch keeps its replicas for the delay afterwards too.
 */
export async function rollback(
  stackName: string,
  opts: ReleaseOptions,
): Promise<SwitchResult & { scaleDown?: ScaleDownOutcome; annotations: AnnotationOutcome[] }> {
  const s = await Session.open(stackName, 'rollback', opts);
  const to = s.idleSlot;
  s.log.set({ releaseId: s.release.slots[to].releaseId, slot: to, ...releaseFields(s) });
  await confirmProduction(s, opts, 'rollback', [
    `traffic: ${s.activeSlot} (${s.version(s.activeSlot)}, ${s.image(s.activeSlot)}) -> ${to} (${s.version(to)}, ${s.image(to)})`,
  ]);
  const held = await readReleaseLock(s.kube, s.app);
  const taken =
    held !== undefined && rollbackMayTakeOver(held, to)
      ? await takeOverWindow(s, held, 'rollback')
      : undefined;
  if (taken === undefined) {
    await refuseDuringRelease(s, 'rollback');
  } else {
    s.log.write('rollback', 'started', {
      detail: `inside the scale-down delay of release ${taken.lock.releaseId}: ${to} still has its replicas, switching back at once`,
    });
  }
  // Taken over: `to` was never scaled down; what the slot left gets back is the window's idleReplicas.
  const restoreIdle = taken ? (taken.window.idleReplicas ?? '') : await scaleIdleUp(s);
  const releaseId = taken?.lock.releaseId ?? newReleaseId();
  const result = await switchTraffic(
    s,
    to,
    taken ? `rollback inside the scale-down delay of ${releaseId}` : 'rollback',
  );
  const annotations = await annotateRelease(s, {
    kind: 'rollback',
    from: result.from,
    to,
    releaseId: s.release.slots[to].releaseId,
  });
  const scaleDown = await keepWarmThenScaleDown(s, {
    from: result.from,
    restore: restoreIdle,
    after: scaleDownAt(result.switchedAt, s.release.scaleDownDelaySeconds),
    releaseId,
    command: 'rollback',
    rollback: true,
  });
  if (scaleDown.action !== 'taken-over') {
    await freeReleaseLock(s.kube, s.app, releaseId);
  }
  s.log.write('rollback', 'succeeded', { detail: `${result.from} -> ${to} (${s.version(to)})` });
  await commitStackFile(s, opts.commit, `release ${stackName}: rollback to ${s.version(to)} on ${to}`);
  return { ...result, scaleDown, annotations };
}

/**
 * Restores what stack version `version` deployed, whole: every `pavemaster:*` key it recorded (replicas,
 * resources, env, the release section, secrets: restored encrypted and never printed), every key it did not
 * record removed, then `pulumi up`. The config diff is shown first (and confirmed on production).
 */
export async function rollbackTo(
  stackName: string,
  version: number,
  opts: ReleaseOptions,
): Promise<{
  restored: ReleaseVersion;
  up: UpResult;
  changes: ConfigChange[];
  annotations: AnnotationOutcome[];
}> {
  const s = await Session.open(stackName, 'rollback', opts);
  const entries = await s.history();
  let plan;
  try {
    plan = planFullRestore(entries, version, s.raw, s.secretKeys);
  } catch (e) {
    throw new ReleaseError(
      `${e instanceof Error ? e.message : String(e)}: list the versions with \`${prog()} history ${stackName}\``,
      EXIT.usage,
    );
  }
  const restored = parseHistory(entries).find((v) => v.version === version) as ReleaseVersion;
  s.log.set({ slot: restored.activeSlot, ...releaseFields(s) });
  const lines = renderChanges(plan.changes);
  s.out(`rollback --to ${version} changes ${lines.length} key(s) of Pulumi.${stackName}.yaml:`);
  for (const l of lines.length
    ? lines
    : ['(none: the config already is version ' + String(version) + "'s)"]) {
    s.out(`  ${l}`);
  }
  await confirmProduction(s, opts, `rollback --to ${version}`, lines.length ? lines : ['(no config change)']);
  await refuseDuringRelease(s, `rollback --to ${version}`);
  s.log.write('rollback-to', 'started', {
    detail: `to stack version ${version}: ${restored.activeSlot} active, blue ${restored.images.blue}, green ${restored.images.green}; keys: ${plan.changes.map((c) => c.key).join(', ') || 'none'}`,
  });
  const before = s.activeSlot;
  await s.restoreConfig(plan);
  const up = await s.up(`release: rollback to stack version ${version}`);
  const pods = await waitActiveEndpoints(s, s.activeSlot, s.release.readyTimeoutSeconds * 1000);
  const annotations = await annotateRelease(s, {
    kind: 'rollback-to',
    from: before,
    to: s.activeSlot,
    releaseId: s.release.slots[s.activeSlot].releaseId,
    detail: `stack version ${version} restored`,
  });
  s.log.write('rollback-to', 'succeeded', {
    detail: `${s.activeService} lists ${pods.join(', ')}`,
    ...releaseFields(s),
  });
  s.out(
    `restored stack version ${version}: ${s.activeSlot} active; ${SLOTS.map((slot) => `${slot} ${s.image(slot)}`).join(', ')}`,
  );
  await commitStackFile(s, opts.commit, `release ${stackName}: rollback to stack version ${version}`);
  return { restored, up, changes: plan.changes, annotations };
}
