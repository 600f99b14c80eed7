/**
 * Bring your own Grafana (issue 17), on the real API server with the real engine: a staging stack with
 * `monitoring.grafana.enabled: false` and `monitoring.dashboards.configMaps.namespace` set to a namespace that
 * stands in for a team's Grafana (as kube-prometheus-stack installs it) deploys no Grafana of its own and
 * leaves its dashboards and its Prometheus datasource there as ConfigMaps. The test then lists them the way the
 * grafana chart's sidecar (kiwigrid k8s-sidecar) does, by label selector, and reads them as Grafana's file
 * provisioning would: unique keys (one directory), unique uids, every panel on the handed-over datasource, whose
 * URL names the stack's real Prometheus Service, and a NetworkPolicy admitting the team's Grafana pods to it.
 * No Grafana runs here (none can be built), so the sidecar's own listing is what is reproduced, not Grafana.
 */
import { parse } from 'yaml';
import { ThrowawayStack, dig, items, kubectlJson, run, runOk } from './helpers';

jest.setTimeout(20 * 60 * 1000);

const NS = 'pm-byo-graf';
const MON = `${NS}-monitoring`;
const TEAM = 'pm-byo-graf-team';

type Doc = Record<string, unknown>;
interface Dash {
  uid: string;
  panels: { datasource?: { uid: string }; targets?: { datasource: { uid: string } }[] }[];
}

/** What the sidecar lists: the ConfigMaps of a namespace with the label, each key a file of one directory. */
async function sidecarFiles(namespace: string, selector: string): Promise<Record<string, string>> {
  const list = await kubectlJson(['get', 'configmaps', '-n', namespace, '-l', selector]);
  const files: Record<string, string> = {};
  for (const cm of items(list)) {
    for (const [key, text] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
      expect(files[key]).toBeUndefined();
      files[key] = text;
    }
  }
  return files;
}

describe('dashboards for a cluster’s own Grafana (sidecar ConfigMaps)', () => {
  let stack: ThrowawayStack;

  beforeAll(async () => {
    // The team's Grafana namespace exists before the stack (the stack never creates or owns it). A previous run's
    // may still be terminating (it is deleted without waiting): a ConfigMap cannot be created there, so wait.
    await runOk('kubectl', [
      'delete',
      'namespace',
      TEAM,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=120s',
    ]);
    await runOk('kubectl', ['create', 'namespace', TEAM]);
    stack = await ThrowawayStack.create('byo-grafana', 'staging', { namespace: NS });
    for (const [key, value] of [
      ['logging.enabled', 'false'],
      ['monitoring.grafana.enabled', 'false'],
      ['monitoring.nodeExporter.enabled', 'false'],
      ['monitoring.blackbox.enabled', 'false'],
      ['monitoring.dashboards.configMaps.namespace', TEAM],
    ]) {
      await stack.pulumi(['config', 'set', '--path', `pavemaster:${key}`, value]);
    }
    await stack.pulumi(['up', '--yes', '--skip-preview'], 15 * 60 * 1000);
  });

  afterAll(async () => {
    await stack?.remove();
    await run('kubectl', ['delete', 'namespace', TEAM, '--ignore-not-found', '--wait=false']);
  });

  it('runs no Grafana of its own and exports none', async () => {
    const types = (await stack.resources()).map((r) => r.type);
    expect(types).toContain('pavemaster:monitoring:GrafanaSidecarObjects');
    expect(types).not.toContain('pavemaster:monitoring:Grafana');
    const deployments = items(await kubectlJson(['get', 'deployments', '-n', MON])).map((d) =>
      String(dig(d, 'metadata', 'name')),
    );
    expect(deployments).not.toContain('grafana');
    expect(deployments.length).toBeGreaterThan(0);
    const monitoring = (await stack.outputs()).monitoring as Doc;
    expect(monitoring.prometheusUrl).toBe(`http://prometheus.${MON}.svc:9090`);
    expect(monitoring.grafanaUrl).toBeUndefined();
  });

  it('leaves dashboards and datasource where the sidecar finds them, as Grafana’s provisioning reads them', async () => {
    const dashboards = await sidecarFiles(TEAM, 'grafana_dashboard=1');
    expect(Object.keys(dashboards).sort()).toEqual(
      ['application', 'business', 'infrastructure', 'release'].map((d) => `${NS}-${d}.json`),
    );
    const datasources = await sidecarFiles(TEAM, 'grafana_datasource=1');
    expect(Object.keys(datasources)).toEqual([`${NS}-datasources.yml`]);
    const file = parse(datasources[`${NS}-datasources.yml`]) as {
      apiVersion: number;
      datasources: { uid: string; type: string; url: string; isDefault: boolean }[];
    };
    expect(file.apiVersion).toBe(1);
    expect(file.datasources).toHaveLength(1);
    const ds = file.datasources[0];
    expect(ds).toMatchObject({ type: 'prometheus', isDefault: false });

    const uids = new Set<string>();
    for (const text of Object.values(dashboards)) {
      const d = JSON.parse(text) as Dash;
      expect(d.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
      uids.add(d.uid);
      const used = new Set(
        d.panels.flatMap((p) => [
          ...(p.datasource ? [p.datasource.uid] : []),
          ...(p.targets ?? []).map((t) => t.datasource.uid),
        ]),
      );
      expect([...used]).toEqual([ds.uid]);
    }
    expect(uids.size).toBe(4);

    // The datasource URL names the stack's real Prometheus Service and port.
    const url = new URL(ds.url);
    const [service, namespace] = url.hostname.split('.');
    const svc = await kubectlJson(['get', 'service', service, '-n', namespace]);
    expect(namespace).toBe(MON);
    const ports = (dig(svc, 'spec', 'ports') as { port: number }[]).map((p) => p.port);
    expect(ports).toContain(Number(url.port));
    // Nothing of the stack's lands anywhere else with the label.
    const everywhere = await runOk('kubectl', [
      'get',
      'configmaps',
      '-A',
      '-l',
      'grafana_dashboard=1',
      '-o',
      'jsonpath={range .items[*]}{.metadata.namespace}{"\\n"}{end}',
    ]);
    expect(everywhere.split('\n').filter((l) => l.startsWith('pm-byo-graf'))).toEqual(Array(4).fill(TEAM));
  });

  it('lets the team’s Grafana pods query Prometheus, and only them besides Prometheus itself', async () => {
    const policy = await kubectlJson(['get', 'networkpolicy', 'prometheus', '-n', MON]);
    const from = dig(policy, 'spec', 'ingress', '0', 'from') as Doc[];
    expect(from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': TEAM } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'grafana' } },
    });
    expect(from).toHaveLength(2);
  });
});
