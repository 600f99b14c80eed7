/**
 * The stacks' NetworkPolicies, enforced on the real node (kube-router): the program's own policies, as it
 * registers them for a staging stack (rendered through infra/index.ts), are applied to the local cluster
 * together with the program's namespaces; every workload of the stack gets a stand-in pod (the images team's
 * testbox, serving each port the workload's containers declare) carrying exactly the workload's pod labels, and
 * probe pods with a workload's labels open TCP connections to the stand-ins. What a policy lets through is what
 * kube-router lets through; nothing here evaluates a policy itself.
 *
 * - the app: an ingress controller stand-in (its own namespace, ingress-nginx's labels) reaches it only once
 *   `pavemaster:ingressFrom` names it; the same labels in an unrelated namespace, and an unlabelled pod of the
 *   controller's namespace, never do; a database stand-in is reachable only when `pavemaster:egress` names it
 *   (by namespace and pod labels, or by CIDR), and only on the configured port;
 * - every other hop of the stack: Prometheus scraping each exporter and the app, Grafana to Prometheus and
 *   Elasticsearch, Alertmanager's cluster port, Filebeat to Logstash, Logstash/Kibana/the exporter/the setup Job
 *   to Elasticsearch, Elasticsearch's transport; and an unrelated namespace, the app and the log shipper are kept
 *   away from what they have no business with.
 *
 * The real workloads' images are not built here (Grafana, Elasticsearch, ...), which is why stand-ins carry their
 * labels; node-exporter runs on the host network, where no NetworkPolicy applies, and has no stand-in.
 * Needs the real node (globalSetup starts it); fails with the reason when it cannot run, never skips.
 */
import { randomBytes } from 'crypto';
import { containers, objects, workload } from '../../policy/lib/kubernetes';
import { recordStack, Registered } from '../support/harness';
import { stackConfig } from '../support/stackConfig';
import { dig, eventually, kubectlJson, run, runOk } from './helpers';
import { REAL_NODE, TESTBOX, applyJson, pods, requireRealNode, restrictedContainer } from './realnode';

jest.setTimeout(20 * 60 * 1000);

const suffix = randomBytes(3).toString('hex');
const NS = `it-np-${suffix}`;
/** The ingress controller's namespace, one with the same controller labels that is not named, and the database's. */
const CONTROLLER_NS = `${NS}-ingress`;
const UNRELATED_NS = `${NS}-other`;
const DB_NS = `${NS}-db`;
const CONTROLLER_LABELS = {
  'app.kubernetes.io/name': 'ingress-nginx',
  'app.kubernetes.io/component': 'controller',
};
const DB_LABELS = { app: 'postgres' };
const DB_PORT = 5432;
/** A second listener of the database stand-in, on a port no setting names. */
const DB_OTHER_PORT = 5433;

/** A workload of the rendered stack: where its pods run, their labels, and the ports they serve. */
interface Workload {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ports: number[];
  hostNetwork: boolean;
}

function workloadsOf(resources: readonly Registered[]): Map<string, Workload> {
  const out = new Map<string, Workload>();
  for (const r of resources) {
    const w = workload(r.type, r.inputs, r.name);
    if (w === undefined) {
      continue;
    }
    const ports = containers(w.podSpec).flatMap((c) =>
      objects(c.spec.ports)
        .filter((p) => (p.protocol ?? 'TCP') === 'TCP')
        .map((p) => Number(p.containerPort)),
    );
    out.set(w.name, {
      name: w.name,
      namespace: w.namespace,
      labels: w.podLabels,
      ports: [...new Set(ports)],
      hostNetwork: w.podSpec.hostNetwork === true,
    });
  }
  return out;
}

function policiesOf(resources: readonly Registered[]): Record<string, unknown>[] {
  return resources
    .filter((r) => r.type === 'kubernetes:networking.k8s.io/v1:NetworkPolicy')
    .map((r) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: dig(r.inputs, 'metadata'),
      spec: dig(r.inputs, 'spec'),
    }));
}

function namespacesOf(resources: readonly Registered[]): Record<string, unknown>[] {
  return resources
    .filter((r) => r.type === 'kubernetes:core/v1:Namespace')
    .map((r) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: dig(r.inputs, 'metadata') }));
}

