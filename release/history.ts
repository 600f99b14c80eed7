/**
 * Reads `pulumi stack history --json --show-secrets` (every backend records each update's config, the local file
 * backend included) into release versions: which slot was active and what each slot ran. `rollback --to N`
 * restores the release keys of version N from its recorded config.
 */
import { imageVersion } from '../components/shared/image';
import { DEFAULT_SLOT, isSlot, Slot, SLOTS } from '../components/shared/slots';
import { withoutDeclaredDefaults } from '../stacks/schema';

/** A config value as history records it: `{ value, secret }` (Automation API) or plain text. */
export type RecordedConfigValue = { value: string; secret?: boolean } | string;

/** One entry of `pulumi stack history --json`, as far as the release command reads it. */
export interface HistoryEntryLike {
  version: number;
  kind: string;
  result: string;
  startTime: Date | string;
  endTime?: Date | string;
  message?: string;
  config?: Record<string, RecordedConfigValue>;
  resourceChanges?: Record<string, number>;
}

/** What one stack version deployed. */
export interface ReleaseVersion {
  version: number;
  kind: string;
  result: string;
  startTime: string;
  endTime?: string;
  activeSlot: Slot;
  images: Record<Slot, string | undefined>;
  versions: Record<Slot, string | undefined>;
  releaseIds: Record<Slot, string | undefined>;
  resourceChanges?: Record<string, number>;
}

/** The config keys that make up a release: what `rollback --to` restores. */
export const RELEASE_CONFIG_KEYS = [
  'activeSlot',
  'blueImage',
  'greenImage',
  'blueVersion',
  'greenVersion',
  'blueReleaseId',
  'blueReleasedAt',
  'greenReleaseId',
  'greenReleasedAt',
] as const;
export type ReleaseConfigKey = (typeof RELEASE_CONFIG_KEYS)[number];

const NS = 'pavemaster:';

function time(value: Date | string | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
}

/** The recorded value of a `pavemaster:*` key (`undefined` when the update's config lacked it). */
export function recordedValue(entry: HistoryEntryLike, key: string): string | undefined {
  const v = entry.config?.[`${NS}${key}`];
  if (v === undefined) {
    return undefined;
  }
  return typeof v === 'string' ? v : v.value;
}

/** One history entry as a release version. */
export function toReleaseVersion(entry: HistoryEntryLike): ReleaseVersion {
  const active = recordedValue(entry, 'activeSlot');
  const images = {} as Record<Slot, string | undefined>;
  const versions = {} as Record<Slot, string | undefined>;
  const releaseIds = {} as Record<Slot, string | undefined>;
  for (const slot of SLOTS) {
    const image = recordedValue(entry, `${slot}Image`);
    images[slot] = image;
    versions[slot] = recordedValue(entry, `${slot}Version`) ?? (image ? imageVersion(image) : undefined);
    releaseIds[slot] = recordedValue(entry, `${slot}ReleaseId`);
  }
  return {
    version: entry.version,
    kind: entry.kind,
    result: entry.result,
    startTime: time(entry.startTime) ?? '',
    endTime: time(entry.endTime),
    activeSlot: isSlot(active) ? active : DEFAULT_SLOT,
    images,
    versions,
    releaseIds,
    resourceChanges: entry.resourceChanges,
  };
}

function epoch(value: Date | string): number {
  return (value instanceof Date ? value : new Date(value)).getTime();
}

/**
 * Numbers the entries the way Pulumi Cloud does (1 for the first operation, counting every update, refresh and
 * destroy). The local file backend records `version: 0` on every entry (Pulumi 3.259), so when the recorded
 * numbers are not distinct and positive, entries are numbered by their start time.
 */
export function numberHistory(entries: readonly HistoryEntryLike[]): HistoryEntryLike[] {
  const versions = entries.map((e) => e.version);
  if (versions.every((v) => Number.isInteger(v) && v > 0) && new Set(versions).size === versions.length) {
    return [...entries];
  }
  const oldestFirst = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => epoch(a.e.startTime) - epoch(b.e.startTime) || b.i - a.i);
  return oldestFirst.map(({ e }, n) => ({ ...e, version: n + 1 })).reverse();
}

/** Every version, newest first. */
export function parseHistory(entries: readonly HistoryEntryLike[]): ReleaseVersion[] {
  return numberHistory(entries)
    .map(toReleaseVersion)
    .sort((a, b) => b.version - a.version);
}

/** The config change that restores what `entry` deployed: keys to set and keys to remove. */
export interface RestorePlan {
  version: number;
  set: Partial<Record<ReleaseConfigKey, string>>;
  remove: ReleaseConfigKey[];
}

/**
 * Plans `rollback --to <version>`. Only a succeeded `update` can be restored: a failed one may never have
 * reached the cluster, and a refresh or destroy records no release.
 */
