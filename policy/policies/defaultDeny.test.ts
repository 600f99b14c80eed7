import { FakeResource, messages, validateStack } from '../test/fakes';
import { defaultDenyPolicy } from './defaultDeny';

const ns = (name: string): FakeResource => ({
  type: 'kubernetes:core/v1:Namespace',
  name,
  props: { metadata: { name } },
});
const netpol = (namespace: string, spec: Record<string, unknown>): FakeResource => ({
  type: 'kubernetes:networking.k8s.io/v1:NetworkPolicy',
  name: `${namespace}-np`,
  props: { metadata: { name: 'default-deny', namespace }, spec },
});
const DENY = { podSelector: {}, policyTypes: ['Ingress', 'Egress'] };

describe('namespace-default-deny', () => {
  it('passes when every namespace has a default-deny policy', async () => {
    expect(
      await validateStack(defaultDenyPolicy, [ns('a'), ns('b'), netpol('a', DENY), netpol('b', DENY)]),
    ).toEqual([]);
  });

  it('flags a namespace without one, against the namespace', async () => {
    const violations = await validateStack(defaultDenyPolicy, [ns('a'), ns('b'), netpol('a', DENY)]);
    expect(messages(violations)).toEqual([expect.stringContaining('Namespace b has no default-deny')]);
    expect(violations[0].urn).toBe('urn:pulumi:test::pavemaster::kubernetes:core/v1:Namespace::b');
  });

  it.each([
    ['selects some pods only', { ...DENY, podSelector: { matchLabels: { app: 'x' } } }],
    ['denies ingress only', { ...DENY, policyTypes: ['Ingress'] }],
    ['allows something', { ...DENY, ingress: [{ from: [{ podSelector: {} }] }] }],
    ['has no podSelector', { policyTypes: ['Ingress', 'Egress'] }],
  ])('does not count a policy that %s', async (_what, spec) => {
    expect(await validateStack(defaultDenyPolicy, [ns('a'), netpol('a', spec)])).toHaveLength(1);
  });
});
