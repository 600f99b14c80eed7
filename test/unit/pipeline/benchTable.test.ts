/**
 * The bench's table (bench/table.ts): the growth ratio (t50 - t1) / (t10 - t1) is given only when its
 * denominator stands out of the runs' noise, and otherwise the row says why instead of printing a quotient of
 * noise (a negative or huge "ratio").
 */
import { growthRatio, MIN_GROWTH_DENOMINATOR_S, stats, Table } from '../../../bench/table';

describe('growthRatio', () => {
  it('divides when t10 exceeds t1 by more than their spread', () => {
    const r = growthRatio(stats([2.0, 2.1, 2.2]), stats([3.0, 3.1, 3.2]), stats([7.0, 7.1, 7.2]));
    expect(r.why).toBeUndefined();
    expect(r.ratio).toBeCloseTo(5, 6);
  });

  it('refuses a denominator at or below zero (t10 <= t1: noise)', () => {
    for (const t10 of [[2.0], [1.5]]) {
      const r = growthRatio(stats([2.0]), stats(t10), stats([9.0]));
      expect(r.ratio).toBeUndefined();
      expect(r.why).toMatch(/^not computed: t10 - t1 = -?\d+\.\d\d s is not above the run-to-run spread/);
    }
  });

  it('refuses a positive denominator inside the runs spread', () => {
    const r = growthRatio(stats([2.0, 2.5]), stats([2.3, 2.6]), stats([9.0]));
    expect(r.ratio).toBeUndefined();
    expect(r.why).toContain('t10 - t1 = 0.20 s');
    expect(r.why).toContain('spread of t1 and t10 (0.80 s)');
  });

  it('refuses a denominator below the absolute floor even with no spread', () => {
    const tiny = MIN_GROWTH_DENOMINATOR_S / 2;
    expect(growthRatio(stats([2]), stats([2 + tiny]), stats([3])).ratio).toBeUndefined();
    expect(growthRatio(stats([2]), stats([2 + 2 * MIN_GROWTH_DENOMINATOR_S]), stats([3])).ratio).toBeCloseTo(
      10,
      6,
    );
  });

  it('refuses missing measurements', () => {
    expect(growthRatio(stats([]), stats([3]), stats([5])).why).toBe(
      'not computed: a preview time is missing',
    );
  });
});

describe('Table rows without a value', () => {
  it('print the reason, not a median of "-" and ratios of NaN', () => {
    const lines: string[] = [];
    const table = new Table((l) => lines.push(l));
    table.add({
      name: 'growth: (t50 - t1) / (t10 - t1)',
      unit: 'x',
      values: [],
      targets: [{ limit: 5.44, text: '<= 5.44 (linear in apps)' }],
      note: 'not computed: because',
    });
    expect(lines).toEqual(['  growth: (t50 - t1) / (t10 - t1): not computed: because']);
    const row = table.render().split('\n')[2];
    expect(row).not.toContain('NaN');
    expect(row).toContain('not computed: because');
    expect(row.split('|').map((c) => c.trim())[9]).toBe('');
  });
});
