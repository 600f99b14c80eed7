/**
 * The closing report of `npm run up` (scripts/up-local): what of the deployed stack runs for real on the local
 * cluster's real node and what is simulated on kwok nodes, then the proof that the real part works: the app
 * answering through its Service (with the curl command that does it), Prometheus's scrape targets, and
 * Alertmanager's readiness. Exits 1 if one of those runs for real and does not answer (the app, Prometheus with a
 * target on a real pod down, Alertmanager); one that is simulated is reported as such.
 *
 * Usage: ts-node --transpile-only scripts/local-report.ts STACK   (with the environment of scripts/env.sh)
 */
import { execFileSync } from 'child_process';
import * as http from 'http';

const REAL_NODE = 'pavemaster-real-node';
const REAL_POD_PREFIX = '10.244.0.';

type Json = Record<string, unknown>;

function get(obj: unknown, ...keys: string[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    cur = typeof cur === 'object' && cur !== null ? (cur as Json)[k] : undefined;
  }
  return cur;
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}
function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function json(cmd: string, args: string[]): Json {
  return JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as Json;
}

function httpGet(
  url: string,
  timeoutMs = 5000,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function until<T>(what: string, seconds: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last = '';
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) {
        return v;
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${seconds} s${last ? ` (${last})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function serviceAddress(namespace: string, name: string): string {
  const svc = json('kubectl', ['get', 'service', name, '-n', namespace, '-o', 'json']);
  const port = str(get(list(get(svc, 'spec', 'ports'))[0], 'port'));
  return `${str(get(svc, 'spec', 'clusterIP'))}:${port}`;
}

async function main(): Promise<number> {
  const stack = process.argv[2] ?? 'staging';
  const out = json('pulumi', ['stack', 'output', '--json', '--stack', stack]);
  const namespace = str(out.namespace);
  const monitoringNs = str(get(out, 'monitoring', 'namespace'));
  let failed = false;

  // ---- real or simulated ----
  const pods = list(get(json('kubectl', ['get', 'pods', '-A', '-o', 'json']), 'items')).filter((p) => {
    const ns = str(get(p, 'metadata', 'namespace'));
    return (
      ns === namespace ||
      ns.startsWith(`${namespace}-`) ||
      (ns === 'kube-system' && str(get(p, 'metadata', 'labels', 'k8s-app')) === 'kube-dns')
    );
  });
  const rows = new Map<string, { real: boolean; ready: number; total: number; images: Set<string> }>();
  for (const p of pods) {
    const ns = str(get(p, 'metadata', 'namespace'));
    const owner = list(get(p, 'metadata', 'ownerReferences'))[0];
    let name = owner ? str(get(owner, 'name')) : str(get(p, 'metadata', 'name'));
    if (str(get(owner, 'kind')) === 'ReplicaSet') {
      name = name.replace(/-[a-z0-9]+$/, '');
    }
    const key = `${ns}/${name}`;
    const real = str(get(p, 'spec', 'nodeName')) === REAL_NODE;
    const row = rows.get(`${real ? 'a' : 'b'} ${key}`) ?? {
      real,
      ready: 0,
      total: 0,
      images: new Set<string>(),
    };
    row.total += 1;
    if (
      list(get(p, 'status', 'conditions')).some(
        (c) => get(c, 'type') === 'Ready' && get(c, 'status') === 'True',
      )
    ) {
      row.ready += 1;
    }
    for (const c of list(get(p, 'spec', 'containers'))) {
      row.images.add(str(get(c, 'image')).replace(/@sha256:[0-9a-f]+$/, '@sha256:…'));
    }
    rows.set(`${real ? 'a' : 'b'} ${key}`, row);
  }
  const sorted = [...rows.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(
    '\nRuns for real on the real node (kubelet, containerd, runc; images from the local registry):',
  );
  for (const [k, r] of sorted.filter(([, r]) => r.real)) {
    console.log(`  ${k.slice(2).padEnd(58)} ${r.ready}/${r.total} Ready  ${[...r.images].join(', ')}`);
  }
  console.log('Simulated on kwok nodes (no container runs; no image of them is built here):');
  for (const [k, r] of sorted.filter(([, r]) => !r.real)) {
    console.log(`  ${k.slice(2).padEnd(58)} ${r.ready}/${r.total} Ready  ${[...r.images].join(', ')}`);
  }

  /** Whether the pods of a workload (by name prefix, in a namespace) run on the real node. */
  const runsReal = (ns: string, prefix: string): boolean =>
    pods.some(
      (p) =>
        str(get(p, 'metadata', 'namespace')) === ns &&
        str(get(p, 'metadata', 'name')).startsWith(prefix) &&
        str(get(p, 'spec', 'nodeName')) === REAL_NODE,
    );

  // ---- the app through its Service ----
  const app = serviceAddress(namespace, str(out.activeServiceName));
  const activeDeployment = str(out.activeSlot === 'green' ? out.greenDeploymentName : out.blueDeploymentName);
  if (!runsReal(namespace, `${activeDeployment}-`)) {
    console.log(
      `\nThe app's active slot (${activeDeployment}) is simulated: its image is not served by the local registry (scripts/images), so nothing answers at http://${app}/.`,
    );
  } else {
    try {
      const res = await until('the app to answer through its Service', 180, async () => {
        const r = await httpGet(`http://${app}/`);
        return r.status === 200 ? r : undefined;
      });
      const version = Object.entries(res.headers).find(([h]) => /version/i.test(h));
      console.log(
        `\nThe app answers through the Service ${namespace}/${str(out.activeServiceName)} (${str(out.activeSlot)} slot): HTTP ${res.status}${version ? `, ${version[0]}: ${str(version[1])}` : ''}`,
      );
      console.log(`  curl -si http://${app}/`);
    } catch (err) {
      failed = true;
      console.log(
        `\nThe app does not answer at http://${app}/: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  if (monitoringNs !== '' && !runsReal(monitoringNs, 'prometheus-')) {
    console.log(
      `\nPrometheus and Alertmanager are simulated (their images are not served): no scrape happens.`,
    );
  } else if (monitoringNs !== '') {
    // ---- Prometheus: its targets ----
    const prom = serviceAddress(monitoringNs, 'prometheus');
    const promReal = runsReal(monitoringNs, 'prometheus-');
    /**
     * Whether what a target scrapes runs on the real node. A target's address alone does not say it: static
     * targets are DNS names (a Service, or a StatefulSet pod behind its headless Service), Prometheus scrapes
     * itself on localhost, and the kwok nodes' kubelets are addresses on the host. So: the node Kubernetes
     * service discovery names, else the pod or the Service's endpoints the scrape URL's host names.
     */
    const targetIsReal = (t: unknown): boolean => {
      const node =
        str(get(t, 'discoveredLabels', '__meta_kubernetes_pod_node_name')) ||
        str(get(t, 'discoveredLabels', '__meta_kubernetes_node_name'));
      if (node !== '') {
        return node === REAL_NODE;
      }
      let host = '';
      try {
        host = new URL(str(get(t, 'scrapeUrl'))).hostname;
      } catch {
        return false;
      }
      if (host === 'localhost' || host === '127.0.0.1') {
        return promReal;
      }
      if (/^[0-9.]+$/.test(host)) {
        return host.startsWith(REAL_POD_PREFIX) || host.startsWith('10.213.');
      }
      const parts = host.split('.');
      if (parts.length === 4 && parts[3] === 'svc') {
        // <pod>.<headless service>.<namespace>.svc
        return pods.some(
          (p) =>
            str(get(p, 'metadata', 'namespace')) === parts[2] &&
            str(get(p, 'metadata', 'name')) === parts[0] &&
            str(get(p, 'spec', 'nodeName')) === REAL_NODE,
        );
      }
      if (parts.length === 3 && parts[2] === 'svc') {
        // <service>.<namespace>.svc: real when an endpoint of the Service is on the real node
        const slices = list(
          get(
            json('kubectl', [
              'get',
              'endpointslices',
              '-n',
              parts[1],
              '-l',
              `kubernetes.io/service-name=${parts[0]}`,
              '-o',
              'json',
            ]),
            'items',
          ),
        );
        return slices.some((s) =>
          list(get(s, 'endpoints')).some((e) => str(get(e, 'nodeName')) === REAL_NODE),
        );
      }
      return false;
    };
    try {
      const targets = await until('every target on a real pod to be up', 240, async () => {
        const r = await httpGet(`http://${prom}/api/v1/targets?state=active`);
        const active = list(get(JSON.parse(r.body), 'data', 'activeTargets'));
        const onReal = active.filter(targetIsReal);
        return onReal.length > 0 && onReal.every((t) => get(t, 'health') === 'up') ? active : undefined;
      });
      const up = targets.filter((t) => get(t, 'health') === 'up');
      const real = targets.filter(targetIsReal);
      console.log(
        `\nPrometheus (http://${prom}): ${up.length} of ${targets.length} scrape targets up; all ${real.length} on the real node are up:`,
      );
      for (const t of targets) {
        const inst = str(get(t, 'labels', 'instance'));
        console.log(
          `  ${str(get(t, 'health')).padEnd(7)} ${str(get(t, 'labels', 'job')).padEnd(28)} ${inst.padEnd(24)} ${targetIsReal(t) ? 'real' : 'simulated (kwok): nothing answers there'}`,
        );
      }
      console.log(`  curl -s 'http://${prom}/api/v1/targets?state=active'`);
    } catch (err) {
      failed = true;
      console.log(`\nPrometheus at http://${prom}: ${err instanceof Error ? err.message : String(err)}`);
    }

    // ---- Alertmanager ----
    const am = serviceAddress(monitoringNs, 'alertmanager');
    try {
      await until('Alertmanager to be ready', 120, async () =>
        (await httpGet(`http://${am}/-/ready`)).status === 200 ? true : undefined,
      );
      console.log(`\nAlertmanager is ready: curl -s http://${am}/-/ready`);
    } catch (err) {
      failed = true;
      console.log(`\nAlertmanager at http://${am}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
