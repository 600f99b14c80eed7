/**
 * Moving traffic between the slots, shared by promote and rollback: waiting for a slot to be Ready behind a
 * Service, the switch itself (the two Services' selectors applied directly, then recorded by a targeted update),
 * and scaling a smaller idle slot up before a switch and back down after.
 */
import * as fs from 'fs';
import { parseDocument } from 'yaml';
import { otherSlot, Slot } from '../components/shared/slots';
import { loadSettings, NAMESPACE } from '../stacks/settings';
import { EngineEventLike } from './events';
import { critical } from './interrupt';
import { poll } from './kube';
import {
  applyService,
  FileBackend,
  fileBackend,
  selectsSlot,
  ServiceState,
  servicesInState,
  withSelector,
} from './selectors';
import { EXIT, ReleaseError, Session, UpResult } from './session';

/** What the release log records about the stack's slots. */
export function releaseFields(s: Session): Record<string, unknown> {
  return { activeSlot: s.activeSlot, versions: s.versions(), images: s.images() };
}

/** Waits until a slot is Ready behind a Service (Deployment rolled out, EndpointSlices list exactly its pods). */
export async function waitReady(s: Session, slot: Slot, service: string, timeoutSeconds?: number) {
  const timeoutMs = (timeoutSeconds ?? s.release.readyTimeoutSeconds) * 1000;
  let last = {
    ready: false,
    reasons: ['not checked yet'],
    readyPods: [] as string[],
    endpointPods: [] as string[],
  };
  // Watched: the slot's Deployment, pods and EndpointSlices; a slot already ready costs one check.
  return s.kube.waitFor(
    async () => {
      last = await s.kube.slotReadiness(s.slotObjects(slot), service, s.version(slot));
      return last.ready ? last : undefined;
    },
    s.kube.slotWatches(s.slotObjects(slot), service),
    {
      timeoutMs,
      what: `slot ${slot} to be Ready behind Service ${service}`,
      last: () => Promise.resolve(last.reasons.join('; ')),
    },
  );
}

/** What a switch did and how long the EndpointSlices took to follow. */
export interface SwitchResult {
  from: Slot;
  to: Slot;
  /** The update that recorded the switch (`pulumi up --target` the two Services), or the switch's own update. */
  up: UpResult;
  /** From the start of the switch until the active Service's EndpointSlices list only the new slot's pods. */
  switchMs: number;
  /** When the EndpointSlices switched (epoch ms). */
  switchedAt: number;
  endpointPods: string[];
}

/** Waits until the active Service's EndpointSlices list exactly the slot's ready pods. */
export async function waitActiveEndpoints(s: Session, slot: Slot, timeoutMs: number): Promise<string[]> {
  let last = '';
  return poll(
    async () => {
      const r = await s.kube.slotReadiness(s.slotObjects(slot), s.activeService, s.version(slot));
      last = r.reasons.join('; ');
      return r.ready ? r.endpointPods : undefined;
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `Service ${s.activeService} to send traffic only to ${slot}`,
      last: () => Promise.resolve(last),
    },
  );
}

/** What a direct switch needs: the two Services' state and the backend to lock; or why `pulumi up` switches. */
function switchPlan(
  s: Session,
  from: Slot,
): { active: ServiceState; preview: ServiceState; backend: FileBackend } | string {
  const backend = fileBackend(
    s.opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL,
    s.opts.workDir,
  );
  const deployment = backend?.state(s.name);
  if (backend === undefined || deployment === undefined) {
    return 'not a file backend of layout version 1';
  }
  const found = servicesInState(deployment, s.settings.namespace, {
    active: s.activeService,
    preview: s.previewService,
  });
  if (typeof found === 'string') {
    return found;
  }
  // The state must say what the stack file says (the last update applied this active slot), or the direct
  // switch would record a change Pulumi has not seen: then `pulumi up` does the whole switch.
  if (!selectsSlot(found.active.inputs.spec?.selector, s.app, from)) {
    return `the state's ${s.activeService} selector is not slot ${from}'s`;
  }
  if (!selectsSlot(found.preview.inputs.spec?.selector, s.app, otherSlot(from))) {
    return `the state's ${s.previewService} selector is not slot ${otherSlot(from)}'s`;
  }
  return { ...found, backend };
}

