/**
 * Where one CLI run's time went, from what the run itself recorded: the engine's OpenTelemetry spans
 * (`pulumi --otel-traces file://...`: the CLI's own spans, its gRPC calls to the language host and the providers,
 * the providers' side of those calls) and the program's marks (bench/preload.ts). Every phase is in milliseconds.
 */
import * as fs from 'fs';
import type { ProgramMarks } from './preload';

export interface Span {
  name: string;
  service: string;
  /** Unix epoch milliseconds. */
  start: number;
  end: number;
  attributes: Record<string, string>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
}
interface OtlpSpan {
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: OtlpValue }[];
}
interface OtlpFile {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

const ns = (x: string): number => Number(BigInt(x) / 1000n) / 1000;

/** Reads an OTLP/JSON file (one export batch per line). */
export function readSpans(file: string): Span[] {
  const out: Span[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    const batch = JSON.parse(line) as OtlpFile;
    for (const rs of batch.resourceSpans ?? []) {
      const service =
        rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? 'unknown';
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const attributes: Record<string, string> = {};
          for (const a of s.attributes ?? []) {
            if (a.key !== 'code.stacktrace') {
              attributes[a.key] = String(a.value.stringValue ?? a.value.intValue ?? a.value.boolValue ?? '');
            }
          }
          out.push({
            name: s.name,
            service,
            start: ns(s.startTimeUnixNano),
            end: ns(s.endTimeUnixNano),
            attributes,
          });
        }
      }
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Total time covered by the intervals (overlaps counted once). */
export function union(spans: readonly { start: number; end: number }[]): number {
  const s = [...spans].sort((a, b) => a.start - b.start);
  let total = 0;
  let cs = NaN;
  let ce = NaN;
  for (const x of s) {
    if (Number.isNaN(ce) || x.start > ce) {
      if (!Number.isNaN(ce)) {
        total += ce - cs;
      }
      cs = x.start;
      ce = x.end;
    } else {
      ce = Math.max(ce, x.end);
    }
  }
  return Number.isNaN(ce) ? 0 : total + ce - cs;
}

/** The engine's calls to resource providers (its client side), by method. */
export const PROVIDER_CALL =
  /^pulumirpc\.ResourceProvider\/(Check|Diff|Create|Update|Delete|Read|Invoke|Call)$/;

/**
 * One CLI run split into consecutive phases that add up to its wall time, from the program's marks alone (so
 * plain runs, without the cost of tracing, give them): CLI and engine start (exec to the Node.js program's start),
 * Node.js and SDK start (to the program's entry module), program load (its modules, to the first resource),
 * program evaluation (to the last resource constructed), the engine's steps after the last resource (the program
 * waits for them and exits when the engine is done), engine shutdown (to the CLI's exit).
 */
export interface Phases {
  toNode: number;
  nodeStart: number;
  programLoad: number;
  programEval: number;
  engineTail: number;
  shutdown: number;
  resources: number;
  peakRssMiB: number;
}

export function programPhases(marks: ProgramMarks, t0: number, t1: number): Phases {
  if (marks.programRequire === undefined) {
    throw new Error(
      `the program recorded no entry (is PAVEMASTER_BENCH_ENTRY its main folder?): ${JSON.stringify(marks)}`,
    );
  }
  const first = marks.firstResource ?? marks.programReturned ?? marks.programRequire;
  const last = marks.lastResource ?? marks.programReturned ?? first;
  return {
    toNode: marks.processStart - t0,
    nodeStart: marks.programRequire - marks.processStart,
    programLoad: first - marks.programRequire,
    programEval: last - first,
    engineTail: marks.exit - last,
    shutdown: t1 - marks.exit,
    resources: marks.resources,
    peakRssMiB: marks.peakRssMiB,
  };
}

/**
 * What only the engine's spans show (traced runs): the split of the start before the program (the CLI process
 * until its first span; project, stack, secrets and state; the language host), and, concurrent with the program,
 * resource plugin start, provider Configure, and the provider calls.
 */
export interface EnginePhases {
  cliStart: number;
  engineStart: number;
  languageHostStart: number;
  pluginStart: number;
  providerConfigure: number;
  providerCalls: number;
  providerCallCount: number;
  applies: number;
  applyCount: number;
  /** First Create/Update/Delete call (epoch ms), if any. */
  firstApply?: number;
}

export function enginePhases(spans: readonly Span[], t0: number): EnginePhases {
  const cli = spans.filter((s) => s.service === 'pulumi-cli');
  const root = cli.find((s) => s.name === 'pulumi');
  const run = cli.find((s) => s.name === 'pulumirpc.LanguageRuntime/Run');
  if (!root || !run) {
    throw new Error('the trace has no CLI root span or Run call');
  }
  const plugins = cli.filter((s) => s.name === 'newPlugin');
  const calls = cli.filter((s) => PROVIDER_CALL.test(s.name));
  const applies = calls.filter((s) => /\/(Create|Update|Delete)$/.test(s.name));
  return {
    cliStart: root.start - t0,
    engineStart: run.start - root.start,
    languageHostStart: union(plugins.filter((s) => s.attributes.kind === 'language')),
    pluginStart: union(plugins.filter((s) => s.attributes.kind === 'resource')),
    providerConfigure: union(cli.filter((s) => s.name === 'pulumirpc.ResourceProvider/Configure')),
    providerCalls: union(calls),
    providerCallCount: calls.length,
    applies: union(applies),
    applyCount: applies.length,
    firstApply: applies.length > 0 ? Math.min(...applies.map((s) => s.start)) : undefined,
  };
}
