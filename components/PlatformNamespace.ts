/**
 * A namespace as the project wants every namespace: Pod Security admission labels that enforce a level (restricted
 * by default), a default-deny NetworkPolicy for ingress and egress, and one policy that lets every pod resolve DNS.
 * Components add the narrow allow rules they need on top.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ArgChecks, throwIfInvalid } from './shared/args';
import { checkDnsLabel } from './shared/checks';
import { recommendedLabels } from './shared/labels';

/** Pod Security Standard levels. */
export type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

export interface PlatformNamespaceArgs {
  /** The namespace's name (an RFC 1123 label). Required. */
  readonly name: string;
  /**
   * The Pod Security Standard the namespace enforces. Only namespaces for node agents that
   * must read the host (node-exporter, the log shipper) use a weaker level, and they still warn and audit at
   * `restricted`.
   * @default "restricted"
   */
  readonly podSecurity?: PodSecurityLevel;
  /** Extra labels for the Namespace object. @default none */
  readonly labels?: Record<string, string>;
  /** Add the default-deny NetworkPolicy and the DNS allowance. @default true */
  readonly defaultDeny?: boolean;
  /** Protect the namespace from deletion (its deletion deletes everything in it). @default false */
  readonly protect?: boolean;
}

/** The object names of {@link namespaceBaselinePolicies}. */
export interface BaselinePolicyNames {
  /** The NetworkPolicy that denies all ingress and egress of every pod. @default "default-deny" */
  readonly defaultDeny?: string;
  /** The NetworkPolicy that lets every pod resolve DNS. @default "allow-dns" */
  readonly allowDns?: string;
}

/**
 * The namespaced half of a namespace as the project wants it: a default-deny NetworkPolicy for ingress and egress
 * of every pod, and one that lets every pod reach the cluster DNS. A {@link PlatformNamespace} creates them with its
 * Namespace; a component deployed into a namespace it did not create (`pavemaster:createNamespace false`: the
 * platform team's) creates them itself, under names of its own so they never collide with the namespace's own
 * policies (NetworkPolicies add up: a second default-deny changes nothing, it only makes sure one exists). The
 * Namespace's Pod Security labels are not namespaced: those stay with whoever creates the Namespace.
 * Registered as `<name>-default-deny` and `<name>-allow-dns`.
 */
export function namespaceBaselinePolicies(
  name: string,
  args: { namespace: pulumi.Input<string>; names?: BaselinePolicyNames; labels?: Record<string, string> },
  opts: pulumi.CustomResourceOptions,
): { defaultDeny: k8s.networking.v1.NetworkPolicy; allowDns: k8s.networking.v1.NetworkPolicy } {
  const metadata = (objectName: string) => ({
    name: objectName,
    namespace: args.namespace,
    ...(args.labels !== undefined ? { labels: args.labels } : {}),
  });
  const defaultDeny = new k8s.networking.v1.NetworkPolicy(
    `${name}-default-deny`,
    {
      metadata: metadata(args.names?.defaultDeny ?? 'default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    opts,
  );
  const allowDns = new k8s.networking.v1.NetworkPolicy(
    `${name}-allow-dns`,
    {
      metadata: metadata(args.names?.allowDns ?? 'allow-dns'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      },
    },
    opts,
  );
  return { defaultDeny, allowDns };
}

export class PlatformNamespace extends pulumi.ComponentResource {
  /** The namespace's name, known once the Namespace exists. */
  readonly name: pulumi.Output<string>;
  /** The Namespace object. */
  readonly namespace: k8s.core.v1.Namespace;

  constructor(name: string, args: PlatformNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:platform:Namespace', name, {}, opts);
    const level = args.podSecurity ?? 'restricted';
    const checks = new ArgChecks();
    checks.check('name', args.name, checkDnsLabel);
    throwIfInvalid(`PlatformNamespace ${name}`, checks.problems);

    this.namespace = new k8s.core.v1.Namespace(
      name,
      {
        metadata: {
          name: args.name,
          labels: {
            ...recommendedLabels({ name: 'namespace', instance: args.name, component: 'platform' }),
            'pod-security.kubernetes.io/enforce': level,
            'pod-security.kubernetes.io/enforce-version': 'latest',
            'pod-security.kubernetes.io/warn': 'restricted',
            'pod-security.kubernetes.io/warn-version': 'latest',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/audit-version': 'latest',
            ...(args.labels ?? {}),
          },
        },
      },
      { parent: this, protect: args.protect ?? false },
    );
    this.name = this.namespace.metadata.name;

    if (args.defaultDeny ?? true) {
      namespaceBaselinePolicies(name, { namespace: this.name }, { parent: this });
    }

    this.registerOutputs({ name: this.name });
  }
}
