/**
 * The cluster a stack deploys to. Every Kubernetes object goes through one explicit provider, bound to the
 * kubeconfig's current context, and before anything is registered the program checks it against the stack's
 * `pavemaster:kubernetes`: the current context must be the one `context` names, and point at the cluster
 * `cluster` names. Production must name both (stacks/kubernetes.ts), so a production update from a shell whose
 * current context is staging, or through a context that was re-pointed at another cluster, is refused with the
 * key, the value, what the kubeconfig has and how to fix it.
 *
 * Without any kubeconfig (no KUBECONFIG file, no ~/.kube/config) there is nothing to check and nothing the
 * provider could reach except its in-cluster configuration; the program then names no context and the
 * provider behaves as the default one did.
 */
import { X509Certificate } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as k8s from '@pulumi/kubernetes';
import { parse } from 'yaml';
import { normalizeFingerprint } from '../stacks/kubernetes';
import { Problems } from '../stacks/problems';
import { NAMESPACE, Settings } from '../stacks/settings';

/** What the check needs from the kubeconfig: its current context and each context's cluster. */
export interface KubeconfigView {
  /** The files read, in order (for messages). */
  files: string[];
  currentContext?: string;
  /** Context name -> the name of the cluster entry it uses. */
  contexts: Record<string, string>;
  /** Cluster entry name -> its API server and the SHA-256 fingerprints of its CA bundle's certificates. */
  clusters: Record<string, ClusterEntry>;
}

/** What the check reads of a kubeconfig cluster entry. */
export interface ClusterEntry {
  server?: string;
  /** Fingerprints (64 uppercase hex digits) of the CA certificates; empty: the entry names no CA. */
  caFingerprints: string[];
  /** Why the CA could not be read, when it could not. */
  caProblem?: string;
}

interface RawKubeconfig {
  'current-context'?: unknown;
  contexts?: unknown;
  clusters?: unknown;
}

/** The SHA-256 fingerprints of the certificates of a PEM bundle. */
export function pemFingerprints(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => normalizeFingerprint(new X509Certificate(b).fingerprint256) ?? '');
}

function clusterEntry(raw: unknown, file: string): ClusterEntry {
  const c = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const entry: ClusterEntry = {
    server: typeof c.server === 'string' ? c.server : undefined,
    caFingerprints: [],
  };
  try {
    if (typeof c['certificate-authority-data'] === 'string') {
      entry.caFingerprints = pemFingerprints(
        Buffer.from(c['certificate-authority-data'], 'base64').toString(),
      );
    } else if (typeof c['certificate-authority'] === 'string') {
      const caFile = path.resolve(path.dirname(file), c['certificate-authority']);
      entry.caFingerprints = pemFingerprints(fs.readFileSync(caFile, 'utf8'));
    }
  } catch (e) {
    entry.caProblem = (e as Error).message;
  }
  return entry;
}

/**
 * Reads the kubeconfig as kubectl does: the files of `KUBECONFIG` (path-list, the first file that sets a value
 * wins), else `~/.kube/config`. Files that do not exist are skipped; undefined when none exists.
 */
export function readKubeconfig(env: NodeJS.ProcessEnv = process.env): KubeconfigView | undefined {
  const list = env.KUBECONFIG
    ? env.KUBECONFIG.split(path.delimiter).filter((f) => f !== '')
    : [path.join(os.homedir(), '.kube', 'config')];
  const view: KubeconfigView = { files: [], contexts: {}, clusters: {} };
  for (const file of list) {
    if (!fs.existsSync(file)) {
      continue;
    }
    view.files.push(file);
    const doc = (parse(fs.readFileSync(file, 'utf8')) ?? {}) as RawKubeconfig;
    if (
      view.currentContext === undefined &&
      typeof doc['current-context'] === 'string' &&
      doc['current-context']
    ) {
      view.currentContext = doc['current-context'];
    }
    for (const entry of Array.isArray(doc.contexts) ? (doc.contexts as unknown[]) : []) {
      const e = entry as { name?: unknown; context?: { cluster?: unknown } };
      if (typeof e.name === 'string' && !(e.name in view.contexts)) {
        view.contexts[e.name] = typeof e.context?.cluster === 'string' ? e.context.cluster : '';
      }
    }
    for (const entry of Array.isArray(doc.clusters) ? (doc.clusters as unknown[]) : []) {
      const e = entry as { name?: unknown; cluster?: unknown };
      if (typeof e.name === 'string' && !(e.name in view.clusters)) {
        view.clusters[e.name] = clusterEntry(e.cluster, file);
      }
    }
  }
  return view.files.length > 0 ? view : undefined;
}

/** The context the provider uses, after the check. */
export interface ClusterTarget {
  /** The kubeconfig context; undefined: the provider's own default (no kubeconfig at all). */
  context?: string;
  cluster?: string;
}

const quoted = (names: readonly string[]) =>
  names.length > 0 ? names.map((n) => `"${n}"`).join(', ') : 'none';

/**
 * Checks the stack's `pavemaster:kubernetes` against the kubeconfig; every problem at once, each with its key,
 * its value, what is allowed and how to fix it. Returns the context to deploy through.
 *
 * A stack that names its context deploys only when that context is the kubeconfig's current one: the release
 * command, the bench and an operator's kubectl all act on the current context, so deploying through another one
 * would have Pulumi and them work on two different clusters. A named cluster must be the one the context points
 * at (a context re-pointed at another cluster is refused too).
 */
