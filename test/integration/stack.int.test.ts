/**
 * End-to-end tests of the PaveMaster program: the real Pulumi engine (scripts/toolchain) deploys throwaway
 * copies of the staging and production stacks to the local kwok cluster (scripts/cluster, started by
 * globalSetup), and the tests read the cluster back with kubectl.
 *
 * Per profile: `pulumi up`, the Services and EndpointSlices of the active and preview slots,
 * `pulumi preview --expect-no-changes`, a changed setup Job replaced on the next `up`, `pulumi destroy` (production protects its stateful data: destroy must
 * refuse and leave it, then `pulumi state unprotect --all` lets it go), and `pulumi stack history`.
 */
import {
  ThrowawayStack,
  dig,
  eventually,
  items,
  kubectlJson,
  matches,
  parseObject,
  run,
  stringMap,
} from './helpers';

jest.setTimeout(40 * 60 * 1000);

interface Outputs {
  namespace: string;
  activeSlot: string;
  activeServiceName: string;
  previewServiceName: string;
  blueDeploymentName: string;
  greenDeploymentName: string;
}

function readOutputs(raw: Record<string, unknown>): Outputs {
  const get = (key: keyof Outputs): string => {
    const value = raw[key];
    if (typeof value !== 'string' || value === '') {
      throw new Error(`stack output ${key} is missing or not a string: ${JSON.stringify(value)}`);
    }
    return value;
  };
  return {
    namespace: get('namespace'),
    activeSlot: get('activeSlot'),
    activeServiceName: get('activeServiceName'),
    previewServiceName: get('previewServiceName'),
    blueDeploymentName: get('blueDeploymentName'),
    greenDeploymentName: get('greenDeploymentName'),
  };
}

interface SlotPods {
  selector: Record<string, string>;
  podNames: Set<string>;
  nodes: Set<string>;
  ready: number;
}

/** The pods of a Deployment (by its selector), their nodes, and how many are Ready. */
async function slotPods(namespace: string, deployment: string): Promise<SlotPods> {
  const dep = await kubectlJson(['get', 'deployment', deployment, '-n', namespace]);
  const selector = stringMap(dig(dep, 'spec', 'selector', 'matchLabels'));
  const pods = await kubectlJson([
    'get',
    'pods',
    '-n',
    namespace,
    '-l',
    Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  ]);
  const podNames = new Set<string>();
  const nodes = new Set<string>();
  let ready = 0;
  for (const pod of items(pods)) {
    podNames.add(String(dig(pod, 'metadata', 'name')));
    nodes.add(String(dig(pod, 'spec', 'nodeName')));
    const conditions = dig(pod, 'status', 'conditions');
    if (
      Array.isArray(conditions) &&
      conditions.some((c: unknown) => dig(c, 'type') === 'Ready' && dig(c, 'status') === 'True')
    ) {
      ready += 1;
    }
  }
  return { selector, podNames, nodes, ready };
}

/** The pod names that the EndpointSlices of a Service list as ready endpoints. */
async function endpointPods(namespace: string, service: string): Promise<Set<string>> {
  const slices = await kubectlJson([
    'get',
    'endpointslices.discovery.k8s.io',
    '-n',
    namespace,
    '-l',
    `kubernetes.io/service-name=${service}`,
  ]);
  const names = new Set<string>();
  for (const slice of items(slices)) {
    const endpoints = dig(slice, 'endpoints');
    if (!Array.isArray(endpoints)) {
      continue;
    }
    for (const ep of endpoints) {
      if (dig(ep, 'targetRef', 'kind') === 'Pod' && dig(ep, 'conditions', 'ready') !== false) {
        names.add(String(dig(ep, 'targetRef', 'name')));
      }
    }
  }
  return names;
}

