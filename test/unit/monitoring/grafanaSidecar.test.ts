/**
 * Bring your own Grafana (issue 17), under Pulumi's mocks through the program itself: with
 * `monitoring.grafana.enabled: false` the stack runs no Grafana and emits its dashboards as ConfigMaps with the
 * grafana chart's sidecar label (`grafana_dashboard: "1"`), and its Prometheus as a datasource ConfigMap
 * (`grafana_datasource: "1"`) that the other Grafana may query; without the stack's own monitoring only the
 * dashboards, on kube-prometheus-stack's datasource. Labels, values, the namespace and the datasource uid are
 * settings, validated with the rest.
 */
import { parse } from 'yaml';
import { sidecarDashboard } from '../../../components/monitoring/GrafanaSidecarObjects';
import { allDashboards } from '../../../components/monitoring/dashboards';
import { stackSuffix } from '../../../components/monitoring/sidecar';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { at, find, ofType, recordStack, Registered } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const CONFIGMAP = 'kubernetes:core/v1:ConfigMap';
const SIDECAR = 'pavemaster:monitoring:GrafanaSidecarObjects';

type Doc = Record<string, unknown>;
interface Dash {
  uid: string;
  title: string;
  tags: string[];
  panels: { type: string; datasource?: { uid: string }; targets?: { datasource: { uid: string } }[] }[];
}

const labelled = (resources: readonly Registered[], key: string, value: string) =>
  ofType(resources, CONFIGMAP).filter(
    (r) => (at(r.inputs, 'metadata.labels') as Record<string, string> | undefined)?.[key] === value,
  );

/** Every dashboard of the ConfigMaps, by key. */
function dashboardsOf(maps: readonly Registered[]): Record<string, Dash> {
  const out: Record<string, Dash> = {};
  for (const m of maps) {
    for (const [key, text] of Object.entries(m.inputs.data as Record<string, string>)) {
      out[key] = JSON.parse(text) as Dash;
    }
  }
  return out;
}

/** The datasource uids every panel and query of a dashboard uses. */
const uidsOf = (d: Dash) =>
  new Set(
    d.panels.flatMap((p) => [
      ...(p.datasource ? [p.datasource.uid] : []),
      ...(p.targets ?? []).map((t) => t.datasource.uid),
    ]),
  );

