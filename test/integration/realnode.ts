/**
 * Helpers for the tests that need the local cluster's real node (scripts/node): whether it runs (and why not),
 * the host processes behind a pod's containers, and pods that try to reach an address.
 */
import * as fs from 'fs';
import * as http from 'http';
import { realNodeErrorFile } from './globalSetup';
import { dig, eventually, items, kubectlJson, run, runOk } from './helpers';
import { poll } from '../../release/kube';

/** The real node's name and addresses (scripts/node). */
export const REAL_NODE = 'pavemaster-real-node';
export const POD_SUBNET_PREFIX = '10.244.0.';

/** The test image of the images team: `testbox serve|get URL|tcp HOST:PORT|sleep` (scripts/images). */
export const TESTBOX = 'pavemaster/testbox:1.0.0';

/**
 * Throws, with the reason, unless the real node runs and is Ready. Tests that need real containers call it
 * first: they fail when the node cannot run, they never skip.
 */
export async function requireRealNode(): Promise<void> {
  if (fs.existsSync(realNodeErrorFile)) {
    throw new Error(`the real node is not available: ${fs.readFileSync(realNodeErrorFile, 'utf8')}`);
  }
  const status = await run('scripts/node', ['status']);
  if (status.code !== 0) {
    throw new Error(`the real node does not run (scripts/node status):\n${status.stdout}${status.stderr}`);
  }
  const node = await kubectlJson(['get', 'node', REAL_NODE]);
  const conditions = dig(node, 'status', 'conditions');
  const ready =
    Array.isArray(conditions) &&
    conditions.some((c: unknown) => dig(c, 'type') === 'Ready' && dig(c, 'status') === 'True');
  if (!ready) {
    throw new Error(`the real node ${REAL_NODE} is not Ready: ${JSON.stringify(conditions)}`);
  }
}

/**
 * Waits up to 90 s for the real node to be Ready, then fails with `requireRealNode`'s reason: a cluster started
 * again on its kept data can show the node NotReady for a moment after `scripts/cluster start` said Ready.
 */
export async function waitForRealNode(): Promise<void> {
  await poll(
    () =>
      requireRealNode().then(
        () => true,
        () => undefined,
      ),
    { timeoutMs: 90_000, intervalMs: 2000, what: 'the real node to be Ready' },
  ).catch(async () => requireRealNode());
}

/** A container's process as the host sees it. */
export interface HostProcess {
  pid: number;
  /** Real, effective, saved and filesystem user ids (/proc/PID/status). */
  uids: number[];
  gids: number[];
  /** The mount options of the container's root filesystem, seen from inside its mount namespace. */
  rootMountOptions: string[];
  /** Effective capabilities (hex). */
  capEff: string;
}

/** The init process of a running container, found by its container ID in the host's cgroups. */
export function hostProcessOf(containerId: string): HostProcess {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      if (fs.readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(id)) {
        pids.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  if (pids.length === 0) {
    throw new Error(`no host process of container ${id}`);
  }
  // The container's first process is the one whose parent is not in the container (the runtime's shim).
  const inContainer = new Set(pids);
  const init = pids.find((pid) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return !inContainer.has(ppid);
  });
  const pid = init ?? Math.min(...pids);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status) ?? ['', ''])[1];
  const root = fs
    .readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[4] === '/');
  const last = root[root.length - 1];
  if (last === undefined) {
    throw new Error(`container ${id}: no root mount in /proc/${pid}/mountinfo`);
  }
  return {
    pid,
    uids: field('Uid').split(/\s+/).map(Number),
    gids: field('Gid').split(/\s+/).map(Number),
    rootMountOptions: last[5].split(','),
    capEff: field('CapEff'),
  };
}

