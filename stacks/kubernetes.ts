/**
 * Which cluster a stack deploys to (`pavemaster:kubernetes`): the kubeconfig context the program's Kubernetes
 * provider uses, and the kubeconfig cluster that context must point at. infra/cluster.ts checks both against
 * the kubeconfig before any resource is registered, so an update aimed at the wrong cluster is refused instead
 * of deploying production next to staging.
 */
import { ParseContext } from './context';
import { Check, Fields } from './fields';

/** Top-level key of this section. */
export const KUBERNETES_KEYS = ['kubernetes'] as const;

export interface KubernetesSettings {
  /**
   * The kubeconfig context the stack deploys through; it must be the current context when the program runs.
   * Required in production.
   * @default the kubeconfig's current context, unchecked (staging only)
   */
  readonly context?: string;
  /**
   * The kubeconfig cluster (the `cluster` of the context's entry) the context must point at. Required in
   * production.
   * @default not checked (staging only)
   */
  readonly cluster?: string;
  /**
   * The API server URL the context's cluster entry must name (`server:`, the SERVER column of
   * `kubectl config view`), so a kubeconfig whose entry kept its name but points at another cluster is refused.
   * @default not checked
   */
  readonly server?: string;
  /**
   * The SHA-256 fingerprint of the cluster's CA certificate (from the entry's `certificate-authority-data` or
   * `certificate-authority` file; hex, colons optional, upper or lower case), e.g. the output of
   * `openssl x509 -noout -fingerprint -sha256`: the strongest check of which cluster this is.
   * @default not checked
   */
  readonly caFingerprint?: string;
}

/** A normalized fingerprint: 64 uppercase hex digits, or undefined when `text` is not one. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text
    .replace(/^sha256[:=]?/i, '')
    .replace(/:/g, '')
    .toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

// kubeconfig names are free text in principle; in practice they are DNS-like (kind-x, gke_project_zone_name,
// arn:aws:eks:region:account:cluster/name). Refuse only what cannot be a name: empty, or with white space.
const checkKubeconfigName: Check<string> = (v) =>
  /^\S{1,253}$/.test(v) ? undefined : 'a kubeconfig name (1-253 characters, no spaces)';

/** Reads `pavemaster:kubernetes`; production must name its context and cluster. */
export function parseKubernetes(root: Fields, ctx: ParseContext): KubernetesSettings {
  const f = root.object('kubernetes');
  const context = f.optionalString('context', { check: checkKubeconfigName });
  const cluster = f.optionalString('cluster', { check: checkKubeconfigName });
  const server = f.optionalString('server', {
    check: (v) =>
      /^https?:\/\/[^\s/]+(\/\S*)?$/.test(v)
        ? undefined
        : 'an API server URL such as "https://10.0.0.1:6443"',
  });
  const caFingerprint = f.optionalString('caFingerprint', {
    check: (v) =>
      normalizeFingerprint(v) !== undefined
        ? undefined
        : 'a SHA-256 fingerprint: 64 hex digits, colons optional (openssl x509 -noout -fingerprint -sha256)',
  });
  if (ctx.production) {
    const why = (what: string, name: string) =>
      `required in production: the kubeconfig ${what} this stack deploys to, so an update aimed at another ` +
      `cluster is refused. Fix: \`pulumi config set --path pavemaster:kubernetes.${name} <${name}>\` (the ` +
      'CONTEXT and CLUSTER columns of `kubectl config get-contexts`)';
    if (context === undefined) {
      f.fail('context', undefined, why('context', 'context'));
    }
    if (cluster === undefined) {
      f.fail('cluster', undefined, why('cluster of that context', 'cluster'));
    }
  }
  f.finish();
  return { context, cluster, server, caFingerprint };
}
