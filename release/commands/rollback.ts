/**
 * `release rollback`: an instant flip back to the other slot, which still runs the previous version; with `--to N`,
 * a restore of what stack version N deployed.
 */
import { SLOTS } from '../../components/shared/slots';
import { commitStackFile } from '../git';
import { parseHistory, planRestore, ReleaseVersion } from '../history';
import { EXIT, ReleaseError, Session, UpResult } from '../session';
import {
  releaseFields,
  scaleIdleDown,
  scaleIdleUp,
  SwitchResult,
  switchTraffic,
  waitActiveEndpoints,
} from '../traffic';
import { ReleaseOptions } from './options';

/** Flips traffic back to the other slot, which still runs the previous version: a selector-only update. */
export async function rollback(stackName: string, opts: ReleaseOptions): Promise<SwitchResult> {
  const s = await Session.open(stackName, 'rollback', opts);
  const to = s.idleSlot;
  s.log.set({ releaseId: s.release.slots[to].releaseId, slot: to, ...releaseFields(s) });
  const restoreIdle = await scaleIdleUp(s);
  const result = await switchTraffic(s, to, 'rollback');
  await scaleIdleDown(s, restoreIdle);
  s.log.write('rollback', 'succeeded', { detail: `${result.from} -> ${to} (${s.version(to)})` });
  await commitStackFile(s, opts.commit, `release ${stackName}: rollback to ${s.version(to)} on ${to}`);
  return result;
}

/** Restores what stack version `version` deployed (active slot, each slot's image) and runs `pulumi up`. */
export async function rollbackTo(
  stackName: string,
  version: number,
  opts: ReleaseOptions,
): Promise<{ restored: ReleaseVersion; up: UpResult }> {
  const s = await Session.open(stackName, 'rollback', opts);
  const entries = await s.history();
  let plan;
  try {
    plan = planRestore(entries, version);
  } catch (e) {
    throw new ReleaseError(e instanceof Error ? e.message : String(e), EXIT.usage);
  }
  const restored = parseHistory(entries).find((v) => v.version === version) as ReleaseVersion;
  s.log.set({ slot: restored.activeSlot, ...releaseFields(s) });
  s.log.write('rollback-to', 'started', {
    detail: `to stack version ${version}: ${restored.activeSlot} active, blue ${restored.images.blue}, green ${restored.images.green}`,
  });
  await s.setConfig(plan.set, plan.remove);
  const up = await s.up(`release: rollback to stack version ${version}`);
  const pods = await waitActiveEndpoints(s, s.activeSlot, s.release.readyTimeoutSeconds * 1000);
  s.log.write('rollback-to', 'succeeded', {
    detail: `${s.activeService} lists ${pods.join(', ')}`,
    ...releaseFields(s),
  });
  s.out(
    `restored stack version ${version}: ${s.activeSlot} active; ${SLOTS.map((slot) => `${slot} ${s.image(slot)}`).join(', ')}`,
  );
  await commitStackFile(s, opts.commit, `release ${stackName}: rollback to stack version ${version}`);
  return { restored, up };
}