async function renderStaging(overrides: Record<string, unknown>): Promise<Registered[]> {
  const { resources } = await recordStack('staging', stackConfig('staging', { namespace: NS, ...overrides }));
  return resources;
}

const resources = {
  requests: { cpu: '5m', memory: '8Mi' },
  limits: { cpu: '100m', memory: '32Mi' },
};

/** A testbox pod serving `port` with the given labels. */
function standIn(name: string, namespace: string, labels: Record<string, string>, port: number): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { ...labels, 'pavemaster.io/stand-in': 'true' } },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'serve',
          image: TESTBOX,
          args: ['serve'],
          env: [{ name: 'PORT', value: String(port) }],
          ports: [{ containerPort: port }],
          readinessProbe: { httpGet: { path: '/readyz', port }, periodSeconds: 1 },
          securityContext: restrictedContainer,
          resources,
        },
      ],
    },
  };
}

let probes = 0;
/** How long a probe pod waits before it connects (see `connects`). */
const SETTLE_SECONDS = 8;

/**
 * Opens one TCP connection from a new pod with `labels` in `namespace` to `address` ("ip:port"); true when it
 * opened. The pod is deleted afterwards.
 */
async function connects(
  namespace: string,
  labels: Record<string, string>,
  address: string,
  seconds: number,
): Promise<boolean> {
  const name = `probe-${suffix}-${++probes}`;
  await applyJson({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      // The enforcer learns a new pod's address a moment after the pod has it, and until then treats it as
      // nobody: kube-router rejects at once, so a connection opened right away would fail for an allowed source
      // (and pass a closed hop for the wrong reason). The connection waits until the address is known.
      initContainers: [
        {
          name: 'settle',
          image: TESTBOX,
          args: ['sleep', String(SETTLE_SECONDS)],
          securityContext: restrictedContainer,
          resources,
        },
      ],
      containers: [
        {
          name: 'probe',
          image: TESTBOX,
          args: ['tcp', address, String(seconds)],
          securityContext: restrictedContainer,
          resources,
        },
      ],
    },
  });
  try {
    const code = await eventually(
      `probe ${namespace}/${name} -> ${address} to finish`,
      async () => {
        const pod = await kubectlJson(['get', 'pod', name, '-n', namespace]);
        const node = dig(pod, 'spec', 'nodeName');
        if (node !== undefined && node !== REAL_NODE) {
          throw new Error(`probe ${name} went to ${JSON.stringify(node)}, not the real node`);
        }
        const statuses = dig(pod, 'status', 'containerStatuses');
        const exit = Array.isArray(statuses)
          ? dig(statuses[0], 'state', 'terminated', 'exitCode')
          : undefined;
        return typeof exit === 'number' ? exit : undefined;
      },
      120_000,
      500,
    );
    return code === 0;
  } finally {
    await run('kubectl', ['delete', 'pod', name, '-n', namespace, '--wait=false']);
  }
}

/** One connection the test expects to open, or to stay closed. */
interface Hop {
  what: string;
  from: { namespace: string; labels: Record<string, string> };
  to: string;
  open: boolean;
}

/**
 * Checks hops until each shows the expected outcome (a policy change takes kube-router a moment, and a new
 * probe pod's address joins the allowed sets a moment after it starts), at most `timeoutMs`; returns the
 * hops that never did, with what they did instead.
 */
async function check(hops: readonly Hop[], timeoutMs = 90_000): Promise<string[]> {
  const failed: string[] = [];
  // Probe pods in rounds of at most 16 (issue 15: in rounds of 6 the 31-hop test took six rounds, each mostly the
  // probes' settle wait, which every pod of a round waits at the same time). A hop that shows the wrong outcome
  // is probed again with a new pod, as before.
  const batch = 16;
  for (let i = 0; i < hops.length; i += batch) {
    const results = await Promise.all(
      hops.slice(i, i + batch).map(async (hop) => {
        try {
          await eventually(
            `${hop.what} to be ${hop.open ? 'open' : 'closed'}`,
            async () =>
              (await connects(hop.from.namespace, hop.from.labels, hop.to, 3)) === hop.open
                ? true
                : undefined,
            timeoutMs,
            1_000,
          );
          return undefined;
        } catch {
          return `${hop.what} (${hop.from.namespace} -> ${hop.to}): expected ${hop.open ? 'open' : 'closed'}`;
        }
      }),
    );
    failed.push(...results.filter((r): r is string => r !== undefined));
  }
  return failed;
}

