/** Pieces every monitoring component shares: labels, container defaults, config checksums, network policies. */
import * as crypto from 'crypto';
import * as k8s from '@pulumi/kubernetes';
import { recommendedLabels } from '../shared/labels';
import { ContainerResources, toResourceRequirements } from '../shared/resources';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../shared/security';

/** The user and group the Prometheus project's images run as ("nobody"). */
export const NOBODY = 65534;

/** The labels of one monitoring service, and the subset that selects its pods. */
export function serviceLabels(
  service: string,
  instance: string,
  version?: string,
): { labels: Record<string, string>; selector: Record<string, string> } {
  const labels = recommendedLabels({ name: service, instance, component: 'monitoring', version });
  return {
    labels,
    selector: {
      'app.kubernetes.io/name': labels['app.kubernetes.io/name'],
      'app.kubernetes.io/instance': labels['app.kubernetes.io/instance'],
    },
  };
}

/** The tag of an image reference, for the version label ("v3.13.1"), or undefined. */
export function imageTag(image: string): string | undefined {
  const withoutDigest = image.split('@')[0];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  return colon >= 0 ? withoutDigest.slice(colon + 1) : undefined;
}

/** A short hash of configuration text: a pod-template annotation that rolls the pods when the config changes. */
export function checksum(...parts: string[]): string {
  const hash = crypto.createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** Restricted pod security for a uid (the Prometheus images' "nobody" by default). */
export function podSecurity(uid: number = NOBODY): k8s.types.input.core.v1.PodSecurityContext {
  return restrictedPodSecurityContext(uid);
}

/** Restricted container security (read-only root filesystem) and the container's requests and limits. */
export function containerBasics(resources: ContainerResources): {
  securityContext: k8s.types.input.core.v1.SecurityContext;
  resources: k8s.types.input.core.v1.ResourceRequirements;
  imagePullPolicy: string;
  terminationMessagePolicy: string;
} {
  return {
    securityContext: restrictedContainerSecurityContext({ readOnlyRootFilesystem: true }),
    resources: toResourceRequirements(resources),
    imagePullPolicy: 'IfNotPresent',
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

export { allowPolicy, namespacePeer, tcp } from '../shared/network';

/** Anywhere, for traffic to host-network endpoints (API server, kubelets) and outside services. */
export const ANYWHERE: k8s.types.input.networking.v1.NetworkPolicyPeer = { ipBlock: { cidr: '0.0.0.0/0' } };

/** Prefers putting replicas of a set on different nodes. */
export function spreadOverNodes(selector: Record<string, string>): k8s.types.input.core.v1.Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selector },
          },
        },
      ],
    },
  };
}
