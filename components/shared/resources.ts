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

/**
 * The local disk of every container: what the scheduler reserves on the node and the most it may use before the
 * kubelet evicts the pod. A container's own disk is small (every root filesystem is read-only, so only its logs,
 * which the kubelet rotates at 10 MiB x 5, and nothing else), but the kubelet also counts a pod's disk-backed
 * emptyDirs against the SUM of its containers' limits, so the limit covers the largest pod's scratch volumes
 * (Elasticsearch: 64Mi + 1Gi + 1Gi, Kibana: 2 x 1Gi) with room to spare; each emptyDir's own `sizeLimit` stays
 * the tighter bound. test/unit/security/scanners.test.ts checks that every rendered pod's limits cover its
 * emptyDirs.
 */
export const EPHEMERAL_STORAGE = { request: '64Mi', limit: '4Gi' } as const;

export function toResourceRequirements(r: ContainerResources): k8s.types.input.core.v1.ResourceRequirements {
  return {
    requests: {
      cpu: r.requests.cpu,
      memory: r.requests.memory,
      'ephemeral-storage': EPHEMERAL_STORAGE.request,
    },
    limits: { cpu: r.limits.cpu, memory: r.limits.memory, 'ephemeral-storage': EPHEMERAL_STORAGE.limit },
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