export function checkClusterTarget(
  settings: Pick<Settings, 'kubernetes'>,
  view: KubeconfigView | undefined,
  problems: Problems,
): ClusterTarget {
  const want = settings.kubernetes;
  const key = (name: string) => `${NAMESPACE}:kubernetes.${name}`;
  if (view === undefined) {
    if (want.context !== undefined || want.cluster !== undefined) {
      problems.add(
        want.context !== undefined ? key('context') : key('cluster'),
        want.context ?? want.cluster,
        'a context (cluster) of the kubeconfig, but there is no kubeconfig: KUBECONFIG is unset or names no ' +
          'existing file, and ~/.kube/config does not exist. Fix: point KUBECONFIG at the kubeconfig of this ' +
          "stack's cluster",
      );
    }
    return {};
  }
  const where = `the kubeconfig (${view.files.join(path.delimiter)})`;
  const current = view.currentContext;
  const contextsOf = (cluster: string) =>
    quoted(Object.keys(view.contexts).filter((c) => view.contexts[c] === cluster));
  if (want.context !== undefined && !(want.context in view.contexts)) {
    problems.add(
      key('context'),
      want.context,
      `a context of ${where}, which has ${quoted(Object.keys(view.contexts))}. Fix: add this stack's context ` +
        "to the kubeconfig (or point KUBECONFIG at the one that has it), or, if the stack's cluster is reached " +
        `through another context, \`pulumi config set --path ${key('context')} <context>\``,
    );
    return {};
  }
  if (want.context !== undefined && current !== want.context) {
    problems.add(
      key('context'),
      want.context,
      `the current context of ${where}, which is ${current === undefined ? 'unset' : `"${current}"`}: ` +
        'refusing to deploy this stack while kubectl (and the release command) act on another context. Fix: ' +
        `\`kubectl config use-context ${want.context}\`, or run with a KUBECONFIG whose current context is it`,
    );
    return {};
  }
  const context = want.context ?? current;
  if (context === undefined || !(context in view.contexts)) {
    problems.add(
      key('context'),
      context === undefined ? undefined : `(current context) ${context}`,
      `the current context of ${where} must be one of its contexts (${quoted(Object.keys(view.contexts))}). ` +
        `Fix: \`kubectl config use-context <context>\`, or set ${key('context')}`,
    );
    return {};
  }
  const cluster = view.contexts[context];
  if (want.cluster !== undefined && want.cluster !== cluster) {
    problems.add(
      key('cluster'),
      want.cluster,
      `the cluster of context "${context}", which in ${where} is "${cluster}": refusing to deploy this stack ` +
        `to another cluster than the one it names. Fix: \`kubectl config use-context <context>\` with a ` +
        `context of cluster "${want.cluster}" (in this kubeconfig: ${contextsOf(want.cluster)}), or, if this ` +
        `stack really moved to "${cluster}", \`pulumi config set --path ${key('cluster')} ${cluster}\``,
    );
  }
  checkClusterEntry(want, { context, cluster, entry: view.clusters[cluster], where }, problems);
  return { context, cluster };
}

/** A URL without a trailing slash, for comparing servers. */
const bareUrl = (url: string) => url.replace(/\/+$/, '');

/**
 * The cluster entry the context uses must name the API server and CA the stack's settings name: a context and
 * cluster name can be copied into every kubeconfig, the server and its CA cannot be faked as easily.
 */
function checkClusterEntry(
  want: Settings['kubernetes'],
  at: { context: string; cluster: string; entry: ClusterEntry | undefined; where: string },
  problems: Problems,
): void {
  const key = (name: string) => `${NAMESPACE}:kubernetes.${name}`;
  const of = `cluster "${at.cluster}" (context "${at.context}")`;
  if (want.server !== undefined) {
    const have = at.entry?.server;
    if (have === undefined || bareUrl(have) !== bareUrl(want.server)) {
      problems.add(
        key('server'),
        want.server,
        `the API server of ${of}, which in ${at.where} is ${have === undefined ? 'unset' : `"${have}"`}: ` +
          'refusing to deploy this stack to another API server than the one it names. Fix: use a kubeconfig ' +
          `whose entry for this cluster points at ${want.server}, or, if the API server really moved, ` +
          `\`pulumi config set --path ${key('server')} ${have ?? '<server>'}\``,
      );
    }
  }
  if (want.caFingerprint !== undefined) {
    const wanted = normalizeFingerprint(want.caFingerprint);
    const have = at.entry?.caFingerprints ?? [];
    if (at.entry?.caProblem !== undefined) {
      problems.add(
        key('caFingerprint'),
        want.caFingerprint,
        `the CA of ${of}, which ${at.where} names but which cannot be read: ${at.entry.caProblem}`,
      );
    } else if (have.length === 0) {
      problems.add(
        key('caFingerprint'),
        want.caFingerprint,
        `the CA of ${of}, but its entry in ${at.where} names no CA (no certificate-authority-data or ` +
          'certificate-authority: the system trust store or insecure-skip-tls-verify), so it cannot be told ' +
          "from another cluster. Fix: add the cluster's CA to the kubeconfig entry",
      );
    } else if (wanted === undefined || !have.includes(wanted)) {
      problems.add(
        key('caFingerprint'),
        want.caFingerprint,
        `the SHA-256 fingerprint of the CA of ${of}, which in ${at.where} is ${have.join(', ')}: refusing to ` +
          "deploy this stack to a cluster with another CA. Fix: use the kubeconfig of this stack's cluster, or, " +
          `if its CA really changed, \`pulumi config set --path ${key('caFingerprint')} ${have[0]}\``,
      );
    }
  }
}

/**
 * The explicit Kubernetes provider of the stack, bound to the checked context (infra/index.ts runs the check
 * inside loadSettings, so its problems are listed with the config's own, before anything is registered).
 */
export function clusterProvider(target: ClusterTarget): k8s.Provider {
  return new k8s.Provider('kubernetes', target.context !== undefined ? { context: target.context } : {});
}
