/**
 * One timed run of the Pulumi CLI in a bench project, the way an operator runs it (`pulumi preview`, `pulumi up`),
 * from process start to exit. An instrumented run also writes the engine's OpenTelemetry spans and is split into
 * phases (bench/trace.ts); plain runs give the headline figures, because tracing costs time itself.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import type { BenchProject } from './project';
import type { ProgramMarks } from './preload';
import { enginePhases, EnginePhases, Phases, programPhases, readSpans } from './trace';

export interface CliRun {
  /** Milliseconds from spawn to exit. */
  wallMs: number;
  /** The program's marks (the last program run of the command). */
  marks?: ProgramMarks;
  /** Consecutive phases from the program's marks (every run). */
  phases?: Phases;
  /** What the engine's spans show (instrumented runs only). */
  engine?: EnginePhases;
  output: string;
}

/** Epoch milliseconds with sub-millisecond resolution. */
export const now = (): number => performance.timeOrigin + performance.now();

export async function timedPulumi(
  project: BenchProject,
  args: readonly string[],
  opts: { instrument?: boolean; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-benchrun-'));
  const timing = path.join(scratch, 'marks.jsonl');
  const traceFile = path.join(scratch, 'trace.json');
  const argv = [...args, '--stack', project.stackName, '--non-interactive'];
  if (opts.instrument) {
    argv.push('--otel-traces', `file://${traceFile}`);
  }
  try {
    const t0 = now();
    const child = spawn('pulumi', argv, {
      cwd: project.dir,
      env: { ...process.env, ...project.env, ...opts.env, PAVEMASTER_BENCH_MARKS: timing },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c ?? 1));
    });
    const t1 = now();
    if (code !== 0) {
      throw new Error(
        `pulumi ${argv.join(' ')} exited ${code}:\n${output.split('\n').slice(-40).join('\n')}`,
      );
    }
    const lines = fs.existsSync(timing) ? fs.readFileSync(timing, 'utf8').trim().split('\n') : [];
    const marks =
      lines.length > 0 && lines[0] !== '' ? (JSON.parse(lines[lines.length - 1]) as ProgramMarks) : undefined;
    if (!marks) {
      throw new Error('the program recorded no marks: is the bench preload in the project copy?');
    }
    const run: CliRun = { wallMs: t1 - t0, marks, output, phases: programPhases(marks, t0, t1) };
    if (opts.instrument) {
      run.engine = enginePhases(readSpans(traceFile), t0);
    }
    return run;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
