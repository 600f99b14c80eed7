/**
 * The parts of scripts/upgrade-check.ts that decide what it reports, apart from the runs of the engine (so the unit
 * tests import them without running the check): the newer tree's settings, the counts of a preview's steps, the
 * objects the API server recreated, the command line.
 */
import { parse, stringify } from 'yaml';

/** Operations that would disturb something running. */
export const DISTURBING = new Set([
  'create',
  'replace',
  'create-replacement',
  'delete-replaced',
  'delete',
  'discard',
]);

/**
 * The newer tree's stack file: the base one, plus every top-level config key only the newer one has. Keys the
 * base has keep the base's values, so the check sees the program's change and not a change of settings.
 */
export function upgradedStackFile(base: string, newer: string): { text: string; added: string[] } {
  type Doc = { config?: Record<string, unknown> } & Record<string, unknown>;
  const baseDoc = (parse(base) ?? {}) as Doc;
  const newerConfig = ((parse(newer) ?? {}) as Doc).config ?? {};
  const config = { ...(baseDoc.config ?? {}) };
  const added = Object.keys(newerConfig).filter((k) => !(k in config));
  if (added.length === 0) {
    return { text: base, added };
  }
  for (const k of added) {
    config[k] = newerConfig[k];
  }
  return { text: stringify({ ...baseDoc, config }), added };
}

/**
 * A Job is one run, not something running: its spec is immutable, so a Job whose content changed is replaced,
 * which runs it again (the setup Jobs are idempotent: fixed ids, so a re-run overwrites). Such a replacement is
 * listed as a re-run, not as a disturbance.
 */
export function isJob(urn: string): boolean {
  // The type is the URN's last type segment: after "::" at the top of the stack, after "$" below a component.
  return /(::|\$)kubernetes:batch\/v1:Job::[^:]+$/.test(urn);
}

/** One step of `pulumi preview --json`, as far as the check reads it. */
interface PreviewStep {
  op: string;
  urn: string;
  /** The properties whose change forces the replacement, as the provider's Diff named them. */
  replaceReasons?: string[];
  oldState?: { protect?: boolean };
}

/**
 * Counts of the operations of a `pulumi preview --json` (stack and providers left out; the providers it creates
 * are listed apart: a new provider disturbs nothing by itself, and a resource moved to it would show as replaced;
 * replaced Jobs are listed apart as re-runs), each replacement with the properties that force it, and the
 * deletions (of any kind) of protected resources.
 */
export function previewOps(json: string): {
  counts: Record<string, number>;
  disturbing: string[];
  newProviders: string[];
  reruns: string[];
  replacements: { urn: string; reasons: string[] }[];
  protectedDeletions: string[];
} {
  const doc = JSON.parse(json) as { steps?: PreviewStep[] };
  const counts: Record<string, number> = {};
  const disturbing: string[] = [];
  const newProviders: string[] = [];
  const reruns: string[] = [];
  const replacements: { urn: string; reasons: string[] }[] = [];
  const protectedDeletions: string[] = [];
  for (const step of doc.steps ?? []) {
    if (step.urn.includes('::pulumi:providers:') && step.op === 'create') {
      newProviders.push(step.urn);
    }
    if (step.urn.includes('::pulumi:pulumi:Stack::') || step.urn.includes('::pulumi:providers:')) {
      continue;
    }
    counts[step.op] = (counts[step.op] ?? 0) + 1;
    if (step.op === 'replace') {
      replacements.push({ urn: step.urn, reasons: step.replaceReasons ?? [] });
    }
    if (step.op.startsWith('delete') || step.op === 'replace' || step.op === 'discard') {
      if (step.oldState?.protect === true) {
        protectedDeletions.push(`${step.op} ${step.urn}`);
      }
    }
    if (step.op === 'replace' && isJob(step.urn)) {
      reruns.push(step.urn);
    } else if (DISTURBING.has(step.op) && !(isJob(step.urn) && step.op.includes('replace'))) {
      disturbing.push(`${step.op} ${step.urn}`);
    }
  }
  return { counts, disturbing, newProviders, reruns, replacements, protectedDeletions };
}

/** A resource of an exported state, as far as the check reads it. */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  protect?: boolean;
  outputs?: { metadata?: { uid?: string } };
}

/**
 * The Kubernetes objects of a state by type and id (namespace/name), with the uid the API server gave them: a
 * uid that differs after the update is an object deleted and created again, whatever the engine called it.
 */
export function objectUids(
  resources: readonly StateResource[],
): Map<string, { uid: string; protect: boolean }> {
  const out = new Map<string, { uid: string; protect: boolean }>();
  for (const r of resources) {
    const uid = r.outputs?.metadata?.uid;
    if (r.type.startsWith('kubernetes:') && r.id !== undefined && uid !== undefined) {
      out.set(`${r.type} ${r.id}`, { uid, protect: r.protect === true });
    }
  }
  return out;
}

/** The command line: a base revision, `--to <revision>` optionally, and stack names. */
export function parseArgs(
  argv: readonly string[],
): { rev: string; to?: string; stacks: string[] } | undefined {
  const rest = [...argv];
  let to: string | undefined;
  const i = rest.indexOf('--to');
  if (i >= 0) {
    to = rest[i + 1];
    if (to === undefined || to.startsWith('-')) {
      return undefined;
    }
    rest.splice(i, 2);
  }
  const [rev, ...stacks] = rest;
  if (rev === undefined || rev.startsWith('-') || stacks.some((s) => s !== 'staging' && s !== 'production')) {
    return undefined;
  }
  return {
    rev,
    ...(to !== undefined ? { to } : {}),
    stacks: stacks.length > 0 ? stacks : ['staging', 'production'],
  };
}