/** Writes `pavemaster:activeSlot` into the stack file (nothing else of it changes) and into the settings. */
function writeActiveSlot(s: Session, slot: Slot): void {
  const doc = parseDocument(fs.readFileSync(s.stackFile, 'utf8'));
  doc.setIn(['config', `${NAMESPACE}:activeSlot`], slot);
  fs.writeFileSync(s.stackFile, doc.toString());
  s.raw = { ...s.raw, activeSlot: slot };
  s.settings = loadSettings(s.name, s.raw);
}

/** The line of a failed CLI call that says why (its `error:` line), not the exit code the message starts with. */
function firstError(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const lines = text.split('\n').map((l) => l.trim());
  const line = lines.find((l) => /^error:/.test(l)) ?? lines.find((l) => l.includes('error:'));
  return (line ?? lines.find((l) => l !== '') ?? text).replace(/^.*?error:\s*/, '');
}

/** A targeted `pulumi up`'s non-`same` steps, like `Session.up` reports them. */
function upResult(events: EngineEventLike[], durationMs: number): UpResult {
  const changes: Record<string, number> = {};
  const touched: string[] = [];
  for (const e of events) {
    const m = e.resourcePreEvent?.metadata;
    if (!m || m.op === 'same' || m.type === 'pulumi:pulumi:Stack' || m.type.startsWith('pulumi:providers:')) {
      continue;
    }
    changes[m.op] = (changes[m.op] ?? 0) + 1;
    touched.push(m.urn);
  }
  return { changes, touched, durationMs, events };
}

/**
 * Moves traffic to `to`. Refuses when `to` is not Ready (never traffic on an unready slot).
 *
 * The switch itself is two server-side applies of the Services' selectors under the Pulumi Kubernetes provider's
 * own field manager, the active Service first (the moment traffic moves), then the preview one; then it is
 * recorded: `pavemaster:activeSlot` in the stack file and `pulumi up --target` the two Services, so the state
 * and `pulumi stack history` have the switch and the next `pulumi preview` shows no change. Pulumi stays the
 * source of truth; the update is just no longer between the operator and the traffic.
 *
 * - A selector patch the API server refuses: the Services are put back as they were, nothing is written, traffic
 *   stays on `from` (exit 1).
 * - A recording update that fails: traffic is on `to` and the stack file says so; the error says so and names the
 *   fix (exit 1): the caller's `finish` sentence (promote: re-run promote, which only records, or abort), else
 *   `pulumi up`, which converges with no traffic change (it applies the selectors the cluster has).
 *
 * When the state does not look as the stack file says (a stack without those Services, a provider not in
 * server-side apply mode), the whole switch goes through `pulumi up` as before.
 */
