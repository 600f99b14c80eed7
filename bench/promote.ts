/**
 * Promote and rollback beside the floor of a selector switch, a raw `kubectl patch` of the Service's selector, on
 * the same cluster in the same run. Each is timed from its start to the moment the active Service's EndpointSlices
 * list only the other slot's pods, seen by one EndpointSlice watch (bench/slices.ts).
 *
 * The stack is a throwaway copy (config from Pulumi.staging.yaml, two replicas per slot, the Job gates and the
 * post-promotion window off, as the issue asks; the readiness check of the idle slot stays). Plain runs give the
 * headline figures; instrumented runs give the breakdown: a `pulumi` wrapper first on PATH records every CLI call
 * the release command makes (a few milliseconds of bash each), the program records its marks (bench/preload.ts),
 * and a second watch sees when the API server took the selector patch. Nothing is traced: tracing the engine and
 * the program doubles their time.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promote, rollback } from '../release/commands';
import { now } from './cli';
import type { ProgramMarks } from './preload';
import { programCopy } from './project';
import { selectorWatch, sliceWatch, Watch } from './slices';
import { Table } from './table';

const APP = 'pavemaster';

interface LogLine {
  t: number;
  step: string;
  outcome: string;
  /** How the command opened the stack and what that took (every record carries it). */
  stackOpen?: { source: string; reason?: string; durationMs: number };
}

interface CliCall {
  start: number;
  end: number;
  args: string;
}

/** One release step (promote or rollback) and what it recorded. */
interface StepRun {
  t0: number;
  switchAt: number;
  end: number;
  log: LogLine[];
  calls: CliCall[];
  marks: ProgramMarks[];
  /** When the API server took the active Service's new selector (instrumented runs). */
  patchedAt?: number;
}

function podsOf(namespace: string, slot: string): string {
  return execFileSync(
    'kubectl',
    [
      '-n',
      namespace,
      'get',
      'pods',
      '-l',
      `app=${APP},slot=${slot}`,
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ],
    { encoding: 'utf8' },
  )
    .split(/\s+/)
    .filter((p) => p !== '')
    .sort()
    .join(',');
}

/** A `pulumi` first on PATH that records each call (start, end, arguments) into `dir`/calls.log. */
function pulumiWrapper(dir: string): string {
  const real = execFileSync('bash', ['-c', 'command -v pulumi'], { encoding: 'utf8' }).trim();
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(
    path.join(bin, 'pulumi'),
    `#!/bin/bash\ns=$(date +%s%N)\n"${real}" "$@"\nrc=$?\nprintf '%s %s %s\\n' "$s" "$(date +%s%N)" "$*" >> "${dir}/calls.log"\nexit $rc\n`,
    { mode: 0o755 },
  );
  return bin;
}

function readCalls(dir: string): CliCall[] {
  const file = path.join(dir, 'calls.log');
  if (!fs.existsSync(file)) {
    return [];
  }
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [s, e, ...args] = l.split(' ');
      return { start: Number(s) / 1e6, end: Number(e) / 1e6, args: args.join(' ') };
    });
}

