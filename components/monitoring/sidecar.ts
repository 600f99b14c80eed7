/**
 * Bring your own Grafana, the settings (without the Pulumi SDK: the stack reader and the release command load
 * them): a stack whose cluster already runs Grafana with the dashboard sidecar (the grafana Helm chart's
 * `sidecar.dashboards`, as kube-prometheus-stack turns it on: the kiwigrid k8s-sidecar) emits its dashboards as
 * ConfigMaps carrying the label the sidecar selects by, `grafana_dashboard: "1"` by default, and, when the stack
 * runs its own Prometheus, that Prometheus as a datasource ConfigMap labelled `grafana_datasource: "1"` (the
 * chart's `sidecar.datasources`). The sidecar copies every key of each selected ConfigMap into one directory of
 * Grafana's file provisioning, so keys and dashboard uids must be unique in the whole cluster: each stack's are
 * derived from its app namespace. GrafanaSidecarObjects.ts creates the objects.
 */
import { createHash } from 'crypto';
import { ArgChecks, ArgProblem } from '../shared/args';
import { checkDnsLabel, checkLabelKey, checkLabelValue } from '../shared/checks';

/** What a stack decides about the sidecar ConfigMaps (`pavemaster:monitoring.dashboards.configMaps`). */
export interface DashboardConfigMapsOptions {
  /** Emit the dashboards (and datasource) as sidecar ConfigMaps. @default true when `grafana.enabled` is false */
  readonly enabled?: boolean;
  /**
   * The namespace the ConfigMaps go to, which must exist: the one the sidecar watches (the grafana chart watches
   * its own namespace unless `searchNamespace` says otherwise; kube-prometheus-stack sets `ALL` for dashboards,
   * not for datasources). @default the monitoring namespace; the app namespace when the stack runs no monitoring
   */
  readonly namespace?: string;
  /** The label key the dashboard sidecar selects by (`sidecar.dashboards.label`). @default "grafana_dashboard" */
  readonly label?: string;
  /** Its value (`sidecar.dashboards.labelValue`). @default "1" */
  readonly labelValue?: string;
  /**
   * Emit the stack's own Prometheus as a datasource ConfigMap. Only with the stack's own monitoring (without it
   * there is no Prometheus of the stack's to hand over). The Elasticsearch datasource is never emitted: its
   * password would have to be copied to the other Grafana (add it there). @default true with the stack's monitoring
   */
  readonly datasources?: boolean;
  /** The label key the datasource sidecar selects by (`sidecar.datasources.label`). @default "grafana_datasource" */
  readonly datasourceLabel?: string;
  /** Its value (`sidecar.datasources.labelValue`). @default "1" */
  readonly datasourceLabelValue?: string;
  /**
   * The uid of the Prometheus datasource every panel queries: letters, digits, `-` and `_`, at most 40.
   * @default the emitted datasource's, `pavemaster-prometheus-<8 hex digits of the app namespace's hash>`;
   * without it "prometheus" (kube-prometheus-stack's own Prometheus datasource)
   */
  readonly datasourceUid?: string;
}

/** Every option decided. */
export type ResolvedDashboardConfigMaps = Required<DashboardConfigMapsOptions>;

/** The grafana Helm chart's (and kube-prometheus-stack's) sidecar labels. */
export const SIDECAR_DEFAULTS = {
  label: 'grafana_dashboard',
  labelValue: '1',
  datasourceLabel: 'grafana_datasource',
  datasourceLabelValue: '1',
} as const;

/** The uid of kube-prometheus-stack's Prometheus datasource (`grafana.sidecar.datasources.uid`). */
export const KUBE_PROMETHEUS_STACK_DATASOURCE_UID = 'prometheus';

/** The pod labels of the grafana Helm chart's Grafana (kube-prometheus-stack's too), admitted to Prometheus. */
export const GRAFANA_CHART_POD_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'grafana',
};

/** 8 hex digits naming one stack's app namespace: dashboard uids, keys and the datasource uid stay unique. */
export function stackSuffix(appNamespace: string): string {
  return createHash('sha256').update(appNamespace).digest('hex').slice(0, 8);
}

/** What the defaults follow from. */
export interface SidecarContext {
  /** The stack runs its own Grafana (`grafana.enabled`). */
  readonly grafanaEnabled: boolean;
  /** The stack runs its own monitoring, so its own Prometheus (`monitoring.enabled`). */
  readonly ownPrometheus: boolean;
  /** The monitoring namespace, when the stack runs it. */
  readonly monitoringNamespace?: string;
  /** The app's namespace. */
  readonly appNamespace: string;
}

/** Applies the defaults; a resolved value resolves to itself. */
export function resolveDashboardConfigMaps(
  o: DashboardConfigMapsOptions,
  ctx: SidecarContext,
): ResolvedDashboardConfigMaps {
  const datasources = ctx.ownPrometheus && (o.datasources ?? true);
  return {
    enabled: o.enabled ?? !ctx.grafanaEnabled,
    namespace:
      o.namespace ?? (ctx.ownPrometheus ? (ctx.monitoringNamespace ?? ctx.appNamespace) : ctx.appNamespace),
    label: o.label ?? SIDECAR_DEFAULTS.label,
    labelValue: o.labelValue ?? SIDECAR_DEFAULTS.labelValue,
    datasources,
    datasourceLabel: o.datasourceLabel ?? SIDECAR_DEFAULTS.datasourceLabel,
    datasourceLabelValue: o.datasourceLabelValue ?? SIDECAR_DEFAULTS.datasourceLabelValue,
    datasourceUid:
      o.datasourceUid ??
      (datasources
        ? `pavemaster-prometheus-${stackSuffix(ctx.appNamespace)}`
        : KUBE_PROMETHEUS_STACK_DATASOURCE_UID),
  };
}

/** Grafana's rule for a uid (util.IsValidShortUID): letters, digits, `-`, `_`, at most 40 characters. */
export function checkGrafanaUid(uid: string): string | undefined {
  return /^[A-Za-z0-9_-]{1,40}$/.test(uid) ? undefined : 'a Grafana uid: 1-40 letters, digits, "-" or "_"';
}

/** The options' own invariants, each problem named by its option path below `prefix`. */
export function checkDashboardConfigMaps(
  o: ResolvedDashboardConfigMaps,
  ctx: Pick<SidecarContext, 'ownPrometheus'> & { datasourcesSet?: boolean },
  prefix = 'dashboards.configMaps.',
): ArgProblem[] {
  const c = new ArgChecks();
  c.check(`${prefix}namespace`, o.namespace, (v) => checkDnsLabel(v));
  for (const key of ['label', 'datasourceLabel'] as const) {
    c.check(`${prefix}${key}`, o[key], checkLabelKey);
  }
  for (const key of ['labelValue', 'datasourceLabelValue'] as const) {
    c.check(`${prefix}${key}`, o[key], checkLabelValue);
  }
  c.check(`${prefix}datasourceUid`, o.datasourceUid, checkGrafanaUid);
  if (ctx.datasourcesSet === true && !ctx.ownPrometheus) {
    c.fail(
      `${prefix}datasources`,
      true,
      "false without the stack's own monitoring (monitoring.enabled false): there is no Prometheus of the stack's to hand over; set datasourceUid to the other Grafana's Prometheus datasource instead",
    );
  }
  return [...c.problems];
}