export async function switchTraffic(
  s: Session,
  to: Slot,
  why: string,
  finish?: string,
): Promise<SwitchResult> {
  const from = s.activeSlot;
  if (from === to) {
    throw new ReleaseError(`traffic is already on ${to}`, EXIT.usage);
  }
  const plan = switchPlan(s, from);
  const readiness = await s.kube.slotReadiness(s.slotObjects(to), s.previewService, s.version(to));
  if (!readiness.ready) {
    throw new ReleaseError(
      `slot ${to} is not Ready, traffic stays on ${from}: ${readiness.reasons.join('; ')}`,
      EXIT.gate,
      { gate: 'ready' },
    );
  }
  if (typeof plan === 'string') {
    s.log.write('switch', 'started', { detail: `${from} -> ${to}: ${why} (through pulumi up: ${plan})` });
    return switchByUp(s, from, to, why);
  }
  const started = Date.now();
  s.log.write('switch', 'started', { detail: `${from} -> ${to}: ${why}` });
  const message = `release: traffic ${from} -> ${to} (${why})`;
  const applied: ServiceState[] = [];
  // One critical section (release/interrupt.ts): a SIGTERM meanwhile waits until both selectors and the stack
  // file say the same slot, so an interrupted switch is always finished by re-running it, never half made.
  await critical(async () => {
    // Pulumi's stack lock, held while the selectors change: no update of the stack runs beside the switch.
    let unlock: () => void;
    try {
      unlock = plan.backend.lock(s.name);
    } catch (e) {
      s.log.write('lock', 'failed', { detail: e instanceof Error ? e.message : String(e) });
      throw e;
    }
    try {
      await applyService(s, plan.active, withSelector(plan.active.inputs, s.app, to));
      applied.push(plan.active);
      await applyService(s, plan.preview, withSelector(plan.preview.inputs, s.app, from));
      applied.push(plan.preview);
      // The stack file says where traffic is as soon as it is there (the recording update follows).
      writeActiveSlot(s, to);
    } catch (e) {
      const refused = firstError(e);
      const restored: string[] = [];
      const notRestored: string[] = [];
      for (const svc of applied) {
        try {
          await applyService(s, svc, svc.inputs);
          restored.push(svc.inputs.metadata?.name ?? svc.urn);
        } catch (again) {
          notRestored.push(
            `${svc.inputs.metadata?.name ?? svc.urn} (${again instanceof Error ? again.message : String(again)})`,
          );
        }
      }
      const detail =
        notRestored.length > 0
          ? `putting ${notRestored.join(', ')} back failed too: run \`pulumi up --stack ${s.name}\` to apply what the stack file says (${from} active)`
          : restored.length > 0
            ? `${restored.join(', ')} put back on the previous selector; nothing was written, traffic stays on ${from}`
            : `nothing changed, nothing was written; traffic stays on ${from}`;
      s.log.write('switch', 'failed', { detail: `selector patch refused: ${refused}; ${detail}` });
      throw new ReleaseError(
        `the API server refused the switch ${from} -> ${to} (${refused}); ${detail}`,
        EXIT.failed,
      );
    } finally {
      unlock();
    }
  });
  const { endpointPods, switchedAt, switchMs } = await confirmSwitch(s, from, to, started);

  // Record the switch: an update of the two Services only (their state takes the selectors).
  let up: UpResult;
  try {
    up = await recordUp(s, plan, message);
  } catch (e) {
    const fix =
      finish ??
      `run \`pulumi up --stack ${s.name}\` to record it (it changes no traffic), then \`pulumi preview --stack ${s.name} --expect-no-changes\``;
    const text = `traffic is on ${to} (switched at the API server), but recording the switch in the stack failed: ${firstError(e).trim()}. The stack file says ${to} is active; ${fix}`;
    s.log.write('record', 'failed', { detail: text });
    throw new ReleaseError(text, EXIT.failed);
  }
  return { from, to, up, switchMs, switchedAt, endpointPods };
}

/** The recording update: `pulumi up --target` the two Services, logged as the `record` step. */
async function recordUp(
  s: Session,
  services: { active: ServiceState; preview: ServiceState },
  message: string,
): Promise<UpResult> {
  s.log.write('record', 'started', { detail: `pulumi up --target the two Services (${message})` });
  const events: EngineEventLike[] = [];
  const started = Date.now();
  const stack = await s.pulumiStack();
  await s.locked(() =>
    stack.up({
      message,
      target: [services.active.urn, services.preview.urn],
      onEvent: (e) => events.push(e),
      onOutput: s.opts.engineOutput,
    }),
  );
  const up = upResult(events, Date.now() - started);
  s.log.write('record', 'succeeded', {
    durationMs: up.durationMs,
    changes: up.changes,
    touched: up.touched.length,
    ...releaseFields(s),
  });
  return up;
}

/** A switch the stack file has (and the cluster, see `recordSwitch`) but the state not: its recording failed. */
export interface UnrecordedSwitch {
  from: Slot;
  to: Slot;
  active: ServiceState;
  preview: ServiceState;
}

/**
 * The switch's two Services as the state holds them (a file backend's checkpoint), a sentence when the state does
 * not have them, `undefined` when the state is not readable here (other backends).
 */
function switchServicesInState(s: Session): ReturnType<typeof servicesInState> | undefined {
  const backend = fileBackend(
    s.opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL,
    s.opts.workDir,
  );
  const deployment = backend?.state(s.name);
  if (deployment === undefined) {
    return undefined;
  }
  return servicesInState(deployment, s.settings.namespace, {
    active: s.activeService,
    preview: s.previewService,
  });
}

/**
 * The switch a failed recording update left behind: the stack file says `to` is active, the state's two Services
 * still select the other way round. `undefined` when the state agrees with the stack file (or is not readable
 * here: other backends record through `pulumi up`, whose failure the session reverts).
 */
export function unrecordedSwitch(s: Session): UnrecordedSwitch | undefined {
  const found = switchServicesInState(s);
  const to = s.activeSlot;
  const from = otherSlot(to);
  if (
    found === undefined ||
    typeof found === 'string' ||
    !selectsSlot(found.active.inputs.spec?.selector, s.app, from) ||
    !selectsSlot(found.preview.inputs.spec?.selector, s.app, to)
  ) {
    return undefined;
  }
  return { from, to, ...found };
}

