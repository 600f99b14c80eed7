/**
 * The PaveMaster program, as a table of contents. It reads the stack's settings (every value validated before
 * any resource is registered), then deploys the three parts of a stack, each one component that creates its own
 * namespaces:
 *
 *   deployApp        the web app in blue/green slots      components/BlueGreenApp.ts
 *   deployLogging    Elasticsearch, Logstash, Kibana, ... components/logging/Logging.ts
 *   deployMonitoring Prometheus, Alertmanager, Grafana,   components/monitoring/Monitoring.ts
 *
 * and exports what operators and the release command read. The README's layout table says where every object
 * of the stack is declared: at most two components below this file.
 */
// First: it limits the source-map formatting ts-node installed before the SDK takes its first stack (why there).
import './stackTraces';
import * as pulumi from '@pulumi/pulumi';
import { BlueGreenApp, BlueGreenAppArgs } from '../components/BlueGreenApp';
import { Logging } from '../components/logging/Logging';
import { allDashboards } from '../components/monitoring/dashboards';
import { GrafanaSidecarObjects } from '../components/monitoring/GrafanaSidecarObjects';
import { Monitoring } from '../components/monitoring/Monitoring';
import { PrometheusOperatorObjects } from '../components/monitoring/PrometheusOperatorObjects';
import { alertRuleGroups, APP_RULE_GROUP } from '../components/monitoring/rules';
import { releaseAnnotations } from '../components/shared/release';
import { perSlot } from '../components/shared/slots';
import { loadSettings, readStackConfig, Settings } from '../stacks/settings';
import { deployBenchApps } from './bench';
import { checkClusterTarget, ClusterTarget, clusterProvider, readKubeconfig } from './cluster';
import { slotImages } from './image';
import { startTiming } from './timing';

/** The blue/green app: each slot's image (built, when the stack builds one) and release, in its namespace. */
function deployApp(s: Settings, opts: pulumi.ComponentResourceOptions): BlueGreenApp {
  const { images } = slotImages(s);
  const args: BlueGreenAppArgs = {
    ...s.app,
    namespace: s.namespace,
    createNamespace: s.createNamespace,
    slots: perSlot((slot) => ({
      image: images[slot],
      version: s.app.slots[slot].version,
      annotations: releaseAnnotations(s.release.slots[slot]),
    })),
    secretValues: s.appSecrets,
    allowIngressFromNamespaces: s.monitoring.enabled ? [s.monitoring.namespace] : [],
  };
  const app = new BlueGreenApp(s.app.appName, args, opts);
  deployBenchApps(s, app, args, opts);
  return app;
}

/** The logging stack, shipping the app's logs, scraped by the monitoring stack. */
function deployLogging(s: Settings, opts: pulumi.ComponentResourceOptions): Logging | undefined {
  if (!s.logging.enabled) {
    return undefined;
  }
  return new Logging(
    'logging',
    {
      ...s.logging,
      environment: s.environment,
      appNamespaces: [s.namespace],
      dropPaths: [s.app.healthPath, s.app.readyPath, s.app.metricsPath],
      monitoringNamespace: s.monitoring.enabled ? s.monitoring.namespace : undefined,
      // Only the stack's own Grafana takes the logging CA (and grants its certificate Job the namespace).
      grafanaCa: s.monitoring.grafana.enabled,
    },
    opts,
  );
}

/** The monitoring stack, watching the app (and the logging stack, whose datasource Grafana gets). */
function deployMonitoring(
  s: Settings,
  app: BlueGreenApp,
  logging: Logging | undefined,
  opts: pulumi.ComponentResourceOptions,
): Monitoring | undefined {
  // A cluster's own prometheus-operator watches the app with or without the stack's own monitoring.
  const { prometheusOperator, ...monitoring } = s.monitoring;
  if (prometheusOperator.enabled) {
    new PrometheusOperatorObjects(
      'prometheus-operator',
      {
        namespace: s.namespace,
        appName: s.app.appName,
        metricsPath: s.app.metricsPath,
        labels: prometheusOperator.labels,
        interval: prometheusOperator.interval,
        ruleGroups: alertRuleGroups({
          appNamespace: s.namespace,
          appName: s.app.appName,
          thresholds: s.monitoring.thresholds,
          runbookBase: s.monitoring.runbookBaseUrl,
        }).filter((g) => g.name === APP_RULE_GROUP),
      },
      opts,
    );
  }
  if (!monitoring.enabled) {
    // A cluster's own Grafana shows the dashboards, querying its own Prometheus datasource (monitoring.ts does
    // this itself when the stack runs its monitoring, and hands its own Prometheus over as well).
    if (monitoring.dashboards.configMaps.enabled) {
      new GrafanaSidecarObjects(
        'grafana-sidecar',
        {
          ...monitoring.dashboards.configMaps,
          appNamespace: s.namespace,
          dashboards: allDashboards({ appNamespace: s.namespace, appName: s.app.appName }),
        },
        // The ConfigMaps may go to the app's namespace, which the app creates.
        { ...opts, dependsOn: [app] },
      );
    }
    return undefined;
  }
  return new Monitoring(
    'monitoring',
    {
      ...monitoring,
      environment: s.environment,
      app: {
        namespace: s.namespace,
        name: s.app.appName,
        healthPath: s.app.healthPath,
        activeService: app.activeServiceName,
        previewService: app.previewServiceName,
        url: app.url,
      },
      logging: s.logging.enabled
        ? {
            namespace: s.logging.namespace,
            shipperNamespace: s.logging.shipper.enabled !== false ? s.logging.nodeNamespace : undefined,
          }
        : undefined,
      elasticsearch: logging?.grafanaDatasource,
      protect: s.production,
    },
    opts,
  );
}

startTiming();
// The stack's cluster is checked against the kubeconfig with the config, so a wrong context is refused with
// every other problem, before anything is registered; every Kubernetes object then goes through one explicit
// provider bound to that context.
const kubeconfig = readKubeconfig();
let target: ClusterTarget = {};
const settings = loadSettings(pulumi.getStack(), readStackConfig(pulumi.runtime.allConfig()), {
  check: (s, problems) => {
    target = checkClusterTarget(s, kubeconfig, problems);
  },
});
const onCluster: pulumi.ComponentResourceOptions = { providers: [clusterProvider(target)] };
const app = deployApp(settings, onCluster);
const logs = deployLogging(settings, onCluster);
const watch = deployMonitoring(settings, app, logs, onCluster);

export const environment = settings.environment;
export const namespace = app.namespace;
export const activeSlot = app.activeSlot;
export const idleSlot = app.idleSlot;
export const images = app.images;
export const versions = app.versions;
export const activeServiceName = app.activeServiceName;
export const previewServiceName = app.previewServiceName;
export const blueDeploymentName = app.deploymentNames.apply((d) => d.blue);
export const greenDeploymentName = app.deploymentNames.apply((d) => d.green);
export const url = app.url;
export const monitoring = watch && {
  namespace: watch.namespace,
  nodeExporterNamespace: watch.nodeExporterNamespace,
  prometheusUrl: watch.prometheusUrl,
  alertmanagerUrl: watch.alertmanagerUrl,
  grafanaUrl: watch.grafanaUrl,
  grafanaAdminPassword: watch.grafanaAdminPassword,
  alertReceivers: watch.receivers,
};
export const logging = logs && {
  namespace: logs.namespace,
  elasticsearchUrl: logs.elasticsearchUrl,
  kibanaUrl: logs.kibanaUrl,
  grafanaCredentials: logs.grafanaCredentials,
  elasticPassword: logs.elasticPassword,
};