/** A pod as the tests read it. */
export interface PodInfo {
  name: string;
  namespace: string;
  node: string;
  ip: string;
  ready: boolean;
  labels: Record<string, string>;
  containers: {
    name: string;
    image: string;
    id: string;
    ready: boolean;
    started: boolean;
    restarts: number;
  }[];
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The pods of a namespace (optionally by label selector). */
export async function pods(namespace: string, selector?: string): Promise<PodInfo[]> {
  const list = await kubectlJson(['get', 'pods', '-n', namespace, ...(selector ? ['-l', selector] : [])]);
  return items(list).map((pod) => {
    const conditions = dig(pod, 'status', 'conditions');
    const statuses = dig(pod, 'status', 'containerStatuses');
    const labels = dig(pod, 'metadata', 'labels');
    return {
      name: String(dig(pod, 'metadata', 'name')),
      namespace,
      node: str(dig(pod, 'spec', 'nodeName')),
      ip: str(dig(pod, 'status', 'podIP')),
      ready:
        Array.isArray(conditions) &&
        conditions.some((c: unknown) => dig(c, 'type') === 'Ready' && dig(c, 'status') === 'True'),
      labels: typeof labels === 'object' && labels !== null ? (labels as Record<string, string>) : {},
      containers: (Array.isArray(statuses) ? statuses : []).map((s: unknown) => ({
        name: String(dig(s, 'name')),
        image: String(dig(s, 'image')),
        id: str(dig(s, 'containerID')),
        ready: dig(s, 'ready') === true,
        started: dig(s, 'started') === true,
        restarts: Number(dig(s, 'restartCount') ?? 0),
      })),
    };
  });
}

/** The restricted security context the tests' own pods run with (as Pod Security "restricted" asks). */
export const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/**
 * Runs `testbox ARGS...` once in a pod of `namespace` on the real node and returns its exit code (0: reached).
 * The pod is deleted afterwards. `settleSeconds` > 0 first waits that long in an init container: the
 * NetworkPolicy enforcer learns a new pod's address a few seconds after the pod has it and until then rejects it
 * as a source at once, so a probe of a policed hop must wait, or a closed hop passes for the wrong reason.
 */
export async function probeFrom(
  namespace: string,
  name: string,
  args: string[],
  settleSeconds = 0,
): Promise<number> {
  const resources = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } };
  const settle =
    settleSeconds > 0
      ? [
          {
            name: 'settle',
            image: TESTBOX,
            args: ['sleep', String(settleSeconds)],
            securityContext: restrictedContainer,
            resources,
          },
        ]
      : [];
  const manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': name } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      initContainers: settle,
      containers: [
        {
          name: 'probe',
          image: TESTBOX,
          args,
          securityContext: restrictedContainer,
          resources,
        },
      ],
    },
  };
  await run('kubectl', ['delete', 'pod', name, '-n', namespace, '--ignore-not-found', '--wait=true']);
  await applyJson(manifest);
  try {
    return await eventually(
      `pod ${namespace}/${name} to finish`,
      async () => {
        const pod = await kubectlJson(['get', 'pod', name, '-n', namespace]);
        if (dig(pod, 'spec', 'nodeName') !== undefined && dig(pod, 'spec', 'nodeName') !== REAL_NODE) {
          throw new Error(`pod ${name} went to ${String(dig(pod, 'spec', 'nodeName'))}, not the real node`);
        }
        const statuses = dig(pod, 'status', 'containerStatuses');
        const code = Array.isArray(statuses)
          ? dig(statuses[0], 'state', 'terminated', 'exitCode')
          : undefined;
        return typeof code === 'number' ? code : undefined;
      },
      120_000,
      1_000,
    );
  } finally {
    await run('kubectl', ['delete', 'pod', name, '-n', namespace, '--ignore-not-found', '--wait=false']);
  }
}

/** `kubectl apply` of one object given as JSON. */
export async function applyJson(object: unknown): Promise<void> {
  const result = await run('kubectl', ['apply', '-f', '-'], { input: JSON.stringify(object) });
  if (result.code !== 0) {
    throw new Error(`kubectl apply failed: ${result.stderr}`);
  }
}

/** A response as {@link hostGet} returns it. */
export interface HostResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET `url` from the host (through the node's kube-proxy rules for a ClusterIP) on a new connection each time,
 * so that kube-proxy picks an endpoint for every request; the response, or the error.
 */
export function hostGet(url: string, timeoutMs = 5000): Promise<HostResponse | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

/** Resident memory of every process of the local cluster (control plane, real node, containers), in MiB. */
export async function clusterResidentMiB(): Promise<{ total: number; report: string }> {
  const out = await runOk('scripts/cluster', ['memory']);
  const m = /^total\s+(\d+)\s+MiB/m.exec(out);
  if (m === null) {
    throw new Error(`scripts/cluster memory printed no total:\n${out}`);
  }
  return { total: Number(m[1]), report: out };
}
