/**
 * The program's own staging manifests on real pods: a throwaway copy of the staging stack (`it-real`, config from
 * Pulumi.staging.yaml, its own namespaces) deployed by the real Pulumi engine to the local cluster, where the
 * placement rule runs every pod whose images the local registry serves on the real node (kubelet, containerd,
 * runc) and the rest on kwok nodes. Checked on the real pods: non-root, read-only root filesystems and readiness
 * through the real probes; EndpointSlices with the real pod IPs; a request through the active Service's
 * ClusterIP reaching the active slot; Prometheus scraping the app through Kubernetes service discovery; the
 * program's NetworkPolicies, enforced, letting Prometheus in and keeping a pod of an unrelated namespace out; and
 * the whole cluster's resident memory with staging deployed.
 *
 * Needs the real node and the images of scripts/images; fails with the reason when either is missing.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  ThrowawayStack,
  dig,
  eventually,
  items,
  kubectlJson,
  repoRoot,
  run,
  runOk,
  stringMap,
} from './helpers';
import {
  POD_SUBNET_PREFIX,
  PodInfo,
  REAL_NODE,
  TESTBOX,
  applyJson,
  clusterResidentMiB,
  hostGet,
  hostProcessOf,
  pods,
  probeFrom,
  requireRealNode,
} from './realnode';

jest.setTimeout(40 * 60 * 1000);

const STACK = 'it-real';
const NS = 'pm-it-real';
const INTRUDER = 'pm-it-real-intruder';
const BLUE = 'pavemaster/web:1.0.0';
const GREEN = 'pavemaster/web:2.0.0';

/** The image references the local registry serves (the images team's served.json). */
function served(): Set<string> {
  const file = path.join(repoRoot, '.local', 'images', 'served.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: scripts/images has not run`);
  }
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { images?: unknown };
  return new Set(Array.isArray(parsed.images) ? parsed.images.map(String) : []);
}

interface Outputs {
  namespace: string;
  activeSlot: string;
  activeServiceName: string;
  previewServiceName: string;
  monitoringNamespace: string;
}

let stack: ThrowawayStack;
let out: Outputs;
/** A pod of the stack, with its images and the kind of its owner ("DaemonSet", "ReplicaSet", ...). */
type StackPod = PodInfo & { images: string[]; owner: string };
let all: StackPod[] = [];
/** Requests the app answered (any status) through each Service before the Prometheus test: it counts them. */
const answered: Record<string, number> = {};

async function stackPods(): Promise<StackPod[]> {
  const list = await kubectlJson(['get', 'pods', '-A']);
  const result: StackPod[] = [];
  const namespaces = new Set(
    items(list)
      .map((p) => String(dig(p, 'metadata', 'namespace')))
      .filter((ns) => ns === NS || (ns.startsWith(`${NS}-`) && ns !== INTRUDER)),
  );
  for (const ns of namespaces) {
    const specs = new Map(
      items(await kubectlJson(['get', 'pods', '-n', ns])).map((p) => [
        String(dig(p, 'metadata', 'name')),
        {
          images: ((dig(p, 'spec', 'containers') as unknown[]) ?? []).map((c) => String(dig(c, 'image'))),
          owner: String((dig(p, 'metadata', 'ownerReferences', '0', 'kind') as string | undefined) ?? ''),
        },
      ]),
    );
    for (const pod of await pods(ns)) {
      const spec = specs.get(pod.name);
      result.push({ ...pod, images: spec?.images ?? [], owner: spec?.owner ?? '' });
    }
  }
  return result;
}

beforeAll(async () => {
  await requireRealNode();
  const images = served();
  for (const image of [BLUE, GREEN, TESTBOX]) {
    if (!images.has(image)) {
      throw new Error(`the local registry does not serve ${image} (scripts/images): the test needs it`);
    }
  }
  stack = await ThrowawayStack.create(STACK, 'staging', {
    environment: 'staging',
    namespace: NS,
    blueImage: BLUE,
    greenImage: GREEN,
  });
  await stack.pulumi(['up', '--yes', '--skip-preview'], 30 * 60 * 1000);
  const raw = await stack.outputs();
  out = {
    namespace: String(raw.namespace),
    activeSlot: String(raw.activeSlot),
    activeServiceName: String(raw.activeServiceName),
    previewServiceName: String(raw.previewServiceName),
    monitoringNamespace: String(dig(raw, 'monitoring', 'namespace')),
  };
  all = await stackPods();
});

