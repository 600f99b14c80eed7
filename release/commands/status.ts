/** `release status`: the live slots, their readiness, and drift between the cluster, the state and the stack file. */
import { RELEASE_ID_ANNOTATION, RELEASED_AT_ANNOTATION } from '../../components/shared/release';
import { DEFAULT_SLOT, isSlot, perSlot, Slot, SLOT_LABEL, SLOTS } from '../../components/shared/slots';
import { readCommittedConfig } from '../git';
import { parseHistory, ReleaseVersion } from '../history';
import { DeploymentObject } from '../kube';
import { readReleaseLock, ReleaseLockInfo } from '../lock';
import { Session } from '../session';
import { ReleaseOptions } from './options';

export interface SlotStatus {
  slot: Slot;
  image?: string;
  version?: string;
  replicas: number;
  ready: number;
  releaseId?: string;
  releasedAt?: string;
}

export interface StatusReport {
  activeSlot?: Slot;
  activeEndpoints: string[];
  slots: SlotStatus[];
  drift: string[];
  /** The release in progress (deploy done, not yet promoted or aborted), if any. */
  lock: Omit<ReleaseLockInfo, 'previous'> | null;
}

/** Compares the live cluster, the last update and the committed stack file. */
export function compareSources(
  live: { activeSlot?: Slot; images: Partial<Record<Slot, string>> },
  lastUpdate: ReleaseVersion | undefined,
  file: { activeSlot?: string; images: Partial<Record<Slot, string>> } | undefined,
  fileLabel = 'the committed stack file',
): string[] {
  const drift: string[] = [];
  const check = (what: string, liveValue: string | undefined, other: string | undefined, source: string) => {
    if (other !== undefined && liveValue !== other) {
      drift.push(`${what}: live ${liveValue ?? '(none)'}, ${source} ${other}`);
    }
  };
  if (lastUpdate) {
    check('active slot', live.activeSlot, lastUpdate.activeSlot, `last update (v${lastUpdate.version})`);
    for (const slot of SLOTS) {
      check(
        `${slot} image`,
        live.images[slot],
        lastUpdate.images[slot],
        `last update (v${lastUpdate.version})`,
      );
    }
  }
  if (file) {
    check('active slot', live.activeSlot, file.activeSlot ?? DEFAULT_SLOT, fileLabel);
    for (const slot of SLOTS) {
      check(`${slot} image`, live.images[slot], file.images[slot], fileLabel);
    }
  }
  return drift;
}

export async function status(stackName: string, opts: ReleaseOptions): Promise<StatusReport> {
  const s = await Session.open(stackName, 'status', opts);
  const selector = await s.kube.serviceSelector(s.activeService);
  const selected = selector?.[SLOT_LABEL];
  const liveActive: Slot | undefined = isSlot(selected) ? selected : undefined;
  const activeEndpoints = await s.kube.endpointPods(s.activeService);
  const slots: SlotStatus[] = [];
  for (const slot of SLOTS) {
    const d = await s.kube.get<DeploymentObject>('deployment', s.objects.deployments[slot]);
    slots.push({
      slot,
      image: d?.spec?.template?.spec?.containers?.[0]?.image,
      version: d?.metadata.labels?.version,
      replicas: d?.spec?.replicas ?? 0,
      ready: d?.status?.readyReplicas ?? 0,
      releaseId: d?.metadata.annotations?.[RELEASE_ID_ANNOTATION],
      releasedAt: d?.metadata.annotations?.[RELEASED_AT_ANNOTATION],
    });
  }
  const held = await readReleaseLock(s.kube, s.app);
  const lock = held
    ? { releaseId: held.releaseId, holder: held.holder, command: held.command, since: held.since }
    : null;
  const entries = await s.history();
  const lastUpdate = parseHistory(entries).find((v) => v.kind === 'update' && v.result === 'succeeded');
  const committed = await readCommittedConfig(opts.workDir, stackName);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const file = committed
    ? {
        activeSlot: str(committed['pavemaster:activeSlot']),
        images: perSlot((slot) => str(committed[`pavemaster:${slot}Image`])),
      }
    : undefined;
  const live = {
    activeSlot: liveActive,
    images: Object.fromEntries(slots.map((x) => [x.slot, x.image])) as Partial<Record<Slot, string>>,
  };
  const drift = compareSources(live, lastUpdate, file);
  const committedSlot = file?.activeSlot ?? DEFAULT_SLOT;
  if (file !== undefined && committedSlot !== s.activeSlot) {
    drift.push(`active slot: working copy ${s.activeSlot}, committed ${committedSlot} (uncommitted change)`);
  }
  s.out(`stack ${stackName}, namespace ${s.settings.namespace}`);
  s.out(
    `active: ${liveActive ?? '(no slot selected)'}; ${s.activeService} sends traffic to ${activeEndpoints.length ? activeEndpoints.join(', ') : 'no pod'}`,
  );
  for (const x of slots) {
    s.out(
      `  ${x.slot.padEnd(5)} ${x.slot === liveActive ? 'active' : 'idle  '} version ${x.version ?? '?'} image ${x.image ?? '?'} ready ${x.ready}/${x.replicas}` +
        (x.releaseId ? ` release ${x.releaseId} at ${x.releasedAt ?? '?'}` : ''),
    );
  }
  s.out(
    held?.scaleDown
      ? `release in progress: ${held.releaseId} by ${held.holder} (${held.command} since ${held.since}): ${held.scaleDown.slot} keeps its replicas until ${held.scaleDown.after} (the scale-down delay), then it is scaled down; deploy waits for it${held.scaleDown.rollback ? `, an instant rollback to ${held.scaleDown.slot} does not` : ''}`
      : lock
        ? `release in progress: ${lock.releaseId} by ${lock.holder} (${lock.command} since ${lock.since}); deploy, rollback and other promotes wait for it`
        : 'release lock: free',
  );
  s.out(
    drift.length === 0
      ? 'drift: none (live cluster = last update = committed file)'
      : `drift:\n  ${drift.join('\n  ')}`,
  );
  return { activeSlot: liveActive, activeEndpoints, slots, drift, lock };
}
