/**
 * A replicated workload keeps its replicas through voluntary disruptions: every Deployment or StatefulSet with
 * more than one replica is selected by a PodDisruptionBudget in its namespace, so a node drain or a cluster
 * upgrade never takes all of its pods at once. A budget that allows no disruption at all (`maxUnavailable: 0`,
 * or `minAvailable` of every replica) blocks every drain and is refused too.
 */
import { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import {
  at,
  describe,
  identity,
  kindOf,
  objects,
  str,
  strings,
  stringMap,
  workload,
} from '../lib/kubernetes';

/** True when a label selector (matchLabels and matchExpressions) selects pods with `labels`. */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
  const match = stringMap(at(selector, 'matchLabels'));
  const expressions = objects(at(selector, 'matchExpressions'));
  if (Object.keys(match).length === 0 && expressions.length === 0) {
    return false; // an empty selector in a PodDisruptionBudget selects nothing useful here
  }
  if (!Object.entries(match).every(([k, v]) => labels[k] === v)) {
    return false;
  }
  return expressions.every((e) => {
    const key = str(e.key) ?? '';
    const values = strings(e.values);
    switch (str(e.operator)) {
      case 'In':
        return key in labels && values.includes(labels[key]);
      case 'NotIn':
        return !(key in labels) || !values.includes(labels[key]);
      case 'Exists':
        return key in labels;
      case 'DoesNotExist':
        return !(key in labels);
      default:
        return false;
    }
  });
}

/** The number of replicas a budget lets go at once, when it says so in numbers; undefined for percentages. */
function allowedDisruptions(pdb: PolicyResource, replicas: number): number | undefined {
  const maxUnavailable = at(pdb.props, 'spec.maxUnavailable');
  if (typeof maxUnavailable === 'number') {
    return maxUnavailable;
  }
  const minAvailable = at(pdb.props, 'spec.minAvailable');
  if (typeof minAvailable === 'number') {
    return replicas - minAvailable;
  }
  return undefined;
}

/** The replicated workloads without a budget, or with one that blocks every drain: [message, urn]. */
export function disruptionViolations(resources: readonly PolicyResource[]): [string, string][] {
  const budgets = resources.filter((r) => kindOf(r.type) === 'PodDisruptionBudget');
  const out: [string, string][] = [];
  for (const r of resources) {
    const w = workload(r.type, r.props, r.name);
    if (w === undefined || !['Deployment', 'StatefulSet'].includes(w.kind)) {
      continue;
    }
    const replicas = at(r.props, 'spec.replicas');
    const count = typeof replicas === 'number' ? replicas : 1;
    if (count <= 1) {
      continue;
    }
    const mine = budgets.filter(
      (b) =>
        identity(b.props, b.name).namespace === w.namespace &&
        selects(at(b.props, 'spec.selector'), w.podLabels),
    );
    if (mine.length === 0) {
      out.push([
        `${describe(w)} runs ${count} replicas but no PodDisruptionBudget selects its pods: a node drain could ` +
          'take them all at once.',
        r.urn,
      ]);
    } else if (mine.every((b) => allowedDisruptions(b, count) === 0)) {
      out.push([
        `${describe(w)}: its PodDisruptionBudget allows no disruption, which blocks every node drain.`,
        r.urn,
      ]);
    }
  }
  return out;
}

export const disruptionPolicy: StackValidationPolicy = {
  name: 'pod-disruption-budget',
  description:
    'Every Deployment or StatefulSet with more than one replica is selected by a PodDisruptionBudget in its ' +
    'namespace that allows at least one disruption.',
  severity: 'medium',
  validateStack: (args, reportViolation) => {
    for (const [message, urn] of disruptionViolations(args.resources)) {
      reportViolation(message, urn);
    }
  },
};
