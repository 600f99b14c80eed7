/**
 * The Kubernetes API server called directly, with the kubeconfig's credentials, over one kept-alive TLS
 * connection: what a `kubectl` process costs on every call (its start, the kubeconfig, a new TLS handshake) is
 * paid once. The release command's switch path (the readiness of a slot, the release lock, the selectors) makes
 * about ten calls before traffic moves; through `kubectl` each was a process of 50-150 ms on this machine.
 *
 * It reads the kubeconfig as `kubectl` does (KUBECONFIG's files merged, the first file naming a cluster, user or
 * context wins; the current context) and supports what a static kubeconfig holds: the server, its CA (file or
 * data) or `insecure-skip-tls-verify`, `tls-server-name`, a client certificate and key (files or data), a bearer
 * token or token file, and a `username`/`password` (HTTP basic auth, as kubectl sends it). Anything else (an
 * `exec` or `auth-provider` credential plugin, impersonation, a proxy) is left to the Kubernetes client library
 * (release/kubelib.ts): `kubeApiFor` then returns why, and the caller makes the call through the library
 * instead. So does `PAVEMASTER_KUBE_CLIENT=library`.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';

/** The API path of a namespaced kind the release command reads or writes, by the names kubectl accepts. */
export interface ResourcePath {
  /** `api/v1` or `apis/<group>/<version>`. */
  prefix: string;
  plural: string;
  /** The manifest's `kind` (`Deployment`). */
  kind: string;
  /** The manifest's `apiVersion` (`v1`, `apps/v1`). */
  apiVersion: string;
}

const CORE = 'api/v1';
const KINDS: Record<string, ResourcePath> = {};
for (const [prefix, kind, plural, names] of [
  [CORE, 'Service', 'services', ['svc']],
  [CORE, 'Pod', 'pods', ['po']],
  [CORE, 'ConfigMap', 'configmaps', ['cm']],
  ['apis/apps/v1', 'Deployment', 'deployments', ['deploy']],
  ['apis/discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', []],
  ['apis/coordination.k8s.io/v1', 'Lease', 'leases', []],
  ['apis/batch/v1', 'Job', 'jobs', []],
  ['apis/networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', ['netpol']],
] as const) {
  const apiVersion = prefix === CORE ? 'v1' : prefix.slice('apis/'.length);
  for (const n of [kind.toLowerCase(), plural, ...names]) {
    KINDS[n] = { prefix, plural, kind, apiVersion };
  }
}

/** The API path of a kind (`kubectl get <kind>` spelling, or a manifest's `kind`); undefined when unknown here. */
export function resourcePath(kind: string, apiVersion?: string): ResourcePath | undefined {
  const r = KINDS[kind.toLowerCase()];
  if (r === undefined || apiVersion === undefined) {
    return r;
  }
  // A manifest names its group and version: only the one this table knows.
  return apiVersion === r.apiVersion ? r : undefined;
}

/** A Kubernetes `Status` answer (an error), as far as it is read. */
interface Status {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
}

/** A request the API server answered with an error status. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** What a kubeconfig's current context resolves to, for a direct client. */
export interface KubeTarget {
  server: URL;
  ca?: Buffer;
  insecure: boolean;
  serverName?: string;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  /** `username`/`password`: sent as HTTP basic auth (kubectl's way), unless a token is set too. */
  basicAuth?: { username: string; password: string };
}

/** An API server's answer to one request: any status, its body as text. */
export interface RawAnswer {
  status: number;
  body: string;
}

/** The `Authorization` header of HTTP basic auth. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

interface Named<T> {
  name?: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

interface KubeconfigFile {
  dir: string;
  clusters: Named<Record<string, unknown>>[];
  users: Named<Record<string, unknown>>[];
  contexts: Named<Record<string, unknown>>[];
  currentContext?: string;
}

/** The kubeconfig files kubectl reads: KUBECONFIG's list (missing files skipped), else ~/.kube/config. */
export function kubeconfigFiles(env: NodeJS.ProcessEnv): string[] {
  const list = env.KUBECONFIG;
  if (list !== undefined && list !== '') {
    return list.split(path.delimiter).filter((f) => f !== '' && fs.existsSync(f));
  }
  const home = env.HOME ?? os.homedir();
  const file = path.join(home, '.kube', 'config');
  return fs.existsSync(file) ? [file] : [];
}