async function timedStep(
  which: 'promote' | 'rollback',
  stack: string,
  workDir: string,
  watches: { slices: Watch; selector: Watch },
  target: { slot: string; pods: string },
  instrument: boolean,
): Promise<StepRun> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-benchstep-'));
  const log: LogLine[] = [];
  const savedPath = process.env.PATH;
  if (instrument) {
    process.env.PATH = `${pulumiWrapper(scratch)}:${savedPath ?? ''}`;
    process.env.PAVEMASTER_BENCH_MARKS = path.join(scratch, 'marks.jsonl');
  }
  const opts = {
    workDir,
    out: () => undefined,
    logEcho: (line: string) => {
      const r = JSON.parse(line) as LogLine & { time: string };
      log.push({ t: Date.parse(r.time), step: r.step, outcome: r.outcome, stackOpen: r.stackOpen });
    },
  };
  try {
    const t0 = now();
    if (which === 'promote') {
      await promote(stack, opts);
    } else {
      await rollback(stack, opts);
    }
    const end = now();
    const switchAt = await watches.slices.waitFor(target.pods, t0);
    const patchedAt = instrument ? await watches.selector.waitFor(target.slot, t0) : undefined;
    const calls = readCalls(scratch);
    const marksFile = path.join(scratch, 'marks.jsonl');
    const marks = fs.existsSync(marksFile)
      ? fs
          .readFileSync(marksFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as ProgramMarks)
      : [];
    return { t0, switchAt, end, log, calls, marks, patchedAt };
  } finally {
    process.env.PATH = savedPath;
    delete process.env.PAVEMASTER_BENCH_MARKS;
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The release command's bin (what `pavemaster` and `npm run release --` run). */
const BIN = path.join(__dirname, '..', 'release', 'bin', 'pavemaster.js');

/**
 * Runs the release command as its own process (as an operator does); resolves with its exit time. `fromSource`
 * makes the bin run the TypeScript through ts-node and SWC instead of the build in dist/cli.
 */
function runCli(args: string[], fromSource = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PAVEMASTER_CLI_FROM_SOURCE: fromSource ? '1' : '0' };
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('exit', (code) => {
      const t = now();
      if (code === 0) {
        resolve(t);
      } else {
        reject(
          new Error(`pavemaster ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8')}`),
        );
      }
    });
  });
}

/** A promote or rollback as a process: from the spawn (Node.js start, the command's modules) to the switch. */
async function cliStep(
  which: 'promote' | 'rollback',
  stack: string,
  workDir: string,
  watch: Watch,
  pods: string,
  fromSource = false,
): Promise<{ switchMs: number; exitMs: number }> {
  const t0 = now();
  const exited = runCli([which, stack, '--work-dir', workDir, '--quiet'], fromSource);
  const switchAt = await watch.waitFor(pods, t0);
  return { switchMs: switchAt - t0, exitMs: (await exited) - t0 };
}

async function rawPatch(namespace: string, slot: string, watch: Watch, targetPods: string) {
  const t0 = now();
  const child = spawn(
    'kubectl',
    [
      '-n',
      namespace,
      'patch',
      'service',
      APP,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { selector: { slot } } }),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number>((r) => child.once('exit', () => r(now())));
  const switchAt = await watch.waitFor(targetPods, t0);
  const patched = await exited;
  return { total: switchAt - t0, kubectl: patched - t0, propagation: Math.max(0, switchAt - patched) };
}

/** The breakdown's rows, in order (the step's phases up to the switch, then what follows it). */
const PHASES = {
  open: 'open the stack (stack file, checkpoint: no CLI when it opens from the files)',
  lock: 'release lock: read (and for promote take) the Lease (API server)',
  gates: 'gates: the idle slot Ready behind the preview Service (API server; Job gates off)',
  readiness: 'switch plan (checkpoint read) and the idle slot readiness check (API server)',
  rollbackChecks: 'release lock read, switch plan (checkpoint read), idle slot readiness check (API server)',
  apply: 'stack lock + server-side apply of the active selector (API server, provider field manager)',
  propagation: 'selector to EndpointSlice switch',
  cliBefore: 'pulumi CLI calls before the switch (count)',
  after: '(after the switch) preview selector, stack file, pulumi up --target the two Services',
} as const;

/**
 * The breakdown of one instrumented step, in milliseconds, each phase up to the switch in order: the switch is
 * the Services' selectors applied by the release command itself (release/traffic.ts), the recording update after.
 */
