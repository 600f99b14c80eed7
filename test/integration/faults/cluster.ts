/**
 * Faults injected into THIS checkout's local kwok cluster (scripts/cluster, `--runtime binary`): one control-plane
 * process stopped (SIGTERM, as a restart does, or SIGKILL, as a crash does) and started again, or the whole
 * cluster stopped and started. kwokctl has no per-component restart verb, but `kwokctl start cluster` starts
 * exactly the components that are not running (each one is skipped when its pid file names a live process), with
 * the command line of the cluster's own kwok.yaml; so a component is restarted by stopping its process and
 * calling `kwokctl start cluster`. A process is only signalled after its /proc command line is checked to be this
 * cluster's binary: nothing outside this checkout's cluster is ever touched.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { run, toolEnv, repoRoot } from '../helpers';

/** A component of the cluster, as kwokctl recorded it. */
export interface Component {
  name: string;
  binary: string;
  args: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The local cluster of this checkout. */
export class LocalCluster {
  readonly name: string;
  readonly dir: string;

  constructor() {
    const env = toolEnv();
    this.name = env.PAVEMASTER_CLUSTER_NAME ?? 'pavemaster';
    this.dir = path.join(env.KWOK_WORKDIR ?? path.join(repoRoot, '.local', 'kwok'), 'clusters', this.name);
  }

  /** The components kwokctl runs (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok-controller). */
  components(): Component[] {
    // kwok.yaml holds several documents (the cluster's configuration, then the Stages): take the one with them.
    const docs = parseAllDocuments(fs.readFileSync(path.join(this.dir, 'kwok.yaml'), 'utf8')).map(
      (d) => d.toJS() as { components?: { name?: string; binary?: string; args?: string[] }[] } | null,
    );
    const doc = docs.find((d) => Array.isArray(d?.components)) ?? {};
    return (doc.components ?? []).map((c) => ({
      name: String(c.name),
      binary: String(c.binary),
      args: c.args ?? [],
    }));
  }

  component(name: string): Component {
    const found = this.components().find((c) => c.name === name);
    if (found === undefined) {
      throw new Error(`the cluster in ${this.dir} has no component ${name}`);
    }
    return found;
  }

  /** The pid of a running component, checked against its binary; undefined when it does not run. */
  pid(name: string): number | undefined {
    const component = this.component(name);
    const file = path.join(this.dir, 'pids', `${name}.pid`);
    if (!fs.existsSync(file)) {
      return undefined;
    }
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) {
      return undefined;
    }
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    if (argv0 !== component.binary) {
      throw new Error(`pid ${pid} in ${file} runs ${argv0}, not ${component.binary}: not touching it`);
    }
    return pid;
  }

  /** Stops one component with `signal` and waits until its process is gone. */
  async stopComponent(name: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
    const pid = this.pid(name);
    if (pid === undefined) {
      throw new Error(`${name} does not run`);
    }
    process.kill(pid, signal);
    const deadline = Date.now() + 90_000;
    while (alive(pid)) {
      if (Date.now() > deadline) {
        throw new Error(`${name} (pid ${pid}) did not exit within 90 s of ${signal}`);
      }
      await sleep(100);
    }
    return pid;
  }

  /** Starts every component that does not run (kwokctl skips the running ones) and waits for the API server. */
  async startStopped(): Promise<void> {
    const r = await run('kwokctl', ['start', 'cluster', '--name', this.name, '--timeout', '5m'], {
      timeoutMs: 6 * 60_000,
    });
    if (r.code !== 0) {
      throw new Error(`kwokctl start cluster failed:\n${r.stdout}\n${r.stderr}`);
    }
    await this.waitReady();
  }

  /** True when the API server answers /readyz. */
  async apiReady(): Promise<boolean> {
    const r = await run('kubectl', ['get', '--raw', '/readyz'], { timeoutMs: 10_000 });
    return r.code === 0;
  }

  /** Waits until the API server answers /readyz (and so etcd answers it). */
  async waitReady(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.apiReady())) {
      if (Date.now() > deadline) {
        throw new Error(`the API server did not become ready within ${timeoutMs / 1000} s`);
      }
      await sleep(500);
    }
  }

  /**
   * Waits until every component has stayed up for `quietMs`, starting the ones that exit meanwhile: after an
   * outage of the API server or etcd, kube-controller-manager and kube-scheduler lose their leader lease and exit
   * (as they are built to), some seconds later.
   */
  async settle(quietMs = 20_000, timeoutMs = 5 * 60_000): Promise<string[]> {
    const restarted: string[] = [];
    const deadline = Date.now() + timeoutMs;
    let quietSince = Date.now();
    while (Date.now() - quietSince < quietMs) {
      if (Date.now() > deadline) {
        throw new Error(
          `the cluster did not settle within ${timeoutMs / 1000} s (restarted: ${restarted.join(', ')})`,
        );
      }
      const dead = Object.entries(this.runningPids())
        .filter(([, pid]) => pid === undefined)
        .map(([name]) => name);
      if (dead.length > 0) {
        restarted.push(...dead);
        await this.startStopped();
        quietSince = Date.now();
      }
      await sleep(1_000);
    }
    await this.waitReady();
    return restarted;
  }

  /** `scripts/cluster stop` or `start [args]` (the operator's commands). */
  async script(verb: 'stop' | 'start', args: readonly string[] = []): Promise<string> {
    const r = await run(path.join(repoRoot, 'scripts', 'cluster'), [verb, ...args], {
      timeoutMs: 10 * 60_000,
    });
    if (r.code !== 0) {
      throw new Error(`scripts/cluster ${verb} failed:\n${r.stdout}\n${r.stderr}`);
    }
    return r.stdout;
  }

  /** True when this checkout's real node (scripts/node) runs. */
  async realNodeRuns(): Promise<boolean> {
    const node = path.join(repoRoot, 'scripts', 'node');
    return fs.existsSync(node) && (await run(node, ['status'], { timeoutMs: 60_000 })).code === 0;
  }

  /** The pids of every component that runs now. */
  runningPids(): Record<string, number | undefined> {
    return Object.fromEntries(this.components().map((c) => [c.name, this.pid(c.name)]));
  }
}
