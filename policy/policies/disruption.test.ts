import { FakeResource, goodPodSpec, messages, validateStack, workloadResource } from '../test/fakes';
import { disruptionPolicy, selects } from './disruption';

function replicated(kind: 'Deployment' | 'StatefulSet', replicas: number | undefined): FakeResource {
  const r = workloadResource(kind, goodPodSpec(), { labels: { app: 'web', slot: 'blue' } });
  const spec = r.props.spec as Record<string, unknown>;
  return { ...r, props: { ...r.props, spec: { ...spec, ...(replicas !== undefined ? { replicas } : {}) } } };
}

function budget(spec: Record<string, unknown>, namespace = 'apps'): FakeResource {
  return {
    type: 'kubernetes:policy/v1:PodDisruptionBudget',
    name: 'web',
    props: { metadata: { name: 'web', namespace }, spec },
  };
}

const matching = { maxUnavailable: 1, selector: { matchLabels: { app: 'web', slot: 'blue' } } };

describe('pod-disruption-budget', () => {
  it.each(['Deployment', 'StatefulSet'] as const)('passes a replicated %s with a budget', async (kind) => {
    expect(await validateStack(disruptionPolicy, [replicated(kind, 3), budget(matching)])).toEqual([]);
  });

  it('leaves single-replica workloads (replicas 1 or unset) and DaemonSets alone', async () => {
    const ds = workloadResource('DaemonSet', goodPodSpec(), { labels: { app: 'agent' } });
    expect(
      await validateStack(disruptionPolicy, [
        replicated('Deployment', 1),
        replicated('StatefulSet', undefined),
        ds,
      ]),
    ).toEqual([]);
  });

  it('refuses a replicated workload without a budget, or with one in another namespace or for other pods', async () => {
    for (const others of [
      [],
      [budget(matching, 'elsewhere')],
      [budget({ ...matching, selector: { matchLabels: { app: 'db' } } })],
    ]) {
      expect(
        messages(await validateStack(disruptionPolicy, [replicated('Deployment', 3), ...others])),
      ).toEqual([
        'Deployment apps/web runs 3 replicas but no PodDisruptionBudget selects its pods: a node drain could take ' +
          'them all at once.',
      ]);
    }
  });

  it('refuses a budget that allows no disruption', async () => {
    for (const spec of [
      { ...matching, maxUnavailable: 0 },
      { selector: matching.selector, minAvailable: 2 },
    ]) {
      expect(
        messages(await validateStack(disruptionPolicy, [replicated('StatefulSet', 2), budget(spec)])),
      ).toEqual([expect.stringContaining('allows no disruption')]);
    }
    expect(
      await validateStack(disruptionPolicy, [
        replicated('StatefulSet', 3),
        budget({ selector: matching.selector, minAvailable: '50%' }),
      ]),
    ).toEqual([]);
  });

  it('evaluates selector expressions', () => {
    const labels = { app: 'web', slot: 'blue' };
    expect(
      selects({ matchExpressions: [{ key: 'slot', operator: 'In', values: ['blue', 'green'] }] }, labels),
    ).toBe(true);
    expect(
      selects({ matchExpressions: [{ key: 'slot', operator: 'NotIn', values: ['blue'] }] }, labels),
    ).toBe(false);
    expect(
      selects(
        { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] },
        labels,
      ),
    ).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels)).toBe(false);
    expect(selects({}, labels)).toBe(false);
  });
});
