import { validateResource, messages } from '../test/fakes';
import { rbacPolicy } from './rbac';

function role(kind: 'Role' | 'ClusterRole', rules: Record<string, unknown>[]) {
  return {
    type: `kubernetes:rbac.authorization.k8s.io/v1:${kind}`,
    name: 'reader',
    props: { metadata: { name: 'reader', namespace: 'apps' }, rules },
  };
}

describe('rbac-no-wildcards', () => {
  it('passes rules that name everything', async () => {
    const rules = [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }];
    expect(await validateResource(rbacPolicy, role('ClusterRole', rules))).toEqual([]);
  });

  it.each([
    ['verbs', { apiGroups: [''], resources: ['pods'], verbs: ['*'] }],
    ['resources', { apiGroups: [''], resources: ['pods/*'], verbs: ['get'] }],
    ['apiGroups', { apiGroups: ['*'], resources: ['pods'], verbs: ['get'] }],
  ])('refuses a wildcard in %s', async (field, rule) => {
    for (const kind of ['Role', 'ClusterRole'] as const) {
      expect(messages(await validateResource(rbacPolicy, role(kind, [rule])))).toEqual([
        expect.stringContaining(`${field} contains a wildcard`),
      ]);
    }
  });
});