/**
 * A switch the API server has but the stack file not: the command was killed (SIGKILL: no code of it runs)
 * between moving the active Service's selector and writing the stack file, both inside the switch's critical
 * section. When the live active Service selects the idle slot while the stack file says the other (whatever the
 * state says), the stack file is made to say where traffic is, so that {@link unrecordedSwitch} finds the switch and the
 * re-run records it instead of gating a slot the preview Service no longer selects. Returns whether it did.
 */
export async function adoptLiveSwitch(s: Session): Promise<boolean> {
  // The live active Service decides, not the state: after a `recover` (refresh) the state has the live selectors
  // and, read against the stack file, can look like an unrecorded switch the other way round (measured on the
  // real node: a kill after both selector applies, then recover, then the re-run refused the "switch" to the old
  // slot because the active Service selected the new one).
  const idle = s.idleSlot;
  const live = await s.kube.get<{ spec?: { selector?: Record<string, string> } }>('service', s.activeService);
  if (!selectsSlot(live?.spec?.selector, s.app, idle)) {
    return false;
  }
  s.log.write('record', 'info', {
    detail: `Service ${s.activeService} already selects ${idle} (a switch interrupted before the stack file said so): writing pavemaster:activeSlot ${idle}`,
  });
  writeActiveSlot(s, idle);
  return true;
}

/**
 * The two Services as the stack file wants them, when the live ones select otherwise although neither the state
 * nor the stack file shows an unrecorded switch: a kill between the switch's two selector applies leaves both
 * Services selecting the new slot (the active one moved, the preview one not yet), and a `recover` before the
 * re-run refreshes exactly that into the state (measured on the real node: the re-run then found the switch
 * "already recorded" and ended with the preview Service on the active slot). Returns the switch to record (the
 * Services from the state, so the recording update applies the program's selectors to both), or `undefined` when
 * the live Services select as the stack file says (or the state is not readable here).
 */
export async function unconvergedSwitch(s: Session): Promise<UnrecordedSwitch | undefined> {
  const [active, preview] = await Promise.all([
    s.kube.serviceSelector(s.activeService),
    s.kube.serviceSelector(s.previewService),
  ]);
  if (selectsSlot(active, s.app, s.activeSlot) && selectsSlot(preview, s.app, s.idleSlot)) {
    return undefined;
  }
  const found = switchServicesInState(s);
  if (found === undefined || typeof found === 'string') {
    return undefined;
  }
  s.log.write('record', 'info', {
    detail: `Service ${s.activeService} selects ${JSON.stringify(active ?? null)} and ${s.previewService} ${JSON.stringify(preview ?? null)}, the stack file says ${s.activeSlot} is active: recording the switch again so both select as it says`,
  });
  return { from: s.idleSlot, to: s.activeSlot, ...found };
}

/**
 * Records a switch that happened but was not recorded: checks that the active Service really sends traffic to
 * the stack file's slot (the cluster agrees with the file), then runs the recording update (`pulumi up --target`
 * the two Services), which changes no traffic. Refuses, touching nothing, when the cluster selects another slot.
 */
export async function recordSwitch(
  s: Session,
  pending: UnrecordedSwitch,
  why: string,
): Promise<SwitchResult> {
  const { from, to } = pending;
  const live = await s.kube.get<{ spec?: { selector?: Record<string, string> } }>('service', s.activeService);
  if (!selectsSlot(live?.spec?.selector, s.app, to)) {
    const text = `the stack file says ${to} is active, the state says ${from}, and Service ${s.activeService} selects ${JSON.stringify(live?.spec?.selector ?? null)}: nothing was changed; run \`pulumi up --stack ${s.name}\` to apply what the stack file says (${to} active)`;
    s.log.write('record', 'failed', { detail: text });
    throw new ReleaseError(text, EXIT.failed);
  }
  const endpointPods = await waitActiveEndpoints(s, to, s.release.readyTimeoutSeconds * 1000);
  s.out(`traffic is already on ${to} (switched earlier, not recorded): recording it`);
  const up = await recordUp(s, pending, `release: traffic ${from} -> ${to} (${why})`);
  return { from, to, up, switchMs: 0, switchedAt: Date.now(), endpointPods };
}