export function planRestore(recorded: readonly HistoryEntryLike[], version: number): RestorePlan {
  const entries = numberHistory(recorded);
  const entry = entries.find((e) => e.version === version);
  if (entry === undefined) {
    const known = entries.map((e) => e.version).sort((a, b) => a - b);
    throw new Error(
      `stack version ${version} is not in the history (versions: ${known.length ? known.join(', ') : 'none'})`,
    );
  }
  if (entry.kind !== 'update' || entry.result !== 'succeeded') {
    throw new Error(
      `stack version ${version} was a ${entry.result} ${entry.kind}; only a succeeded update can be restored`,
    );
  }
  if (recordedValue(entry, 'blueImage') === undefined || recordedValue(entry, 'greenImage') === undefined) {
    throw new Error(`stack version ${version} recorded no pavemaster:blueImage/greenImage config`);
  }
  const set: RestorePlan['set'] = {};
  const remove: ReleaseConfigKey[] = [];
  for (const key of RELEASE_CONFIG_KEYS) {
    const value = recordedValue(entry, key);
    if (value === undefined) {
      remove.push(key);
    } else {
      set[key] = value;
    }
  }
  if (set.activeSlot === undefined) {
    // What the program runs when the key is unset.
    set.activeSlot = DEFAULT_SLOT;
    remove.splice(remove.indexOf('activeSlot'), 1);
  }
  return { version, set, remove };
}

/** A plain-text table of versions for `release history`. */
export function renderHistory(versions: readonly ReleaseVersion[]): string {
  const rows = versions.map((v) => [
    String(v.version),
    v.startTime.replace(/\.\d+Z$/, 'Z'),
    `${v.kind}/${v.result}`,
    v.activeSlot,
    `${v.versions.blue ?? '?'} (${v.images.blue ?? '?'})`,
    `${v.versions.green ?? '?'} (${v.images.green ?? '?'})`,
  ]);
  const head = ['VERSION', 'TIME', 'RESULT', 'ACTIVE', 'BLUE', 'GREEN'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** One config key's change in a whole restore; secret values are never part of it. */
export interface ConfigChange {
  key: string;
  from?: string;
  to?: string;
  secret: boolean;
}

/** `rollback --to N`: every `pavemaster:*` key version N recorded, set; every other `pavemaster:*` key, removed. */
export interface FullRestorePlan {
  version: number;
  set: Record<string, { value: string; secret: boolean }>;
  remove: string[];
  /** What changes against the current config, for the operator (secrets as `[secret]`). */
  changes: ConfigChange[];
}

/**
 * Plans a whole restore: not only the release keys but replicas, resources, env, the release section, secrets
 * (restored encrypted, never shown) and every other `pavemaster:*` key version `version` recorded. `current`
 * is today's config (keys without the `pavemaster:` prefix) and which of its keys are secret.
 */
export function planFullRestore(
  recorded: readonly HistoryEntryLike[],
  version: number,
  current: Readonly<Record<string, string>>,
  currentSecrets: ReadonlySet<string> = new Set(),
): FullRestorePlan {
  // The same checks as the release-keys plan: a known, succeeded update that recorded both images.
  planRestore(recorded, version);
  const entry = numberHistory(recorded).find((e) => e.version === version) as HistoryEntryLike;
  const recordedSet: FullRestorePlan['set'] = {};
  for (const [full, v] of Object.entries(entry.config ?? {})) {
    if (!full.startsWith(NS)) {
      continue;
    }
    recordedSet[full.slice(NS.length)] =
      typeof v === 'string' ? { value: v, secret: false } : { value: v.value, secret: v.secret === true };
  }
  // History records Pulumi.yaml's placeholder defaults beside the stack's own keys: they mean "not set".
  const given = withoutDeclaredDefaults(
    Object.fromEntries(Object.entries(recordedSet).map(([k, v]) => [k, v.value])),
  );
  const set: FullRestorePlan['set'] = Object.fromEntries(
    Object.entries(recordedSet).filter(([k]) => k in given),
  );
  const remove = Object.keys(current)
    .filter((k) => !(k in set))
    .sort();
  const changes: ConfigChange[] = [];
  for (const [key, v] of Object.entries(set).sort(([a], [b]) => a.localeCompare(b))) {
    if (current[key] !== v.value) {
      const secret = v.secret || currentSecrets.has(key);
      changes.push(
        secret
          ? { key, secret, from: key in current ? '[secret]' : undefined, to: '[secret]' }
          : { key, secret, from: current[key], to: v.value },
      );
    }
  }
  for (const key of remove) {
    changes.push(
      currentSecrets.has(key)
        ? { key, secret: true, from: '[secret]' }
        : { key, secret: false, from: current[key] },
    );
  }
  return { version, set, remove, changes };
}

/** One line per changed key: `pavemaster:replicas: 3 -> 2`. */
export function renderChanges(changes: readonly ConfigChange[]): string[] {
  return changes.map((c) => `pavemaster:${c.key}: ${c.from ?? '(unset)'} -> ${c.to ?? '(unset)'}`);
}
