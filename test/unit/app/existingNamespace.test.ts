/**
 * `pavemaster:createNamespace false` (the namespace pre-created by a platform team): the program does not create
 * the Namespace, but the app's namespace is still closed by default: a default-deny NetworkPolicy for ingress and
 * egress of every pod and the DNS allowance are created in the existing namespace, under the app's own names (so
 * they cannot collide with the namespace's own policies), exactly once however many apps share it. Over the
 * resources the program registers under Pulumi's mocks.
 */
import { at, ofType, recordStack, Registered } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const POLICY = 'kubernetes:networking.k8s.io/v1:NetworkPolicy';
const NAMESPACED = { createNamespace: false, monitoring: { enabled: false }, logging: { enabled: false } };
const ALL_PODS_BOTH_WAYS = { podSelector: {}, policyTypes: ['Ingress', 'Egress'] };

/** Every NetworkPolicy selecting every pod of a namespace, as "namespace/name". */
function namespaceWide(resources: readonly Registered[]): Record<string, unknown> {
  return Object.fromEntries(
    ofType(resources, POLICY)
      .filter((r) => JSON.stringify(at(r.inputs, 'spec.podSelector')) === '{}')
      .map((r) => [
        `${String(at(r.inputs, 'metadata.namespace'))}/${String(at(r.inputs, 'metadata.name'))}`,
        at(r.inputs, 'spec'),
      ]),
  );
}

describe('an existing namespace (pavemaster:createNamespace false)', () => {
  it('gets the default-deny and DNS policies all the same, and no Namespace', async () => {
    const { resources } = await recordStack('staging', stackConfig('staging', NAMESPACED));
    expect(ofType(resources, 'kubernetes:core/v1:Namespace')).toEqual([]);
    const wide = namespaceWide(resources);
    expect(Object.keys(wide).sort()).toEqual([
      'pavemaster-staging/pavemaster-allow-dns',
      'pavemaster-staging/pavemaster-default-deny',
    ]);
    expect(wide['pavemaster-staging/pavemaster-default-deny']).toEqual(ALL_PODS_BOTH_WAYS);
    expect(wide['pavemaster-staging/pavemaster-allow-dns']).toEqual({
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    });
    // The app's own allow rules come on top, as in a namespace the program creates.
    const names = ofType(resources, POLICY).map((r) => at(r.inputs, 'metadata.name'));
    expect(names).toContain('pavemaster-allow-ingress');
  });

  it('in the production profile too', async () => {
    const { resources } = await recordStack('production', stackConfig('production', NAMESPACED));
    expect(namespaceWide(resources)['pavemaster-production/pavemaster-default-deny']).toEqual(
      ALL_PODS_BOTH_WAYS,
    );
  });

  it('once for the namespace, however many apps share it', async () => {
    const { resources } = await recordStack(
      'staging',
      stackConfig('staging', { ...NAMESPACED, benchServices: 3 }),
    );
    expect(Object.keys(namespaceWide(resources)).sort()).toEqual([
      'pavemaster-staging/pavemaster-allow-dns',
      'pavemaster-staging/pavemaster-default-deny',
    ]);
  });

  it('a namespace the program creates keeps its own policies, not a second set', async () => {
    const { resources } = await recordStack('staging', stackConfig('staging', { benchServices: 3 }));
    const wide = Object.keys(namespaceWide(resources)).filter((k) => k.startsWith('pavemaster-staging/'));
    expect(wide.sort()).toEqual(['pavemaster-staging/allow-dns', 'pavemaster-staging/default-deny']);
  });
});