let base: Registered[];
let work: Map<string, Workload>;
/** The address of each stand-in: `<workload>:<port>` -> "ip:port". */
const address = new Map<string, string>();
const namespaces: string[] = [];

function to(workloadName: string, port: number): string {
  const a = address.get(`${workloadName}:${port}`);
  if (a === undefined) {
    throw new Error(`no stand-in for ${workloadName}:${port} (have ${[...address.keys()].join(', ')})`);
  }
  return a;
}

function as(workloadName: string): { namespace: string; labels: Record<string, string> } {
  const w = work.get(workloadName);
  if (w === undefined) {
    throw new Error(`the stack has no workload ${workloadName} (has ${[...work.keys()].join(', ')})`);
  }
  return { namespace: w.namespace, labels: w.labels };
}

const intruder = { namespace: UNRELATED_NS, labels: { app: 'intruder' } };
const controller = { namespace: CONTROLLER_NS, labels: CONTROLLER_LABELS };

beforeAll(
  async () => {
    await requireRealNode();
    base = await renderStaging({});
    work = workloadsOf(base);
    for (const ns of namespacesOf(base)) {
      await applyJson(ns);
      namespaces.push(String(dig(ns, 'metadata', 'name')));
    }
    for (const ns of [CONTROLLER_NS, UNRELATED_NS, DB_NS]) {
      await runOk('kubectl', ['create', 'namespace', ns]);
      namespaces.push(ns);
    }
    // Pods need their namespace's default ServiceAccount, which the controller manager creates a moment later.
    for (const ns of namespaces) {
      await eventually(
        `the default ServiceAccount of ${ns}`,
        async () =>
          (await run('kubectl', ['get', 'serviceaccount', 'default', '-n', ns])).code === 0
            ? true
            : undefined,
        60_000,
        500,
      );
    }
    for (const policy of policiesOf(base)) {
      await applyJson(policy);
    }
    // The stand-ins: one pod per port a workload serves, with the workload's labels; the database's two ports.
    const wanted: { key: string; name: string; namespace: string }[] = [];
    let n = 0;
    for (const w of work.values()) {
      if (w.hostNetwork) {
        continue;
      }
      for (const port of w.ports) {
        const name = `sb-${++n}-${w.name}`.slice(0, 63).replace(/-+$/, '');
        await applyJson(standIn(name, w.namespace, w.labels, port));
        wanted.push({ key: `${w.name}:${port}`, name, namespace: w.namespace });
      }
    }
    for (const port of [DB_PORT, DB_OTHER_PORT]) {
      const name = `postgres-${port}`;
      await applyJson(standIn(name, DB_NS, DB_LABELS, port));
      wanted.push({ key: `postgres:${port}`, name, namespace: DB_NS });
    }
    for (const s of wanted) {
      await runOk(
        'kubectl',
        ['wait', '--for=condition=Ready', `pod/${s.name}`, '-n', s.namespace, '--timeout=180s'],
        200_000,
      );
      const pod = (await pods(s.namespace)).find((p) => p.name === s.name);
      if (pod === undefined || pod.node !== REAL_NODE || pod.ip === '') {
        throw new Error(
          `stand-in ${s.namespace}/${s.name} is not a running pod of the real node: ${JSON.stringify(pod)}`,
        );
      }
      address.set(s.key, `${pod.ip}:${s.key.slice(s.key.lastIndexOf(':') + 1)}`);
    }
  },
  15 * 60 * 1000,
);