describe('a stack without a Grafana of its own (monitoring.grafana.enabled false)', () => {
  let resources: Registered[];
  let outputs: Record<string, unknown>;
  const appNs = 'pavemaster-staging';
  const monNs = `${appNs}-monitoring`;

  beforeAll(async () => {
    ({ resources, outputs } = await recordStack(
      'staging',
      stackConfig('staging', { monitoring: { grafana: { enabled: false } } }),
    ));
  });

  it('deploys no Grafana and exports no Grafana URL or password', async () => {
    expect(ofType(resources, 'pavemaster:monitoring:Grafana')).toHaveLength(0);
    expect(
      ofType(resources, 'kubernetes:apps/v1:Deployment').map((r) => at(r.inputs, 'metadata.name')),
    ).not.toContain('grafana');
    const monitoring = (await Promise.resolve(outputs.monitoring)) as Doc;
    expect(monitoring).toBeDefined();
    expect(monitoring.grafanaUrl).toBeUndefined();
    expect(monitoring.grafanaAdminPassword).toBeUndefined();
    expect(find(resources, SIDECAR, 'monitoring-grafana-sidecar').parent).toEqual({
      type: 'pavemaster:monitoring:Monitoring',
      name: 'monitoring',
    });
  });

  it('emits one ConfigMap per dashboard with the sidecar label, keys and uids unique to the stack', () => {
    const maps = labelled(resources, 'grafana_dashboard', '1');
    expect(maps).toHaveLength(4);
    for (const m of maps) {
      expect(at(m.inputs, 'metadata.namespace')).toBe(monNs);
      expect(m.parent).toEqual({ type: SIDECAR, name: 'monitoring-grafana-sidecar' });
    }
    const dashboards = dashboardsOf(maps);
    expect(Object.keys(dashboards).sort()).toEqual(
      ['application', 'business', 'infrastructure', 'release'].map((d) => `${appNs}-${d}.json`),
    );
    const suffix = stackSuffix(appNs);
    const uids = Object.values(dashboards).map((d) => d.uid);
    expect(new Set(uids).size).toBe(4);
    for (const d of Object.values(dashboards)) {
      expect(d.uid).toMatch(new RegExp(`^[A-Za-z0-9_-]{1,31}-${suffix}$`));
      expect(d.title).toContain(`(${appNs})`);
      expect(d.tags).toContain(`namespace:${appNs}`);
    }
  });

  it('hands its Prometheus over as a datasource ConfigMap that every panel queries, and lets that Grafana in', () => {
    const maps = labelled(resources, 'grafana_datasource', '1');
    expect(maps).toHaveLength(1);
    expect(at(maps[0].inputs, 'metadata.namespace')).toBe(monNs);
    const file = parse(Object.values(maps[0].inputs.data as Record<string, string>)[0]) as {
      datasources: { uid: string; type: string; url: string; isDefault: boolean }[];
    };
    expect(file.datasources).toHaveLength(1);
    const ds = file.datasources[0];
    expect(ds).toMatchObject({
      type: 'prometheus',
      url: `http://prometheus.${monNs}.svc:9090`,
      isDefault: false,
      uid: `pavemaster-prometheus-${stackSuffix(appNs)}`,
    });
    for (const d of Object.values(dashboardsOf(labelled(resources, 'grafana_dashboard', '1')))) {
      expect([...uidsOf(d)]).toEqual([ds.uid]);
    }
    // The other Grafana (the grafana chart's pods in the ConfigMaps' namespace) may query Prometheus; no
    // Grafana of the stack's own is named any more.
    const policy = ofType(resources, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').find(
      (r) => at(r.inputs, 'metadata.name') === 'prometheus',
    );
    const from = at(policy?.inputs, 'spec.ingress.0.from') as Doc[];
    expect(from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': monNs } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'grafana' } },
    });
    expect(JSON.stringify(from)).not.toContain('monitoring-grafana');
  });
});

