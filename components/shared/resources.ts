/** Container resources in the shape Kubernetes takes them, and their one invariant. */
import * as k8s from '@pulumi/kubernetes';
import { ArgProblem } from './args';
import { parseQuantity } from './checks';

/** Requests and limits of one container. */
export interface ContainerResources {
  /** What the scheduler reserves. */
  readonly requests: { readonly cpu: string; readonly memory: string };
  /** The most the container may use. */
  readonly limits: { readonly cpu: string; readonly memory: string };
}

export function toResourceRequirements(r: ContainerResources): k8s.types.input.core.v1.ResourceRequirements {
  return {
    requests: { cpu: r.requests.cpu, memory: r.requests.memory },
    limits: { cpu: r.limits.cpu, memory: r.limits.memory },
  };
}

/** Each request at most its limit (the API server rejects a request above its limit). */
export function checkRequestsWithinLimits(r: ContainerResources, path = ''): ArgProblem[] {
  const out: ArgProblem[] = [];
  for (const kind of ['cpu', 'memory'] as const) {
    const request = parseQuantity(r.requests[kind]) ?? 0;
    const limit = parseQuantity(r.limits[kind]) ?? 0;
    if (request > limit) {
      out.push({
        path: `${path}requests.${kind}`,
        value: r.requests[kind],
        allowed: `a request no larger than its limit (${path}limits.${kind} = "${r.limits[kind]}")`,
      });
    }
  }
  return out;
}