afterAll(async () => {
  for (const ns of namespaces) {
    await run('kubectl', ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
  }
});

/** The app's two policies as the program renders them with these settings, applied over the current ones. */
async function applyAppPolicies(overrides: Record<string, unknown>): Promise<void> {
  const rendered = policiesOf(await renderStaging(overrides)).filter(
    (p) => dig(p, 'metadata', 'namespace') === NS,
  );
  for (const p of rendered) {
    await applyJson(p);
  }
  // A setting that is gone takes its policy with it (the engine deletes it): do the same here.
  if (!rendered.some((p) => dig(p, 'metadata', 'name') === 'pavemaster-allow-egress')) {
    await run('kubectl', [
      'delete',
      'networkpolicy',
      'pavemaster-allow-egress',
      '-n',
      NS,
      '--ignore-not-found',
    ]);
  }
}

describe("the app's NetworkPolicies, enforced", () => {
  it('keep the ingress controller out by default, and let it in, and only it, once pavemaster:ingressFrom names it', async () => {
    const app = to('pavemaster-blue', 8080);
    const unrelatedController = { namespace: UNRELATED_NS, labels: CONTROLLER_LABELS };
    const unlabelled = { namespace: CONTROLLER_NS, labels: { app: 'something-else' } };
    expect(
      await check([
        { what: 'the ingress controller, not configured', from: controller, to: app, open: false },
        { what: 'Prometheus scraping the app', from: as('prometheus'), to: app, open: true },
      ]),
    ).toEqual([]);

    await applyAppPolicies({
      ingressFrom: [{ namespace: CONTROLLER_NS, podLabels: CONTROLLER_LABELS }],
    });
    expect(
      await check([
        { what: 'the configured ingress controller', from: controller, to: app, open: true },
        { what: 'the green slot too', from: controller, to: to('pavemaster-green', 8080), open: true },
        {
          what: "the controller's labels in an unrelated namespace",
          from: unrelatedController,
          to: app,
          open: false,
        },
        { what: "another pod of the controller's namespace", from: unlabelled, to: app, open: false },
        { what: 'an unrelated pod', from: intruder, to: app, open: false },
        { what: 'Prometheus scraping the app, still', from: as('prometheus'), to: app, open: true },
      ]),
    ).toEqual([]);

    // A namespace selector by label (a team's edge namespaces) instead of a name.
    await runOk('kubectl', ['label', 'namespace', UNRELATED_NS, 'pavemaster.io/edge=true', '--overwrite']);
    await applyAppPolicies({ ingressFrom: [{ namespaceLabels: { 'pavemaster.io/edge': 'true' } }] });
    expect(
      await check([
        { what: 'a pod of a namespace with the edge label', from: intruder, to: app, open: true },
        { what: 'the controller, no longer named', from: controller, to: app, open: false },
      ]),
    ).toEqual([]);
    await runOk('kubectl', ['label', 'namespace', UNRELATED_NS, 'pavemaster.io/edge-']);
    await applyAppPolicies({});
    expect(await check([{ what: 'the unrelated pod again', from: intruder, to: app, open: false }])).toEqual(
      [],
    );
  });

  it('let the app reach its database only when pavemaster:egress names it, by namespace and pods or by CIDR, on the named port', async () => {
    const app = as('pavemaster-blue');
    const db = to('postgres', DB_PORT);
    const dbOther = to('postgres', DB_OTHER_PORT);
    expect(
      await check([
        { what: 'the app to the database, not configured', from: app, to: db, open: false },
        // The stand-in answers on both ports to anyone allowed: the unrelated namespace has no egress policy.
        { what: 'the database from a namespace without policies', from: intruder, to: db, open: true },
      ]),
    ).toEqual([]);

    await applyAppPolicies({
      egress: [{ namespace: DB_NS, podLabels: DB_LABELS, ports: [DB_PORT] }],
    });
    expect(
      await check([
        { what: 'the app to the configured database', from: app, to: db, open: true },
        { what: 'the app to another port of the database', from: app, to: dbOther, open: false },
        { what: 'the app to Elasticsearch', from: app, to: to('elasticsearch', 9200), open: false },
      ]),
    ).toEqual([]);

    await applyAppPolicies({ egress: [{ cidr: `${db.split(':')[0]}/32`, ports: [DB_PORT] }] });
    expect(
      await check([
        { what: 'the app to the database by CIDR', from: app, to: db, open: true },
        { what: 'the app to another port by CIDR', from: app, to: dbOther, open: false },
      ]),
    ).toEqual([]);

    await applyAppPolicies({});
    expect(
      await check([{ what: 'the app to the database, setting removed', from: app, to: db, open: false }]),
    ).toEqual([]);
  });
});

describe('every other NetworkPolicy of the stack, enforced', () => {
  it('opens each hop the stack needs and nothing an unrelated pod, the app or the log shipper has no business with', async () => {
    const prometheus = as('prometheus');
    const hops: Hop[] = [
      // Monitoring: Prometheus scrapes, Grafana queries, Alertmanager gossips.
      { what: 'Prometheus -> the app', from: prometheus, to: to('pavemaster-green', 8080), open: true },
      {
        what: 'Prometheus -> kube-state-metrics',
        from: prometheus,
        to: to('kube-state-metrics', 8080),
        open: true,
      },
      {
        what: 'Prometheus -> kube-state-metrics self',
        from: prometheus,
        to: to('kube-state-metrics', 8081),
        open: true,
      },
      { what: 'Prometheus -> blackbox', from: prometheus, to: to('blackbox-exporter', 9115), open: true },
      { what: 'Prometheus -> Alertmanager', from: prometheus, to: to('alertmanager', 9093), open: true },
      {
        what: 'Prometheus -> Elasticsearch exporter',
        from: prometheus,
        to: to('elasticsearch-exporter', 9114),
        open: true,
      },
      { what: 'Prometheus -> Logstash exporter', from: prometheus, to: to('logstash', 9198), open: true },
      { what: 'Prometheus -> Prometheus', from: prometheus, to: to('prometheus', 9090), open: true },
      {
        what: 'blackbox -> the app',
        from: as('blackbox-exporter'),
        to: to('pavemaster-blue', 8080),
        open: true,
      },
      { what: 'Grafana -> Prometheus', from: as('grafana'), to: to('prometheus', 9090), open: true },
      { what: 'Grafana -> Elasticsearch', from: as('grafana'), to: to('elasticsearch', 9200), open: true },
      {
        what: 'Alertmanager -> Alertmanager cluster port',
        from: as('alertmanager'),
        to: to('alertmanager', 9094),
        open: true,
      },
      // Logging: the shipper to Logstash, everything that reads or writes to Elasticsearch, its transport.
      { what: 'Filebeat -> Logstash', from: as('filebeat'), to: to('logstash', 5044), open: true },
      { what: 'Logstash -> Elasticsearch', from: as('logstash'), to: to('elasticsearch', 9200), open: true },
      { what: 'Kibana -> Elasticsearch', from: as('kibana'), to: to('elasticsearch', 9200), open: true },
      {
        what: 'exporter -> Elasticsearch',
        from: as('elasticsearch-exporter'),
        to: to('elasticsearch', 9200),
        open: true,
      },
      {
        what: 'setup Job -> Elasticsearch',
        from: as('elasticsearch-setup'),
        to: to('elasticsearch', 9200),
        open: true,
      },
      {
        what: 'Elasticsearch transport',
        from: as('elasticsearch'),
        to: to('elasticsearch', 9300),
        open: true,
      },
      { what: 'Kibana setup Job -> Kibana', from: as('kibana-setup'), to: to('kibana', 5601), open: true },
      // Closed: an unrelated namespace.
      { what: 'unrelated -> Prometheus', from: intruder, to: to('prometheus', 9090), open: false },
      { what: 'unrelated -> Alertmanager', from: intruder, to: to('alertmanager', 9093), open: false },
      {
        what: 'unrelated -> kube-state-metrics',
        from: intruder,
        to: to('kube-state-metrics', 8080),
        open: false,
      },
      { what: 'unrelated -> Elasticsearch', from: intruder, to: to('elasticsearch', 9200), open: false },
      { what: 'unrelated -> Logstash beats', from: intruder, to: to('logstash', 5044), open: false },
      { what: 'unrelated -> Kibana', from: intruder, to: to('kibana', 5601), open: false },
      // Closed: the app has no business with the platform, the shipper none with Elasticsearch itself.
      { what: 'the app -> Prometheus', from: as('pavemaster-blue'), to: to('prometheus', 9090), open: false },
      { what: 'the app -> Logstash', from: as('pavemaster-blue'), to: to('logstash', 5044), open: false },
      { what: 'Filebeat -> Elasticsearch', from: as('filebeat'), to: to('elasticsearch', 9200), open: false },
      {
        what: 'Logstash -> Elasticsearch transport',
        from: as('logstash'),
        to: to('elasticsearch', 9300),
        open: false,
      },
      { what: 'Kibana -> Prometheus', from: as('kibana'), to: to('prometheus', 9090), open: false },
      {
        what: 'Grafana -> Alertmanager cluster port',
        from: as('grafana'),
        to: to('alertmanager', 9094),
        open: false,
      },
    ];
    expect(await check(hops)).toEqual([]);
  });
});
