/**
 * Clusters that refuse node agents (GKE Autopilot-like, issue 17), on the real API server with the real engine: a
 * ValidatingAdmissionPolicy refuses, in the stack's namespaces, every Pod and pod template that asks for the
 * host's network, PID or IPC namespace or mounts a hostPath volume, as Autopilot's admission does. The stack with
 * both node agents off (`monitoring.nodeExporter.enabled` and `logging.shipper.enabled` false) deploys under it;
 * turning node-exporter on again, or the log shipper, makes `pulumi up` fail with the policy's message, before
 * any of their pods exist.
 */
import { ThrowawayStack, dig, items, kubectlJson, run } from './helpers';

jest.setTimeout(25 * 60 * 1000);

const NS = 'pm-autopilot';
const POLICY = 'pm-autopilot-like';
/** Every namespace the stack creates, and a probe namespace of the test's own. */
const NAMESPACES = [NS, `${NS}-monitoring`, `${NS}-monitoring-node`, `${NS}-logging`, `${NS}-logging-node`];
const PROBE_NS = `${NS}-probe`;
const HOST_NAMESPACES = 'autopilot-like: host namespaces (hostNetwork, hostPID, hostIPC) are not allowed';
const HOST_PATH = 'autopilot-like: hostPath volumes are not allowed';

const policy = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name: POLICY },
  spec: {
    failurePolicy: 'Fail',
    matchConstraints: {
      resourceRules: [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] },
        {
          apiGroups: ['apps'],
          apiVersions: ['v1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['daemonsets', 'deployments', 'statefulsets', 'replicasets'],
        },
        { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs'] },
      ],
    },
    variables: [
      { name: 'pod', expression: "object.kind == 'Pod' ? object.spec : object.spec.template.spec" },
    ],
    validations: [
      {
        expression:
          '!(has(variables.pod.hostNetwork) && variables.pod.hostNetwork) && ' +
          '!(has(variables.pod.hostPID) && variables.pod.hostPID) && ' +
          '!(has(variables.pod.hostIPC) && variables.pod.hostIPC)',
        message: HOST_NAMESPACES,
      },
      {
        expression: '!has(variables.pod.volumes) || variables.pod.volumes.all(v, !has(v.hostPath))',
        message: HOST_PATH,
      },
    ],
  },
};

const binding = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: POLICY },
  spec: {
    policyName: POLICY,
    validationActions: ['Deny'],
    matchResources: {
      namespaceSelector: {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'In', values: [...NAMESPACES, PROBE_NS] },
        ],
      },
    },
  },
};

/** A server-side dry run of a DaemonSet in the probe namespace asking for the host network: what the server says. */
async function probe(): Promise<{ code: number; output: string }> {
  const ds = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'probe', namespace: PROBE_NS },
    spec: {
      selector: { matchLabels: { app: 'probe' } },
      template: {
        metadata: { labels: { app: 'probe' } },
        spec: { hostNetwork: true, containers: [{ name: 'c', image: 'pavemaster/testbox' }] },
      },
    },
  };
  const r = await run('kubectl', ['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(ds) });
  return { code: r.code, output: r.stdout + r.stderr };
}

describe('a cluster that refuses host namespaces and hostPath (Autopilot-like)', () => {
  let stack: ThrowawayStack;

  const set = async (key: string, value: string) =>
    stack.pulumi(['config', 'set', '--path', `pavemaster:${key}`, value]);

  beforeAll(async () => {
    await run('kubectl', ['create', 'namespace', PROBE_NS]);
    for (const manifest of [policy, binding]) {
      const r = await run('kubectl', ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
      if (r.code !== 0) {
        throw new Error(`applying ${manifest.kind} ${POLICY} failed: ${r.stderr}`);
      }
    }
    // A new policy takes a moment to be enforced: wait (bounded) until the probe is refused.
    const deadline = Date.now() + 60 * 1000;
    for (;;) {
      const r = await probe();
      if (r.code !== 0 && r.output.includes(HOST_NAMESPACES)) {
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`the admission policy was not enforced within 60 s: ${r.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    stack = await ThrowawayStack.create('autopilot', 'staging', { namespace: NS });
    await set('monitoring.nodeExporter.enabled', 'false');
    await set('logging.shipper.enabled', 'false');
  });

  afterAll(async () => {
    await stack?.remove();
    await run('kubectl', ['delete', 'validatingadmissionpolicybinding', POLICY, '--ignore-not-found']);
    await run('kubectl', ['delete', 'validatingadmissionpolicy', POLICY, '--ignore-not-found']);
    await run('kubectl', ['delete', 'namespace', PROBE_NS, '--ignore-not-found', '--wait=false']);
  });

  it('deploys the stack with node-exporter and the log shipper off', async () => {
    await stack.pulumi(['up', '--yes', '--skip-preview'], 15 * 60 * 1000);
    const types = (await stack.resources()).map((r) => r.type);
    expect(types).toContain('pavemaster:monitoring:Monitoring');
    expect(types).toContain('pavemaster:logging:Logging');
    expect(types).not.toContain('pavemaster:monitoring:NodeExporter');
    expect(types).not.toContain('pavemaster:logging:LogShipper');
    for (const ns of [`${NS}-monitoring-node`, `${NS}-logging-node`]) {
      expect((await run('kubectl', ['get', 'namespace', ns])).code).not.toBe(0);
    }
    // Nothing of the stack's asks for the host.
    for (const ns of [NS, `${NS}-monitoring`, `${NS}-logging`]) {
      for (const kind of ['daemonsets', 'deployments', 'statefulsets']) {
        for (const w of items(await kubectlJson(['get', kind, '-n', ns]))) {
          const spec = dig(w, 'spec', 'template', 'spec') as Record<string, unknown>;
          expect({ name: dig(w, 'metadata', 'name'), hostNetwork: spec.hostNetwork ?? false }).toEqual({
            name: dig(w, 'metadata', 'name'),
            hostNetwork: false,
          });
        }
      }
    }
  });

  it.each([
    ['monitoring.nodeExporter.enabled', HOST_NAMESPACES, 'node-exporter'],
    ['logging.shipper.enabled', HOST_PATH, 'filebeat'],
  ])('refuses the stack with %s true, with the policy’s message', async (key, message, daemonSet) => {
    await set(key, 'true');
    try {
      const r = await stack.pulumiResult(['up', '--yes', '--skip-preview'], 10 * 60 * 1000);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain(message);
      expect(r.stdout + r.stderr).toContain(daemonSet);
    } finally {
      await set(key, 'false');
    }
  });
});
