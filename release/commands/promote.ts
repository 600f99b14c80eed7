/**
 * `release promote`: the pre-promotion gates, a scale-up of a smaller idle slot, the switch, the post-promotion
 * check with an automatic flip-back on a breach, and the scale-down; `--preview` shows what the switch changes.
 */
import * as fs from 'fs';
import { GateResult } from '../gates';
import { runGates } from '../gateRunner';
import { commitStackFile } from '../git';
import { renderMarkdown, summarizePreview } from '../markdown';
import { PostPromotionResult, preparePostPromotion, runPostPromotion } from '../postPromotion';
import { EXIT, ReleaseError, Session } from '../session';
import { releaseFields, scaleIdleDown, scaleIdleUp, SwitchResult, switchTraffic } from '../traffic';
import { newReleaseId, ReleaseOptions } from './options';

export interface PromoteResult {
  gates: GateResult[];
  switched?: SwitchResult;
  rolledBack?: SwitchResult;
  postPromotion?: PostPromotionResult;
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
  s.log.write('promote', 'started', { detail: `${from} -> ${to} (${s.version(from)} -> ${s.version(to)})` });

  const restoreIdle = await scaleIdleUp(s);
  const gates = await runGates(s, to, releaseId);
  const failed = gates.find((g) => !g.ok);
  if (failed) {
    await scaleIdleDown(s, restoreIdle);
    s.log.write('promote', 'failed', { detail: `gate ${failed.gate} failed: ${failed.detail}` });
    throw new ReleaseError(
      `gate ${failed.gate} failed, traffic stays on ${from}: ${failed.detail}${failed.logs ? `\n--- logs ---\n${failed.logs}` : ''}`,
      EXIT.gate,
      { gate: failed.gate, logs: failed.logs },
    );
  }
  const prometheus = await preparePostPromotion(s, opts.prometheusUrl);
  const switched = await switchTraffic(s, to, `promote ${releaseId}`);
  const check = await runPostPromotion(s, to, prometheus);
  const result: PromoteResult = { gates, switched, postPromotion: check };
  if (check.action === 'rollback') {
    s.log.write('post-promotion', 'failed', { detail: check.detail });
    s.out(`post-promotion check failed: ${check.detail}; flipping back to ${from}`);
    result.rolledBack = await switchTraffic(s, from, `automatic rollback: ${check.detail}`);
    await scaleIdleDown(s, restoreIdle);
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
  await scaleIdleDown(s, restoreIdle);
  s.log.write('promote', 'succeeded', { detail: `${to} active with ${s.version(to)}` });
  await commitStackFile(
    s,
    opts.commit,
    `release ${stackName}: promote ${s.version(to)} on ${to} (${releaseId})`,
  );
  return result;
}

/** What `promote` would change, without changing anything: the Markdown preview of the switch. */
export async function previewPromote(stackName: string, opts: ReleaseOptions): Promise<string> {
  const s = await Session.open(stackName, 'preview', opts);
  const from = s.activeSlot;
  const to = s.idleSlot;
  const saved = fs.readFileSync(s.stackFile);
  try {
    await s.setConfig({ activeSlot: to });
    const events = await s.previewEvents();
    opts.onEvents?.(events);
    return renderMarkdown(summarizePreview(events), { stack: `${stackName} (promote ${from} -> ${to})` });
  } finally {
    fs.writeFileSync(s.stackFile, saved);
  }
}
