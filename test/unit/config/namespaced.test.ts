/**
 * The namespaced profile (issue 17, docs/security.md "Least privilege"): with `createNamespace`,
 * `monitoring.enabled` and `logging.enabled` false the program registers nothing cluster-scoped, and every kind it
 * registers, with every namespaced option on (the dashboards for a cluster's own Grafana, the PodMonitor and
 * PrometheusRule), is one the Role of docs/rbac/deployer-namespaced.yaml may create, update and delete. The real
 * API server's answer is test/integration/leastPrivilege.int.test.ts's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { recordStack } from '../../support/harness';
import { REPO, stackConfig } from '../../support/stackConfig';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const role = parse(fs.readFileSync(path.join(REPO, 'docs', 'rbac', 'deployer-namespaced.yaml'), 'utf8')) as {
  kind: string;
  rules: Rule[];
};

const NAMESPACED = {
  createNamespace: false,
  monitoring: {
    enabled: false,
    dashboards: { configMaps: { enabled: true } },
    prometheusOperator: { enabled: true },
  },
  logging: { enabled: false },
};

/** `kubernetes:apps/v1:Deployment` -> the API group and the resource ("apps", "deployments"). */
function apiResource(type: string): { group: string; resource: string } {
  const [, groupVersion, kind] = /^kubernetes:([^:]+):(\w+)$/.exec(type) ?? [];
  const group = groupVersion.includes('/') ? groupVersion.slice(0, groupVersion.lastIndexOf('/')) : '';
  const lower = kind.toLowerCase();
  const resource = lower.endsWith('y')
    ? `${lower.slice(0, -1)}ies`
    : lower.endsWith('s')
      ? `${lower}es`
      : `${lower}s`;
  return { group: group === 'core' ? '' : group, resource };
}

const allows = (group: string, resource: string, verb: string) =>
  role.rules.some(
    (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
  );

describe('the namespaced profile', () => {
  it('registers nothing cluster-scoped, and only kinds the documented Role may write', async () => {
    expect(role.kind).toBe('Role');
    const { resources } = await recordStack('staging', stackConfig('staging', NAMESPACED));
    const kinds = [...new Set(resources.filter((r) => r.type.startsWith('kubernetes:')).map((r) => r.type))];
    expect(kinds).not.toContain('kubernetes:core/v1:Namespace');
    expect(kinds.filter((k) => /ClusterRole|DaemonSet|CustomResourceDefinition/.test(k))).toEqual([]);
    expect(kinds.length).toBeGreaterThan(5);
    for (const kind of kinds) {
      const { group, resource } = apiResource(kind);
      for (const verb of ['get', 'create', 'patch', 'delete']) {
        expect({ kind, verb, allowed: allows(group, resource, verb) }).toEqual({ kind, verb, allowed: true });
      }
    }
    // No wildcard anywhere in the Role.
    for (const r of role.rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
    }
  });

  it('is refused with monitoring or logging on, which create namespaces and ClusterRoles', () => {
    // One problem, under the key set: what to change is in its message.
    const problems = (overrides: Record<string, unknown>): string[] => {
      try {
        loadSettings('staging', stackConfig('staging', overrides));
      } catch (e) {
        if (e instanceof ConfigError) {
          return e.problems.map((p) => p.key).sort();
        }
        throw e;
      }
      return [];
    };
    expect(problems({ createNamespace: false })).toEqual(['pavemaster:createNamespace']);
    expect(problems({ createNamespace: false, logging: { enabled: false } })).toEqual([
      'pavemaster:createNamespace',
    ]);
    expect(problems(NAMESPACED)).toEqual([]);
    expect(loadSettings('staging', stackConfig('staging')).createNamespace).toBe(true);
  });
});
