/**
 * The Kubernetes client library (`@kubernetes/client-node`) for what the direct client (release/kubeapi.ts) does
 * not do: watches (a wait ends on the event that ends it, not on the next 250-500 ms poll), deletes that wait
 * until the object is gone, Job logs, server-side apply of the gate Jobs, and every call on a kubeconfig the
 * direct client does not support (an `exec` or `auth-provider` credential plugin, impersonation, a proxy), or
 * with `PAVEMASTER_KUBE_CLIENT=library`. Nothing spawns `kubectl` or reads its stderr.
 *
 * The library is an ES module of some 800 exports that takes 1-3 s to load on this machine: it is loaded on
 * first use only (`loadKubeLibrary`), never on the direct switch path (issue 15: promote's process time), and
 * Node.js 24 loads it with `require` (jest through test/support/esmToCjs.js).
 */
import type * as k8s from '@kubernetes/client-node';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import { KubeApiError, kubeconfigFiles, RawAnswer, ResourcePath, unreachable } from './kubeapi';

type Library = typeof k8s;

let loading: Promise<Library> | undefined;

/** The library, loaded once on first use. */
export function loadKubeLibrary(): Promise<Library> {
  loading ??= import('@kubernetes/client-node');
  return loading;
}

/**
 * The kubeconfig as kubectl reads it: KUBECONFIG's files (missing ones skipped) merged, the first file naming a
 * cluster, user or context wins, and so does the first current-context; paths relative to their own file. (The
 * library's own `loadFromDefault` refuses a name two files define, which kubectl accepts.)
 */
export function kubeConfigFor(lib: Library, env: NodeJS.ProcessEnv): k8s.KubeConfig {
  const files = kubeconfigFiles(env);
  if (files.length === 0) {
    throw new Error(
      'no configuration has been provided: no kubeconfig file (set KUBECONFIG or write ~/.kube/config)',
    );
  }
  const clusters = new Map<string, k8s.Cluster>();
  const users = new Map<string, k8s.User>();
  const contexts = new Map<string, k8s.Context>();
  let currentContext: string | undefined;
  for (const file of files) {
    const one = new lib.KubeConfig();
    one.loadFromFile(file);
    for (const [map, entries] of [
      [clusters, one.getClusters()],
      [users, one.getUsers()],
      [contexts, one.getContexts()],
    ] as [Map<string, { name: string }>, { name: string }[]][]) {
      for (const e of entries) {
        if (!map.has(e.name)) {
          map.set(e.name, e);
        }
      }
    }
    const current = one.getCurrentContext();
    if (currentContext === undefined && typeof current === 'string' && current !== '') {
      currentContext = current;
    }
  }
  if (currentContext === undefined) {
    throw new Error('no configuration has been provided: the kubeconfig names no current-context');
  }
  const kc = new lib.KubeConfig();
  kc.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
  return kc;
}

/** A Kubernetes `Status` body, as far as it is read. */
interface Status {
  reason?: string;
  message?: string;
}

