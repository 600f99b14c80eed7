/** NetworkPolicy building blocks shared by every component (each namespace is default-deny; these add the allows). */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ArgChecks } from './args';
import { checkCidr, checkDnsLabel, checkLabelKey, checkLabelValue, cidrWithin, parseCidr } from './checks';

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

function checkLabels(c: ArgChecks, path: string, labels: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(labels)) {
    c.check(`${path}.${k}`, k, checkLabelKey);
    c.check(`${path}.${k}`, v, (value) =>
      typeof value === 'string' ? checkLabelValue(value) : 'a Kubernetes label value (a string)',
    );
  }
}

/**
 * The problems of one peer at `path` (e.g. "ingressFrom[0]"): exactly one kind, well-formed names, labels and
 * blocks, `except` inside `cidr`. `podLabelsAlone` says whether `podLabels` alone (the own namespace) is allowed.
 */
export function checkNetworkPeer(
  c: ArgChecks,
  path: string,
  peer: NetworkPeer,
  opts: { podLabelsAlone: boolean },
): void {
  const kinds = [
    peer.namespace !== undefined ? 'namespace' : undefined,
    peer.namespaceLabels !== undefined ? 'namespaceLabels' : undefined,
    peer.cidr !== undefined ? 'cidr' : undefined,
  ].filter((k): k is string => k !== undefined);
  const allowedKinds = opts.podLabelsAlone
    ? 'exactly one of "namespace", "namespaceLabels", "cidr", or "podLabels" alone (pods of the own namespace)'
    : 'exactly one of "namespace", "namespaceLabels" or "cidr" (the own namespace is always allowed)';
  if (kinds.length > 1 || (kinds.length === 0 && !(opts.podLabelsAlone && peer.podLabels !== undefined))) {
    c.fail(path, peer, allowedKinds);
  }
  c.check(`${path}.namespace`, peer.namespace, (v) => checkDnsLabel(v));
  if (peer.namespaceLabels !== undefined) {
    if (Object.keys(peer.namespaceLabels).length === 0) {
      c.fail(
        `${path}.namespaceLabels`,
        peer.namespaceLabels,
        'at least one label (none selects every namespace)',
      );
    }
    checkLabels(c, `${path}.namespaceLabels`, peer.namespaceLabels);
  }
  if (peer.podLabels !== undefined) {
    checkLabels(c, `${path}.podLabels`, peer.podLabels);
    if (peer.cidr !== undefined) {
      c.fail(
        `${path}.podLabels`,
        peer.podLabels,
        'no pod labels with "cidr" (an IP block selects addresses, not pods)',
      );
    }
  }
  c.check(`${path}.cidr`, peer.cidr, checkCidr);
  if (peer.except !== undefined) {
    const outer = peer.cidr !== undefined ? parseCidr(peer.cidr) : undefined;
    if (peer.cidr === undefined) {
      c.fail(`${path}.except`, peer.except, 'only together with "cidr"');
    }
    peer.except.forEach((block, i) => {
      const inner = parseCidr(block);
      if (inner === undefined) {
        c.fail(`${path}.except[${i}]`, block, 'an IP block in CIDR form, e.g. "10.20.5.0/24"');
      } else if (outer !== undefined && !(cidrWithin(inner, outer) && inner.prefix > outer.prefix)) {
        c.fail(`${path}.except[${i}]`, block, `a block strictly inside ${String(peer.cidr)}`);
      }
    });
  }
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
