/**
 * `release promote`: the pre-promotion gates, a scale-up of a smaller idle slot, the switch, the post-promotion
 * check with an automatic flip-back on a breach, and the scale-down; `--preview` shows what the switch changes.
 */
import * as fs from 'fs';
import { AnnotationOutcome, annotateRelease } from '../annotations';
import { GateResult, gateOrder } from '../gates';
import { runGates } from '../gateRunner';
import { commitStackFile } from '../git';
import {
  freeReleaseLock,
  readReleaseLock,
  releaseHolder,
  ReleaseLockInfo,
  releaseLockMessage,
  takeReleaseLock,
} from '../lock';
import { PreviewReport } from '../markdown';
import { annotationsJson, switchJson } from '../output';
import { PostPromotionResult, preparePostPromotion, runPostPromotion } from '../postPromotion';
import { prog } from '../prog';
import { keepWarmThenScaleDown, scaleDownAt, ScaleDownOutcome, takeOverWindow } from '../scaleDown';
import { EXIT, ReleaseError, Session } from '../session';
import {
  adoptLiveSwitch,
  recordSwitch,
  releaseFields,
  scaleIdleDown,
  scaleIdleUp,
  SwitchResult,
  switchTraffic,
  unconvergedSwitch,
  UnrecordedSwitch,
  unrecordedSwitch,
} from '../traffic';
import { confirmProduction, newReleaseId, ReleaseOptions } from './options';
import { sessionPreview } from './preview';

export interface PromoteResult {
  gates: GateResult[];
  switched?: SwitchResult;
  rolledBack?: SwitchResult;
  postPromotion?: PostPromotionResult;
  /** The slot that lost traffic: kept warm for the scale-down delay, then scaled down (or taken over). */
  scaleDown?: ScaleDownOutcome;
  /** What the promote's traffic moves posted to Grafana and Slack (the promote, then a flip-back). */
  annotations?: AnnotationOutcome[];
}

/**
 * Promotes the idle slot: gates, (scale-up), switch, post-promotion check with automatic flip-back,
 * (scale-down).
 */
