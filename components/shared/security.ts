/**
 * The restricted Pod Security Standard as code: every pod and container of the project uses these, so that the
 * namespaces can enforce `restricted` and the policy pack can refuse anything weaker.
 */
import * as k8s from '@pulumi/kubernetes';

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;

/** The first non-system user and group id; images that run as another user pass theirs. */
export const DEFAULT_UID = 10001;

/** Pod-level security: non-root, a fixed user and group, files group-owned by fsGroup, RuntimeDefault seccomp. */
export function restrictedPodSecurityContext(
  uid: number = DEFAULT_UID,
  gid: number = uid,
): PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    fsGroup: gid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level security: no privilege escalation, every capability dropped, read-only root filesystem. */
export function restrictedContainerSecurityContext(
  opts: { readOnlyRootFilesystem?: boolean; uid?: number; gid?: number } = {},
): SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: opts.readOnlyRootFilesystem ?? true,
    runAsNonRoot: true,
    ...(opts.uid !== undefined ? { runAsUser: opts.uid } : {}),
    ...(opts.gid !== undefined ? { runAsGroup: opts.gid } : {}),
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