function stepBreakdown(r: StepRun, which: 'promote' | 'rollback'): Record<string, number> {
  const at = (step: string, outcome: string): number | undefined =>
    r.log.find((l) => l.step === step && l.outcome === outcome)?.t;
  const switchStarted = at('switch', 'started');
  const recordStarted = at('record', 'started');
  const opened = r.log[0]?.stackOpen;
  if (
    switchStarted === undefined ||
    recordStarted === undefined ||
    r.patchedAt === undefined ||
    opened === undefined
  ) {
    throw new Error(`no direct switch recorded for ${which}: ${JSON.stringify(r.log.map((l) => l.step))}`);
  }
  if (opened.source !== 'files') {
    throw new Error(`${which} opened the stack through the CLI: ${opened.reason ?? '?'}`);
  }
  const openEnd = r.t0 + opened.durationMs;
  const out: Record<string, number> = {};
  out[PHASES.open] = opened.durationMs;
  if (which === 'promote') {
    const started = at('promote', 'started') ?? switchStarted;
    const gateStart = at('gate:ready', 'started') ?? started;
    const gateEnd = at('gate:ready', 'succeeded') ?? gateStart;
    out[PHASES.lock] = started - openEnd;
    out[PHASES.gates] = gateEnd - started;
    out[PHASES.readiness] = switchStarted - gateEnd;
  } else {
    out[PHASES.rollbackChecks] = switchStarted - openEnd;
  }
  out[PHASES.apply] = r.patchedAt - switchStarted;
  out[PHASES.propagation] = r.switchAt - r.patchedAt;
  out[PHASES.cliBefore] = r.calls.filter((c) => c.start <= r.switchAt).length;
  out[PHASES.after] = r.end - r.switchAt;
  return out;
}

