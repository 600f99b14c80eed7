/** NetworkPolicy building blocks shared by every component (each namespace is default-deny; these add the allows). */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

/** Pods of a namespace (optionally only those with some labels), as a NetworkPolicy peer. */
export function namespacePeer(
  namespace: pulumi.Input<string>,
  podLabels?: Record<string, string>,
): k8s.types.input.networking.v1.NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    ...(podLabels !== undefined ? { podSelector: { matchLabels: podLabels } } : {}),
  };
}

/** TCP ports in NetworkPolicy form. */
export function tcp(...ports: number[]): k8s.types.input.networking.v1.NetworkPolicyPort[] {
  return ports.map((port) => ({ protocol: 'TCP', port }));
}

/**
 * One NetworkPolicy allowing a set of pods the listed ingress and egress, on top of the namespace's default-deny.
 * Its policy types follow the rules given: only ingress rules leave egress to the other policies, and so on.
 */
export function allowPolicy(
  name: string,
  args: {
    /** metadata.name of the NetworkPolicy. */
    objectName: string;
    namespace: pulumi.Input<string>;
    labels: Record<string, string>;
    /** The pods the policy applies to. */
    podSelector: Record<string, string>;
    ingress?: k8s.types.input.networking.v1.NetworkPolicyIngressRule[];
    egress?: k8s.types.input.networking.v1.NetworkPolicyEgressRule[];
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
      metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
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
