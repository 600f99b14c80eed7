/**
 * Every Namespace of the stack is default-deny: it holds a NetworkPolicy that selects every pod (empty
 * podSelector), names both policyTypes Ingress and Egress, and has no rules, so that a pod reaches and is reached
 * by nothing that another policy does not allow explicitly.
 */
import { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { at, identity, kindOf, obj, objects, str, strings } from '../lib/kubernetes';

/** True when a NetworkPolicy's spec is a default-deny of ingress and egress. */
export function isDefaultDeny(spec: unknown): boolean {
  const selector = obj(at(spec, 'podSelector'));
  const selectsAll =
    selector !== undefined &&
    Object.keys(obj(selector.matchLabels) ?? {}).length === 0 &&
    objects(selector.matchExpressions).length === 0;
  const types = strings(at(spec, 'policyTypes'));
  const noRules = objects(at(spec, 'ingress')).length === 0 && objects(at(spec, 'egress')).length === 0;
  return selectsAll && types.includes('Ingress') && types.includes('Egress') && noRules;
}

/** The Namespaces without a default-deny NetworkPolicy: [namespace name, urn]. */
export function namespacesWithoutDefaultDeny(resources: readonly PolicyResource[]): [string, string][] {
  const denied = new Set<string>();
  for (const r of resources) {
    if (kindOf(r.type) === 'NetworkPolicy' && isDefaultDeny(r.props.spec)) {
      denied.add(identity(r.props, r.name).namespace);
    }
  }
  return resources
    .filter((r) => kindOf(r.type) === 'Namespace')
    .map((r): [string, string] => [str(at(r.props, 'metadata.name')) ?? r.name, r.urn])
    .filter(([name]) => !denied.has(name));
}

export const defaultDenyPolicy: StackValidationPolicy = {
  name: 'namespace-default-deny',
  description:
    'Every Namespace has a NetworkPolicy with an empty podSelector, policyTypes Ingress and Egress, and no ' +
    'rules (PlatformNamespace creates it).',
  severity: 'critical',
  validateStack: (args, reportViolation) => {
    for (const [name, urn] of namespacesWithoutDefaultDeny(args.resources)) {
      reportViolation(
        `Namespace ${name} has no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules).`,
        urn,
      );
    }
  },
};
