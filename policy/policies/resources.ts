/**
 * Requests and limits on every container, init containers included: without requests the scheduler
 * over-commits nodes, without limits one container can starve its neighbours (and the node agents).
 *
 * Local disk is bounded the same way: every emptyDir sets a sizeLimit (the kubelet evicts a pod that writes
 * more). With read-only root filesystems (pod-security-restricted) the emptyDirs and the kubelet-rotated logs are
 * all a container can write locally, so this bounds its ephemeral storage without per-container
 * ephemeral-storage requests (why kube-score's ephemeral-storage check is turned off).
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { at, containers, describe, objects, str, Workload, workload } from '../lib/kubernetes';

const QUANTITIES = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'];

function isSet(value: unknown): boolean {
  return (typeof value === 'string' && value.trim() !== '') || typeof value === 'number';
}

/** Every missing request or limit of a workload's containers. */
export function resourceViolations(w: Workload): string[] {
  const out: string[] = [];
  for (const c of containers(w.podSpec)) {
    // Ephemeral containers cannot have resources (the API rejects them); they are never declared here anyway.
    if (c.role === 'ephemeral container') {
      continue;
    }
    const missing = QUANTITIES.filter((q) => !isSet(at(c.spec.resources, q)));
    if (missing.length > 0) {
      out.push(`${describe(w)} ${c.role} "${c.name}" sets no ${missing.join(', ')}.`);
    }
  }
  for (const volume of objects(w.podSpec.volumes)) {
    const emptyDir = volume.emptyDir;
    if (emptyDir != null && !isSet(at(emptyDir, 'sizeLimit'))) {
      out.push(`${describe(w)} emptyDir volume "${str(volume.name) ?? '?'}" sets no sizeLimit.`);
    }
  }
  return out;
}

export const resourcesPolicy: ResourceValidationPolicy = {
  name: 'container-resources',
  description:
    'Every container and init container sets CPU and memory requests and limits; every emptyDir sets a sizeLimit.',
  severity: 'high',
  validateResource: (args, reportViolation) => {
    const w = workload(args.type, args.props, args.name);
    if (w !== undefined) {
      resourceViolations(w).forEach((m) => reportViolation(m));
    }
  },
};
