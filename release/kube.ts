/**
 * The few cluster reads and writes the release command makes itself: readiness of a slot, the Services'
 * selectors and EndpointSlices, the release lock and the gate Jobs. Reads, creates, replaces and the selectors'
 * server-side applies go straight to the API server with the kubeconfig's credentials over one kept-alive
 * connection (release/kubeapi.ts: the switch path stays fast); watches (the waits), deletes that wait until the
 * object is gone, Job logs, the gate Jobs' server-side apply, and every call on a kubeconfig the direct client does
 * not support go through the Kubernetes client library (release/kubelib.ts), loaded on first use. So do the two
 * ways in to a Service of the cluster: the API server's service proxy (`proxy`: the post-promotion check's
 * Prometheus) and a port-forward (`forwardService`: the stack's own Grafana, whose credentials the proxy would
 * strip). No call spawns `kubectl` or reads its stderr (`kubectlRun` is left for the tests' own kubectl commands).
 */
import { spawn } from 'child_process';
import { readyEndpointPods, slotReadiness, SlotReadiness } from './gates';
import { checkRunning } from './interrupt';
import { KubeApi, kubeApiFor, KubeApiError, RawAnswer, ResourcePath, resourcePath } from './kubeapi';
import { KubeLibrary } from './kubelib';
import type { DeploymentObject, EndpointSliceObject, PodObject, ServiceLike } from './objects';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with optional standard input; never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Once the command is being stopped (SIGTERM), nothing new starts.
    checkRunning();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
    }
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    // A command that exits without reading its input (git show, most kubectl reads) closes the pipe first:
    // writing then fails with EPIPE, which says nothing about the command's result (that is its exit code).
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') {
        reject(e);
      }
    });
    child.on('close', (code) => {
      if (timer) {
        clearTimeout(timer);
      }
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) {
      child.stdin.end(opts.input);
    } else {
      child.stdin.end();
    }
  });
}

interface ObjectList<T> {
  items: T[];
}

export type { DeploymentObject, EndpointSliceObject, JobObject, PodObject, ServiceLike } from './objects';

/** What a wait watches: the objects of a kind matching the selectors (any of their events re-runs the check). */
export interface Watched {
  kind: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Kinds whose objects own others here (a Job its pods, a Deployment its ReplicaSets): deleted in the foreground. */
const OWNERS = new Set(['Job', 'Deployment']);

/** How often a wait re-runs its check without an event, in case a watch stalls without closing. */
const RECHECK_MS = 10_000;

/** The cluster, bound to one namespace: the API server directly where it can, the client library for the rest. */
export class Kube {
  /** The direct client, or why the library makes every call (resolved on first use). */
  private client: KubeApi | string | undefined;
  private libraryClient: Promise<KubeLibrary> | undefined;

