/**
 * The few cluster reads and writes the release command makes itself: readiness of a slot, the Services'
 * selectors and EndpointSlices, the release lock and the gate Jobs (server-side apply of a generated manifest).
 * Reads, creates and server-side applies of the kinds it knows go straight to the API server with the
 * kubeconfig's credentials over one kept-alive connection (release/kubeapi.ts); the rest (deletes that wait, Job
 * logs) and every call on a kubeconfig the direct client does not support go through `kubectl`, the same binary
 * and KUBECONFIG an operator uses.
 */
import { spawn } from 'child_process';
import { readyEndpointPods, slotReadiness, SlotReadiness } from './gates';
import { checkRunning } from './interrupt';
import { KubeApi, kubeApiFor, KubeApiError, resourcePath } from './kubeapi';
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

/** The cluster, bound to one namespace: the API server directly where it can, kubectl for the rest. */
export class Kube {
  /** The direct client, or why kubectl makes every call (resolved on first use). */
  private client: KubeApi | string | undefined;

  constructor(
    readonly namespace: string,
    readonly kubectl: string = process.env.KUBECTL ?? 'kubectl',
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The direct API client, or a sentence saying why kubectl is used instead. */
  api(): KubeApi | string {
    this.client ??= kubeApiFor(this.env);
    return this.client;
  }

  /** The direct client and the API path of a kind, when both exist. */
  private direct(kind: string, apiVersion?: string) {
    const api = this.api();
    const resource = resourcePath(kind, apiVersion);
    return typeof api === 'string' || resource === undefined ? undefined : { api, resource };
  }

  async kubectlRun(args: readonly string[], input?: string): Promise<RunResult> {
    return run(this.kubectl, ['-n', this.namespace, ...args], { input, env: this.env, timeoutMs: 60000 });
  }

  private async ok(args: readonly string[], input?: string): Promise<string> {
    const r = await this.kubectlRun(args, input);
    if (r.code !== 0) {
      throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r.stdout;
  }

  /** One object, or `undefined` when it does not exist. */
  async get<T>(kind: string, name: string): Promise<T | undefined> {
    const d = this.direct(kind);
    if (d !== undefined) {
      try {
        return await d.api.call<T>(
          'GET',
          `${KubeApi.collection(d.resource, this.namespace)}/${encodeURIComponent(name)}`,
        );
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 404) {
          return undefined;
        }
        throw new Error(`kubectl get ${kind} ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const r = await this.kubectlRun(['get', kind, name, '-o', 'json']);
    if (r.code !== 0) {
      if (/NotFound|not found/.test(r.stderr)) {
        return undefined;
      }
      throw new Error(`kubectl get ${kind} ${name} failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as T;
  }

  /** Objects of a kind matching a label selector. */
  async list<T>(kind: string, selector: string): Promise<T[]> {
    const d = this.direct(kind);
    if (d !== undefined) {
      try {
        const list = await d.api.call<ObjectList<T>>(
          'GET',
          `${KubeApi.collection(d.resource, this.namespace)}?labelSelector=${encodeURIComponent(selector)}`,
        );
        return list.items ?? [];
      } catch (e) {
        throw new Error(
          `kubectl get ${kind} -l ${selector} -o json failed: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    const out = await this.ok(['get', kind, '-l', selector, '-o', 'json']);
    return (JSON.parse(out) as ObjectList<T>).items;
  }

  /** Server-side apply of one manifest, owned by the release command's field manager. */
  async apply(manifest: Record<string, unknown>): Promise<void> {
    try {
      await this.applyAs('pavemaster-release', manifest);
    } catch (e) {
      throw new Error(
        `kubectl apply --server-side --field-manager=pavemaster-release failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /**
   * Server-side apply of one manifest under a field manager, conflicts forced (the manifest's fields are the
   * manager's). Throws the API server's refusal as it says it (an admission policy's message, a conflict).
   */
  async applyAs(fieldManager: string, manifest: Record<string, unknown>): Promise<void> {
    const m = manifest as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string; namespace?: string };
    };
    const d = typeof m.kind === 'string' ? this.direct(m.kind, m.apiVersion) : undefined;
    const name = m.metadata?.name;
    if (d !== undefined && typeof name === 'string') {
      const ns = m.metadata?.namespace ?? this.namespace;
      await d.api.call(
        'PATCH',
        `${KubeApi.collection(d.resource, ns)}/${encodeURIComponent(name)}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`,
        JSON.stringify(manifest),
        'application/apply-patch+yaml',
      );
      return;
    }
    const r = await this.kubectlRun(
      [
        'apply',
        '--server-side',
        '--force-conflicts',
        `--field-manager=${fieldManager}`,
        '-o',
        'name',
        '-f',
        '-',
      ],
      JSON.stringify(manifest),
    );
    if (r.code !== 0) {
      throw new Error((r.stderr.trim() || r.stdout.trim()).replace(/^Error from server[^:]*: /, ''));
    }
  }

  /** Creates one object; `created: false` when it already exists (the atomic step of a lock). */
  async create(manifest: Record<string, unknown>): Promise<{ created: boolean; namespaceMissing?: boolean }> {
    const m = manifest as { apiVersion?: string; kind?: string; metadata?: { namespace?: string } };
    const d = typeof m.kind === 'string' ? this.direct(m.kind, m.apiVersion) : undefined;
    if (d !== undefined) {
      try {
        await d.api.call(
          'POST',
          KubeApi.collection(d.resource, m.metadata?.namespace ?? this.namespace),
          JSON.stringify(manifest),
        );
        return { created: true };
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 409 && e.reason === 'AlreadyExists') {
          return { created: false };
        }
        if (
          e instanceof KubeApiError &&
          e.status === 404 &&
          /namespaces? "[^"]+" not found/.test(e.message)
        ) {
          return { created: false, namespaceMissing: true };
        }
        throw new Error(`kubectl create failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const r = await this.kubectlRun(['create', '-f', '-', '-o', 'name'], JSON.stringify(manifest));
    if (r.code === 0) {
      return { created: true };
    }
    if (/AlreadyExists|already exists/.test(r.stderr)) {
      return { created: false };
    }
    if (/namespaces? "[^"]+" not found/.test(r.stderr)) {
      return { created: false, namespaceMissing: true };
    }
    throw new Error(`kubectl create failed: ${r.stderr.trim() || r.stdout.trim()}`);
  }

  /**
   * Replaces one object whose manifest carries the resourceVersion it was read at: `replaced: false` when the
   * object changed since (Conflict) or is gone, so two commands never both think they own it.
   */
  async replace(
    manifest: Record<string, unknown>,
  ): Promise<{ replaced: true; resourceVersion: string } | { replaced: false }> {
    const r = await this.kubectlRun(
      ['replace', '-f', '-', '-o', 'jsonpath={.metadata.resourceVersion}'],
      JSON.stringify(manifest),
    );
    if (r.code === 0) {
      return { replaced: true, resourceVersion: r.stdout.trim() };
    }
    if (/Conflict|has been modified|NotFound|not found/.test(r.stderr)) {
      return { replaced: false };
    }
    throw new Error(`kubectl replace failed: ${r.stderr.trim() || r.stdout.trim()}`);
  }

  async delete(kind: string, name: string): Promise<void> {
    await this.ok(['delete', kind, name, '--ignore-not-found', '--wait=true', '--cascade=foreground']);
  }

  /** A Job's logs; on clusters without a kubelet (kwok) the pods' termination state instead. */
  async jobLogs(name: string): Promise<string> {
    const r = await this.kubectlRun([
      'logs',
      `job/${name}`,
      '--all-containers',
      '--tail=200',
      '--request-timeout=10s',
    ]);
    if (r.code === 0 && r.stdout.trim() !== '') {
      return r.stdout;
    }
    const pods = await this.list<PodObject>('pods', `job-name=${name}`);
    const states = pods.map((p) => {
      const t = p.status?.containerStatuses?.[0]?.state?.terminated;
      return `${p.metadata.name}: phase ${p.status?.phase ?? '?'}${t ? `, exit code ${t.exitCode ?? '?'} (${t.reason ?? ''}${t.message ? `: ${t.message}` : ''})` : ''}`;
    });
    return [`(kubectl logs job/${name}: ${(r.stderr.trim() || 'no output').split('\n')[0]})`, ...states].join(
      '\n',
    );
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
    const labels = Object.entries(slot.selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const [deployment, pods, slices] = await Promise.all([
      this.get<DeploymentObject>('deployment', slot.deployment),
      this.list<PodObject>('pods', labels),
      this.list<EndpointSliceObject>('endpointslices', `kubernetes.io/service-name=${service}`),
    ]);
    return slotReadiness({ deployment, pods, slices, version });
  }
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
