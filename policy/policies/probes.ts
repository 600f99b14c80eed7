/**
 * Every long-running container says when it is ready and when it is stuck: a readinessProbe (no traffic, and no
 * blue/green switch, before the pod can serve; Argo Rollouts' "fully available" rests on it) and a livenessProbe
 * (the kubelet restarts a container that hangs). Run-to-completion pods (Jobs, CronJobs) and init containers are
 * not long-running and are left alone.
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { containers, describe, Obj, obj, workload } from '../lib/kubernetes';

/** The kinds whose pods run until they are replaced. */
export const LONG_RUNNING_KINDS: readonly string[] = [
  'Pod',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'ReplicationController',
];

/** A probe counts when it says how to probe: httpGet, tcpSocket, exec or grpc. */
function isProbe(value: unknown): boolean {
  const p = obj(value);
  return p !== undefined && ['httpGet', 'tcpSocket', 'exec', 'grpc'].some((k) => obj(p[k]) !== undefined);
}

export function probeViolations(type: string, props: Obj, fallbackName: string): string[] {
  const w = workload(type, props, fallbackName);
  if (w === undefined || !LONG_RUNNING_KINDS.includes(w.kind)) {
    return [];
  }
  const out: string[] = [];
  for (const c of containers(w.podSpec).filter((x) => x.role === 'container')) {
    const missing = (['readinessProbe', 'livenessProbe'] as const).filter((p) => !isProbe(c.spec[p]));
    if (missing.length > 0) {
      out.push(
        `${describe(w)} container "${c.name}" has no ${missing.join(' and no ')}: a long-running container ` +
          'must say when it is ready (readinessProbe) and when it must be restarted (livenessProbe).',
      );
    }
  }
  return out;
}

export const probesPolicy: ResourceValidationPolicy = {
  name: 'long-running-probes',
  description:
    'Every container of a long-running workload (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet) has a ' +
    'readinessProbe and a livenessProbe (httpGet, tcpSocket, exec or grpc).',
  severity: 'high',
  validateResource: (args, reportViolation) => {
    probeViolations(args.type, args.props, args.name).forEach((m) => reportViolation(m));
  },
};