/** Asserts that `service` selects exactly the pods of `slotDeployment` and none of `otherDeployment`. */
async function expectServiceOnSlot(
  namespace: string,
  service: string,
  slotDeployment: string,
  otherDeployment: string,
  slot: string,
): Promise<void> {
  const svc = await kubectlJson(['get', 'service', service, '-n', namespace]);
  const selector = stringMap(dig(svc, 'spec', 'selector'));
  expect(Object.values(selector)).toContain(slot);

  const active = await slotPods(namespace, slotDeployment);
  const idle = await slotPods(namespace, otherDeployment);
  expect(active.podNames.size).toBeGreaterThan(0);
  // The selector matches the slot's pod template labels and not the other slot's.
  expect(matches(selector, active.selector)).toBe(true);
  expect(matches(selector, idle.selector)).toBe(false);

  // The EndpointSlices (filled by the cluster's endpointslice controller) list exactly the slot's pods.
  const listed = await eventually(
    `EndpointSlices of ${service} to list the ${slot} pods`,
    async () => {
      const names = await endpointPods(namespace, service);
      const current = await slotPods(namespace, slotDeployment);
      const same = names.size === current.podNames.size && [...names].every((n) => current.podNames.has(n));
      return same ? names : undefined;
    },
    180_000,
  );
  for (const name of listed) {
    expect(idle.podNames.has(name)).toBe(false);
  }
}

function slotDeployments(out: Outputs): { active: string; idle: string; idleSlot: string } {
  return out.activeSlot === 'blue'
    ? { active: out.blueDeploymentName, idle: out.greenDeploymentName, idleSlot: 'green' }
    : { active: out.greenDeploymentName, idle: out.blueDeploymentName, idleSlot: 'blue' };
}

async function namespaceGone(namespace: string): Promise<boolean> {
  const result = await run('kubectl', ['get', 'namespace', namespace, '-o', 'name']);
  return result.code !== 0 && /not ?found/i.test(result.stderr);
}

