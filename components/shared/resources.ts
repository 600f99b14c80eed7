/** Container resources in the shape Kubernetes takes them. */
import * as k8s from '@pulumi/kubernetes';

/** Requests and limits of one container. */
export interface ContainerResources {
  /** What the scheduler reserves. */
  requests: { cpu: string; memory: string };
  /** The most the container may use. */
  limits: { cpu: string; memory: string };
}

export function toResourceRequirements(r: ContainerResources): k8s.types.input.core.v1.ResourceRequirements {
  return {
    requests: { cpu: r.requests.cpu, memory: r.requests.memory },
    limits: { cpu: r.limits.cpu, memory: r.limits.memory },
  };
}