/** The library's errors in the direct client's terms: a KubeApiError for an answer, kubectl's words for none. */
function libraryError(server: string, e: unknown): Error {
  const x = e as { code?: unknown; statusCode?: unknown; body?: unknown; type?: unknown };
  if (typeof x.statusCode === 'number' && x.code === undefined) {
    // A watch the server refused: the library keeps only the status.
    return new KubeApiError(x.statusCode, '', e instanceof Error ? e.message : `HTTP ${x.statusCode}`);
  }
  if (typeof x.code === 'number' && x.code >= 300) {
    let status: Status = {};
    if (typeof x.body === 'string') {
      try {
        status = JSON.parse(x.body) as Status;
      } catch {
        status = { message: x.body.trim() };
      }
    } else if (x.body !== null && typeof x.body === 'object') {
      status = x.body;
    }
    return new KubeApiError(x.code, status.reason ?? '', status.message || `HTTP ${x.code}`);
  }
  if (typeof x.code === 'string' && x.type === 'system') {
    return unreachable(new URL(server), e as NodeJS.ErrnoException);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * A JSON.stringify replacer writing the library's Date objects as the API server does: whole seconds without
 * fractions (metav1.Time); a MicroTime keeps the milliseconds a Date holds.
 */
function wireDates(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Date ? raw.toISOString().replace(/\.000Z$/, 'Z') : value;
}

/** A watch's event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, and the object. */
export interface WatchEvent<T> {
  type: string;
  object: T;
}

/** A port-forward's WebSocket, as far as it is used: closed with its local connection, and the other way. */
interface ForwardStream {
  close(): void;
  on(event: 'close', listener: () => void): unknown;
}

/** The client library bound to one kubeconfig. */
export class KubeLibrary {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly core: k8s.CoreV1Api;
  private readonly watcher: k8s.Watch;
  readonly server: string;

  constructor(
    private readonly lib: Library,
    readonly config: k8s.KubeConfig,
  ) {
    this.objects = lib.KubernetesObjectApi.makeApiClient(config);
    this.core = config.makeApiClient(lib.CoreV1Api);
    this.watcher = new lib.Watch(config);
    const cluster = config.getCurrentCluster();
    if (cluster === null) {
      throw new Error(`the kubeconfig's context ${config.getCurrentContext()} names no known cluster`);
    }
    this.server = cluster.server;
  }

  /** The library for the kubeconfig of `env`, loading the library if it is not loaded yet. */
  static async forEnv(env: NodeJS.ProcessEnv): Promise<KubeLibrary> {
    const lib = await loadKubeLibrary();
    return new KubeLibrary(lib, kubeConfigFor(lib, env));
  }

  /**
   * One call; its answer as the API server's JSON (the library turns timestamps into Date objects: a caller reads
   * the same strings as from the direct client).
   */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    let out: T;
    try {
      out = await fn();
    } catch (e) {
      throw libraryError(this.server, e);
    }
    return out !== null && typeof out === 'object' ? (JSON.parse(JSON.stringify(out, wireDates)) as T) : out;
  }

  private header(r: ResourcePath, namespace: string, name: string) {
    return { apiVersion: r.apiVersion, kind: r.kind, metadata: { name, namespace } };
  }

  /** One object, or `undefined` when it does not exist. */
  async get<T>(r: ResourcePath, namespace: string, name: string): Promise<T | undefined> {
    try {
      return (await this.call(() => this.objects.read(this.header(r, namespace, name)))) as T;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        return undefined;
      }
      throw e;
    }
  }

  /** The objects matching the selectors, and the list's resourceVersion (where a watch of them starts). */
  async list<T>(
    r: ResourcePath,
    namespace: string,
    select: { labelSelector?: string; fieldSelector?: string },
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const list = await this.call(() =>
      this.objects.list(
        r.apiVersion,
        r.kind,
        namespace,
        undefined,
        undefined,
        undefined,
        select.fieldSelector,
        select.labelSelector,
      ),
    );
    return { items: (list.items ?? []) as T[], resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** Creates an object; throws a KubeApiError (409 AlreadyExists, 404 for a missing namespace) as the server says. */
  async create(manifest: Record<string, unknown>): Promise<void> {
    await this.call(() => this.objects.create(manifest as k8s.KubernetesObject));
  }

  /** Replaces an object (its manifest carries the resourceVersion it was read at): the new resourceVersion. */
  async replace(manifest: Record<string, unknown>): Promise<string> {
    const out = await this.call(() => this.objects.replace(manifest as k8s.KubernetesObject));
    return out.metadata?.resourceVersion ?? '';
  }

  /** Server-side apply under a field manager, conflicts forced. */
  async apply(fieldManager: string, manifest: Record<string, unknown>): Promise<void> {
    await this.call(() =>
      this.objects.patch(
        manifest as k8s.KubernetesObject,
        undefined,
        undefined,
        fieldManager,
        true,
        this.lib.PatchStrategy.ServerSideApply,
      ),
    );
  }

  /** Deletes an object (foreground: its dependents go first); false when it did not exist. */
  async delete(
    r: ResourcePath,
    namespace: string,
    name: string,
    propagationPolicy: 'Foreground' | 'Background',
  ): Promise<boolean> {
    try {
      await this.call(() =>
        this.objects.delete(
          this.header(r, namespace, name),
          undefined,
          undefined,
          undefined,
          undefined,
          propagationPolicy,
        ),
      );
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        return false;
      }
      throw e;
    }
  }

  /** The last lines a pod's container wrote; an answer slower than `timeoutMs` is an error. */
  async podLog(
    namespace: string,
    pod: string,
    container: string,
    tailLines: number,
    timeoutMs = 10_000,
  ): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${timeoutMs / 1000}s for the logs of pod ${pod}`)),
        timeoutMs,
      );
      timer.unref();
    });
    try {
      return await Promise.race([
        this.call(() => this.core.readNamespacedPodLog({ namespace, name: pod, container, tailLines })),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Watches the objects of a kind from a resourceVersion; `onEvent` gets each event, `onEnd` the end of the watch
   * (the server closes watches after some minutes; an error, 410 Gone for a resourceVersion too old). Resolves
   * once the watch is open, with the function that stops it.
   */
  async watch<T>(
    r: ResourcePath,
    namespace: string,
    select: { labelSelector?: string; fieldSelector?: string; resourceVersion: string },
    onEvent: (e: WatchEvent<T>) => void,
    onEnd: (error?: Error) => void,
  ): Promise<() => void> {
    const apiPath = `/${r.prefix}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`;
    const controller = await this.watcher.watch(
      apiPath,
      {
        labelSelector: select.labelSelector,
        fieldSelector: select.fieldSelector,
        resourceVersion: select.resourceVersion,
        allowWatchBookmarks: true,
      },
      (type: string, object: unknown) => {
        if (type === 'ERROR') {
          const s = object as Status & { code?: number };
          onEnd(new KubeApiError(s.code ?? 0, s.reason ?? '', s.message ?? 'watch error'));
          return;
        }
        onEvent({ type, object: object as T });
      },
      (err: unknown) => {
        onEnd(err === null || err === undefined ? undefined : libraryError(this.server, err));
      },
    );
    return () => controller.abort();
  }

  /**
   * One request to an API path (`api/v1/namespaces/NS/services/http:NAME:PORT/proxy/...`), with the kubeconfig's
   * credentials as the library applies them (a credential plugin's token, a client certificate, basic auth):
   * resolves with the status and body of any answer, rejects only when there is none.
   */
  async request(
    method: string,
    apiPath: string,
    opts: { body?: string; contentType?: string; timeoutMs: number },
  ): Promise<RawAnswer> {
    const server = new URL(this.server);
    const options: https.RequestOptions = {
      headers: {
        Accept: 'application/json',
        'User-Agent': 'pavemaster-release',
        ...(opts.body !== undefined
          ? {
              'Content-Type': opts.contentType ?? 'application/json',
              'Content-Length': Buffer.byteLength(opts.body),
            }
          : {}),
      },
    };
    try {
      await this.config.applyToHTTPSOptions(options);
    } catch (e) {
      throw libraryError(this.server, e);
    }
    const secure = server.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          ...options,
          method,
          protocol: server.protocol,
          hostname: server.hostname.replace(/^\[|\]$/g, ''),
          port: server.port !== '' ? Number(server.port) : secure ? 443 : 80,
          path: `${server.pathname.replace(/\/$/, '')}/${apiPath.replace(/^\//, '')}`,
          timeout: opts.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(server, e)));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(server, e)));
      req.end(opts.body);
    });
  }

  /**
   * Forwards a free port on 127.0.0.1 to a pod's port (the API server's `pods/portforward`, as `kubectl
   * port-forward` does, through the kubelet): each connection to it is one stream to the pod. Resolves once it
   * listens, with its port and the function that ends it (and every open connection).
   */
  async portForward(
    namespace: string,
    pod: string,
    port: number,
  ): Promise<{ localPort: number; close: () => Promise<void> }> {
    const forward = new this.lib.PortForward(this.config, true);
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      // The library's answer is its WebSocket (the `ws` package's, whose types the library does not carry).
      const opening = forward.portForward(namespace, pod, [port], socket, null, socket) as Promise<unknown>;
      opening.then(
        (ws: unknown) => {
          const opened = (typeof ws === 'function' ? (ws as () => unknown)() : ws) as ForwardStream | null;
          // The stream ends with the local connection (the client has its answer), and the connection with it.
          socket.on('close', () => opened?.close());
          opened?.on('close', () => socket.destroy());
        },
        () => socket.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return {
      localPort: (server.address() as net.AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) {
            socket.destroy();
          }
          server.close(() => resolve());
        }),
    };
  }
}
