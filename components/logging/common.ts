/** Small helpers shared by the logging components: labels, selectors, NetworkPolicy peers and Job options. */
import { createHash } from 'crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { recommendedLabels } from '../shared/labels';

/** The roles of the logging stack's pods; each is the `app.kubernetes.io/component` label of its pods. */
export type LoggingRole =
  | 'elasticsearch'
  | 'elasticsearch-certs'
  | 'elasticsearch-setup'
  | 'logstash'
  | 'shipper'
  | 'kibana'
  | 'kibana-setup'
  | 'exporter';

/** The labels of a role's objects and pods. */
export function roleLabels(role: LoggingRole, instance: string, version?: string): Record<string, string> {
  return recommendedLabels({ name: role, instance, component: role, partOf: 'pavemaster-logging', version });
}

/** The selector of a role's pods: stable across versions, so a Deployment's selector never changes. */
export function roleSelector(role: LoggingRole, instance: string): Record<string, string> {
  return { 'app.kubernetes.io/instance': instance, 'app.kubernetes.io/component': role };
}

/** A NetworkPolicy peer: pods of a role, optionally in another namespace (matched by its name label). */
export function rolePeer(
  role: LoggingRole,
  instance: string,
  namespace?: string,
): k8s.types.input.networking.v1.NetworkPolicyPeer {
  return {
    podSelector: { matchLabels: roleSelector(role, instance) },
    ...(namespace !== undefined
      ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } }
      : {}),
  };
}

/** A peer for every pod of a namespace, or only those with `podLabels`. */
export function namespacePeer(
  namespace: string,
  podLabels?: Record<string, string>,
): k8s.types.input.networking.v1.NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    ...(podLabels !== undefined ? { podSelector: { matchLabels: podLabels } } : {}),
  };
}

/** TCP ports for a NetworkPolicy rule. */
export function tcp(...ports: number[]): k8s.types.input.networking.v1.NetworkPolicyPort[] {
  return ports.map((port) => ({ protocol: 'TCP', port }));
}

/** Where the Kubernetes API server is, for the pods that talk to it (log metadata, the certificate Job). */
export interface ApiServerPeer {
  /** The API server's address range. */
  cidr: string;
  /** Its ports (443 on the `kubernetes` Service, 6443 on most control planes). */
  ports: number[];
}

/** Creates one NetworkPolicy selecting a role's pods; `Ingress`/`Egress` policy types follow the rules given. */
export function allowPolicy(
  name: string,
  args: {
    namespace: pulumi.Input<string>;
    metadataName: string;
    podSelector: Record<string, string>;
    ingress?: k8s.types.input.networking.v1.NetworkPolicyIngressRule[];
    egress?: k8s.types.input.networking.v1.NetworkPolicyEgressRule[];
    labels: Record<string, string>;
  },
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
  const policyTypes = [
    ...(args.ingress !== undefined ? ['Ingress'] : []),
    ...(args.egress !== undefined ? ['Egress'] : []),
  ];
  return new k8s.networking.v1.NetworkPolicy(
    name,
    {
      metadata: { name: args.metadataName, namespace: args.namespace, labels: args.labels },
      spec: {
        podSelector: { matchLabels: args.podSelector },
        policyTypes,
        ...(args.ingress !== undefined ? { ingress: args.ingress } : {}),
        ...(args.egress !== undefined ? { egress: args.egress } : {}),
      },
    },
    opts,
  );
}

/**
 * Annotations of a setup Job. Pulumi normally waits for a Job to complete, which needs its target to be up and a
 * cluster that runs pods; a simulated cluster (kwok) never completes a Job. With `await` false the Job is created
 * and Pulumi moves on (`pulumi.com/skipAwait`): the deployment no longer fails when setup fails, so the Job's
 * status must be watched instead (`kubectl -n <ns> get jobs`); with `await` true a failed setup fails the update.
 */
export function jobAnnotations(awaitCompletion: boolean): Record<string, string> {
  return awaitCompletion ? {} : { 'pulumi.com/skipAwait': 'true' };
}

/** A short, stable hash of a Job's content: in its pod template, a change replaces the (immutable) Job. */
export function contentHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}
