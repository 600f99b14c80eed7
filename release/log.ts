/**
 * The release log: every step as one JSON line, on standard error and appended to
 * `.pulumi-state/releases/<stack>.jsonl` in the project (gitignored with the local state), so the Release
 * dashboard and `release history` can show what happened and when.
 */
import * as fs from 'fs';
import * as path from 'path';
import { noteStep } from './interrupt';

export type Outcome = 'started' | 'succeeded' | 'failed' | 'skipped' | 'info' | 'rolled-back' | 'warning';

/** One logged step. */
export interface LogRecord {
  time: string;
  stack: string;
  command: string;
  step: string;
  outcome: Outcome;
  releaseId?: string;
  activeSlot?: string;
  slot?: string;
  versions?: Record<string, string | undefined>;
  images?: Record<string, string | undefined>;
  detail?: string;
  durationMs?: number;
  [key: string]: unknown;
}

export class ReleaseLog {
  readonly file: string;
  private readonly base: Partial<LogRecord>;
  /** Fields added to every record of one step (its timeout, thresholds). */
  stepFields: Record<string, Partial<LogRecord>> = {};

  constructor(
    workDir: string,
    readonly stack: string,
    readonly command: string,
    private readonly echo: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    private readonly onRecord?: (record: LogRecord) => void,
  ) {
    this.file = path.join(workDir, '.pulumi-state', 'releases', `${stack}.jsonl`);
    this.base = {};
  }

  /** Fields added to every later record (release id, slots, versions). */
  set(fields: Partial<LogRecord>): void {
    Object.assign(this.base, fields);
  }

  write(step: string, outcome: Outcome, fields: Partial<LogRecord> = {}): LogRecord {
    const record: LogRecord = {
      time: new Date().toISOString(),
      stack: this.stack,
      command: this.command,
      ...this.base,
      ...this.stepFields[step],
      ...fields,
      step,
      outcome,
    };
    const line = JSON.stringify(record);
    this.echo(line);
    this.onRecord?.(record);
    noteStep(this, step, outcome);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.appendFileSync(this.file, `${line}\n`);
    return record;
  }
}

/** Reads a stack's release log (missing file: empty). */
export function readReleaseLog(workDir: string, stack: string): LogRecord[] {
  const file = path.join(workDir, '.pulumi-state', 'releases', `${stack}.jsonl`);
  if (!fs.existsSync(file)) {
    return [];
  }
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogRecord);
}
