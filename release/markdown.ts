/**
 * Renders a `pulumi preview` as a compact Markdown report for a pull request: counts by operation, each changed
 * resource with the fields that change, a highlighted line when traffic moves between the blue and green slots,
 * and a warning at the top when a protected or stateful resource would be replaced or deleted.
 *
 * A pure function of the engine events (`resourcePreEvent`s and the `summaryEvent`), so it is unit-tested on
 * recorded events.
 */
import { EngineEventLike, StepMetadata } from './events';

/** Operations that change nothing and are left out of the report. */
const QUIET_OPS = new Set(['same', 'read', 'refresh']);
/** Operations that destroy a resource's current object. */
const DESTRUCTIVE_OPS = new Set(['replace', 'delete', 'delete-replaced', 'create-replacement', 'discard']);
/** Resource types that hold data: replacing or deleting one loses it. */
const STATEFUL_TYPES = new Set([
  'kubernetes:core/v1:PersistentVolumeClaim',
  'kubernetes:core/v1:PersistentVolume',
  'kubernetes:apps/v1:StatefulSet',
  'kubernetes:core/v1:Secret',
  'kubernetes:core/v1:Namespace',
  'random:index/randomPassword:RandomPassword',
]);

/** One changed resource. */
export interface ChangedResource {
  op: string;
  type: string;
  /** The resource's Pulumi name (the last part of its URN). */
  name: string;
  urn: string;
  /** Property paths that change, each with its old and new value where known. */
  fields: FieldChange[];
  protect: boolean;
}

export interface FieldChange {
  path: string;
  kind: string;
  old?: unknown;
  new?: unknown;
}

export interface TrafficMove {
  service: string;
  from: string;
  to: string;
}

/** What a preview will do, derived from its events. */
export interface PreviewReport {
  counts: Record<string, number>;
  changes: ChangedResource[];
  traffic: TrafficMove[];
  warnings: string[];
}

function nameOf(urn: string): string {
  const i = urn.lastIndexOf('::');
  return i >= 0 ? urn.slice(i + 2) : urn;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a property path such as `spec.selector.slot` or `spec.ports[0].port` from an object. */
export function getPath(root: unknown, path: string): unknown {
  const parts = path.match(/[^.[\]]+|\[\d+\]/g) ?? [];
  let cur: unknown = root;
  for (const raw of parts) {
    const part = raw.startsWith('[') ? raw.slice(1, -1) : raw.replace(/^"|"$/g, '');
    if (Array.isArray(cur)) {
      cur = cur[Number(part)];
    } else if (isRecord(cur)) {
      cur = cur[part];
    } else {
      return undefined;
    }
  }
  return cur;
}

function fieldChanges(step: StepMetadata): FieldChange[] {
  const oldInputs = step.old?.inputs;
  const newInputs = step.new?.inputs;
  if (step.detailedDiff && Object.keys(step.detailedDiff).length > 0) {
    return Object.entries(step.detailedDiff)
      .map(([path, d]) => ({
        path,
        kind: String(d.diffKind),
        old: getPath(oldInputs, path),
        new: getPath(newInputs, path),
      }))
      .sort((a, b) => a.path.localeCompare(b.path));
  }
  return [...(step.diffs ?? [])].sort().map((path) => ({
    path,
    kind: 'update',
    old: getPath(oldInputs, path),
    new: getPath(newInputs, path),
  }));
}

/** Reduces a preview's engine events to what it will do. */
export function summarizePreview(events: readonly EngineEventLike[]): PreviewReport {
  const counts: Record<string, number> = {};
  const changes: ChangedResource[] = [];
  const traffic: TrafficMove[] = [];
  const warnings: string[] = [];

  for (const event of events) {
    const step = event.resourcePreEvent?.metadata;
    if (
      step === undefined ||
      step.type === 'pulumi:pulumi:Stack' ||
      step.type.startsWith('pulumi:providers:')
    ) {
      continue;
    }
    counts[step.op] = (counts[step.op] ?? 0) + 1;
    if (QUIET_OPS.has(step.op)) {
      continue;
    }
    const name = nameOf(step.urn);
    const protect = Boolean(step.old?.protect ?? step.new?.protect);
    const fields = fieldChanges(step);
    changes.push({ op: step.op, type: step.type, name, urn: step.urn, fields, protect });

    if (DESTRUCTIVE_OPS.has(step.op)) {
      if (protect) {
        warnings.push(
          `protected resource ${name} (${step.type}) would be ${step.op === 'delete' ? 'deleted' : 'replaced'}`,
        );
      } else if (STATEFUL_TYPES.has(step.type)) {
        warnings.push(
          `stateful resource ${name} (${step.type}) would be ${step.op === 'delete' ? 'deleted' : 'replaced'}`,
        );
      }
    }
    if (step.type === 'kubernetes:core/v1:Service') {
      const from = getPath(step.old?.inputs, 'spec.selector.slot');
      const to = getPath(step.new?.inputs, 'spec.selector.slot');
      if (typeof from === 'string' && typeof to === 'string' && from !== to) {
        const metaName = getPath(step.new?.inputs, 'metadata.name');
        traffic.push({ service: typeof metaName === 'string' ? metaName : name, from, to });
      }
    }
  }
  // Counted per resource, the stack and the providers left out, so the counts match the table.
  return { counts, changes, traffic, warnings };
}

function show(value: unknown): string {
  if (value === undefined) {
    return '∅';
  }
  const text = JSON.stringify(value);
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return `\`${short.replace(/`/g, "'")}\``;
}

/** The traffic line: `traffic: blue -> green` (the active Service's move, or the first one). */
export function trafficLine(report: PreviewReport): string | undefined {
  if (report.traffic.length === 0) {
    return undefined;
  }
  const active = report.traffic.find((t) => !t.service.endsWith('-preview')) ?? report.traffic[0];
  return `traffic: ${active.from} -> ${active.to}`;
}

const OP_ORDER = ['create', 'update', 'replace', 'delete', 'same'];

/** Renders the report as Markdown. */
export function renderMarkdown(report: PreviewReport, opts: { stack?: string } = {}): string {
  const lines: string[] = [];
  lines.push(`### Pulumi preview${opts.stack ? ` of \`${opts.stack}\`` : ''}`);
  lines.push('');
  for (const w of report.warnings) {
    lines.push(`> [!WARNING]`);
    lines.push(`> ${w}`);
    lines.push('');
  }
  const traffic = trafficLine(report);
  if (traffic !== undefined) {
    lines.push(`**${traffic}**`);
    for (const t of report.traffic) {
      lines.push(`- Service \`${t.service}\`: selector slot ${t.from} -> ${t.to}`);
    }
    lines.push('');
  }
  const ops = Object.keys(report.counts).sort(
    (a, b) => (OP_ORDER.indexOf(a) + 1 || 99) - (OP_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b),
  );
  lines.push(ops.length === 0 ? 'No resources.' : ops.map((op) => `${op}: ${report.counts[op]}`).join(' · '));
  lines.push('');
  if (report.changes.length === 0) {
    lines.push('No changes.');
  } else {
    lines.push('| op | resource | type | changes |');
    lines.push('| --- | --- | --- | --- |');
    for (const c of report.changes) {
      const fields =
        c.fields.length === 0
          ? ''
          : c.fields.map((f) => `\`${f.path}\`: ${show(f.old)} → ${show(f.new)}`).join('<br>');
      lines.push(
        `| ${c.op} | \`${c.name}\`${c.protect ? ' 🔒' : ''} | \`${c.type}\` | ${fields.replace(/\|/g, '\\|')} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
