import { LogRecord } from '../../../release/log';
import { Progress, progressMode, renderPlain, sampleText } from '../../../release/progress';

function rec(fields: Partial<LogRecord> & Pick<LogRecord, 'step' | 'outcome' | 'time'>): LogRecord {
  return { stack: 'staging', command: 'promote', ...fields };
}

const SAMPLE = rec({
  time: '2026-01-05T09:00:15.000Z',
  step: 'post-promotion:sample',
  outcome: 'info',
  elapsedSeconds: 15,
  sample: { errorRatio: 0.0021, p95Seconds: 0.0485, firingAlerts: [] },
  thresholds: { maxErrorRatio: 0.01, maxP95Seconds: 1 },
});

describe('progress', () => {
  it('picks the mode from the flags and the terminal', () => {
    expect(progressMode({}, true)).toBe('tty');
    expect(progressMode({}, false)).toBe('plain');
    expect(progressMode({ quiet: true, verbose: true }, true)).toBe('quiet');
    expect(progressMode({ verbose: true }, true)).toBe('verbose');
  });

  it('without a terminal: one timestamped line per step, with its timeout and duration', () => {
    expect(
      renderPlain(
        rec({
          time: '2026-01-05T09:00:00.000Z',
          step: 'gate:ready',
          outcome: 'started',
          timeoutSeconds: 600,
        }),
      ),
    ).toBe('2026-01-05T09:00:00.000Z gate:ready started (timeout 600s)');
    expect(
      renderPlain(
        rec({
          time: '2026-01-05T09:00:14.000Z',
          step: 'gate:ready',
          outcome: 'succeeded',
          durationMs: 14200,
          detail: '2 pod(s) of green Ready\nmore',
        }),
      ),
    ).toBe('2026-01-05T09:00:14.000Z gate:ready succeeded in 14.2s: 2 pod(s) of green Ready');
  });

  it('a post-promotion sample shows the measured error ratio and p95 against the thresholds', () => {
    expect(sampleText(SAMPLE)).toBe('at 15s: error ratio 0.0021 (max 0.01), p95 0.0485s (max 1s)');
    expect(renderPlain(SAMPLE)).toBe(
      '2026-01-05T09:00:15.000Z post-promotion sample at 15s: error ratio 0.0021 (max 0.01), p95 0.0485s (max 1s)',
    );
    expect(sampleText(rec({ ...SAMPLE, sample: undefined, error: 'connect ECONNREFUSED' }))).toBe(
      'at 15s: no sample (connect ECONNREFUSED)',
    );
  });

  it('on a terminal: one live line per running step, redrawn with elapsed/timeout, then a final line', () => {
    let now = Date.parse('2026-01-05T09:00:00.000Z');
    let out = '';
    const p = new Progress(
      'tty',
      (t) => (out += t),
      () => now,
    );
    p.record(
      rec({
        time: '2026-01-05T09:00:00.000Z',
        step: 'post-promotion',
        outcome: 'started',
        timeoutSeconds: 60,
      }),
    );
    expect(out).toBe('\r\x1b[2K… post-promotion  0s / 60s');
    now += 15000;
    p.record(SAMPLE);
    expect(out).toContain(
      '\r\x1b[2K· post-promotion sample at 15s: error ratio 0.0021 (max 0.01), p95 0.0485s (max 1s)\n',
    );
    expect(
      out.endsWith(
        '\r\x1b[2K… post-promotion  15s / 60s  at 15s: error ratio 0.0021 (max 0.01), p95 0.0485s (max 1s)',
      ),
    ).toBe(true);
    p.record(
      rec({
        time: '2026-01-05T09:01:00.000Z',
        step: 'post-promotion',
        outcome: 'succeeded',
        detail: 'passed',
      }),
    );
    expect(out.endsWith('\r\x1b[2K✔ post-promotion succeeded 60.0s  passed\n')).toBe(true);
    p.close();
  });

  it('quiet prints nothing; verbose prints every record as JSON', () => {
    let quiet = '';
    new Progress('quiet', (t) => (quiet += t)).record(SAMPLE);
    expect(quiet).toBe('');
    let verbose = '';
    new Progress('verbose', (t) => (verbose += t)).record(SAMPLE);
    expect(JSON.parse(verbose)).toEqual(SAMPLE);
  });
});
