/**
 * Two stacks, one cluster: small teams run staging and production in the same cluster. The node agents of both
 * stacks (node-exporter on the host network, Filebeat reading the host's logs) run on every node, so they must
 * coexist there: node-exporter takes a host port, which a node has once, and the second stack picks its own with
 * `monitoring.nodeExporter.port` (docs/operations.md, "Two stacks in one cluster").
 *
 * The real engine deploys two copies of the staging stack to the local cluster, the second with port 9101: both
 * updates finish (before the port setting the second one waited for the provider's 10-minute timeout, its
 * node-exporter pods Pending on every node), every node agent of both stacks is scheduled and available on every
 * node, and each node-exporter listens on its own port, which its Prometheus's egress admits.
 */
import { ThrowawayStack, dig, items, kubectlJson } from './helpers';

jest.setTimeout(30 * 60 * 1000);

/** A DaemonSet's rollout, read back from the cluster. */
interface Rollout {
  desired: number;
  available: number;
  pending: string[];
  ports: number[];
}

async function rollout(namespace: string, name: string): Promise<Rollout> {
  const ds = await kubectlJson(['get', 'daemonset', name, '-n', namespace]);
  const pods = await kubectlJson(['get', 'pods', '-n', namespace]);
  const containers = dig(ds, 'spec', 'template', 'spec', 'containers');
  const ports: number[] = [];
  if (Array.isArray(containers)) {
    for (const c of containers) {
      const list = dig(c, 'ports');
      for (const p of Array.isArray(list) ? list : []) {
        ports.push(Number(dig(p, 'hostPort') ?? dig(p, 'containerPort')));
      }
    }
  }
  return {
    desired: Number(dig(ds, 'status', 'desiredNumberScheduled')),
    available: Number(dig(ds, 'status', 'numberAvailable') ?? 0),
    pending: items(pods)
      .filter((p) => dig(p, 'status', 'phase') === 'Pending')
      .map((p) => String(dig(p, 'metadata', 'name'))),
    ports,
  };
}

/** The TCP ports Prometheus's NetworkPolicy lets it reach on any address (node addresses). */
async function prometheusHostPorts(namespace: string): Promise<number[]> {
  const policy = await kubectlJson(['get', 'networkpolicy', 'prometheus', '-n', namespace]);
  const egress = dig(policy, 'spec', 'egress');
  const ports: number[] = [];
  for (const rule of Array.isArray(egress) ? egress : []) {
    const to = dig(rule, 'to');
    const anywhere =
      Array.isArray(to) && to.some((peer: unknown) => dig(peer, 'ipBlock', 'cidr') === '0.0.0.0/0');
    const list = dig(rule, 'ports');
    if (anywhere && Array.isArray(list)) {
      ports.push(...list.map((p: unknown) => Number(dig(p, 'port'))));
    }
  }
  return ports;
}

describe('two stacks in one cluster', () => {
  const stacks: ThrowawayStack[] = [];
  const ns = { a: 'pm-two-a', b: 'pm-two-b' };

  beforeAll(async () => {
    stacks.push(await ThrowawayStack.create('two-a', 'staging', { namespace: ns.a }));
    stacks.push(await ThrowawayStack.create('two-b', 'staging', { namespace: ns.b }));
    await stacks[1].pulumi(['config', 'set', '--path', 'pavemaster:monitoring.nodeExporter.port', '9101']);
  });

  afterAll(async () => {
    await Promise.all(stacks.map((s) => s.dispose()));
  });

  it('deploys both; every node agent of each stack runs on every node', async () => {
    // Both updates at once, as two teams' deploys may run (and less wall time than one after the other, issue 15);
    // each is waited for to its end before any verdict, so a failed one never leaves the other running.
    // Bounded well below the provider's 10-minute await: a node-exporter that cannot be scheduled fails the test
    // instead of hanging it.
    const ups = await Promise.allSettled(
      stacks.map((s) => s.pulumi(['up', '--yes', '--skip-preview'], 12 * 60 * 1000)),
    );
    const failed = ups.flatMap((u, i) =>
      u.status === 'rejected' ? [`${stacks[i].name}: ${String(u.reason)}`] : [],
    );
    expect(failed).toEqual([]);
    const seen: Record<string, number[]> = {};
    for (const [key, app] of Object.entries(ns)) {
      const exporter = await rollout(`${app}-monitoring-node`, 'node-exporter');
      const shipper = await rollout(`${app}-logging-node`, 'filebeat');
      for (const [what, r] of [
        ['node-exporter', exporter],
        ['filebeat', shipper],
      ] as const) {
        expect({ stack: key, what, pending: r.pending }).toEqual({ stack: key, what, pending: [] });
        expect(r.desired).toBeGreaterThan(0);
        expect({ stack: key, what, available: r.available }).toEqual({
          stack: key,
          what,
          available: r.desired,
        });
      }
      seen[key] = exporter.ports;
      expect(await prometheusHostPorts(`${app}-monitoring`)).toEqual(expect.arrayContaining(exporter.ports));
    }
    expect(seen).toEqual({ a: [9100], b: [9101] });
  });
});
