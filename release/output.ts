/**
 * `--json`: one document on stdout per command, described by `release/schema.json` (JSON Schema draft-07,
 * `$id` pavemaster.release/v1). Each command's result is reduced to plain data here (no engine events, no
 * secrets: config values are never part of a result), so the schema is the contract for scripts and CI.
 */
import type { Slot } from '../components/shared/slots';
import type { AnnotationOutcome } from './annotations';
import type { PreviewReport } from './markdown';
import type { ReleaseVersion } from './history';
import type { SwitchResult } from './traffic';
import type { UpResult } from './session';

export const SCHEMA_ID = 'pavemaster.release/v1';

/** The document printed by `--json`. */
export interface JsonDocument {
  schema: typeof SCHEMA_ID;
  command: string;
  stack: string | null;
  ok: boolean;
  exitCode: number;
  result?: unknown;
  error?: { message: string; gate?: string };
  /** The release log of the stack (one JSON record per step). */
  log?: string;
}

export function document(fields: Omit<JsonDocument, 'schema'>): JsonDocument {
  return { schema: SCHEMA_ID, ...fields };
}

/** A `pulumi up`'s summary. */
export function upJson(up: UpResult): {
  changes: Record<string, number>;
  touched: string[];
  durationMs: number;
} {
  return { changes: up.changes, touched: up.touched, durationMs: up.durationMs };
}

/** A switch's summary. */
export function switchJson(r: SwitchResult): Record<string, unknown> {
  return {
    from: r.from,
    to: r.to,
    switchMs: r.switchMs,
    switchedAt: new Date(r.switchedAt).toISOString(),
    endpointPods: r.endpointPods,
    up: upJson(r.up),
  };
}

type SlotMap = Record<Slot, string | null>;

function slotMap(m: Record<Slot, string | undefined>): SlotMap {
  return { blue: m.blue ?? null, green: m.green ?? null };
}

/** History entries as JSON: dates as ISO text, a slot without a recorded value as null. */
export function historyJson(
  versions: readonly ReleaseVersion[],
): (Omit<ReleaseVersion, 'images' | 'versions' | 'releaseIds'> &
  Record<'images' | 'versions' | 'releaseIds', SlotMap>)[] {
  return versions.map((v) => ({
    ...v,
    images: slotMap(v.images),
    versions: slotMap(v.versions),
    releaseIds: slotMap(v.releaseIds),
  }));
}

/** A preview report as JSON. */
export function previewJson(report: PreviewReport): PreviewReport {
  return report;
}

/**
 * What each traffic move posted to Grafana and Slack: one entry per event and target, `posted`, `skipped` (not
 * configured, or turned off) or `failed`, with the detail (where it went, what is missing, or why it failed).
 */
export function annotationsJson(outcomes: readonly AnnotationOutcome[] | undefined): AnnotationOutcome[] {
  return (outcomes ?? []).map((o) => ({
    event: o.event,
    target: o.target,
    outcome: o.outcome,
    detail: o.detail,
  }));
}
