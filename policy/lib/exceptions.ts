/**
 * The one, explicit allow-list of workloads that may weaken the restricted Pod Security Standard, and exactly
 * which controls each may relax. Everything else, in any namespace, must be restricted.
 *
 * Only node agents are on it: they read the node itself, which no restricted pod can. They run as DaemonSets in
 * namespaces named `*-node` (PlatformNamespace with `podSecurity: 'privileged'`, still warning and auditing at
 * `restricted`), so that the workloads that need no host access stay in namespaces that enforce `restricted`.
 * An exception matches on kind, name AND namespace: the same name in another namespace, or another kind, gets
 * no exception. Changing this list is a security review: docs/security.md repeats it.
 */
import { checkDnsLabel } from '../../components/shared/checks';

/** A control of the restricted standard that an exception may relax. */
export type Relaxation =
  /** hostPath volumes, mounted read-only. */
  | 'hostPath'
  /** hostPath volumes mounted read-write (the shipper's read-position registry). */
  | 'writableHostPath'
  /** The node's network namespace (hostNetwork). */
  | 'hostNetwork'
  /** The node's process namespace (hostPID). */
  | 'hostPID'
  /** Ports bound on the node (hostPort), implied by hostNetwork. */
  | 'hostPort'
  /** Running as user 0 (files under /var/log/pods are root-owned, 0640). */
  | 'runAsRoot';

/** One allowed exception. */
export interface NodeAgentException {
  /** The workload's kind. */
  kind: 'DaemonSet';
  /** The workload's metadata.name. */
  name: string;
  /** What it may relax; every other control still applies. */
  allow: readonly Relaxation[];
  /** Why: shown in docs/security.md and in policy messages. */
  reason: string;
}

/** Namespaces node agents live in: `<something>-node`, a namespace name (RFC 1123 label). */
export function isNodeAgentNamespace(namespace: string): boolean {
  return namespace.endsWith('-node') && namespace !== '-node' && checkDnsLabel(namespace) === undefined;
}

export const NODE_AGENT_EXCEPTIONS: readonly NodeAgentException[] = [
  {
    kind: 'DaemonSet',
    name: 'node-exporter',
    allow: ['hostPath', 'hostNetwork', 'hostPID', 'hostPort'],
    reason:
      "node-exporter reports the node's own metrics: it reads the host's /proc, /sys and root filesystem " +
      '(read-only hostPath), sees host processes (hostPID) and network interfaces (hostNetwork).',
  },
  {
    kind: 'DaemonSet',
    name: 'log-shipper',
    allow: ['hostPath', 'writableHostPath', 'runAsRoot'],
    reason:
      "The log shipper tails every container's log files on the node (read-only hostPath /var/log), which " +
      'are root-owned 0640, so it runs as user 0; it keeps its read positions in a writable hostPath so a ' +
      'restart neither loses nor repeats lines.',
  },
  {
    kind: 'DaemonSet',
    name: 'filebeat',
    allow: ['hostPath', 'writableHostPath', 'runAsRoot'],
    reason:
      'Filebeat, the log shipper: the same needs as log-shipper (read-only hostPath /var/log as user 0, ' +
      'writable hostPath for its registry of read positions).',
  },
];

/** The relaxations a workload may use: none unless kind, name and namespace all match an exception. */
export function relaxationsFor(w: {
  kind: string;
  name: string;
  namespace: string;
}): ReadonlySet<Relaxation> {
  if (!isNodeAgentNamespace(w.namespace)) {
    return new Set();
  }
  const found = NODE_AGENT_EXCEPTIONS.find((e) => e.kind === w.kind && e.name === w.name);
  return new Set(found?.allow ?? []);
}
