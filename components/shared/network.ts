/** NetworkPolicy building blocks shared by every component (each namespace is default-deny; these add the allows). */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

export { checkNetworkPeer } from './peers';

/**
 * Who is on the other side of a NetworkPolicy rule: pods (by namespace and labels) or an IP block. Exactly one
 * of `namespace`, `namespaceLabels`, `podLabels` (alone: pods of the policy's own namespace) or `cidr` picks the
 * kind; `podLabels` narrows a namespace to some of its pods; `except` cuts addresses out of `cidr`.
 */
export interface NetworkPeer {
  /** One namespace, by name (its `kubernetes.io/metadata.name` label). @default none */
  readonly namespace?: string;
  /** Every namespace with these labels (e.g. a team's `team: edge`). @default none */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /** Only the pods with these labels, in the namespaces above (or the policy's own namespace alone). @default every pod */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** An IP block in CIDR form instead of pods (a managed database, a load balancer's source range). @default none */
  readonly cidr?: string;
  /** Blocks inside `cidr` that stay denied. @default none */
  readonly except?: readonly string[];
}

/** A peer as a NetworkPolicy rule's `from`/`to` entry. */
export function networkPeer(peer: NetworkPeer): k8s.types.input.networking.v1.NetworkPolicyPeer {
  if (peer.cidr !== undefined) {
    return {
      ipBlock: {
        cidr: peer.cidr,
        ...(peer.except && peer.except.length > 0 ? { except: [...peer.except] } : {}),
      },
    };
  }
  const namespaceSelector =
    peer.namespace !== undefined
      ? { matchLabels: { 'kubernetes.io/metadata.name': peer.namespace } }
      : peer.namespaceLabels !== undefined
        ? { matchLabels: { ...peer.namespaceLabels } }
        : undefined;
  return {
    ...(namespaceSelector !== undefined ? { namespaceSelector } : {}),
    ...(peer.podLabels !== undefined || namespaceSelector === undefined
      ? { podSelector: { matchLabels: { ...(peer.podLabels ?? {}) } } }
      : {}),
  };
}

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
