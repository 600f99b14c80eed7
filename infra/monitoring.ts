/** Wires the monitoring stack (Prometheus, Alertmanager, Grafana, exporters) into a stack. */
import * as pulumi from '@pulumi/pulumi';
import { ElasticsearchDatasource } from '../components/monitoring/Grafana';
import { Monitoring } from '../components/monitoring/Monitoring';
import { PlatformNamespace } from '../components/PlatformNamespace';
import { Settings } from '../stacks/settings';
import { LoggingOutputs } from './logging';

/** The port of Elasticsearch's in-cluster URL (the logging stack's `elasticsearchUrl`). */
const ELASTICSEARCH_PORT = 9200;

/** What the monitoring stack is told about the rest of the stack. */
export interface MonitoringInputs {
  /** The application namespace. */
  appNamespace: pulumi.Output<string>;
  /** The app's Services and public URL, for blackbox probes. */
  app: {
    activeServiceName: pulumi.Output<string>;
    previewServiceName: pulumi.Output<string>;
    url: pulumi.Output<string | undefined>;
  };
  /** The logging stack, when enabled (Elasticsearch datasource, logging alerts). */
  logging?: LoggingOutputs;
}

/** What the rest of the stack needs from the monitoring stack. */
export interface MonitoringOutputs {
  /** The monitoring namespace. */
  namespace: pulumi.Output<string>;
  /** The namespace node-exporter runs in (Pod Security `privileged`), when it runs. */
  nodeExporterNamespace?: pulumi.Output<string>;
  /** In-cluster URLs. */
  prometheusUrl: pulumi.Output<string>;
  alertmanagerUrl: pulumi.Output<string>;
  grafanaUrl: pulumi.Output<string>;
  /** Grafana's generated admin password (a secret). */
  grafanaAdminPassword: pulumi.Output<string>;
  /** The receivers alerts reach ("email", "slack"); a configured receiver without its secret is left out. */
  alertReceivers: string[];
}

/** Creates the monitoring stack when the stack enables it. */
export function deployMonitoring(
  settings: Settings,
  inputs: MonitoringInputs,
): MonitoringOutputs | undefined {
  const m = settings.monitoring;
  if (!m.enabled) {
    return undefined;
  }
  const ns = new PlatformNamespace('monitoring-namespace', { name: m.namespace });
  // node-exporter reads the host (host PID and network namespaces, the root filesystem through hostPath): the
  // restricted and baseline Pod Security levels forbid all three, so it gets a namespace of its own at
  // `privileged` (still warning and auditing at restricted), and nothing else runs there.
  const nodeNs = m.nodeExporter.enabled
    ? new PlatformNamespace('monitoring-node-namespace', {
        name: `${m.namespace}-node`,
        podSecurity: 'privileged',
      })
    : undefined;

  const app = settings.app;
  const appNs = settings.namespace;
  const probes = pulumi
    .all([inputs.app.activeServiceName, inputs.app.previewServiceName, inputs.app.url])
    .apply(([active, preview, url]) => [
      ...(url !== undefined ? [{ name: 'public', url: `${url.replace(/\/$/, '')}${app.healthPath}` }] : []),
      { name: 'active', url: `http://${active}.${appNs}.svc${app.healthPath}`, namespace: appNs },
      { name: 'preview', url: `http://${preview}.${appNs}.svc${app.healthPath}`, namespace: appNs },
    ]);

  const email = m.alerting.email;
  const slack = m.alerting.slack;
  let emailArgs: ConstructorParameters<typeof Monitoring>[1]['alerting']['email'];
  if (email.enabled) {
    if (email.username !== undefined && m.smtpPassword === undefined) {
      void pulumi.log.warn(
        'monitoring: email alerts are configured with an SMTP user but pavemaster:smtpPassword is not set: the email receiver is left out. Set it with `pulumi config set --secret pavemaster:smtpPassword`.',
      );
    } else {
      emailArgs = { ...email, password: m.smtpPassword };
    }
  }
  if (slack.enabled && m.slackWebhookUrl === undefined) {
    void pulumi.log.warn(
      'monitoring: pavemaster:slackWebhookUrl is not set: the Slack receiver is left out. Set it with `pulumi config set --secret pavemaster:slackWebhookUrl`.',
    );
  }
  const slackArgs =
    slack.enabled && m.slackWebhookUrl !== undefined
      ? { webhookUrl: m.slackWebhookUrl, channels: slack.channels }
      : undefined;
  if (emailArgs === undefined && slackArgs === undefined) {
    void pulumi.log.warn(
      'monitoring: no alert receiver is configured: alerts are visible in Alertmanager only.',
    );
  }

  // Grafana's Elasticsearch datasource: the read-only user the logging stack creates for it. Grafana's pods carry
  // `app.kubernetes.io/name: grafana`, the logging stack's default `grafanaPodLabels`, so its NetworkPolicy lets
  // them in.
  const logging = inputs.logging;
  const elasticsearch: ElasticsearchDatasource | undefined =
    logging !== undefined
      ? {
          url: logging.elasticsearchUrl,
          namespace: logging.namespace,
          port: ELASTICSEARCH_PORT,
          username: logging.grafanaCredentials.username,
          password: logging.grafanaCredentials.password,
          index: 'logs-pavemaster-*',
          timeField: '@timestamp',
        }
      : undefined;

  const monitoring = new Monitoring(
    'monitoring',
    {
      namespace: ns.name,
      namespaceName: m.namespace,
      environment: settings.environment,
      app: { namespace: appNs, name: app.name, probes },
      logging: settings.logging.enabled
        ? { namespace: settings.logging.namespace, shipperNamespace: settings.logging.nodeNamespace }
        : undefined,
      elasticsearch,
      scrapeInterval: m.scrapeInterval,
      evaluationInterval: m.evaluationInterval,
      prometheus: { ...m.prometheus, image: m.images.prometheus },
      alertmanager: { ...m.alertmanager, image: m.images.alertmanager },
      grafana: { ...m.grafana, image: m.images.grafana },
      kubeStateMetrics: { ...m.kubeStateMetrics, image: m.images.kubeStateMetrics },
      nodeExporter:
        nodeNs !== undefined
          ? {
              namespace: nodeNs.name,
              namespaceName: `${m.namespace}-node`,
              image: m.images.nodeExporter,
              resources: m.nodeExporter.resources,
            }
          : undefined,
      blackbox: m.blackbox.enabled
        ? { image: m.images.blackboxExporter, resources: m.blackbox.resources, interval: m.blackbox.interval }
        : undefined,
      thresholds: m.thresholds,
      alerting: {
        groupWait: m.alerting.groupWait,
        groupInterval: m.alerting.groupInterval,
        repeatInterval: m.alerting.repeatInterval,
        email: emailArgs,
        slack: slackArgs,
      },
      runbookBase: m.runbookBaseUrl,
      protect: settings.production,
    },
    { dependsOn: nodeNs !== undefined ? [ns, nodeNs] : [ns] },
  );
  return {
    namespace: ns.name,
    nodeExporterNamespace: nodeNs?.name,
    prometheusUrl: monitoring.prometheusUrl,
    alertmanagerUrl: monitoring.alertmanagerUrl,
    grafanaUrl: monitoring.grafanaUrl,
    grafanaAdminPassword: monitoring.grafanaAdminPassword,
    alertReceivers: monitoring.receivers,
  };
}
