/** Pieces every monitoring component shares: labels, container defaults, config checksums, network peers. */
import * as crypto from 'crypto';
import * as k8s from '@pulumi/kubernetes';
import { labelsWithSelector } from '../shared/labels';
import { ContainerResources } from '../shared/resources';
import { restrictedPodSecurityContext } from '../shared/security';
import { restrictedContainer } from '../shared/workload';

/** The user and group the Prometheus project's images run as ("nobody"). */
export const NOBODY = 65534;

/** The labels of one monitoring service, and the subset that selects its pods (name and instance). */
export function serviceLabels(
  service: string,
  instance: string,
  version?: string,
): { labels: Record<string, string>; selector: Record<string, string> } {
  return labelsWithSelector({ name: service, instance, component: 'monitoring', version }, [
    'app.kubernetes.io/name',
    'app.kubernetes.io/instance',
  ]);
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

/** A restricted container of the monitoring stack: its logs are the termination message when it fails. */
export function monitoringContainer(
  spec: Parameters<typeof restrictedContainer>[0] & { resources: ContainerResources },
): k8s.types.input.core.v1.Container {
  return { ...restrictedContainer(spec), terminationMessagePolicy: 'FallbackToLogsOnError' };
}

/** Anywhere, for traffic to host-network endpoints (API server, kubelets) and outside services. */
export const ANYWHERE: k8s.types.input.networking.v1.NetworkPolicyPeer = { ipBlock: { cidr: '0.0.0.0/0' } };

/** Pods of this namespace with these labels, as a NetworkPolicy peer. */
export function podsPeer(labels: Record<string, string>): k8s.types.input.networking.v1.NetworkPolicyPeer {
  return { podSelector: { matchLabels: labels } };
}
