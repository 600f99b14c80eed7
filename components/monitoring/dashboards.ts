/**
 * Grafana dashboards as code: small typed builders (a panel is a title, a kind, a unit and PromQL queries; rows
 * lay panels out on Grafana's 24-column grid) and the four dashboards PaveMaster's operators use: Application,
 * Infrastructure, Business and Release. The tests parse every query with `promtool`.
 */

/** The uid of the provisioned Prometheus datasource that every panel queries. */
export const PROMETHEUS_DATASOURCE_UID = 'prometheus';

export type PanelKind = 'timeseries' | 'stat' | 'table';

/** One query of a panel. */
export interface Query {
  /** PromQL. */
  expr: string;
  /** The series name shown in the legend, e.g. "{{slot}}". */
  legend?: string;
  /** Query as an instant (tables, stats) rather than a range. */
  instant?: boolean;
}

/** What an author writes for a panel. */
export interface PanelSpec {
  title: string;
  kind?: PanelKind;
  /** A Grafana unit: "reqps", "s", "bytes", "percentunit", "short", "cores"... Default "short". */
  unit?: string;
  description?: string;
  /** Width in grid columns (1-24). Default 12. */
  width?: number;
  queries: Query[];
  /** Stack the series (shares of a whole). */
  stacked?: boolean;
}

/** A titled row of panels. */
export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  datasource: { type: 'prometheus'; uid: string };
}

/** A panel as Grafana stores it. */
export interface Panel {
  id: number;
  type: PanelKind | 'row';
  title: string;
  gridPos: GridPos;
  description?: string;
  collapsed?: boolean;
  datasource?: { type: 'prometheus'; uid: string };
  targets?: Target[];
  fieldConfig?: {
    defaults: { unit: string; custom?: { stacking?: { mode: 'normal' | 'none' }; fillOpacity?: number } };
    overrides: never[];
  };
  options?: Record<string, unknown>;
}

/** A dashboard as Grafana stores it. */
export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  timezone: 'browser';
  schemaVersion: number;
  version: number;
  editable: boolean;
  time: { from: string; to: string };
  refresh: string;
  panels: Panel[];
}

const PANEL_HEIGHT = 8;
const datasource = { type: 'prometheus' as const, uid: PROMETHEUS_DATASOURCE_UID };

function panel(spec: PanelSpec, id: number, gridPos: GridPos): Panel {
  const kind = spec.kind ?? 'timeseries';
  const instant = kind !== 'timeseries';
  return {
    id,
    type: kind,
    title: spec.title,
    gridPos,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    datasource,
    targets: spec.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      expr: q.expr,
      ...(q.legend !== undefined ? { legendFormat: q.legend } : {}),
      ...((q.instant ?? instant) ? { instant: true, range: false } : {}),
      datasource,
    })),
    fieldConfig: {
      defaults: {
        unit: spec.unit ?? 'short',
        ...(kind === 'timeseries'
          ? {
              custom: {
                fillOpacity: spec.stacked ? 30 : 10,
                stacking: { mode: spec.stacked ? 'normal' : 'none' },
              },
            }
          : {}),
      },
      overrides: [],
    },
    options:
      kind === 'table'
        ? { showHeader: true }
        : kind === 'stat'
          ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' }
          : { legend: { displayMode: 'table', placement: 'bottom', calcs: ['mean', 'max', 'lastNotNull'] } },
  };
}

/** Lays rows of panels out on the grid, left to right, wrapping at 24 columns. */
export function dashboard(uid: string, title: string, tags: string[], rows: RowSpec[]): Dashboard {
  const panels: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { x: 0, y, w: 24, h: 1 },
    });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      const w = spec.width ?? 12;
      if (!Number.isInteger(w) || w < 1 || w > 24) {
        throw new Error(`dashboard ${uid}: panel "${spec.title}" has width ${w}, not 1-24`);
      }
      if (spec.queries.length === 0) {
        throw new Error(`dashboard ${uid}: panel "${spec.title}" has no query`);
      }
      if (x + w > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(panel(spec, id++, { x, y, w, h: PANEL_HEIGHT }));
      x += w;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid,
    title,
    tags: ['pavemaster', ...tags],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: false,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    panels,
  };
}

