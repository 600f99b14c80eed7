/**
 * The node agents can be turned off one by one (issue 17: clusters that refuse host namespaces and hostPath,
 * GKE Autopilot-like), under Pulumi's mocks through the program: with `monitoring.nodeExporter.enabled` and
 * `logging.shipper.enabled` false nothing of the stack asks for the host, neither privileged namespace is
 * created, and the alerts about the missing agents are left out; the rest of both stacks stays.
 */
import { at, ofType, recordStack, Registered } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

type Doc = Record<string, unknown>;
const WORKLOADS = [
  'kubernetes:apps/v1:DaemonSet',
  'kubernetes:apps/v1:Deployment',
  'kubernetes:apps/v1:StatefulSet',
];

const namespaces = (resources: readonly Registered[]) =>
  ofType(resources, 'kubernetes:core/v1:Namespace').map((r) => String(at(r.inputs, 'metadata.name')));

/** Every alert name of the stack's Prometheus rules. */
function alerts(resources: readonly Registered[]): string[] {
  const rules = ofType(resources, 'kubernetes:core/v1:ConfigMap').find(
    (r) => at(r.inputs, 'metadata.name') === 'prometheus-rules',
  );
  return Object.values((rules?.inputs.data ?? {}) as Record<string, string>).flatMap((text) =>
    [...text.matchAll(/alert: (\w+)/g)].map((m) => m[1]),
  );
}

/** Whether a pod spec asks for the host: its namespaces or a hostPath volume. */
function asksForHost(spec: Doc): boolean {
  const volumes = (spec.volumes as Doc[] | undefined) ?? [];
  return (
    spec.hostNetwork === true ||
    spec.hostPID === true ||
    spec.hostIPC === true ||
    volumes.some((v) => v.hostPath !== undefined)
  );
}

describe.each(['staging', 'production'] as const)('%s without node agents', (stack) => {
  let off: Registered[];
  let on: Registered[];
  const ns = `pavemaster-${stack}`;

  beforeAll(async () => {
    ({ resources: on } = await recordStack(stack, stackConfig(stack)));
    ({ resources: off } = await recordStack(
      stack,
      stackConfig(stack, {
        monitoring: { nodeExporter: { enabled: false } },
        logging: { shipper: { enabled: false } },
      }),
    ));
  });

  it('runs no workload that asks for the host, and creates no privileged namespace', () => {
    const hosted = (resources: Registered[]) =>
      resources
        .filter((r) => WORKLOADS.includes(r.type) && asksForHost(at(r.inputs, 'spec.template.spec') as Doc))
        .map((r) => String(at(r.inputs, 'metadata.name')))
        .sort();
    expect(hosted(on)).toEqual(['filebeat', 'node-exporter']);
    expect(hosted(off)).toEqual([]);
    expect(namespaces(on)).toEqual(expect.arrayContaining([`${ns}-monitoring-node`, `${ns}-logging-node`]));
    expect(namespaces(off).filter((n) => n.endsWith('-node'))).toEqual([]);
    expect(ofType(off, 'pavemaster:logging:LogShipper')).toHaveLength(0);
    expect(ofType(off, 'pavemaster:monitoring:NodeExporter')).toHaveLength(0);
  });

  it('keeps everything else: only the agents, their namespaces and what serves them go', () => {
    const names = (resources: Registered[]) =>
      new Set(resources.filter((r) => r.custom).map((r) => `${r.type}::${r.name}`));
    const before = names(on);
    const after = names(off);
    for (const name of after) {
      expect(before.has(name)).toBe(true);
    }
    const gone = [...before].filter((n) => !after.has(n));
    for (const name of gone) {
      expect(name).toMatch(
        // logging-elasticsearch-certs-ca-*: the certificate Job's grant to publish its CA into the shipper's namespace.
        /::(monitoring-node-exporter|monitoring-node-namespace|logging-shipper|logging-node-namespace|logging-elasticsearch-certs-ca-\d+-(role|binding))/,
      );
    }
  });

  it('leaves out the alert about the missing shipper (node alerts stay: they need node-exporter only as data)', () => {
    expect(alerts(on)).toContain('FilebeatDown');
    expect(alerts(off)).not.toContain('FilebeatDown');
    expect(alerts(off)).toContain('LogstashDown');
  });
});
