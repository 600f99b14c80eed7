/**
 * Moving traffic between the slots, shared by promote and rollback: waiting for a slot to be Ready behind a
 * Service, the switch itself (`pavemaster:activeSlot` and `pulumi up`: only the two Services' selectors change),
 * and scaling a smaller idle slot up before a switch and back down after.
 */
import { Slot } from '../components/shared/slots';
import { poll } from './kube';
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
  return poll(
    async () => {
      last = await s.kube.slotReadiness(s.slotObjects(slot), service, s.version(slot));
      return last.ready ? last : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      what: `slot ${slot} to be Ready behind Service ${service}`,
      last: () => Promise.resolve(last.reasons.join('; ')),
    },
  );
}

/** What a switch did and how long the EndpointSlices took to follow. */
export interface SwitchResult {
  from: Slot;
  to: Slot;
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

/**
 * Moves traffic to `to` by setting `pavemaster:activeSlot` and running `pulumi up`: only the two Services'
 * selectors change. Refuses when `to` is not Ready (never traffic on an unready slot).
 */
export async function switchTraffic(s: Session, to: Slot, why: string): Promise<SwitchResult> {
  const from = s.activeSlot;
  if (from === to) {
    throw new ReleaseError(`traffic is already on ${to}`, EXIT.usage);
  }
  const readiness = await s.kube.slotReadiness(s.slotObjects(to), s.previewService, s.version(to));
  if (!readiness.ready) {
    throw new ReleaseError(
      `slot ${to} is not Ready, traffic stays on ${from}: ${readiness.reasons.join('; ')}`,
      EXIT.gate,
      { gate: 'ready' },
    );
  }
  const started = Date.now();
  s.log.write('switch', 'started', { detail: `${from} -> ${to}: ${why}` });
  await s.setConfig({ activeSlot: to });
  let up: UpResult;
  try {
    up = await s.up(`release: traffic ${from} -> ${to} (${why})`);
  } catch (e) {
    s.log.write('switch', 'failed', { detail: e instanceof Error ? e.message : String(e) });
    throw e;
  }
  const endpointPods = await waitActiveEndpoints(s, to, s.release.readyTimeoutSeconds * 1000);
  const switchedAt = Date.now();
  const switchMs = switchedAt - started;
  s.log.write('switch', 'succeeded', {
    detail: `${from} -> ${to}; ${s.activeService} lists ${endpointPods.join(', ')}`,
    durationMs: switchMs,
    changes: up.changes,
    touched: up.touched.length,
    ...releaseFields(s),
  });
  s.out(
    `traffic: ${from} -> ${to} (${endpointPods.length} pod(s) behind ${s.activeService}, ${switchMs} ms)`,
  );
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