describe.each([
  { profile: 'staging', stackName: 'it-staging', protectsData: false },
  { profile: 'production', stackName: 'it-production', protectsData: true },
])('$profile profile (stack $stackName)', ({ profile, stackName, protectsData }) => {
  let stack: ThrowawayStack;
  let out: Outputs;

  beforeAll(async () => {
    stack = await ThrowawayStack.create(stackName, profile, {
      environment: profile,
      namespace: `pm-${stackName}`,
    });
  });

  afterAll(async () => {
    if (stack !== undefined) {
      await stack.dispose();
    }
  });

  test('pulumi up deploys the stack', async () => {
    await stack.pulumi(['up', '--yes', '--skip-preview'], 30 * 60 * 1000);
    out = readOutputs(await stack.outputs());
    expect(out.namespace).toBe(`pm-${stackName}`);
    expect(['blue', 'green']).toContain(out.activeSlot);
    const ns = await kubectlJson(['get', 'namespace', out.namespace]);
    expect(dig(ns, 'status', 'phase')).toBe('Active');
  });

  test('the active slot is rolled out and Ready', async () => {
    const { active } = slotDeployments(out);
    const dep = await kubectlJson(['get', 'deployment', active, '-n', out.namespace]);
    const replicas = Number(dig(dep, 'spec', 'replicas'));
    expect(replicas).toBeGreaterThan(0);
    expect(Number(dig(dep, 'status', 'readyReplicas'))).toBe(replicas);
    if (profile === 'production') {
      // Production: 3 replicas spread over distinct nodes (pod anti-affinity).
      expect(replicas).toBeGreaterThanOrEqual(3);
      const pods = await slotPods(out.namespace, active);
      expect(pods.nodes.size).toBe(pods.podNames.size);
    }
  });

  test('the active Service and its EndpointSlices point at the active slot only', async () => {
    const { active, idle } = slotDeployments(out);
    await expectServiceOnSlot(out.namespace, out.activeServiceName, active, idle, out.activeSlot);
  });

  test('the preview Service points at the idle slot only', async () => {
    const { active, idle, idleSlot } = slotDeployments(out);
    const idleDep = await kubectlJson(['get', 'deployment', idle, '-n', out.namespace]);
    if (Number(dig(idleDep, 'spec', 'replicas')) === 0) {
      // An idle slot scaled to zero has no pods to list; its selector must still not match the active pods.
      const svc = await kubectlJson(['get', 'service', out.previewServiceName, '-n', out.namespace]);
      const activePods = await slotPods(out.namespace, active);
      expect(matches(stringMap(dig(svc, 'spec', 'selector')), activePods.selector)).toBe(false);
      return;
    }
    await expectServiceOnSlot(out.namespace, out.previewServiceName, idle, active, idleSlot);
  });

  test('pulumi preview --expect-no-changes passes right after up', async () => {
    await stack.pulumi(['preview', '--expect-no-changes'], 15 * 60 * 1000);
  });

  test('a changed setup Job is replaced: the next up succeeds and the new Job stays', async () => {
    // The Elasticsearch setup Job's requests carry the retention: a new retention changes its content, and a
    // Job's spec is immutable, so Pulumi deletes the old Job and creates the new one under the same name.
    const loggingNamespace = String(dig(await stack.outputs(), 'logging', 'namespace'));
    const job = async (): Promise<{ uid: string; hash: string; deleting: boolean } | undefined> => {
      const found = await run('kubectl', ['get', 'jobs', '-n', loggingNamespace, '-o', 'json']);
      const jobs = found.code === 0 ? items(parseObject(found.stdout)) : [];
      const setup = jobs.find(
        (j) => dig(j, 'metadata', 'labels', 'app.kubernetes.io/component') === 'elasticsearch-setup',
      );
      if (setup === undefined) {
        return undefined;
      }
      return {
        uid: String(dig(setup, 'metadata', 'uid')),
        hash: String(dig(setup, 'spec', 'template', 'metadata', 'annotations', 'pavemaster.io/setup-hash')),
        deleting: dig(setup, 'metadata', 'deletionTimestamp') !== undefined,
      };
    };
    const before = await job();
    expect(before).toBeDefined();
    const retention = await stack.pulumiResult([
      'config',
      'get',
      '--path',
      'pavemaster:logging.retentionDays',
    ]);
    const days = retention.code === 0 ? Number(retention.stdout.trim()) : 7;
    await stack.pulumi(['config', 'set', '--path', 'pavemaster:logging.retentionDays', String(days + 2)]);
    const up = await stack.pulumiResult(['up', '--yes', '--skip-preview'], 30 * 60 * 1000);
    expect({ code: up.code, out: up.code === 0 ? '' : `${up.stdout}\n${up.stderr}` }).toEqual({
      code: 0,
      out: '',
    });
    const after = await eventually('the new setup Job', async () => {
      const now = await job();
      return now !== undefined && now.uid !== before?.uid && !now.deleting ? now : undefined;
    });
    expect(after.hash).not.toBe(before?.hash);
    // Still there a while later: it is not an apply onto the old Job that then finished terminating.
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await job())?.uid).toBe(after.uid);
    await stack.pulumi(['preview', '--expect-no-changes'], 15 * 60 * 1000);
  });

  test('pulumi destroy removes everything the stack does not protect', async () => {
    const before = await stack.resources();
    const protectedUrns = before.filter((r) => r.protect).map((r) => r.urn);
    if (protectsData) {
      expect(protectedUrns.length).toBeGreaterThan(0);
      // With protected resources, destroy refuses (and leaves them).
      const refused = await stack.pulumiResult(['destroy', '--yes', '--skip-preview'], 30 * 60 * 1000);
      expect(refused.code).not.toBe(0);
      expect(`${refused.stdout}\n${refused.stderr}`).toMatch(/protect/i);
      const left = await stack.resources();
      for (const urn of protectedUrns) {
        expect(left.map((r) => r.urn)).toContain(urn);
      }
      await stack.unprotectAll();
    }
    await stack.pulumi(['destroy', '--yes', '--skip-preview'], 30 * 60 * 1000);
    const after = await stack.resources();
    expect(after.filter((r) => r.type !== 'pulumi:pulumi:Stack')).toEqual([]);
    await eventually(`namespace ${out.namespace} to be deleted`, async () =>
      (await namespaceGone(out.namespace)) ? true : undefined,
    );
  });

  test('pulumi stack history shows each update', async () => {
    const history = await stack.history();
    const kinds = history.map((h) => h.kind);
    expect(kinds[0]).toBe('update');
    expect(kinds).toContain('destroy');
    expect(history.find((h) => h.kind === 'update')?.result).toBe('succeeded');
    expect(history[history.length - 1]).toEqual({ kind: 'destroy', result: 'succeeded' });
  });
});
