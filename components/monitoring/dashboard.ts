/**
 * Grafana dashboards as code, the builder: a panel is a title, a kind, a unit and PromQL queries; rows lay panels
 * out on Grafana's 24-column grid. The dashboards themselves are in `dashboards/`, one file each. The tests parse
 * every query with `promtool`.
 */

/**
 * The dashboard schema version the pinned Grafana (13.1.0, components/versions.ts) writes: its schema package,
 * @grafana/schema 13.1.0, declares `defaultDashboard.schemaVersion: 42`, and Grafana's backend migrations
 * (apps/dashboard/pkg/migration/schemaversion) end at 42, the last version of the v1 dashboard API. From the 39
 * these dashboards declared before, Grafana migrates on load: 40 makes `refresh` a string (ours is "30s"), 41
 * drops `timepicker.time_options` (ours have no timepicker), 42 sets `hideFrom.tooltip` wherever a field override
 * hides a field from the visualization (ours have no overrides). None changes these dashboards, so declaring 42
 * saves Grafana the migration and keeps what it shows identical; test/unit/monitoring/dashboardSchema.test.ts
 * type-checks every generated dashboard against @grafana/schema's Dashboard type.
 */
export const DASHBOARD_SCHEMA_VERSION = 42;

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
  /** A Grafana unit: "reqps", "s", "bytes", "percentunit", "short", "cores"... @default "short" */
  unit?: string;
  description?: string;
  /** Width in grid columns (1-24). @default 12 */
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
  /** A row's panels while it is collapsed; the schema requires the list on every row (ours are open: empty). */
  panels?: Panel[];
  datasource?: { type: 'prometheus'; uid: string };
  targets?: Target[];
  fieldConfig?: {
    defaults: { unit: string; custom?: { stacking?: { mode: 'normal' | 'none' }; fillOpacity?: number } };
    overrides: never[];
  };
  options?: Record<string, unknown>;
}

/** An annotation query of a dashboard: Grafana's own annotations, filtered by tags. */
export interface AnnotationQuery {
  builtIn?: number;
  datasource: { type: 'grafana'; uid: '-- Grafana --' };
  enable: boolean;
  hide: boolean;
  iconColor: string;
  name: string;
  target: { type: 'dashboard' | 'tags'; tags: string[]; matchAny: boolean; limit: number };
}

/** A dashboard as Grafana stores it. */
export interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  annotations: { list: AnnotationQuery[] };
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

const GRAFANA_ANNOTATIONS = { type: 'grafana', uid: '-- Grafana --' } as const;

/** Grafana's default query: annotations made on this dashboard, and alerts. */
const BUILT_IN_ANNOTATIONS: AnnotationQuery = {
  builtIn: 1,
  datasource: GRAFANA_ANNOTATIONS,
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
  name: 'Annotations & Alerts',
  target: { type: 'dashboard', tags: [], matchAny: false, limit: 100 },
};

/**
 * The releases of one app (promotes, flip-backs, rollbacks): the organization annotations the release command
 * posts with these tags (components/shared/release.ts), shown on every panel's time axis.
 */
export function releaseAnnotationQuery(tags: string[]): AnnotationQuery {
  return {
    datasource: GRAFANA_ANNOTATIONS,
    enable: true,
    hide: false,
    iconColor: 'rgba(255, 152, 48, 1)',
    name: 'Releases',
    target: { type: 'tags', tags, matchAny: false, limit: 100 },
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
      panels: [],
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
    annotations: { list: [BUILT_IN_ANNOTATIONS] },
    timezone: 'browser',
    schemaVersion: DASHBOARD_SCHEMA_VERSION,
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