describe('sidecar settings', () => {
  it('take the label, its value, the namespace and the datasource uid from the config', async () => {
    const { resources } = await recordStack(
      'staging',
      stackConfig('staging', {
        monitoring: {
          grafana: { enabled: false },
          prometheus: { ingressFrom: [{ namespace: 'observability', podLabels: { app: 'grafana' } }] },
          dashboards: {
            configMaps: {
              namespace: 'observability',
              label: 'example.com/dashboard',
              labelValue: 'yes',
              datasourceLabel: 'example.com/datasource',
              datasourceLabelValue: 'yes',
              datasourceUid: 'pm-staging',
            },
          },
        },
      }),
    );
    const maps = labelled(resources, 'example.com/dashboard', 'yes');
    expect(maps).toHaveLength(4);
    expect(labelled(resources, 'grafana_dashboard', '1')).toHaveLength(0);
    const ds = labelled(resources, 'example.com/datasource', 'yes');
    expect(ds).toHaveLength(1);
    for (const m of [...maps, ...ds]) {
      expect(at(m.inputs, 'metadata.namespace')).toBe('observability');
    }
    for (const d of Object.values(dashboardsOf(maps))) {
      expect([...uidsOf(d)]).toEqual(['pm-staging']);
    }
    // An explicit prometheus.ingressFrom replaces the derived Grafana peer.
    const policy = ofType(resources, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').find(
      (r) => at(r.inputs, 'metadata.name') === 'prometheus',
    );
    const from = JSON.stringify(at(policy?.inputs, 'spec.ingress.0.from'));
    expect(from).toContain('"app":"grafana"');
    expect(from).not.toContain('app.kubernetes.io/name":"grafana"');
  });

  it('without the stack’s monitoring: the dashboards only, in the app namespace, on kube-prometheus-stack’s datasource', async () => {
    const { resources } = await recordStack(
      'staging',
      stackConfig('staging', {
        monitoring: { enabled: false, dashboards: { configMaps: { enabled: true } } },
        logging: { enabled: false },
      }),
    );
    expect(ofType(resources, 'pavemaster:monitoring:Monitoring')).toHaveLength(0);
    const sidecar = find(resources, SIDECAR, 'grafana-sidecar');
    expect(sidecar.parent).toBeUndefined();
    const maps = labelled(resources, 'grafana_dashboard', '1');
    expect(maps).toHaveLength(4);
    expect(maps.map((m) => at(m.inputs, 'metadata.namespace'))).toEqual(Array(4).fill('pavemaster-staging'));
    expect(labelled(resources, 'grafana_datasource', '1')).toHaveLength(0);
    for (const d of Object.values(dashboardsOf(maps))) {
      expect([...uidsOf(d)]).toEqual(['prometheus']);
    }
  });

  it('are off while the stack runs its own Grafana, which keeps its provisioned dashboards', async () => {
    const { resources } = await recordStack('staging', stackConfig('staging'));
    expect(ofType(resources, SIDECAR)).toHaveLength(0);
    expect(labelled(resources, 'grafana_dashboard', '1')).toHaveLength(0);
    expect(ofType(resources, 'pavemaster:monitoring:Grafana')).toHaveLength(1);
  });

  it('are validated, each problem under its key', () => {
    const problems = (monitoring: Doc): string[] => {
      try {
        loadSettings('staging', stackConfig('staging', { monitoring }));
      } catch (e) {
        if (e instanceof ConfigError) {
          return e.problems.map((p) => p.key).sort();
        }
        throw e;
      }
      return [];
    };
    const key = (k: string) => `pavemaster:monitoring.dashboards.configMaps.${k}`;
    expect(
      problems({
        dashboards: {
          configMaps: {
            namespace: 'Not_A_Namespace',
            label: 'bad key!',
            labelValue: 'not a value',
            datasourceUid: 'x'.repeat(41),
            surprise: true,
          },
        },
      }),
    ).toEqual([key('datasourceUid'), key('label'), key('labelValue'), key('namespace'), key('surprise')]);
    expect(
      problems({ enabled: false, dashboards: { configMaps: { enabled: true, datasources: true } } }),
    ).toEqual([key('datasources')]);
    expect(problems({ grafana: { enabled: 'no' } })).toEqual(['pavemaster:monitoring.grafana.enabled']);
    expect(problems({ dashboards: { configMaps: { enabled: true } } })).toEqual([]);
  });
});

describe('two stacks handing their dashboards to one Grafana', () => {
  it('never share a uid (at most 40 characters each) or a ConfigMap key', () => {
    const staging = allDashboards({ appNamespace: 'pavemaster-staging', appName: 'pavemaster' });
    const production = allDashboards({ appNamespace: 'pavemaster-production', appName: 'pavemaster' });
    const uids = [
      ...Object.values(staging).map((d) => sidecarDashboard(d, 'pavemaster-staging', 'a').uid),
      ...Object.values(production).map((d) => sidecarDashboard(d, 'pavemaster-production', 'b').uid),
    ];
    expect(new Set(uids).size).toBe(8);
    for (const uid of uids) {
      expect(uid.length).toBeLessThanOrEqual(40);
    }
    // A long base uid is cut, the stack's suffix kept.
    const long = { ...staging['application.json'], uid: 'u'.repeat(40) };
    expect(sidecarDashboard(long, 'pavemaster-staging', 'a').uid).toBe(
      `${'u'.repeat(31)}-${stackSuffix('pavemaster-staging')}`,
    );
  });
});