/** Every PromQL expression of a dashboard (the tests parse them all). */
export function dashboardQueries(d: Dashboard): { panel: string; expr: string }[] {
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

/** What the dashboards are built from. */
export interface DashboardArgs {
  /** The app's namespace. */
  appNamespace: string;
  /** The app's name (the `app` label). */
  appName: string;
}

/** Request rate, latency, errors, sessions, database pool, memory and CPU, each split by slot. */
export function applicationDashboard(a: DashboardArgs): Dashboard {
  const sel = `namespace="${a.appNamespace}"`;
  const rate = (filter: string) => `sum by (slot) (rate(http_requests_total{${sel}${filter}}[5m]))`;
  const quantile = (q: number) => ({
    expr: `histogram_quantile(${q}, sum by (slot, le) (rate(http_request_duration_seconds_bucket{${sel}}[5m])))`,
    legend: `p${Math.round(q * 100)} {{slot}}`,
  });
  return dashboard(
    'pavemaster-application',
    'PaveMaster / Application',
    ['application'],
    [
      {
        title: 'Traffic',
        panels: [
          { title: 'Request rate by slot', unit: 'reqps', queries: [{ expr: rate(''), legend: '{{slot}}' }] },
          {
            title: 'Request rate by route',
            unit: 'reqps',
            queries: [
              {
                expr: `sum by (slot, route) (rate(http_requests_total{${sel}}[5m]))`,
                legend: '{{slot}} {{route}}',
              },
            ],
          },
          {
            title: 'Latency p50 / p95 / p99 by slot',
            unit: 's',
            queries: [quantile(0.5), quantile(0.95), quantile(0.99)],
          },
          {
            title: '4xx and 5xx ratio by slot',
            unit: 'percentunit',
            queries: [
              { expr: `${rate(',status=~"4.."')} / ${rate('')}`, legend: '4xx {{slot}}' },
              { expr: `${rate(',status=~"5.."')} / ${rate('')}`, legend: '5xx {{slot}}' },
            ],
          },
        ],
      },
      {
        title: 'Sessions and database',
        panels: [
          {
            title: 'Active sessions by slot',
            queries: [{ expr: `sum by (slot) (pavemaster_active_sessions{${sel}})`, legend: '{{slot}}' }],
          },
          {
            title: 'Database pool by slot and state',
            queries: [
              {
                expr: `sum by (slot, state) (pavemaster_db_pool_connections{${sel}})`,
                legend: '{{slot}} {{state}}',
              },
              { expr: `sum by (slot) (pavemaster_db_pool_max{${sel}})`, legend: 'max {{slot}}' },
            ],
          },
        ],
      },
      {
        title: 'Resources',
        panels: [
          {
            title: 'Memory (resident) by slot',
            unit: 'bytes',
            queries: [{ expr: `sum by (slot) (process_resident_memory_bytes{${sel}})`, legend: '{{slot}}' }],
          },
          {
            title: 'CPU by slot',
            unit: 'cores',
            queries: [
              { expr: `sum by (slot) (rate(process_cpu_seconds_total{${sel}}[5m]))`, legend: '{{slot}}' },
            ],
          },
          {
            title: 'Node.js heap used by slot',
            unit: 'bytes',
            queries: [{ expr: `sum by (slot) (nodejs_heap_size_used_bytes{${sel}})`, legend: '{{slot}}' }],
          },
          {
            title: 'Event loop lag p99 by slot',
            unit: 's',
            queries: [
              { expr: `max by (slot) (nodejs_eventloop_lag_p99_seconds{${sel}})`, legend: '{{slot}}' },
            ],
          },
        ],
      },
    ],
  );
}

/** Containers, nodes, network, storage and the database pool across the cluster. */
export function infrastructureDashboard(a: DashboardArgs): Dashboard {
  const ns = `namespace="${a.appNamespace}"`;
  return dashboard(
    'pavemaster-infrastructure',
    'PaveMaster / Infrastructure',
    ['infrastructure'],
    [
      {
        title: 'Containers',
        panels: [
          {
            title: 'Container CPU by pod',
            unit: 'cores',
            queries: [
              {
                expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{${ns},container!="",container!="POD"}[5m]))`,
                legend: '{{pod}}',
              },
            ],
          },
          {
            title: 'Container memory (working set) by pod',
            unit: 'bytes',
            queries: [
              {
                expr: `sum by (pod) (container_memory_working_set_bytes{${ns},container!="",container!="POD"})`,
                legend: '{{pod}}',
              },
            ],
          },
          {
            title: 'Container restarts (1h)',
            queries: [
              {
                expr: `sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[1h])) > 0`,
                legend: '{{namespace}}/{{pod}}',
              },
            ],
          },
          {
            title: 'Pods not ready',
            queries: [
              {
                expr: 'sum by (namespace) (kube_pod_status_ready{condition="false"})',
                legend: '{{namespace}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Nodes',
        panels: [
          {
            title: 'Node CPU busy',
            unit: 'percentunit',
            queries: [
              {
                expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
                legend: '{{instance}}',
              },
            ],
          },
          {
            title: 'Node memory used',
            unit: 'percentunit',
            queries: [
              {
                expr: '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes',
                legend: '{{instance}}',
              },
            ],
          },
          {
            title: 'Nodes ready',
            kind: 'stat',
            width: 6,
            queries: [{ expr: 'sum(kube_node_status_condition{condition="Ready",status="true"})' }],
          },
          {
            title: 'Load (1m) per CPU',
            width: 18,
            queries: [
              {
                expr: 'node_load1 / on (instance) count by (instance) (node_cpu_seconds_total{mode="idle"})',
                legend: '{{instance}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Network',
        panels: [
          {
            title: 'Node network received / transmitted',
            unit: 'Bps',
            queries: [
              {
                expr: 'sum by (instance) (rate(node_network_receive_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*"}[5m]))',
                legend: 'rx {{instance}}',
              },
              {
                expr: 'sum by (instance) (rate(node_network_transmit_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*"}[5m]))',
                legend: 'tx {{instance}}',
              },
            ],
          },
          {
            title: 'App pod network received / transmitted',
            unit: 'Bps',
            queries: [
              {
                expr: `sum by (pod) (rate(container_network_receive_bytes_total{${ns}}[5m]))`,
                legend: 'rx {{pod}}',
              },
              {
                expr: `sum by (pod) (rate(container_network_transmit_bytes_total{${ns}}[5m]))`,
                legend: 'tx {{pod}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Storage',
        panels: [
          {
            title: 'Node filesystem used',
            unit: 'percentunit',
            queries: [
              {
                expr: '1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"}',
                legend: '{{instance}} {{mountpoint}}',
              },
            ],
          },
          {
            title: 'PersistentVolumeClaims used',
            unit: 'percentunit',
            queries: [
              {
                expr: 'kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes',
                legend: '{{namespace}}/{{persistentvolumeclaim}}',
              },
            ],
          },
          {
            title: 'Prometheus storage (TSDB) size',
            unit: 'bytes',
            queries: [
              {
                expr: 'prometheus_tsdb_storage_blocks_bytes + prometheus_tsdb_head_chunks_storage_size_bytes',
              },
            ],
          },
        ],
      },
      {
        title: 'Database',
        panels: [
          {
            title: 'Database connections in use vs pool size',
            unit: 'percentunit',
            queries: [
              {
                expr: `sum by (slot) (pavemaster_db_pool_connections{${ns},state="active"}) / sum by (slot) (pavemaster_db_pool_max{${ns}})`,
                legend: '{{slot}}',
              },
            ],
          },
          {
            title: 'Requests waiting for a database connection',
            queries: [
              {
                expr: `sum by (slot) (pavemaster_db_pool_connections{${ns},state="waiting"})`,
                legend: '{{slot}}',
              },
            ],
          },
        ],
      },
    ],
  );
}

/** User engagement and feature adoption from the app's own counters. */
export function businessDashboard(a: DashboardArgs): Dashboard {
  const ns = `namespace="${a.appNamespace}"`;
  return dashboard(
    'pavemaster-business',
    'PaveMaster / Business',
    ['business'],
    [
      {
        title: 'Engagement',
        panels: [
          {
            title: 'Active sessions',
            kind: 'stat',
            width: 8,
            queries: [{ expr: `sum(pavemaster_active_sessions{${ns}})` }],
          },
          {
            title: 'Logins (24h)',
            kind: 'stat',
            width: 8,
            queries: [{ expr: `sum(increase(pavemaster_user_logins_total{${ns}}[1d]))` }],
          },
          {
            title: 'Jobs processed (24h)',
            kind: 'stat',
            width: 8,
            queries: [{ expr: `sum(increase(pavemaster_jobs_processed_total{${ns}}[1d]))` }],
          },
          {
            title: 'Logins per hour',
            queries: [{ expr: `sum(increase(pavemaster_user_logins_total{${ns}}[1h]))`, legend: 'logins' }],
          },
          {
            title: 'Jobs processed per minute',
            queries: [{ expr: `sum(rate(pavemaster_jobs_processed_total{${ns}}[5m])) * 60`, legend: 'jobs' }],
          },
        ],
      },
      {
        title: 'Feature adoption',
        panels: [
          {
            title: 'Feature use per hour',
            stacked: true,
            queries: [
              {
                expr: `sum by (feature) (increase(pavemaster_feature_used_total{${ns}}[1h]))`,
                legend: '{{feature}}',
              },
            ],
          },
          {
            title: 'Share of feature use (24h)',
            kind: 'table',
            unit: 'percentunit',
            queries: [
              {
                expr: `sum by (feature) (increase(pavemaster_feature_used_total{${ns}}[1d])) / scalar(sum(increase(pavemaster_feature_used_total{${ns}}[1d])))`,
                legend: '{{feature}}',
              },
            ],
          },
          {
            title: 'Feature uses per login (24h)',
            kind: 'table',
            width: 24,
            queries: [
              {
                expr: `sum by (feature) (increase(pavemaster_feature_used_total{${ns}}[1d])) / scalar(sum(increase(pavemaster_user_logins_total{${ns}}[1d])))`,
                legend: '{{feature}}',
              },
            ],
          },
        ],
      },
    ],
  );
}

/**
 * Which slot serves, which versions run, and the promotions and rollbacks over time. The release command
 * annotates the Deployments with `pavemaster.io/release-id` and `pavemaster.io/released-at`; kube-state-metrics
 * exposes them (allowlisted) as `annotation_pavemaster_io_release_id` and `annotation_pavemaster_io_released_at`.
 */
export function releaseDashboard(a: DashboardArgs): Dashboard {
  const ns = `namespace="${a.appNamespace}"`;
  const dep = `${ns},label_app="${a.appName}"`;
  return dashboard(
    'pavemaster-release',
    'PaveMaster / Release',
    ['release'],
    [
      {
        title: 'Now',
        panels: [
          {
            title: 'Share of traffic by slot',
            kind: 'stat',
            unit: 'percentunit',
            description: 'The slot taking (nearly) all requests is the one the active Service selects.',
            queries: [
              {
                expr: `sum by (slot) (rate(http_requests_total{${ns}}[5m])) / scalar(sum(rate(http_requests_total{${ns}}[5m])))`,
                legend: '{{slot}}',
              },
            ],
          },
          {
            title: 'Versions running by slot',
            kind: 'table',
            queries: [
              {
                expr: `count by (label_slot, label_version) (kube_pod_labels{${dep}})`,
                legend: '{{label_slot}} {{label_version}}',
              },
            ],
          },
          {
            title: 'Releases of each Deployment',
            kind: 'table',
            width: 24,
            queries: [
              {
                expr: `max by (deployment, annotation_pavemaster_io_release_id, annotation_pavemaster_io_released_at) (kube_deployment_annotations{${ns}})`,
                legend: '{{deployment}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Over time',
        panels: [
          {
            title: 'Requests by slot and version (promotions and rollbacks show as the traffic moving)',
            unit: 'reqps',
            stacked: true,
            width: 24,
            queries: [
              {
                expr: `sum by (slot, version) (rate(http_requests_total{${ns}}[1m]))`,
                legend: '{{slot}} {{version}}',
              },
            ],
          },
          {
            title: 'Ready replicas by slot',
            queries: [
              {
                expr: `sum by (label_slot) (kube_deployment_status_replicas_available{${ns}} * on (namespace, deployment) group_left (label_slot) kube_deployment_labels{${dep}})`,
                legend: '{{label_slot}}',
              },
            ],
          },
          {
            title: 'Rollouts (Deployment generation changes per hour)',
            queries: [
              {
                expr: `changes(kube_deployment_metadata_generation{${ns}}[1h])`,
                legend: '{{deployment}}',
              },
            ],
          },
        ],
      },
    ],
  );
}

/** The four dashboards, keyed by file name. */
export function allDashboards(a: DashboardArgs): Record<string, Dashboard> {
  return {
    'application.json': applicationDashboard(a),
    'infrastructure.json': infrastructureDashboard(a),
    'business.json': businessDashboard(a),
    'release.json': releaseDashboard(a),
  };
}
