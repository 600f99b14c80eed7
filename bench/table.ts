/**
 * The bench's one table: every measurement with min/median/max over its runs, and, where the issue sets one, its
 * target and the ratio to it. Rows are printed as they are measured too, so an interrupted run still shows what it
 * got.
 */

export type Unit = 's' | 'ms' | 'MiB' | 'x' | 'count' | 'load';

/** A target: the median must be at most `limit` (in the row's unit), described by `text`. */
export interface Target {
  limit: number;
  text: string;
}

export interface Row {
  name: string;
  unit: Unit;
  values: number[];
  note?: string;
  targets?: Target[];
  /** Indent level in the table (0 = headline, 1 = breakdown of the row above). */
  depth?: number;
}

export interface Stats {
  min: number;
  median: number;
  max: number;
}

export function stats(values: readonly number[]): Stats {
  if (values.length === 0) {
    return { min: NaN, median: NaN, max: NaN };
  }
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { min: s[0], median: mid, max: s[s.length - 1] };
}

export function median(values: readonly number[]): number {
  return stats(values).median;
}

/**
 * Below this, the 1 -> 10 apps difference is too small to divide by whatever the run-to-run spread: a ratio over
 * a few milliseconds says nothing about how the program grows.
 */
export const MIN_GROWTH_DENOMINATOR_S = 0.05;

/**
 * The growth ratio (t50 - t1) / (t10 - t1) of three preview times (seconds, over their runs), or why it is not
 * given. The denominator is meaningful only when t10's median exceeds t1's by more than both their run-to-run
 * spreads (max - min) together and by at least {@link MIN_GROWTH_DENOMINATOR_S}: otherwise machine noise can make
 * it tiny or negative, and the quotient is an absurd number (thousands, or below zero) that reads like a result.
 */
export function growthRatio(
  t1: Stats,
  t10: Stats,
  t50: Stats,
): { ratio: number; why?: undefined } | { ratio?: undefined; why: string } {
  const denominator = t10.median - t1.median;
  const spread = t1.max - t1.min + (t10.max - t10.min);
  if (!Number.isFinite(denominator) || !Number.isFinite(t50.median)) {
    return { why: 'not computed: a preview time is missing' };
  }
  if (denominator <= Math.max(spread, MIN_GROWTH_DENOMINATOR_S)) {
    return {
      why:
        `not computed: t10 - t1 = ${denominator.toFixed(2)} s is not above the run-to-run spread of t1 and t10 ` +
        `(${spread.toFixed(2)} s) and ${MIN_GROWTH_DENOMINATOR_S} s, so the ratio would be noise`,
    };
  }
  return { ratio: (t50.median - t1.median) / denominator };
}

function fmt(x: number, unit: Unit): string {
  if (!Number.isFinite(x)) {
    return '-';
  }
  if (unit === 'ms' || unit === 'count') {
    return x.toFixed(0);
  }
  if (unit === 'MiB') {
    return x.toFixed(0);
  }
  return x.toFixed(2);
}

export class Table {
  readonly rows: Row[] = [];

  constructor(private readonly echo: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  add(row: Row): Row {
    this.rows.push(row);
    const { min, median: med, max } = stats(row.values);
    if (row.values.length === 0) {
      // Nothing measured (or nothing meaningful): the note says why, rather than a median of "-" and ratios of NaN.
      this.echo(`  ${'  '.repeat(row.depth ?? 0)}${row.name}: ${row.note ?? 'not measured'}`);
      return row;
    }
    const t = (row.targets ?? []).map((x) => `${x.text}: ${(med / x.limit).toFixed(2)}x`).join('; ');
    this.echo(
      `  ${'  '.repeat(row.depth ?? 0)}${row.name}: median ${fmt(med, row.unit)} ${row.unit} (min ${fmt(min, row.unit)}, max ${fmt(max, row.unit)}, ${row.values.length} runs)${t ? `; ${t}` : ''}`,
    );
    return row;
  }

  /** The Markdown table of every row. */
  render(): string {
    const header = ['measurement', 'runs', 'min', 'median', 'max', 'unit', 'target', 'ratio', 'met', 'note'];
    const body = this.rows.map((r) => {
      const s = stats(r.values);
      const targets = r.targets ?? [];
      const ratios = r.values.length === 0 ? [] : targets.map((t) => s.median / t.limit);
      return [
        `${'&nbsp;&nbsp;'.repeat(r.depth ?? 0)}${r.name}`,
        String(r.values.length),
        fmt(s.min, r.unit),
        fmt(s.median, r.unit),
        fmt(s.max, r.unit),
        r.unit,
        targets.map((t) => t.text).join(', '),
        ratios.map((x) => `${x.toFixed(2)}x`).join(', '),
        ratios.length === 0 ? '' : ratios.every((x) => x <= 1) ? 'yes' : 'no',
        r.note ?? '',
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join(
      '\n',
    );
  }
}
