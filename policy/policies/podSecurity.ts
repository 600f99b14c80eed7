/**
 * The restricted Pod Security Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/)
 * on every pod template: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob. The namespaces
 * enforce it too (Pod Security admission), but only when pods are created: this policy refuses the change at
 * preview, before anything is applied, and also covers namespaces that enforce a weaker level.
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { Relaxation, relaxationsFor } from '../lib/exceptions';
import {
  at,
  containers,
  describe,
  obj,
  objects,
  str,
  strings,
  Obj,
  Workload,
  workload,
} from '../lib/kubernetes';

/** Volume sources the restricted standard allows. */
const RESTRICTED_VOLUME_SOURCES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** Sysctls the baseline (and so restricted) standard calls safe. */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

const GOOD_SECCOMP = new Set(['RuntimeDefault', 'Localhost']);

/** Every way a workload falls short of the restricted standard (after its allowed exceptions). */
export function podSecurityViolations(w: Workload): string[] {
  const allowed = relaxationsFor(w);
  const may = (r: Relaxation): boolean => allowed.has(r);
  const who = describe(w);
  const out: string[] = [];
  const pod = w.podSpec;
  const podSc = obj(pod.securityContext) ?? {};

  for (const [field, relax] of [
    ['hostNetwork', 'hostNetwork'],
    ['hostPID', 'hostPID'],
    ['hostIPC', undefined],
  ] as const) {
    if (pod[field] === true && (relax === undefined || !may(relax))) {
      out.push(`${who}: ${field} is true; pods must not share the node's namespaces.`);
    }
  }

  const hostPathVolumes = new Set<string>();
  for (const volume of objects(pod.volumes)) {
    const name = str(volume.name) ?? '?';
    for (const source of Object.keys(volume).filter((k) => k !== 'name' && volume[k] != null)) {
      if (source === 'hostPath') {
        hostPathVolumes.add(name);
        if (!may('hostPath')) {
          out.push(
            `${who}: volume "${name}" is a hostPath (${str(at(volume, 'hostPath.path')) ?? '?'}); only the ` +
              'node agents on the allow-list in policy/lib/exceptions.ts may mount the host.',
          );
        }
      } else if (!RESTRICTED_VOLUME_SOURCES.has(source)) {
        out.push(`${who}: volume "${name}" uses ${source}, which the restricted standard does not allow.`);
      }
    }
  }

  const podSeccomp = str(at(podSc, 'seccompProfile.type'));
  if (podSeccomp !== undefined && !GOOD_SECCOMP.has(podSeccomp)) {
    out.push(`${who}: pod seccompProfile is ${podSeccomp}; use RuntimeDefault or Localhost.`);
  }
  if (str(at(podSc, 'appArmorProfile.type')) === 'Unconfined') {
    out.push(`${who}: pod appArmorProfile is Unconfined.`);
  }
  if (podSc.runAsUser === 0 && !may('runAsRoot')) {
    out.push(`${who}: pod runAsUser is 0 (root).`);
  }
  for (const sysctl of objects(podSc.sysctls)) {
    const name = str(sysctl.name) ?? '?';
    if (!SAFE_SYSCTLS.has(name)) {
      out.push(`${who}: sysctl ${name} is not one of the safe sysctls.`);
    }
  }

  for (const c of containers(pod)) {
    const where = `${who} ${c.role} "${c.name}"`;
    const sc: Obj = obj(c.spec.securityContext) ?? {};

    if (sc.privileged === true) {
      out.push(`${where}: privileged is true.`);
    }
    if (sc.allowPrivilegeEscalation !== false) {
      out.push(`${where}: allowPrivilegeEscalation must be set to false.`);
    }
    const drop = strings(at(sc, 'capabilities.drop'));
    if (!drop.includes('ALL')) {
      out.push(`${where}: capabilities.drop must include ALL.`);
    }
    const added = strings(at(sc, 'capabilities.add')).filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (added.length > 0) {
      out.push(`${where}: adds capabilities ${added.join(', ')}; only NET_BIND_SERVICE may be added.`);
    }

    const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    const runAsUser = sc.runAsUser ?? podSc.runAsUser;
    if (!may('runAsRoot')) {
      if (runAsNonRoot !== true) {
        out.push(`${where}: runAsNonRoot must be true (on the container or the pod).`);
      }
      if (runAsUser === 0) {
        out.push(`${where}: runAsUser is 0 (root).`);
      }
    }

    const seccomp = str(at(sc, 'seccompProfile.type')) ?? podSeccomp;
    if (seccomp === undefined || !GOOD_SECCOMP.has(seccomp)) {
      out.push(`${where}: seccompProfile must be RuntimeDefault or Localhost (on the container or the pod).`);
    }
    if (str(at(sc, 'appArmorProfile.type')) === 'Unconfined') {
      out.push(`${where}: appArmorProfile is Unconfined.`);
    }
    if (sc.procMount !== undefined && sc.procMount !== 'Default') {
      out.push(`${where}: procMount must be Default.`);
    }
    if (at(sc, 'windowsOptions.hostProcess') === true) {
      out.push(`${where}: windowsOptions.hostProcess is true.`);
    }

    // Ephemeral containers (kubectl debug) are added by hand, never by this program; the rest need a
    // read-only root filesystem so that a compromised process cannot change its own binaries.
    if (c.role !== 'ephemeral container' && sc.readOnlyRootFilesystem !== true) {
      out.push(`${where}: readOnlyRootFilesystem must be true; mount an emptyDir where it must write.`);
    }

    for (const port of objects(c.spec.ports)) {
      const hostPort = port.hostPort;
      if (typeof hostPort === 'number' && hostPort !== 0 && !may('hostPort')) {
        out.push(`${where}: port ${String(port.containerPort)} binds hostPort ${hostPort} on the node.`);
      }
    }

    for (const mount of objects(c.spec.volumeMounts)) {
      const volume = str(mount.name) ?? '?';
      if (
        hostPathVolumes.has(volume) &&
        may('hostPath') &&
        mount.readOnly !== true &&
        !may('writableHostPath')
      ) {
        out.push(`${where}: hostPath volume "${volume}" must be mounted readOnly.`);
      }
    }
  }
  return out;
}

export const podSecurityPolicy: ResourceValidationPolicy = {
  name: 'pod-security-restricted',
  description:
    'Every pod template meets the restricted Pod Security Standard: non-root, no privilege escalation, ' +
    'capabilities drop ALL (only NET_BIND_SERVICE added), RuntimeDefault/Localhost seccomp, no host ' +
    'namespaces, ports or paths, read-only root filesystem. Only the node agents listed in ' +
    'policy/lib/exceptions.ts, in `*-node` namespaces, may relax the controls listed for them.',
  severity: 'critical',
  validateResource: (args, reportViolation) => {
    const w = workload(args.type, args.props, args.name);
    if (w === undefined) {
      return;
    }
    for (const message of podSecurityViolations(w)) {
      reportViolation(message);
    }
  },
};