afterAll(async () => {
  await run('kubectl', ['delete', 'namespace', INTRUDER, '--ignore-not-found', '--wait=false']);
  if (stack !== undefined) {
    await stack.dispose();
  }
});

describe('staging on the real node', () => {
  it('runs every pod whose images are served on the real node, and every other pod on a kwok node', () => {
    const images = served();
    expect(all.length).toBeGreaterThan(5);
    const real = all.filter((p) => p.images.every((i) => images.has(i)));
    const simulated = all.filter((p) => !p.images.every((i) => images.has(i)));
    expect(real.map((p) => p.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^pavemaster-blue-/)]),
    );
    // A DaemonSet runs one pod per node: with served images, its pod on the real node is real and the ones on
    // the kwok nodes are simulated (the placement rule only lets it onto the real node too).
    for (const p of real.filter((x) => x.owner !== 'DaemonSet')) {
      expect(`${p.namespace}/${p.name} on ${p.node}`).toBe(`${p.namespace}/${p.name} on ${REAL_NODE}`);
    }
    const daemons = real.filter((x) => x.owner === 'DaemonSet');
    expect(
      daemons.filter((p) => p.node === REAL_NODE).map((p) => p.labels['app.kubernetes.io/name']),
    ).toEqual([...new Set(daemons.map((p) => p.labels['app.kubernetes.io/name']))]);
    for (const p of simulated) {
      expect(`${p.namespace}/${p.name} on ${p.node}`).not.toBe(`${p.namespace}/${p.name} on ${REAL_NODE}`);
    }
  });

  it('starts every real container non-root on a read-only root filesystem, Ready through its real probes', async () => {
    const real = all.filter((p) => p.node === REAL_NODE);
    expect(real.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const pod of real) {
      const spec = await kubectlJson(['get', 'pod', pod.name, '-n', pod.namespace]);
      const containers = (dig(spec, 'spec', 'containers') as unknown[]) ?? [];
      // Readiness comes from the kubelet running the probes the program declares, so each one must declare it.
      for (const c of containers) {
        if (dig(c, 'readinessProbe') === undefined) {
          problems.push(`${pod.namespace}/${pod.name}/${String(dig(c, 'name'))}: no readiness probe`);
        }
      }
      const current = (await pods(pod.namespace)).find((p) => p.name === pod.name);
      if (current === undefined || !current.ready) {
        problems.push(`${pod.namespace}/${pod.name}: not Ready`);
        continue;
      }
      for (const c of current.containers) {
        const proc = hostProcessOf(c.id);
        if (proc.uids.some((u) => u === 0)) {
          problems.push(`${pod.namespace}/${pod.name}/${c.name}: runs as uid ${proc.uids.join('/')}`);
        }
        if (!proc.rootMountOptions.includes('ro')) {
          problems.push(
            `${pod.namespace}/${pod.name}/${c.name}: root filesystem ${proc.rootMountOptions.join(',')}`,
          );
        }
        if (!c.ready || !c.started) {
          problems.push(
            `${pod.namespace}/${pod.name}/${c.name}: ready=${String(c.ready)} started=${String(c.started)}`,
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("reads a real pod's log through the API server (which calls the kubelet at the node's address)", async () => {
    const app = all.find((p) => p.namespace === NS && p.labels.slot === out.activeSlot);
    if (app === undefined) {
      throw new Error('no pod of the active slot');
    }
    const r = await run('kubectl', ['logs', app.name, '-n', NS, '--tail', '5']);
    expect(`${r.code} ${r.stderr.trim()}`).toBe('0 ');
  });

  it("lists the real pod IPs in the active Service's EndpointSlices", async () => {
    const slot = out.activeSlot;
    const slotPods = all.filter((p) => p.namespace === NS && p.labels.slot === slot);
    expect(slotPods.length).toBeGreaterThan(0);
    const ips = slotPods.map((p) => p.ip).sort();
    expect(ips.every((ip) => ip.startsWith(POD_SUBNET_PREFIX))).toBe(true);
    const slices = await kubectlJson([
      'get',
      'endpointslices',
      '-n',
      NS,
      '-l',
      `kubernetes.io/service-name=${out.activeServiceName}`,
    ]);
    const listed = items(slices)
      .flatMap((s) => (dig(s, 'endpoints') as unknown[]) ?? [])
      .filter((e) => dig(e, 'conditions', 'ready') !== false)
      .flatMap((e) => (dig(e, 'addresses') as string[]) ?? [])
      .sort();
    expect(listed).toEqual(ips);
  });

  it("reaches the active slot through the active Service's ClusterIP, and the idle one through the preview Service", async () => {
    const version = async (service: string): Promise<string> => {
      const svc = await kubectlJson(['get', 'service', service, '-n', NS]);
      const url = `http://${String(dig(svc, 'spec', 'clusterIP'))}:${String(dig(svc, 'spec', 'ports', '0', 'port'))}/`;
      const res = await eventually(`${url} to answer`, async () => {
        const r = await hostGet(url);
        if (!('error' in r)) {
          answered[service] = (answered[service] ?? 0) + 1;
        }
        return 'error' in r || r.status !== 200 ? undefined : r;
      });
      const header = Object.entries(res.headers).find(([k]) => /version/i.test(k));
      if (header === undefined) {
        throw new Error(`${url}: no version header in ${JSON.stringify(res.headers)}`);
      }
      return String(header[1]);
    };
    const expected = { blue: '1.0.0', green: '2.0.0' };
    const idle = out.activeSlot === 'blue' ? 'green' : 'blue';
    expect(await version(out.activeServiceName)).toBe(expected[out.activeSlot as 'blue' | 'green']);
    expect(await version(out.previewServiceName)).toBe(expected[idle]);
  });

  it('lets Prometheus scrape the app through Kubernetes service discovery, past the enforced NetworkPolicies', async () => {
    const svc = await kubectlJson(['get', 'service', 'prometheus', '-n', out.monitoringNamespace]);
    const prom = `http://${String(dig(svc, 'spec', 'clusterIP'))}:${String(dig(svc, 'spec', 'ports', '0', 'port'))}`;
    const appPods = new Set(all.filter((p) => p.namespace === NS).map((p) => p.name));
    const targets = await eventually(
      'Prometheus to scrape every app pod',
      async () => {
        const r = await hostGet(`${prom}/api/v1/targets?state=active`);
        if ('error' in r) {
          throw new Error(r.error);
        }
        const active = (dig(JSON.parse(r.body), 'data', 'activeTargets') as unknown[]) ?? [];
        const app = active.filter((t) =>
          appPods.has(String(dig(t, 'discoveredLabels', '__meta_kubernetes_pod_name'))),
        );
        return app.length >= appPods.size && app.every((t) => dig(t, 'health') === 'up') ? app : undefined;
      },
      5 * 60 * 1000,
      5000,
    );
    for (const t of targets) {
      // Found by Kubernetes service discovery (the pod's metadata), scraped at the real pod's IP.
      expect(String(dig(t, 'discoveredLabels', '__meta_kubernetes_namespace'))).toBe(NS);
      expect(String(dig(t, 'labels', 'instance')).startsWith(POD_SUBNET_PREFIX)).toBe(true);
    }
    // And the scraped series are there, labelled with the slot and version of the pod that produced them.
    const query = async (promql: string): Promise<{ labels: Record<string, string>; value: number }[]> => {
      const q = await hostGet(`${prom}/api/v1/query?query=${encodeURIComponent(promql)}`);
      if ('error' in q) {
        throw new Error(q.error);
      }
      return ((dig(JSON.parse(q.body), 'data', 'result') as unknown[]) ?? []).map((r) => ({
        labels: stringMap(dig(r, 'metric')),
        value: Number(dig(r, 'value', '1')),
      }));
    };
    const up = await query(`up{namespace="${NS}"} == 1`);
    const slotsUp = [
      ...new Set(
        up.filter((r) => r.labels.app === 'pavemaster').map((r) => `${r.labels.slot}/${r.labels.version}`),
      ),
    ].sort();
    expect(slotsUp).toEqual(['blue/1.0.0', 'green/2.0.0']);
    // Requests through the active Service are counted by the active slot's pod, and scraped from it.
    const active = await kubectlJson(['get', 'service', out.activeServiceName, '-n', NS]);
    const appUrl = `http://${String(dig(active, 'spec', 'clusterIP'))}:${String(dig(active, 'spec', 'ports', '0', 'port'))}/`;
    const sent = 5;
    for (let i = 0; i < sent; i++) {
      const r = await hostGet(appUrl);
      expect('error' in r ? r.error : r.status).toBe(200);
    }
    // The idle slot's pod counts exactly the requests the preview Service sent it earlier (none of these): the
    // active Service routes to the active slot only.
    const idleSent = answered[out.previewServiceName] ?? 0;
    const activeSent = sent + (answered[out.activeServiceName] ?? 0);
    const idleSlot = out.activeSlot === 'blue' ? 'green' : 'blue';
    const counted = await eventually(
      `http_requests_total of the ${out.activeSlot} slot to count ${activeSent} requests`,
      async () => {
        const rows = await query(
          `sum by (slot, version) (http_requests_total{namespace="${NS}", app="pavemaster"})`,
        );
        const row = rows.find((r) => r.labels.slot === out.activeSlot);
        const idle = rows.find((r) => r.labels.slot !== out.activeSlot);
        return row !== undefined && row.value >= activeSent && (idle?.value ?? 0) >= idleSent
          ? rows
          : undefined;
      },
      3 * 60 * 1000,
      5000,
    );
    console.log(
      `http_requests_total by slot: ${counted.map((r) => `${r.labels.slot}/${r.labels.version}=${r.value}`).join(', ')} ` +
        `(sent ${activeSent} through the active Service, ${idleSent} through the preview Service)`,
    );
    expect(counted.find((r) => r.labels.slot === out.activeSlot)?.labels.version).toBe('1.0.0');
    expect(
      counted
        .filter((r) => r.labels.slot !== out.activeSlot && r.value > 0)
        .map((r) => `${r.labels.slot}=${r.value}`),
    ).toEqual(idleSent > 0 ? [`${idleSlot}=${idleSent}`] : []);
  });

  it('runs Alertmanager for real and Ready, answering its API through its Service', async () => {
    const svc = await kubectlJson(['get', 'service', 'alertmanager', '-n', out.monitoringNamespace]);
    const am = `http://${String(dig(svc, 'spec', 'clusterIP'))}:${String(dig(svc, 'spec', 'ports', '0', 'port'))}`;
    const ready = await eventually('Alertmanager to be ready', async () => {
      const r = await hostGet(`${am}/-/ready`);
      return 'error' in r || r.status !== 200 ? undefined : r;
    });
    expect(ready.status).toBe(200);
    const status = await hostGet(`${am}/api/v2/status`);
    expect('error' in status ? status.error : status.status).toBe(200);
    const amPods = all.filter(
      (p) => p.namespace === out.monitoringNamespace && p.name.startsWith('alertmanager-'),
    );
    expect(amPods.map((p) => p.node)).toEqual(amPods.map(() => REAL_NODE));
    expect(amPods.length).toBeGreaterThan(0);
  });

  it('keeps a pod of an unrelated namespace away from the app (default deny, enforced)', async () => {
    await runOk('kubectl', ['create', 'namespace', INTRUDER]);
    const app = all.find((p) => p.namespace === NS && p.labels.slot === out.activeSlot);
    if (app === undefined) {
      throw new Error('no pod of the active slot');
    }
    const port = 8080;
    // Control: the intruder's pod can reach a server of its own namespace (the network works, DNS too).
    await applyJson({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'echo', namespace: INTRUDER, labels: { app: 'echo' } },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'echo',
            image: TESTBOX,
            args: ['serve'],
            readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            },
          },
        ],
      },
    });
    await runOk(
      'kubectl',
      ['wait', '--for=condition=Ready', 'pod/echo', '-n', INTRUDER, '--timeout=120s'],
      150_000,
    );
    const echo = (await pods(INTRUDER, 'app=echo'))[0];
    // Each probe waits for the enforcer to know its address (see probeFrom); the control proves it then connects.
    const settle = 8;
    expect(await probeFrom(INTRUDER, 'control', ['get', `http://${echo.ip}:8080/readyz`, '3'], settle)).toBe(
      0,
    );
    // The app: neither its pod IP nor its Service's ClusterIP (no DNS in the way), from there.
    const svc = await kubectlJson(['get', 'service', out.activeServiceName, '-n', NS]);
    const clusterIp = `${String(dig(svc, 'spec', 'clusterIP'))}:${String(dig(svc, 'spec', 'ports', '0', 'port'))}`;
    expect(await probeFrom(INTRUDER, 'to-pod', ['tcp', `${app.ip}:${port}`, '3'], settle)).not.toBe(0);
    expect(await probeFrom(INTRUDER, 'to-service', ['get', `http://${clusterIp}/`, '3'], settle)).not.toBe(0);
  });

  it('keeps the whole local cluster with staging deployed under 6 GiB resident', async () => {
    const { total, report } = await clusterResidentMiB();
    console.log(`resident memory of the local cluster with staging deployed:\n${report}`);
    expect(total).toBeLessThan(6 * 1024);
  });
});