function readKubeconfig(file: string): KubeconfigFile {
  const doc = (parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const list = (key: string): Named<Record<string, unknown>>[] =>
    Array.isArray(doc[key]) ? (doc[key] as Named<Record<string, unknown>>[]) : [];
  const current = doc['current-context'];
  return {
    dir: path.dirname(path.resolve(file)),
    clusters: list('clusters'),
    users: list('users'),
    contexts: list('contexts'),
    currentContext: typeof current === 'string' && current !== '' ? current : undefined,
  };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/**
 * Resolves the current context of the kubeconfig to a target a direct client can call, or a sentence saying why
 * only the client library can (a credential plugin, no current context, ...).
 */
export function resolveKubeconfig(env: NodeJS.ProcessEnv): KubeTarget | string {
  const files = kubeconfigFiles(env).map(readKubeconfig);
  if (files.length === 0) {
    return 'no kubeconfig file';
  }
  const find = (key: 'clusters' | 'users' | 'contexts', name: string) => {
    for (const f of files) {
      const entry = f[key].find((e) => e.name === name);
      if (entry !== undefined) {
        const field = key === 'clusters' ? entry.cluster : key === 'users' ? entry.user : entry.context;
        return { value: field ?? {}, dir: f.dir };
      }
    }
    return undefined;
  };
  const currentName = files.find((f) => f.currentContext !== undefined)?.currentContext;
  if (currentName === undefined) {
    return 'no current context';
  }
  const context = find('contexts', currentName)?.value;
  if (context === undefined || typeof context.cluster !== 'string') {
    return `context ${currentName} names no cluster`;
  }
  const cluster = find('clusters', context.cluster);
  if (cluster === undefined || typeof cluster.value.server !== 'string') {
    return `cluster ${context.cluster} has no server`;
  }
  const c = cluster.value;
  let server: URL;
  try {
    server = new URL(c.server as string);
  } catch {
    return `cluster ${context.cluster}'s server is not a URL`;
  }
  if (server.protocol !== 'https:') {
    return `cluster ${context.cluster}'s server is not https`;
  }
  if (c['proxy-url'] !== undefined) {
    return 'the cluster is reached through a proxy';
  }
  if (
    !isLoopback(server.hostname) &&
    [env.HTTPS_PROXY, env.https_proxy, env.HTTP_PROXY, env.http_proxy].some(
      (v) => v !== undefined && v !== '',
    )
  ) {
    return 'a proxy is set in the environment';
  }
  const fromFile = (value: unknown, dir: string): Buffer | undefined =>
    typeof value === 'string' && value !== '' ? fs.readFileSync(path.resolve(dir, value)) : undefined;
  const fromData = (value: unknown): Buffer | undefined =>
    typeof value === 'string' && value !== '' ? Buffer.from(value, 'base64') : undefined;
  const target: KubeTarget = {
    server,
    ca: fromData(c['certificate-authority-data']) ?? fromFile(c['certificate-authority'], cluster.dir),
    insecure: c['insecure-skip-tls-verify'] === true,
    serverName: typeof c['tls-server-name'] === 'string' ? c['tls-server-name'] : undefined,
  };
  const userName = context.user;
  const user = typeof userName === 'string' ? find('users', userName) : undefined;
  if (user !== undefined) {
    const u = user.value;
    for (const unsupported of ['exec', 'auth-provider', 'as', 'as-groups', 'as-uid']) {
      if (u[unsupported] !== undefined) {
        return `user ${String(userName)} authenticates with ${unsupported}`;
      }
    }
    target.cert = fromData(u['client-certificate-data']) ?? fromFile(u['client-certificate'], user.dir);
    target.key = fromData(u['client-key-data']) ?? fromFile(u['client-key'], user.dir);
    if (typeof u.token === 'string' && u.token !== '') {
      target.token = u.token;
    } else if (typeof u.tokenFile === 'string' && u.tokenFile !== '') {
      target.token = fs.readFileSync(path.resolve(user.dir, u.tokenFile), 'utf8').trim();
    }
    if (u.username !== undefined || u.password !== undefined) {
      if (typeof u.username !== 'string' || u.username === '') {
        return `user ${String(userName)} has a password but no username`;
      }
      target.basicAuth = {
        username: u.username,
        password: typeof u.password === 'string' ? u.password : '',
      };
    }
    if ((target.cert === undefined) !== (target.key === undefined)) {
      return `user ${String(userName)} has a client certificate without its key (or a key without its certificate)`;
    }
  }
  return target;
}

/** Node's network errors in kubectl's words (`dial tcp HOST:PORT: connect: connection refused`). */
export function unreachable(server: URL, e: NodeJS.ErrnoException): Error {
  const port = server.port !== '' ? server.port : '443';
  const where = `${server.hostname}:${port}`;
  const why =
    e.code === 'ECONNREFUSED'
      ? 'connect: connection refused'
      : e.code === 'ETIMEDOUT'
        ? 'i/o timeout'
        : e.code === 'ENOTFOUND'
          ? 'no such host'
          : e.code === 'ECONNRESET'
            ? 'connection reset by peer'
            : e.message;
  return new Error(`Unable to connect to the server: dial tcp ${where}: ${why}`);
}

/** A client of one API server with one kubeconfig's credentials, its connections kept alive. */
export class KubeApi {
  private readonly agent: https.Agent;

  constructor(
    readonly target: KubeTarget,
    private readonly timeoutMs = 60000,
  ) {
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 8,
      ca: target.ca,
      cert: target.cert,
      key: target.key,
      rejectUnauthorized: !target.insecure,
      servername: target.serverName,
    });
  }

  /** One request; resolves with the status and body of any answer, rejects only when there is none. */
  request(
    method: string,
    apiPath: string,
    body?: string,
    contentType = 'application/json',
    timeoutMs = this.timeoutMs,
  ): Promise<RawAnswer> {
    const base = this.target.server.pathname.replace(/\/$/, '');
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method,
          protocol: 'https:',
          hostname: this.target.server.hostname.replace(/^\[|\]$/g, ''),
          port: this.target.server.port !== '' ? Number(this.target.server.port) : 443,
          path: `${base}/${apiPath}`,
          agent: this.agent,
          servername: this.target.serverName,
          headers: {
            Accept: 'application/json',
            'User-Agent': 'pavemaster-release',
            ...this.authorization(),
            ...(body !== undefined
              ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) }
              : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(this.target.server, e)));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => reject(unreachable(this.target.server, e)));
      req.end(body);
    });
  }

  /** The `Authorization` header: the bearer token, else basic auth (client certificates need none). */
  private authorization(): { Authorization?: string } {
    if (this.target.token) {
      return { Authorization: `Bearer ${this.target.token}` };
    }
    const basic = this.target.basicAuth;
    return basic ? { Authorization: basicAuthorization(basic.username, basic.password) } : {};
  }

  /** A request whose answer must be a success: its JSON body; an error status throws a KubeApiError. */
  async call<T>(method: string, apiPath: string, body?: string, contentType?: string): Promise<T> {
    let r: { status: number; body: string };
    try {
      r = await this.request(method, apiPath, body, contentType);
    } catch (e) {
      // A kept-alive connection the server closed meanwhile (it restarted): a read is safe to send again.
      if (method !== 'GET' || !/connection reset|EPIPE|socket hang up/.test(String(e))) {
        throw e;
      }
      r = await this.request(method, apiPath, body, contentType);
    }
    if (r.status >= 200 && r.status < 300) {
      return JSON.parse(r.body) as T;
    }
    let status: Status = {};
    try {
      status = JSON.parse(r.body) as Status;
    } catch {
      status = { message: r.body.trim() };
    }
    throw new KubeApiError(r.status, status.reason ?? '', status.message || `HTTP ${r.status}`);
  }

  /** The collection path of a kind in a namespace (`api/v1/namespaces/NS/services`). */
  static collection(resource: ResourcePath, namespace: string): string {
    return `${resource.prefix}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

const clients = new Map<string, KubeApi>();

/**
 * The direct client for the kubeconfig of `env` (one per kubeconfig content, so its connections are reused by
 * every step of a command), or why the client library must make the calls.
 */
export function kubeApiFor(env: NodeJS.ProcessEnv): KubeApi | string {
  if (env.PAVEMASTER_KUBE_CLIENT === 'library') {
    return 'PAVEMASTER_KUBE_CLIENT=library';
  }
  let target: KubeTarget | string;
  try {
    target = resolveKubeconfig(env);
  } catch (e) {
    return `the kubeconfig cannot be read (${e instanceof Error ? e.message : String(e)})`;
  }
  if (typeof target === 'string') {
    return target;
  }
  // Keyed by what the connection depends on: a cluster re-created with new certificates gets a new client.
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        target.server.href,
        target.insecure,
        target.serverName ?? '',
        target.token ?? '',
        target.basicAuth?.username ?? '',
        target.basicAuth?.password ?? '',
        ...[target.ca, target.cert, target.key].map((b) => b?.toString('base64') ?? ''),
      ]),
    )
    .digest('hex');
  const cached = clients.get(key);
  if (cached !== undefined) {
    return cached;
  }
  const client = new KubeApi(target);
  clients.set(key, client);
  return client;
}