  constructor(
    readonly namespace: string,
    /** The kubectl of the tests' own commands (`kubectlRun`); the release command's calls never start it. */
    readonly kubectl: string = process.env.KUBECTL ?? 'kubectl',
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The same cluster and credentials in another namespace (the stack's monitoring namespace). */
  in(namespace: string): Kube {
    return new Kube(namespace, this.kubectl, this.env);
  }

  /** The direct API client, or a sentence saying why the client library is used instead. */
  api(): KubeApi | string {
    this.client ??= kubeApiFor(this.env);
    return this.client;
  }

  /** The client library for this kubeconfig (loaded on first use; a failed load is tried again next time). */
  library(): Promise<KubeLibrary> {
    this.libraryClient ??= KubeLibrary.forEnv(this.env).catch((e: unknown) => {
      this.libraryClient = undefined;
      throw e;
    });
    return this.libraryClient;
  }

  /** The API path of a kind this module knows (kubectl's spelling or a manifest's kind and apiVersion). */
  private resource(kind: string, apiVersion?: string): ResourcePath {
    const r = resourcePath(kind, apiVersion);
    if (r === undefined) {
      throw new Error(
        `the release command does not know the kind ${apiVersion ? `${apiVersion} ` : ''}${kind}`,
      );
    }
    return r;
  }

  /** The direct client, when the kubeconfig allows it. */
  private direct(): KubeApi | undefined {
    const api = this.api();
    return typeof api === 'string' ? undefined : api;
  }

  /** Runs kubectl in this namespace (the tests' own commands; the release command's calls do not use it). */
  async kubectlRun(args: readonly string[], input?: string): Promise<RunResult> {
    return run(this.kubectl, ['-n', this.namespace, ...args], { input, env: this.env, timeoutMs: 60000 });
  }

  /** One object, or `undefined` when it does not exist. */
  async get<T>(kind: string, name: string): Promise<T | undefined> {
    const r = this.resource(kind);
    try {
      const api = this.direct();
      if (api === undefined) {
        return await (await this.library()).get<T>(r, this.namespace, name);
      }
      return await api.call<T>('GET', `${KubeApi.collection(r, this.namespace)}/${encodeURIComponent(name)}`);
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        return undefined;
      }
      throw new Error(`get ${kind} ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Objects of a kind matching a label selector. */
  async list<T>(kind: string, selector: string): Promise<T[]> {
    const r = this.resource(kind);
    try {
      const api = this.direct();
      if (api === undefined) {
        return (await (await this.library()).list<T>(r, this.namespace, { labelSelector: selector })).items;
      }
      const list = await api.call<ObjectList<T>>(
        'GET',
        `${KubeApi.collection(r, this.namespace)}?labelSelector=${encodeURIComponent(selector)}`,
      );
      return list.items ?? [];
    } catch (e) {
      throw new Error(`list ${kind} -l ${selector} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Server-side apply of one manifest (the gate Jobs and the smoke gate's NetworkPolicy), owned by the release
   * command's field manager, through the client library.
   */
  async apply(manifest: Record<string, unknown>): Promise<void> {
    try {
      this.manifestResource(manifest);
      await (await this.library()).apply('pavemaster-release', this.namespaced(manifest));
    } catch (e) {
      throw new Error(
        `server-side apply (field manager pavemaster-release) failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /** The manifest with this namespace when it names none. */
  private namespaced(manifest: Record<string, unknown>): Record<string, unknown> {
    const metadata = (manifest.metadata ?? {}) as { namespace?: string };
    return metadata.namespace !== undefined
      ? manifest
      : { ...manifest, metadata: { ...metadata, namespace: this.namespace } };
  }

  /** The kind and name of a manifest, checked. */
  private manifestResource(manifest: Record<string, unknown>): { r: ResourcePath; name: string; ns: string } {
    const m = manifest as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string; namespace?: string };
    };
    if (typeof m.kind !== 'string' || typeof m.metadata?.name !== 'string') {
      throw new Error('the manifest has no kind or no metadata.name');
    }
    return {
      r: this.resource(m.kind, m.apiVersion),
      name: m.metadata.name,
      ns: m.metadata.namespace ?? this.namespace,
    };
  }

  /**
   * Server-side apply of one manifest under a field manager, conflicts forced (the manifest's fields are the
   * manager's). Throws the API server's refusal as it says it (an admission policy's message, a conflict).
   */
  async applyAs(fieldManager: string, manifest: Record<string, unknown>): Promise<void> {
    const { r, name, ns } = this.manifestResource(manifest);
    const api = this.direct();
    if (api === undefined) {
      await (await this.library()).apply(fieldManager, this.namespaced(manifest));
      return;
    }
    await api.call(
      'PATCH',
      `${KubeApi.collection(r, ns)}/${encodeURIComponent(name)}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`,
      JSON.stringify(manifest),
      'application/apply-patch+yaml',
    );
  }

  /** Creates one object; `created: false` when it already exists (the atomic step of a lock). */
  async create(manifest: Record<string, unknown>): Promise<{ created: boolean; namespaceMissing?: boolean }> {
    const { r, ns } = this.manifestResource(manifest);
    try {
      const api = this.direct();
      if (api === undefined) {
        await (await this.library()).create(this.namespaced(manifest));
      } else {
        await api.call('POST', KubeApi.collection(r, ns), JSON.stringify(manifest));
      }
      return { created: true };
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 409 && e.reason === 'AlreadyExists') {
        return { created: false };
      }
      if (e instanceof KubeApiError && e.status === 404 && /namespaces? "[^"]+" not found/.test(e.message)) {
        return { created: false, namespaceMissing: true };
      }
      throw new Error(`create ${r.kind} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Replaces one object whose manifest carries the resourceVersion it was read at: `replaced: false` when the
   * object changed since (Conflict) or is gone, so two commands never both think they own it.
   */
  async replace(
    manifest: Record<string, unknown>,
  ): Promise<{ replaced: true; resourceVersion: string } | { replaced: false }> {
    const { r, name, ns } = this.manifestResource(manifest);
    try {
      const api = this.direct();
      if (api === undefined) {
        return {
          replaced: true,
          resourceVersion: await (await this.library()).replace(this.namespaced(manifest)),
        };
      }
      const out = await api.call<{ metadata?: { resourceVersion?: string } }>(
        'PUT',
        `${KubeApi.collection(r, ns)}/${encodeURIComponent(name)}`,
        JSON.stringify(manifest),
      );
      return { replaced: true, resourceVersion: out.metadata?.resourceVersion ?? '' };
    } catch (e) {
      if (e instanceof KubeApiError && (e.status === 409 || e.status === 404)) {
        return { replaced: false };
      }
      throw new Error(`replace ${r.kind} ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Deletes one object and waits until it is gone (a Job or Deployment after its pods, foreground); nothing when
   * it does not exist. An object without finalizers or dependents goes at once, through the direct client.
   */
  async delete(kind: string, name: string, timeoutMs = 120_000): Promise<void> {
    const r = this.resource(kind);
    const propagationPolicy = OWNERS.has(r.kind) ? 'Foreground' : 'Background';
    const what = `${r.kind.toLowerCase()}/${name}`;
    try {
      const api = this.direct();
      if (api === undefined) {
        await (await this.library()).delete(r, this.namespace, name, propagationPolicy);
      } else {
        const answer = await api.call<{ kind?: string }>(
          'DELETE',
          `${KubeApi.collection(r, this.namespace)}/${encodeURIComponent(name)}`,
          JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy }),
        );
        // A `Status` answer: the object is gone already. The object itself: it waits for finalizers or dependents.
        if (answer.kind === 'Status') {
          return;
        }
      }
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        return;
      }
      throw new Error(`delete ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.waitFor(
      async () => ((await this.get(kind, name)) === undefined ? true : undefined),
      [{ kind, fieldSelector: `metadata.name=${name}` }],
      { timeoutMs, what: `${what} to be deleted` },
    );
  }

  /** A Job's logs (its pods' containers, the last 200 lines each); where no kubelet serves them (kwok), the pods' state. */
  async jobLogs(name: string): Promise<string> {
    const pods = await this.list<PodObject>('pods', `job-name=${name}`);
    const lib = await this.library();
    const logs: string[] = [];
    const failures: string[] = [];
    for (const p of pods) {
      for (const c of p.spec?.containers ?? [{ name: '' }]) {
        try {
          const text = await lib.podLog(this.namespace, p.metadata.name, c.name, 200);
          if (text.trim() !== '') {
            // Each line as the pod wrote it (the gates read the smoke script's verdict line from them).
            logs.push(pods.length > 1 ? `(pod ${p.metadata.name})\n${text}` : text);
          }
        } catch (e) {
          failures.push(`${p.metadata.name}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
        }
      }
    }
    if (logs.length > 0) {
      return logs.join('\n');
    }
    const states = pods.map((p) => {
      const t = p.status?.containerStatuses?.[0]?.state?.terminated;
      return `${p.metadata.name}: phase ${p.status?.phase ?? '?'}${t ? `, exit code ${t.exitCode ?? '?'} (${t.reason ?? ''}${t.message ? `: ${t.message}` : ''})` : ''}`;
    });
    const why = failures[0] ?? (pods.length === 0 ? 'no pods' : 'no output');
    return [`(logs of job/${name}: ${why})`, ...states].join('\n');
  }

  /**
   * Waits until `check` returns a value, re-running it on every event of the watched objects (list, then watch
   * from the list's resourceVersion, so no change between the two is missed; a closed watch is opened again), and
   * every 10 s in case a watch stalls. A first check before anything is watched: what is already true costs one
   * check and no library load.
   */
  async waitFor<T>(
    check: () => Promise<T | undefined>,
    watched: readonly Watched[],
    opts: { timeoutMs: number; what: string; last?: () => Promise<string> },
  ): Promise<T> {
    const first = await check();
    if (first !== undefined) {
      return first;
    }
    const lib = await this.library();
    return new Promise<T>((resolve, reject) => {
      let finished = false;
      let running = false;
      let again = false;
      const stops: (() => void)[] = [];
      const timers: NodeJS.Timeout[] = [];
      const finish = (fn: () => void) => {
        if (finished) {
          return;
        }
        finished = true;
        timers.forEach(clearTimeout);
        clearInterval(recheck);
        stops.forEach((stop) => stop());
        fn();
      };
      const trigger = () => {
        if (finished) {
          return;
        }
        if (running) {
          again = true;
          return;
        }
        running = true;
        void (async () => {
          try {
            do {
              again = false;
              checkRunning();
              const value = await check();
              if (value !== undefined) {
                finish(() => resolve(value));
                return;
              }
            } while (again && !finished);
          } catch (e) {
            finish(() => reject(e instanceof Error ? e : new Error(String(e))));
          } finally {
            running = false;
          }
        })();
      };
      const open = async (w: Watched): Promise<void> => {
        const r = this.resource(w.kind);
        const select = { labelSelector: w.labelSelector, fieldSelector: w.fieldSelector };
        const { resourceVersion } = await lib.list(r, this.namespace, select);
        if (finished) {
          return;
        }
        let ended = false;
        const stop = await lib.watch(
          r,
          this.namespace,
          { ...select, resourceVersion },
          (e) => {
            if (e.type !== 'BOOKMARK') {
              trigger();
            }
          },
          () => {
            if (ended || finished) {
              return;
            }
            ended = true;
            // Opened again from a new list (a 410 Gone, the server's watch timeout, a dropped connection); what
            // changed meanwhile is seen by the check run right after.
            timers.push(setTimeout(() => reopen(w), 1000));
          },
        );
        if (finished) {
          stop();
        } else {
          stops.push(stop);
        }
        // What changed between the first check and the watch's start.
        trigger();
      };
      const reopen = (w: Watched) => {
        open(w).catch(() => {
          // The API server unreachable for a moment: tried again; the deadline ends the wait.
          if (!finished) {
            timers.push(setTimeout(() => reopen(w), 2000));
          }
        });
      };
      const recheck = setInterval(trigger, RECHECK_MS);
      timers.push(
        setTimeout(() => {
          void (async () => {
            const last = opts.last ? `: ${await opts.last().catch(() => '')}` : '';
            finish(() =>
              reject(
                new Error(
                  `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${opts.what}${last}`,
                ),
              ),
            );
          })();
        }, opts.timeoutMs),
      );
      for (const w of watched) {
        open(w).catch((e: unknown) => finish(() => reject(e instanceof Error ? e : new Error(String(e)))));
      }
    });
  }

  /**
   * One request to an API path outside the kinds above (the service proxy: `api/v1/namespaces/NS/services/
   * http:NAME:PORT/proxy/...`), with the kubeconfig's credentials: the direct client where it can, else the
   * library. Resolves with any answer's status and body; rejects only when there is none.
   */
  async proxy(
    method: string,
    apiPath: string,
    opts: { body?: string; contentType?: string; timeoutMs: number },
  ): Promise<RawAnswer> {
    const api = this.direct();
    if (api === undefined) {
      return (await this.library()).request(method, apiPath, opts);
    }
    return api.request(method, apiPath, opts.body, opts.contentType, opts.timeoutMs);
  }

  /**
   * A port-forward to a Service of this namespace on a free port of 127.0.0.1, as `kubectl port-forward
   * service/NAME PORT` makes it: the Service's port (number or name) is resolved to its target port on one running,
   * ready pod the Service selects, and every connection goes to that pod through the API server and its kubelet
   * (the Service's NetworkPolicies do not apply, no ingress is needed, and the request reaches the pod as sent,
   * `Authorization` included).
   */
  async forwardService(
    service: string,
    port: string,
  ): Promise<{ localPort: number; pod: string; port: number; close: () => Promise<void> }> {
    const svc = await this.get<ForwardedService>('service', service);
    if (svc === undefined) {
      throw new Error(`service ${this.namespace}/${service} does not exist`);
    }
    const ports = svc.spec?.ports ?? [];
    const p = ports.find((x) => String(x.port) === port || x.name === port);
    if (p === undefined) {
      throw new Error(
        `service ${this.namespace}/${service} has no port ${port} (it has ${ports.map((x) => x.port).join(', ') || 'none'})`,
      );
    }
    const selector = svc.spec?.selector;
    if (selector === undefined || Object.keys(selector).length === 0) {
      throw new Error(`service ${this.namespace}/${service} selects no pods`);
    }
    const pods = await this.list<ForwardedPod>('pods', labelSelector(selector));
    const pod = pods.find(
      (x) =>
        x.status?.phase === 'Running' &&
        x.metadata.deletionTimestamp === undefined &&
        (x.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (pod === undefined) {
      throw new Error(
        `no running, ready pod behind service ${this.namespace}/${service} to forward to (${pods.length} pod(s) selected)`,
      );
    }
    const target = p.targetPort ?? p.port;
    const containerPort =
      typeof target === 'number'
        ? target
        : /^\d+$/.test(target)
          ? Number(target)
          : (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((c) => c.name === target)
              ?.containerPort;
    if (containerPort === undefined) {
      throw new Error(`pod ${pod.metadata.name} has no port named ${String(target)} (service ${service})`);
    }
    const forward = await (
      await this.library()
    ).portForward(this.namespace, pod.metadata.name, containerPort);
    return { ...forward, pod: pod.metadata.name, port: containerPort };
  }

  async serviceSelector(service: string): Promise<Record<string, string> | undefined> {
    return (await this.get<ServiceLike>('service', service))?.spec?.selector;
  }

  /** The pods a Service's EndpointSlices send traffic to. */
  async endpointPods(service: string): Promise<string[]> {
    return readyEndpointPods(
      await this.list<EndpointSliceObject>('endpointslices', `kubernetes.io/service-name=${service}`),
    );
  }

  /** Readiness of a slot (its Deployment and the pods its selector selects) behind a Service. */
  async slotReadiness(
    slot: { deployment: string; selector: Record<string, string> },
    service: string,
    version?: string,
  ): Promise<SlotReadiness> {
    const [deployment, pods, slices] = await Promise.all([
      this.get<DeploymentObject>('deployment', slot.deployment),
      this.list<PodObject>('pods', labelSelector(slot.selector)),
      this.list<EndpointSliceObject>('endpointslices', `kubernetes.io/service-name=${service}`),
    ]);
    return slotReadiness({ deployment, pods, slices, version });
  }

  /** What a wait for a slot's readiness watches: its Deployment, its pods and the Service's EndpointSlices. */
  slotWatches(slot: { deployment: string; selector: Record<string, string> }, service: string): Watched[] {
    return [
      { kind: 'deployment', fieldSelector: `metadata.name=${slot.deployment}` },
      { kind: 'pods', labelSelector: labelSelector(slot.selector) },
      { kind: 'endpointslices', labelSelector: `kubernetes.io/service-name=${service}` },
    ];
  }
}

/** A Service as a port-forward reads it: its selector and ports. */
interface ForwardedService {
  metadata: { name: string };
  spec?: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string }[];
  };
}

/** A pod as a port-forward reads it: whether it is ready, and its containers' named ports. */
type ForwardedPod = Omit<PodObject, 'spec'> & {
  spec?: { containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
};

/** A label selector from labels (`app=web,slot=blue`). */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Polls `check` until it returns a value or the time is up. */
export async function poll<T>(
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; what: string; last?: () => Promise<string> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      const last = opts.last ? `: ${await opts.last()}` : '';
      throw new Error(
        `timed out after ${Math.round(opts.timeoutMs / 1000)}s waiting for ${opts.what}${last}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
