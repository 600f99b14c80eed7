/**
 * What the operator sees while a release step runs. Every step is a release-log record (`started`, then
 * `succeeded`/`failed`/...); this turns them into:
 * - on a terminal (`tty`): one live line for the running step, redrawn every second with its elapsed time against
 *   its timeout and the latest sample (post-promotion error ratio and p95 against the thresholds), then a final
 *   line per step;
 * - without a terminal (`plain`, CI): one timestamped line per record;
 * - `quiet`: nothing (the result and errors only);
 * - `verbose`: the plain lines and every record as JSON.
 * The rendering is pure given the clock (`render*` functions), so it is tested without a terminal; the PTY test
 * runs the real command under `script`.
 */
import type { LogRecord } from './log';

export type ProgressMode = 'tty' | 'plain' | 'quiet' | 'verbose';

/** Picks the mode from the flags and whether stderr is a terminal. */
export function progressMode(flags: { quiet?: boolean; verbose?: boolean }, isTTY: boolean): ProgressMode {
  if (flags.quiet) {
    return 'quiet';
  }
  if (flags.verbose) {
    return 'verbose';
  }
  return isTTY ? 'tty' : 'plain';
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function num(n: unknown, digits = 3): string {
  return typeof n === 'number'
    ? n
        .toPrecision(digits)
        .replace(/(\.\d*?)0+$/, '$1')
        .replace(/\.$/, '')
    : 'no data';
}

/** The sample of a post-promotion record, against its thresholds, in one phrase. */
export function sampleText(r: LogRecord): string | undefined {
  if (r.step !== 'post-promotion:sample') {
    return undefined;
  }
  const elapsed = typeof r.elapsedSeconds === 'number' ? `at ${r.elapsedSeconds}s: ` : '';
  if (typeof r.error === 'string') {
    return `${elapsed}no sample (${r.error})`;
  }
  const s = (r.sample ?? {}) as { errorRatio?: number; p95Seconds?: number; firingAlerts?: string[] };
  const t = (r.thresholds ?? {}) as { maxErrorRatio?: number; maxP95Seconds?: number };
  const alerts = s.firingAlerts && s.firingAlerts.length > 0 ? `, firing: ${s.firingAlerts.join(', ')}` : '';
  return (
    `${elapsed}error ratio ${num(s.errorRatio)}${t.maxErrorRatio !== undefined ? ` (max ${num(t.maxErrorRatio)})` : ''}, ` +
    `p95 ${typeof s.p95Seconds === 'number' ? `${num(s.p95Seconds)}s` : 'no data'}${t.maxP95Seconds !== undefined ? ` (max ${num(t.maxP95Seconds)}s)` : ''}${alerts}`
  );
}

/** One plain (no terminal) line for a record. */
export function renderPlain(r: LogRecord): string {
  const sample = sampleText(r);
  if (sample !== undefined) {
    return `${r.time} post-promotion sample ${sample}`;
  }
  const parts = [r.time, r.step, r.outcome];
  if (r.outcome === 'started' && typeof r.timeoutSeconds === 'number') {
    parts.push(`(timeout ${r.timeoutSeconds}s)`);
  }
  if (typeof r.durationMs === 'number' && r.outcome !== 'started') {
    parts.push(`in ${secs(r.durationMs)}`);
  }
  const detail = typeof r.detail === 'string' && r.detail !== '' ? `: ${r.detail.split('\n')[0]}` : '';
  return `${parts.join(' ')}${detail}`;
}

const MARK: Record<string, string> = {
  succeeded: '✔',
  skipped: '↷',
  failed: '✘',
  'rolled-back': '↩',
  warning: '!',
  info: '·',
};

/** The live line of a running step on a terminal. */
export function renderLive(
  step: { name: string; startedAt: number; timeoutSeconds?: number; info?: string },
  now: number,
): string {
  const elapsed = Math.max(0, Math.floor((now - step.startedAt) / 1000));
  const budget = step.timeoutSeconds !== undefined ? `${elapsed}s / ${step.timeoutSeconds}s` : `${elapsed}s`;
  return `… ${step.name}  ${budget}${step.info ? `  ${step.info}` : ''}`;
}

/** The final line of a step on a terminal. */
export function renderDone(r: LogRecord, startedAt: number | undefined): string {
  const ms =
    typeof r.durationMs === 'number'
      ? r.durationMs
      : startedAt !== undefined
        ? Date.parse(r.time) - startedAt
        : undefined;
  const detail = typeof r.detail === 'string' && r.detail !== '' ? `  ${r.detail.split('\n')[0]}` : '';
  return `${MARK[r.outcome] ?? '·'} ${r.step} ${r.outcome}${ms !== undefined ? ` ${secs(ms)}` : ''}${detail}`;
}

/** Receives release-log records and human lines; writes progress to a stream. */
export class Progress {
  private running: { name: string; startedAt: number; timeoutSeconds?: number; info?: string } | undefined;
  private readonly starts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    readonly mode: ProgressMode,
    private readonly write: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** A release-log record. */
  record(r: LogRecord): void {
    if (this.mode === 'quiet') {
      return;
    }
    if (this.mode === 'verbose') {
      this.write(`${JSON.stringify(r)}\n`);
      return;
    }
    if (this.mode === 'plain') {
      this.write(`${renderPlain(r)}\n`);
      return;
    }
    const at = Date.parse(r.time) || this.now();
    if (r.outcome === 'started') {
      this.starts.set(r.step, at);
      this.running = {
        name: r.step,
        startedAt: at,
        timeoutSeconds: typeof r.timeoutSeconds === 'number' ? r.timeoutSeconds : undefined,
        info: typeof r.detail === 'string' ? r.detail.split('\n')[0] : undefined,
      };
      this.redraw();
      this.timer ??= setInterval(() => this.redraw(), 1000);
      this.timer.unref?.();
      return;
    }
    const sample = sampleText(r);
    if (sample !== undefined && this.running) {
      this.running.info = sample;
      this.line(`· post-promotion sample ${sample}`);
      return;
    }
    const finished = this.running?.name === r.step;
    if (finished) {
      this.running = undefined;
    }
    this.line(renderDone(r, this.starts.get(r.step)));
    if (finished && r.step.includes(':')) {
      // An outer step (promote) still runs: show it again.
      const outer = [...this.starts.entries()].reverse().find(([name]) => !name.includes(':'));
      if (outer) {
        this.running = { name: outer[0], startedAt: outer[1] };
        this.redraw();
      }
    }
    this.starts.delete(r.step);
  }

  /** A human line (results, hints) printed above the live line. */
  line(text: string): void {
    if (this.mode === 'tty') {
      this.clear();
      this.write(`${text}\n`);
      this.redraw();
    } else if (this.mode !== 'quiet') {
      this.write(`${text}\n`);
    }
  }

  /** A result line for another stream (stdout): the live line is cleared first and redrawn after it. */
  print(write: (text: string) => void, text: string): void {
    this.clear();
    write(`${text}\n`);
    this.redraw();
  }

  private clear(): void {
    if (this.drawn) {
      this.write('\r\x1b[2K');
      this.drawn = false;
    }
  }

  private redraw(): void {
    if (this.mode !== 'tty' || !this.running) {
      return;
    }
    this.write(`\r\x1b[2K${renderLive(this.running, this.now())}`);
    this.drawn = true;
  }

  /** Stops the timer and clears the live line. */
  close(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.running = undefined;
    this.clear();
  }
}