/** The slot a release lock's deploy changed (from the keys it kept for abort), if a deploy took it. */
function deployedSlot(previous: Record<string, unknown> | undefined): Slot | undefined {
  for (const key of Object.keys(previous ?? {})) {
    const m = /^(blue|green)Image$/.exec(key);
    if (m) {
      return m[1] as Slot;
    }
  }
  return undefined;
}

/**
 * Before an abort: a switch its promote did not record is recorded first (state, stack file and cluster agree
 * again), and when the deployed slot carries traffic (the promote switched), traffic goes back to the other slot
 * (readiness-checked, recorded) so the abort can put the deployed slot back on its previous release without
 * touching a slot that serves traffic.
 */
export async function settleForAbort(
  s: Session,
  held: { releaseId: string; previous?: Record<string, unknown> },
): Promise<void> {
  const pending = unrecordedSwitch(s);
  if (pending !== undefined) {
    await recordSwitch(s, pending, `abort ${held.releaseId}: recording the unrecorded switch first`);
  }
  const slot = deployedSlot(held.previous);
  if (slot !== undefined && slot === s.activeSlot) {
    await switchTraffic(s, otherSlot(slot), `abort ${held.releaseId}`);
  }
}

/**
 * The end of either switch (direct or through `pulumi up`), once the selectors say `to` (and `s` says so too):
 * waits until the active Service lists exactly `to`'s pods, then logs the switch (with the path's own `fields`)
 * and says it. The switch time runs from `started` to that moment.
 */
async function confirmSwitch(
  s: Session,
  from: Slot,
  to: Slot,
  started: number,
  fields: Record<string, unknown> = {},
): Promise<{ endpointPods: string[]; switchedAt: number; switchMs: number }> {
  const endpointPods = await waitActiveEndpoints(s, to, s.release.readyTimeoutSeconds * 1000);
  const switchedAt = Date.now();
  const switchMs = switchedAt - started;
  s.log.write('switch', 'succeeded', {
    detail: `${from} -> ${to}; ${s.activeService} lists ${endpointPods.join(', ')}`,
    durationMs: switchMs,
    ...fields,
    ...releaseFields(s),
  });
  s.out(
    `traffic: ${from} -> ${to} (${endpointPods.length} pod(s) behind ${s.activeService}, ${switchMs} ms)`,
  );
  return { endpointPods, switchedAt, switchMs };
}

/** The switch as one `pulumi up` of `pavemaster:activeSlot` (only the two Services' selectors change). */
async function switchByUp(s: Session, from: Slot, to: Slot, why: string): Promise<SwitchResult> {
  const started = Date.now();
  await s.setConfig({ activeSlot: to });
  let up: UpResult;
  try {
    up = await s.up(`release: traffic ${from} -> ${to} (${why})`);
  } catch (e) {
    s.log.write('switch', 'failed', { detail: e instanceof Error ? e.message : String(e) });
    throw e;
  }
  const { endpointPods, switchedAt, switchMs } = await confirmSwitch(s, from, to, started, {
    changes: up.changes,
    touched: up.touched.length,
  });
  return { from, to, up, switchMs, switchedAt, endpointPods };
}

/**
 * When the idle slot runs fewer replicas than the active one (`idleReplicas` < `replicas`), scales it up first
 * (Argo Rollouts' previewReplicaCount) by raising `idleReplicas` for the switch; returns the value to restore.
 */
export async function scaleIdleUp(s: Session): Promise<string | undefined> {
  const { replicas, idleReplicas } = s.settings.app;
  if (idleReplicas >= replicas) {
    return undefined;
  }
  const previous = s.raw.idleReplicas;
  s.log.write('scale-up', 'started', { detail: `${s.idleSlot}: ${idleReplicas} -> ${replicas} replicas` });
  await s.setConfig({ idleReplicas: String(replicas) });
  await s.up(`release: scale ${s.idleSlot} up to ${replicas} before the switch`);
  s.log.write('scale-up', 'succeeded');
  return previous ?? '';
}

export async function scaleIdleDown(s: Session, previous: string | undefined): Promise<void> {
  if (previous === undefined) {
    return;
  }
  if (previous === '') {
    await s.setConfig({}, ['idleReplicas']);
  } else {
    await s.setConfig({ idleReplicas: previous });
  }
  await s.up(`release: scale the idle slot ${s.idleSlot} back down`);
  s.log.write('scale-down', 'succeeded', {
    detail: `${s.idleSlot} at ${s.settings.app.idleReplicas} replicas`,
  });
}