export async function promote(stackName: string, opts: ReleaseOptions): Promise<PromoteResult> {
  const s = await Session.open(stackName, 'promote', opts);
  const from = s.activeSlot;
  const to = s.idleSlot;
  const releaseId = s.release.slots[to].releaseId ?? newReleaseId();
  s.log.set({ releaseId, slot: to, ...releaseFields(s) });
  // Only the release that deploy put on the idle slot may be promoted while the lock is held.
  const held = await readReleaseLock(s.kube, s.app);
  // A release that stopped while it kept the old slot warm: finish the window (its switch is recorded).
  if (held?.scaleDown !== undefined) {
    return finishScaleDown(s, held, opts);
  }
  // A release whose switch happened but was not recorded (or whose end was not reached) is finished, not redone.
  if (held !== undefined) {
    if (held.releaseId === releaseId) {
      await adoptLiveSwitch(s);
    }
    const pending = unrecordedSwitch(s);
    if (pending !== undefined || held.releaseId === s.release.slots[s.activeSlot].releaseId) {
      return finishSwitched(s, held.releaseId, pending, opts);
    }
  }
  if (held !== undefined && held.releaseId !== releaseId) {
    const message = releaseLockMessage(stackName, held, prog(), `promote of ${releaseId}`);
    s.log.write('lock', 'failed', { detail: message });
    throw new ReleaseError(message, EXIT.locked);
  }
  const p = s.release.postPromotion;
  await confirmProduction(s, opts, 'promote', [
    `traffic: ${from} (${s.version(from)}, ${s.image(from)}) -> ${to} (${s.version(to)}, ${s.image(to)})`,
    `gates first: ${gateOrder(s.release).join(', ')}`,
    `then a ${p.windowSeconds}s post-promotion check (max error ratio ${p.maxErrorRatio}, max p95 ${p.maxP95Seconds}s), flipping back on a breach`,
  ]);
  if (held === undefined) {
    const lock = await takeReleaseLock(s.kube, s.app, {
      releaseId,
      holder: releaseHolder(),
      command: 'promote',
      since: new Date().toISOString(),
    });
    if (lock.held) {
      throw new ReleaseError(
        releaseLockMessage(stackName, lock.held, prog(), `promote of ${releaseId}`),
        EXIT.locked,
      );
    }
  }
  s.log.write('promote', 'started', { detail: `${from} -> ${to} (${s.version(from)} -> ${s.version(to)})` });

  const restoreIdle = await scaleIdleUp(s);
  const gates = await runGates(s, to, releaseId);
  const failed = gates.find((g) => !g.ok);
  if (failed) {
    await scaleIdleDown(s, restoreIdle);
    s.log.write('promote', 'failed', { detail: `gate ${failed.gate} failed: ${failed.detail}` });
    // The release stays open (its lock held): fix the cause and promote again, or abort it.
    throw new ReleaseError(
      `gate ${failed.gate} failed, traffic stays on ${from}: ${failed.detail}; fix it and re-run \`${prog()} promote ${stackName}\`, or end the release with \`${prog()} abort ${stackName}\``,
      EXIT.gate,
      { gate: failed.gate, logs: failed.logs },
    );
  }
  const prometheus = await preparePostPromotion(s, opts.prometheusUrl);
  const open = `the release stays open (its lock held): re-run \`${prog()} promote ${stackName}\` to record it and end the release (it skips the gates and the switch and changes no traffic), or end it with \`${prog()} abort ${stackName}\``;
  const switched = await switchTraffic(s, to, `promote ${releaseId}`, open);
  const annotations = await annotateRelease(s, { kind: 'promote', from, to, releaseId });
  const check = await runPostPromotion(s, to, prometheus);
  const result: PromoteResult = { gates, switched, postPromotion: check, annotations };
  if (check.action === 'rollback') {
    s.log.write('post-promotion', 'failed', { detail: check.detail });
    s.out(`post-promotion check failed: ${check.detail}; flipping back to ${from}`);
    result.rolledBack = await switchTraffic(s, from, `automatic rollback: ${check.detail}`, open);
    annotations.push(
      ...(await annotateRelease(s, {
        kind: 'flip-back',
        from: to,
        to: from,
        releaseId,
        detail: check.detail,
      })),
    );
    // The slot that failed keeps its pods for the delay too (requests kube-proxy still sends it), but no
    // rollback may take that window over: it would send traffic back to the slot that just failed.
    result.scaleDown = await keepWarmThenScaleDown(s, {
      from: to,
      restore: restoreIdle,
      after: scaleDownAt(result.rolledBack.switchedAt, s.release.scaleDownDelaySeconds),
      releaseId,
      command: 'promote',
      rollback: false,
    });
    await freeReleaseLock(s.kube, s.app, releaseId);
    s.log.write('promote', 'rolled-back', { detail: check.detail });
    await commitStackFile(
      s,
      opts.commit,
      `release ${stackName}: ${releaseId} rolled back automatically (${check.detail})`,
    );
    throw Object.assign(
      new ReleaseError(`release ${releaseId} rolled back to ${from}: ${check.detail}`, EXIT.rolledBack),
      { result },
    );
  }
  s.log.write('post-promotion', check.unverified ? 'warning' : 'succeeded', { detail: check.detail });
  s.out(check.detail);
  result.scaleDown = await keepWarmThenScaleDown(s, {
    from,
    restore: restoreIdle,
    after: scaleDownAt(switched.switchedAt, s.release.scaleDownDelaySeconds),
    releaseId,
    command: 'promote',
    rollback: true,
  });
  if (result.scaleDown.action === 'taken-over') {
    // A rollback took the release over inside the delay: it owns the lock and the stack file now.
    s.log.write('promote', 'succeeded', {
      detail: `${to} was active with ${s.version(to)}; ${result.scaleDown.detail}`,
    });
    return result;
  }
  await freeReleaseLock(s.kube, s.app, releaseId);
  s.log.write('promote', 'succeeded', { detail: `${to} active with ${s.version(to)}` });
  await commitStackFile(
    s,
    opts.commit,
    `release ${stackName}: promote ${s.version(to)} on ${to} (${releaseId})`,
  );
  return result;
}

/**
 * The end of a release whose traffic already moved: a promote switched the selectors but its recording update
 * failed (or it stopped before freeing the lock). No gate and no switch again: the switch is recorded (a
 * targeted update of the two Services, no traffic change), the release lock freed, the stack file committed. No
 * production confirmation: nothing the operator has not already confirmed changes. The post-promotion check is
 * not repeated.
 */
