/**
 * Bring your own Grafana: the stack's dashboards (and its Prometheus datasource) as ConfigMaps for the Grafana
 * sidecar of a cluster's own Grafana (the grafana Helm chart's `sidecar.dashboards` / `sidecar.datasources`, as
 * kube-prometheus-stack runs them). The settings and their defaults are in ./sidecar.ts.
 *
 * - One ConfigMap per dashboard, labelled for the dashboard sidecar. The sidecar writes every key of every
 *   selected ConfigMap into one provisioning directory, and Grafana refuses two provisioned dashboards with one
 *   uid, so a second stack in the cluster must use other keys and uids: each key starts with the app namespace,
 *   each uid ends in 8 hex digits of its hash (a uid has at most 40 characters), and each title names the app
 *   namespace. The panels query the datasource `datasourceUid`.
 * - With the stack's own Prometheus, one datasource ConfigMap (the same provisioning file format as the stack's
 *   own Grafana reads, datasources.yml), under a uid and name of this stack's, not the default datasource: the
 *   other Grafana's own Prometheus keeps its place.
 */
import * as pulumi from '@pulumi/pulumi';
import { ArgChecks, throwIfInvalid } from '../shared/args';
import { recommendedLabels } from '../shared/labels';
import * as workload from '../shared/workload';
import { Dashboard, Panel } from './dashboard';
import { toYaml } from './prometheusConfig';
import { checkDashboardConfigMaps, ResolvedDashboardConfigMaps, stackSuffix } from './sidecar';

export type { DashboardConfigMapsOptions, ResolvedDashboardConfigMaps } from './sidecar';

export interface GrafanaSidecarObjectsArgs extends ResolvedDashboardConfigMaps {
  /** The app's namespace: it names the keys, uids and titles of this stack's objects. Required. */
  readonly appNamespace: string;
  /** The dashboards, by file name ("application.json"). Required (at least one). */
  readonly dashboards: Record<string, Dashboard>;
  /** The stack's own Prometheus URL, for the datasource ConfigMap (with `datasources`). @default none */
  readonly prometheusUrl?: pulumi.Input<string>;
  /** The datasource's scrape interval (Grafana's `timeInterval`). @default "30s" */
  readonly scrapeInterval?: string;
}

/** A panel (and its queries) pointed at another datasource uid. */
function repoint(p: Panel, uid: string): Panel {
  return {
    ...p,
    ...(p.datasource !== undefined ? { datasource: { ...p.datasource, uid } } : {}),
    ...(p.targets !== undefined
      ? { targets: p.targets.map((t) => ({ ...t, datasource: { ...t.datasource, uid } })) }
      : {}),
  };
}

/**
 * A dashboard as this stack hands it to a shared Grafana: its uid unique per app namespace (at most 40
 * characters: the base is cut, never the suffix), its title naming the namespace, every panel on `datasourceUid`.
 */
export function sidecarDashboard(d: Dashboard, appNamespace: string, datasourceUid: string): Dashboard {
  const suffix = `-${stackSuffix(appNamespace)}`;
  return {
    ...d,
    uid: `${d.uid.slice(0, 40 - suffix.length)}${suffix}`,
    title: `${d.title} (${appNamespace})`,
    tags: [...d.tags, `namespace:${appNamespace}`],
    panels: d.panels.map((p) => repoint(p, datasourceUid)),
  };
}

/** The datasource provisioning file of the stack's Prometheus, for the datasource sidecar. */
export function sidecarDatasourcesFile(
  prometheusUrl: string,
  uid: string,
  appNamespace: string,
  scrapeInterval: string,
): string {
  return toYaml({
    apiVersion: 1,
    datasources: [
      {
        name: `PaveMaster Prometheus (${appNamespace})`,
        type: 'prometheus',
        uid,
        access: 'proxy',
        url: prometheusUrl,
        isDefault: false,
        editable: false,
        jsonData: { httpMethod: 'POST', timeInterval: scrapeInterval },
      },
    ],
  });
}

export class GrafanaSidecarObjects extends pulumi.ComponentResource {
  /** metadata.name of each dashboard ConfigMap, by dashboard file name. */
  readonly dashboardConfigMaps: Record<string, string>;
  /** metadata.name of the datasource ConfigMap, when one is emitted. */
  readonly datasourceConfigMap?: string;

  constructor(name: string, args: GrafanaSidecarObjectsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:GrafanaSidecarObjects', name, {}, opts);
    const c = new ArgChecks();
    if (Object.keys(args.dashboards).length === 0) {
      c.fail('dashboards', args.dashboards, 'at least one dashboard');
    }
    if (args.datasources && args.prometheusUrl === undefined) {
      c.fail('prometheusUrl', undefined, 'required with datasources: the URL of the Prometheus to hand over');
    }
    throwIfInvalid(`GrafanaSidecarObjects ${name}`, [
      ...checkDashboardConfigMaps(args, { ownPrometheus: args.prometheusUrl !== undefined }, ''),
      ...c.problems,
    ]);
    const child = { parent: this };
    const labels = (what: string, key: string, value: string) => ({
      ...recommendedLabels({ name: what, instance: name, component: 'monitoring' }),
      [key]: value,
    });

    this.dashboardConfigMaps = {};
    for (const [file, d] of Object.entries(args.dashboards)) {
      const base = file.replace(/\.json$/, '');
      const objectName = `${args.appNamespace}-dashboard-${base}`;
      workload.configFiles(
        `${name}-${base}`,
        {
          objectName,
          namespace: args.namespace,
          labels: labels('grafana-dashboard', args.label, args.labelValue),
          data: {
            [`${args.appNamespace}-${file}`]: JSON.stringify(
              sidecarDashboard(d, args.appNamespace, args.datasourceUid),
              null,
              1,
            ),
          },
        },
        child,
      );
      this.dashboardConfigMaps[file] = objectName;
    }
    if (args.datasources && args.prometheusUrl !== undefined) {
      const objectName = `${args.appNamespace}-datasource-prometheus`;
      workload.configFiles(
        `${name}-datasource`,
        {
          objectName,
          namespace: args.namespace,
          labels: labels('grafana-datasource', args.datasourceLabel, args.datasourceLabelValue),
          data: {
            [`${args.appNamespace}-datasources.yml`]: pulumi
              .output(args.prometheusUrl)
              .apply((url) =>
                sidecarDatasourcesFile(
                  url,
                  args.datasourceUid,
                  args.appNamespace,
                  args.scrapeInterval ?? '30s',
                ),
              ),
          },
        },
        child,
      );
      this.datasourceConfigMap = objectName;
    }
    this.registerOutputs({
      dashboardConfigMaps: this.dashboardConfigMaps,
      datasourceConfigMap: this.datasourceConfigMap,
    });
  }
}
