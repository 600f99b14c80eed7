/**
 * RBAC names what it grants: no `*` in a Role's or ClusterRole's verbs, resources or apiGroups (a wildcard
 * grants tomorrow's resources and verbs too, and `*` on secrets or escalate is cluster-admin in disguise).
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { identity, kindOf, objects, strings, Obj } from '../lib/kubernetes';

const FIELDS = ['verbs', 'resources', 'apiGroups', 'nonResourceURLs'] as const;

export function rbacViolations(kind: string, props: Obj, fallbackName: string): string[] {
  const { name, namespace } = identity(props, fallbackName);
  const who = kind === 'ClusterRole' ? `ClusterRole ${name}` : `Role ${namespace}/${name}`;
  const out: string[] = [];
  for (const [i, rule] of objects(props.rules).entries()) {
    for (const field of FIELDS) {
      const wild = strings(rule[field]).filter((v) => v.includes('*'));
      if (wild.length > 0) {
        out.push(`${who} rule ${i}: ${field} contains a wildcard (${wild.join(', ')}); name each one.`);
      }
    }
  }
  return out;
}

export const rbacPolicy: ResourceValidationPolicy = {
  name: 'rbac-no-wildcards',
  description: 'Role and ClusterRole rules name their verbs, resources and apiGroups: no "*".',
  severity: 'high',
  validateResource: (args, reportViolation) => {
    const kind = kindOf(args.type);
    if (kind === 'Role' || kind === 'ClusterRole') {
      rbacViolations(kind, args.props, args.name).forEach((m) => reportViolation(m));
    }
  },
};