export async function benchPromote(
  table: Table,
  runs: number,
  log: (l: string) => void,
  sample: () => void,
): Promise<void> {
  log('\npromote and rollback vs a raw kubectl patch of the selector');
  // The command's build, as `npm ci` (prepare) or `npm run build` makes it: the process figures time it.
  execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build-cli.js')], {
    stdio: 'inherit',
  });
  const project = await programCopy('bench-promote', 'staging', {
    namespace: 'bench-promote',
    blueImage: 'pavemaster/web:1.0.0',
    greenImage: 'pavemaster/web:2.0.0',
    replicas: 2,
    host: undefined,
    monitoring: { enabled: false },
    logging: { enabled: false },
    release: { smoke: { enabled: false }, postPromotion: { windowSeconds: 0 } },
  });
  const ns = project.namespace;
  const watches = { slices: sliceWatch(ns, APP), selector: selectorWatch(ns, APP) };
  const stack = project.stackName;
  const results = { promote: [] as StepRun[], rollback: [] as StepRun[] };
  const instrumented = { promote: [] as StepRun[], rollback: [] as StepRun[] };
  const raw: { total: number; kubectl: number; propagation: number }[] = [];
  const cli = { promote: [] as number[], rollback: [] as number[], start: [] as number[] };
  const fromSource = { promote: [] as number[], rollback: [] as number[], start: [] as number[] };
  try {
    Object.assign(process.env, project.env);
    await project.sandbox?.stack.up({ onOutput: () => undefined });
    await watches.slices.start();
    await watches.selector.start();
    const pods = { blue: podsOf(ns, 'blue'), green: podsOf(ns, 'green') };
    for (let i = 0; i < runs; i++) {
      for (const instrument of [false, true]) {
        const bucket = instrument ? instrumented : results;
        sample();
        bucket.promote.push(
          await timedStep(
            'promote',
            stack,
            project.dir,
            watches,
            { slot: 'green', pods: pods.green },
            instrument,
          ),
        );
        if (!instrument) {
          // The floor, twice per run: green -> blue and back, on the same Service, seen by the same watch.
          sample();
          raw.push(await rawPatch(ns, 'blue', watches.slices, pods.blue));
          raw.push(await rawPatch(ns, 'green', watches.slices, pods.green));
        }
        sample();
        bucket.rollback.push(
          await timedStep(
            'rollback',
            stack,
            project.dir,
            watches,
            { slot: 'blue', pods: pods.blue },
            instrument,
          ),
        );
      }
      // The same steps as an operator runs them, each its own process; and that process's start alone.
      sample();
      const t0 = now();
      cli.start.push((await runCli(['--help'])) - t0);
      sample();
      cli.promote.push((await cliStep('promote', stack, project.dir, watches.slices, pods.green)).switchMs);
      sample();
      cli.rollback.push((await cliStep('rollback', stack, project.dir, watches.slices, pods.blue)).switchMs);
      // The same through the bin's fallback (no build, or a source changed since it): ts-node and SWC.
      sample();
      const t1 = now();
      fromSource.start.push((await runCli(['--help'], true)) - t1);
      sample();
      fromSource.promote.push(
        (await cliStep('promote', stack, project.dir, watches.slices, pods.green, true)).switchMs,
      );
      sample();
      fromSource.rollback.push(
        (await cliStep('rollback', stack, project.dir, watches.slices, pods.blue, true)).switchMs,
      );
      log(
        `  run ${i + 1}: promote ${(results.promote[i].switchAt - results.promote[i].t0).toFixed(0)} ms, rollback ${(results.rollback[i].switchAt - results.rollback[i].t0).toFixed(0)} ms, kubectl patch ${raw[2 * i].total.toFixed(0)} / ${raw[2 * i + 1].total.toFixed(0)} ms`,
      );
    }
  } finally {
    watches.slices.stop();
    watches.selector.stop();
    await project.cleanup();
  }
  const patchMedian = [...raw.map((r) => r.total)].sort((a, b) => a - b)[Math.floor(raw.length / 2)];
  table.add({
    name: 'raw `kubectl patch` of the selector -> EndpointSlice switch',
    unit: 'ms',
    values: raw.map((r) => r.total),
    note: 'the floor of a switch (two per run)',
  });
  table.add({ name: 'kubectl process and request', unit: 'ms', values: raw.map((r) => r.kubectl), depth: 1 });
  table.add({
    name: 'EndpointSlice propagation',
    unit: 'ms',
    values: raw.map((r) => r.propagation),
    depth: 1,
  });
  for (const which of ['promote', 'rollback'] as const) {
    table.add({
      name: `${which} start -> EndpointSlice switch`,
      unit: 'ms',
      values: results[which].map((r) => r.switchAt - r.t0),
      targets: [{ limit: 2 * patchMedian, text: `<= 2x kubectl patch (${(2 * patchMedian).toFixed(0)} ms)` }],
      note: 'command start = the release step called in-process (the CLI process start is not included)',
    });
    const breakdowns = instrumented[which].map((r) => stepBreakdown(r, which));
    for (const key of Object.keys(breakdowns[0] ?? {})) {
      table.add({
        name: key,
        unit: key === PHASES.cliBefore ? 'count' : 'ms',
        values: breakdowns.map((b) => b[key]),
        depth: 1,
      });
    }
    table.add({
      name: `${which}: instrumented runs, start -> switch`,
      unit: 'ms',
      values: instrumented[which].map((r) => r.switchAt - r.t0),
      depth: 1,
      note: 'with the pulumi wrapper and the marks: the breakdown above adds up to this',
    });
  }
  for (const which of ['promote', 'rollback'] as const) {
    table.add({
      name: `\`pavemaster ${which}\` as a process: spawn -> EndpointSlice switch`,
      unit: 'ms',
      values: cli[which],
      targets: [{ limit: 2 * patchMedian, text: `<= 2x kubectl patch (${(2 * patchMedian).toFixed(0)} ms)` }],
      note: 'what an operator waits for: the step above plus the process start below',
    });
  }
  table.add({
    name: "`pavemaster --help`: Node.js start and the command's modules (the build in dist/cli)",
    unit: 'ms',
    values: cli.start,
    depth: 1,
  });
  for (const which of ['promote', 'rollback'] as const) {
    table.add({
      name: `\`pavemaster ${which}\` as a process, from source (ts-node + SWC): spawn -> EndpointSlice switch`,
      unit: 'ms',
      values: fromSource[which],
      note: 'the bin without a current build (PAVEMASTER_CLI_FROM_SOURCE=1): the before of the build',
    });
  }
  table.add({
    name: '`pavemaster --help` from source: Node.js start, ts-node, SWC, the modules',
    unit: 'ms',
    values: fromSource.start,
    depth: 1,
  });
}
