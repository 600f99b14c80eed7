/**
 * The local cluster's real node (scripts/node), on its own: real containers with the images team's test image,
 * the placement rule, Services through kube-proxy, cluster DNS, NetworkPolicy enforcement, and a stop that leaves
 * nothing behind. The program's own manifests on real pods are tested in staging-real.int.test.ts.
 *
 * Needs the real node (globalSetup starts it); fails with the reason when it cannot run, never skips.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import { dig, eventually, kubectlJson, run, runOk } from './helpers';
import {
  POD_SUBNET_PREFIX,
  REAL_NODE,
  TESTBOX,
  applyJson,
  hostGet,
  hostProcessOf,
  pods,
  probeFrom,
  requireRealNode,
  restrictedContainer,
} from './realnode';

jest.setTimeout(15 * 60 * 1000);

const suffix = randomBytes(3).toString('hex');
const NS = `it-node-${suffix}`;
const OTHER = `it-node-other-${suffix}`;

function server(name: string, namespace: string, image = TESTBOX): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'server',
              image,
              args: ['serve'],
              env: [{ name: 'PORT', value: '8080' }],
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 },
              livenessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 },
              securityContext: restrictedContainer,
              resources: {
                requests: { cpu: '10m', memory: '16Mi' },
                limits: { cpu: '200m', memory: '64Mi' },
              },
            },
          ],
        },
      },
    },
  };
}

function service(name: string, namespace: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

async function clusterIP(name: string, namespace: string): Promise<string> {
  return String(dig(await kubectlJson(['get', 'service', name, '-n', namespace]), 'spec', 'clusterIP'));
}

beforeAll(async () => {
  await requireRealNode();
  for (const ns of [NS, OTHER]) {
    await runOk('kubectl', ['create', 'namespace', ns]);
  }
  await applyJson(server('web', NS));
  await applyJson(service('web', NS));
  await runOk('kubectl', ['rollout', 'status', 'deployment/web', '-n', NS, '--timeout=180s'], 200_000);
});

afterAll(async () => {
  for (const ns of [NS, OTHER]) {
    await run('kubectl', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  }
});

describe('the real node', () => {
  it('runs the pods whose images the local registry serves, non-root, on a read-only root, Ready through their probes', async () => {
    const list = await pods(NS, 'app=web');
    expect(list).toHaveLength(2);
    for (const pod of list) {
      expect(pod.node).toBe(REAL_NODE);
      expect(pod.ip.startsWith(POD_SUBNET_PREFIX)).toBe(true);
      expect(pod.ready).toBe(true);
      for (const c of pod.containers) {
        expect(c.started).toBe(true);
        const proc = hostProcessOf(c.id);
        // The process really runs as the image's user 10001, not root, and its root filesystem is read-only.
        expect(proc.uids.every((u) => u === 10001)).toBe(true);
        expect(proc.rootMountOptions).toContain('ro');
        expect(proc.capEff).toBe('0000000000000000');
      }
    }
  });

  it('sends a pod with an image the registry does not serve to a kwok node, and says so in its nodeSelector', async () => {
    await applyJson(server('simulated', NS, 'grafana/grafana:13.1.0'));
    const placed = await eventually(
      'the simulated pods to be scheduled',
      async () => {
        const list = await pods(NS, 'app=simulated');
        return list.length === 2 && list.every((p) => p.node !== '') ? list : undefined;
      },
      60_000,
    );
    for (const pod of placed) {
      expect(pod.node).not.toBe(REAL_NODE);
      const obj = await kubectlJson(['get', 'pod', pod.name, '-n', NS]);
      expect(dig(obj, 'spec', 'nodeSelector', 'type')).toBe('kwok');
    }
    const real = await kubectlJson(['get', 'pod', (await pods(NS, 'app=web'))[0].name, '-n', NS]);
    expect(dig(real, 'spec', 'nodeSelector', 'type')).toBe('real');
    await runOk('kubectl', ['delete', 'deployment', 'simulated', '-n', NS]);
  });

  it('keeps a DaemonSet that tolerates every taint off the real node unless its images are served', async () => {
    const daemonset = (name: string, image: string): Record<string, unknown> => ({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: NS },
      spec: {
        selector: { matchLabels: { ds: name } },
        template: {
          metadata: { labels: { ds: name } },
          spec: {
            // As node agents do (node-exporter, Filebeat): every taint tolerated, the real node's too.
            tolerations: [{ operator: 'Exists' }],
            automountServiceAccountToken: false,
            containers: [
              {
                name: 'agent',
                image,
                args: ['sleep'],
                securityContext: restrictedContainer,
                resources: { requests: { cpu: '5m', memory: '8Mi' }, limits: { cpu: '50m', memory: '32Mi' } },
              },
            ],
          },
        },
      },
    });
    await applyJson(daemonset('agent-real', TESTBOX));
    await applyJson(daemonset('agent-simulated', 'prom/node-exporter:v1.12.1@sha256:' + '0'.repeat(64)));
    const nodesOf = async (name: string): Promise<string[]> =>
      eventually(`the pods of DaemonSet ${name} to be scheduled`, async () => {
        const ds = await kubectlJson(['get', 'daemonset', name, '-n', NS]);
        const list = await pods(NS, `ds=${name}`);
        const desired = Number(dig(ds, 'status', 'desiredNumberScheduled'));
        return desired > 0 && list.length === desired && list.every((p) => p.node !== '')
          ? list.map((p) => p.node).sort()
          : undefined;
      });
    const kwokNodes = ['pavemaster-node-1', 'pavemaster-node-2', 'pavemaster-node-3'];
    expect(await nodesOf('agent-real')).toEqual([...kwokNodes, REAL_NODE].sort());
    expect(await nodesOf('agent-simulated')).toEqual(kwokNodes);
    await runOk('kubectl', ['delete', 'daemonset', 'agent-real', 'agent-simulated', '-n', NS]);
  });

  it('lists the real pod IPs in the EndpointSlices and answers through the ClusterIP from the host', async () => {
    const ips = new Set((await pods(NS, 'app=web')).map((p) => p.ip));
    const slices = await eventually('EndpointSlices with both pods', async () => {
      const list = await kubectlJson([
        'get',
        'endpointslices',
        '-n',
        NS,
        '-l',
        'kubernetes.io/service-name=web',
      ]);
      const found = new Set<string>();
      for (const slice of (list.items as unknown[]) ?? []) {
        for (const ep of (dig(slice, 'endpoints') as unknown[]) ?? []) {
          for (const a of (dig(ep, 'addresses') as string[]) ?? []) {
            found.add(a);
          }
        }
      }
      return found.size === ips.size && [...found].every((a) => ips.has(a)) ? found : undefined;
    });
    expect([...slices].sort()).toEqual([...ips].sort());

    const ip = await clusterIP('web', NS);
    const answered = new Set<string>();
    for (let i = 0; i < 20 && answered.size < 2; i++) {
      const res = await hostGet(`http://${ip}/`);
      if ('error' in res) {
        throw new Error(`GET http://${ip}/ from the host: ${res.error}`);
      }
      expect(res.status).toBe(200);
      answered.add(String((JSON.parse(res.body) as { pod?: unknown }).pod));
    }
    // kube-proxy spreads the requests over both real pods.
    expect(answered).toEqual(new Set((await pods(NS, 'app=web')).map((p) => p.name)));
  });

  it('resolves Service names through cluster DNS from a pod, and nothing outside the cluster', async () => {
    expect(await probeFrom(NS, 'dns', ['get', `http://web.${NS}.svc.cluster.local/readyz`, '5'])).toBe(0);
    expect(await probeFrom(NS, 'dns-short', ['get', 'http://web/readyz', '5'])).toBe(0);
    // No forwarder: a name outside cluster.local does not resolve (nothing is asked of any other server).
    expect(await probeFrom(NS, 'dns-out', ['get', 'http://pavemaster-nowhere.example/', '5'])).not.toBe(0);
  });

  it('enforces NetworkPolicies: a default-deny namespace is unreachable from another namespace until a policy allows it', async () => {
    const target = `http://web.${NS}.svc.cluster.local/readyz`;
    expect(await probeFrom(OTHER, 'before', ['get', target, '3'])).toBe(0);
    await applyJson({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', namespace: NS },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
    await eventually(
      'the default-deny policy to be enforced',
      async () => ((await probeFrom(OTHER, 'denied', ['get', target, '3'])) !== 0 ? true : undefined),
      60_000,
      1_000,
    );
    // Same namespace too: default-deny covers every pod of it.
    expect(
      await probeFrom(NS, 'denied-same', ['tcp', `${(await pods(NS, 'app=web'))[0].ip}:8080`, '3']),
    ).not.toBe(0);
    await applyJson({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-other', namespace: NS },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': OTHER } } }],
            ports: [{ protocol: 'TCP', port: 8080 }],
          },
        ],
      },
    });
    await eventually(
      'the allow policy to be enforced',
      async () => ((await probeFrom(OTHER, 'allowed', ['get', target, '3'])) === 0 ? true : undefined),
      60_000,
      1_000,
    );
    // The kubelet's probes (from the node) still pass: the pods stayed Ready throughout.
    expect((await pods(NS, 'app=web')).every((p) => p.ready)).toBe(true);
  });

  it('stops leaving nothing behind, and starts again', async () => {
    const stop = await run('scripts/node', ['stop'], { timeoutMs: 5 * 60 * 1000 });
    expect(`${stop.stdout}${stop.stderr}`).toContain('nothing left behind');
    expect(stop.code).toBe(0);

    // Checked here too, independently of the script's own check.
    const procs: string[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (/^\d+$/.test(entry)) {
        try {
          const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
          const cg = fs.readFileSync(`/proc/${entry}/cgroup`, 'utf8');
          if (
            cg.includes(':/kubepods') ||
            /^\S*(containerd|kubelet|kube-proxy|pavemaster-kube|pavemaster-node-tools) /.test(cmd)
          ) {
            procs.push(`${entry} ${cmd}`);
          }
        } catch {
          // gone
        }
      }
    }
    expect(procs).toEqual([]);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => /\/\.local\/node\/|\/run\/pavemaster-node|\/netns\/cni-|kubepods/.test(l));
    expect(mounts).toEqual([]);
    const links = await runOk('ip', ['-o', 'link', 'show']);
    expect(links).not.toMatch(/\b(veth[0-9a-f]+|pmbr0|pmnode0|cni0)\b/);
    for (const cmd of ['iptables-save', 'ip6tables-save']) {
      expect(await runOk(cmd, [])).not.toMatch(/KUBE-|CNI-/);
    }
    expect(await runOk('nft', ['list', 'tables'])).not.toMatch(/kube-proxy|pavemaster-node/);
    expect(await runOk('ipset', ['list', '-n'])).not.toMatch(/KUBE-/);
    const netns = (await run('ip', ['netns', 'list'])).stdout;
    expect(netns).not.toMatch(/cni-/);

    const start = await run('scripts/node', ['start'], { timeoutMs: 10 * 60 * 1000 });
    if (start.code !== 0) {
      throw new Error(`scripts/node start failed:\n${start.stdout}\n${start.stderr}`);
    }
    await requireRealNode();
    // The pods of the node come back by themselves (the kubelet recreates them).
    await eventually(
      'the web pods to be Ready again',
      async () => {
        const list = await pods(NS, 'app=web');
        return list.length === 2 && list.every((p) => p.ready) ? true : undefined;
      },
      180_000,
    );
  });
});