async function finishSwitched(
  s: Session,
  releaseId: string,
  pending: UnrecordedSwitch | undefined,
  opts: ReleaseOptions,
): Promise<PromoteResult> {
  const slot = s.activeSlot;
  s.log.set({ releaseId, slot, ...releaseFields(s) });
  s.log.write('promote', 'started', {
    detail: `finishing release ${releaseId}: traffic is already on ${slot}, gates and switch skipped`,
  });
  // A switch half made by a kill and then refreshed into the state (`recover`) looks recorded: the live
  // Services say it is not, and the recording update puts both on the stack file's slots.
  const todo = pending ?? (await unconvergedSwitch(s));
  const switched = todo ? await recordSwitch(s, todo, `promote ${releaseId}, finished`) : undefined;
  await freeReleaseLock(s.kube, s.app, releaseId);
  s.log.write('promote', 'succeeded', {
    detail: `${slot} active with ${s.version(slot)} (${todo ? 'recorded now' : 'already recorded'}; release lock freed)`,
  });
  s.out(
    `release ${releaseId} finished: ${slot} active with ${s.version(slot)} (${todo ? 'switch recorded' : 'switch was already recorded'}; release lock freed; the post-promotion check was not repeated)`,
  );
  await commitStackFile(
    s,
    opts.commit,
    `release ${s.name}: promote ${s.version(slot)} on ${slot} (${releaseId})`,
  );
  return { gates: [], switched };
}

/**
 * A promote re-run while a release lock keeps a slot warm whose command stopped (killed, or a CI job cancelled
 * during the delay): the switch is recorded, only the window is left. Takes the lock over, waits what is left of
 * the delay (an instant rollback may still take it), scales the slot down, frees the lock.
 */
async function finishScaleDown(
  s: Session,
  held: ReleaseLockInfo,
  opts: ReleaseOptions,
): Promise<PromoteResult> {
  const window = held.scaleDown;
  if (window === undefined || window.slot !== s.idleSlot) {
    throw new ReleaseError(
      `the release lock keeps slot ${window?.slot ?? '?'} warm but traffic is on ${s.activeSlot} and the stack file says ${s.idleSlot} is idle: run \`${prog()} status ${s.name}\``,
      EXIT.failed,
    );
  }
  const taken = await takeOverWindow(s, held, 'promote (finishing the scale-down delay)');
  if (taken === undefined) {
    const now = await readReleaseLock(s.kube, s.app);
    throw new ReleaseError(
      now
        ? releaseLockMessage(s.name, now, prog(), 'promote')
        : `the release lock of ${held.releaseId} was freed meanwhile: nothing to finish`,
      now ? EXIT.locked : EXIT.usage,
    );
  }
  s.log.set({ releaseId: held.releaseId, slot: s.activeSlot, ...releaseFields(s) });
  s.log.write('promote', 'started', {
    detail: `finishing release ${held.releaseId}: ${window.slot} is kept warm until ${window.after}, then scaled down`,
  });
  const scaleDown = await keepWarmThenScaleDown(s, {
    from: window.slot,
    restore: window.idleReplicas ?? '',
    after: Date.parse(window.after),
    releaseId: held.releaseId,
    command: 'promote',
    rollback: window.rollback,
  });
  if (scaleDown.action !== 'taken-over') {
    await freeReleaseLock(s.kube, s.app, held.releaseId);
    s.log.write('promote', 'succeeded', { detail: `${scaleDown.detail}; release lock freed` });
    await commitStackFile(
      s,
      opts.commit,
      `release ${s.name}: ${window.slot} scaled down after the scale-down delay (${held.releaseId})`,
    );
  }
  return { gates: [], scaleDown };
}

/** A promote's result as plain data (`--json`). */
export function promoteJson(r: PromoteResult): Record<string, unknown> {
  return {
    gates: r.gates.map((g) => ({ gate: g.gate, ok: g.ok, skipped: g.skipped ?? false, detail: g.detail })),
    switched: r.switched ? switchJson(r.switched) : null,
    postPromotion: r.postPromotion ?? null,
    rolledBack: r.rolledBack ? switchJson(r.rolledBack) : null,
    annotations: annotationsJson(r.annotations),
  };
}

/** What `promote` would change, without changing anything: the Markdown preview of the switch. */
export async function previewPromote(stackName: string, opts: ReleaseOptions): Promise<string> {
  return (await previewPromoteReport(stackName, opts)).markdown;
}

/** The preview of the switch, as a report and as Markdown. */
export async function previewPromoteReport(
  stackName: string,
  opts: ReleaseOptions,
): Promise<{ report: PreviewReport; markdown: string }> {
  const s = await Session.open(stackName, 'preview', opts);
  const from = s.activeSlot;
  const to = s.idleSlot;
  const saved = fs.readFileSync(s.stackFile);
  try {
    await s.setConfig({ activeSlot: to });
    return await sessionPreview(s, opts, `${stackName} (promote ${from} -> ${to})`);
  } finally {
    fs.writeFileSync(s.stackFile, saved);
  }
}
