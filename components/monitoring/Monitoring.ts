/**
 * The monitoring stack of one environment, as one component: Prometheus, Alertmanager and Grafana, with
 * kube-state-metrics, node-exporter and the blackbox exporter feeding Prometheus. Every configuration file is
 * built from typed objects (prometheusConfig, rules, alertmanagerConfig, dashboards, blackboxConfig); this
 * component only wires them to the services.
 */
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources } from '../shared/resources';
import { Alertmanager, ALERTMANAGER_SECRETS_DIR, SLACK_WEBHOOK_KEY, SMTP_PASSWORD_KEY } from './Alertmanager';
import { alertmanagerConfig, AlertmanagerConfigArgs, Severity } from './alertmanagerConfig';
import { blackboxConfig } from './blackboxConfig';
import { serviceLabels } from './common';
import { allDashboards } from './dashboards';
import { BLACKBOX_PORT, BlackboxExporter, KSM_PORT, KubeStateMetrics, NodeExporter } from './exporters';
import { ElasticsearchDatasource, Grafana } from './Grafana';
import { Prometheus } from './Prometheus';
import { ProbeTarget, prometheusConfig } from './prometheusConfig';
import { alertRuleGroups, DEFAULT_RUNBOOK_BASE, RuleThresholds } from './rules';

/** Image, size and resources of a service. */
interface ServiceArgs {
  /** The image. Required. */
  image: string;
  /** Requests and limits. Required. */
  resources: ContainerResources;
}

export interface MonitoringArgs {
  /** The monitoring namespace (the Namespace's output, so that everything waits for it). Required. */
  namespace: pulumi.Input<string>;
  /** The same namespace's name as text (config files and DNS names are text). Required. */
  namespaceName: string;
  /** The environment: an external label on every alert, used for routing. Required. */
  environment: string;
  /** The application watched. Required. */
  app: {
    /** Its namespace's name. */
    namespace: string;
    /** Its name: the `app` label of its pods and Deployments. */
    name: string;
    /** What the blackbox exporter probes: public URL, active and preview health endpoints. */
    probes: pulumi.Input<ProbeTarget[]>;
  };
  /** The logging stack's namespaces, when it runs (its alerts and scraping). Default none. */
  logging?: { namespace: string; shipperNamespace: string };
  /** The Elasticsearch datasource for Grafana, when the logging stack provides one. Default none. */
  elasticsearch?: ElasticsearchDatasource;
  /** Scrape and rule evaluation intervals (Prometheus durations). Default "30s" both. */
  scrapeInterval?: string;
  evaluationInterval?: string;
  /** Prometheus. Required. */
  prometheus: ServiceArgs & { replicas: number; retention: string; storage: string; storageClass?: string };
  /** Alertmanager. Required. */
  alertmanager: ServiceArgs & { replicas: number; storage: string; storageClass?: string };
  /** Grafana. Required. */
  grafana: ServiceArgs & { replicas: number };
  /** kube-state-metrics. Required. */
  kubeStateMetrics: ServiceArgs;
  /** node-exporter and the privileged namespace it runs in; default none. */
  nodeExporter?: ServiceArgs & { namespace: pulumi.Input<string>; namespaceName: string };
  /** The blackbox exporter; default none. */
  blackbox?: ServiceArgs & { interval: string };
  /** Alert thresholds. Required. */
  thresholds: RuleThresholds;
  /** Where alerts go. Required. */
  alerting: {
    groupWait: string;
    groupInterval: string;
    repeatInterval: string;
    /** Email; its password (with `username`) is a Pulumi secret. Default none. */
    email?: {
      to: string[];
      from: string;
      smarthost: string;
      username?: string;
      password?: pulumi.Input<string>;
      requireTls: boolean;
      severities: Severity[];
    };
    /** Slack; the webhook URL is a Pulumi secret. Default none. */
    slack?: { webhookUrl: pulumi.Input<string>; channels: Partial<Record<Severity, string>> };
  };
  /** Where runbook links point. Default "docs/runbooks.md". */
  runbookBase?: string;
  /** Protect stateful data (Prometheus and Alertmanager sets, their volume claims). Default false. */
  protect?: boolean;
}

export class Monitoring extends pulumi.ComponentResource {
  /** In-cluster URLs. */
  readonly prometheusUrl: pulumi.Output<string>;
  readonly alertmanagerUrl: pulumi.Output<string>;
  readonly grafanaUrl: pulumi.Output<string>;
  /** Grafana's generated admin password (a secret). */
  readonly grafanaAdminPassword: pulumi.Output<string>;
  /** The receivers that alerts can reach ("email", "slack"). */
  readonly receivers: string[];

  constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:Monitoring', name, {}, opts);
    validateMonitoringArgs(name, args);
    const child = { parent: this };
    const ns = args.namespaceName;
    const protect = args.protect ?? false;

    // Alertmanager first: Prometheus needs its peers' addresses.
    const email = args.alerting.email;
    const slack = args.alerting.slack;
    const secrets: Record<string, pulumi.Input<string>> = {};
    const amArgs: AlertmanagerConfigArgs = {
      environment: args.environment,
      groupWait: args.alerting.groupWait,
      groupInterval: args.alerting.groupInterval,
      repeatInterval: args.alerting.repeatInterval,
    };
    if (email !== undefined) {
      amArgs.email = {
        to: email.to,
        from: email.from,
        smarthost: email.smarthost,
        username: email.username,
        requireTls: email.requireTls,
        severities: email.severities,
      };
      if (email.username !== undefined && email.password !== undefined) {
        amArgs.email.passwordFile = `${ALERTMANAGER_SECRETS_DIR}/${SMTP_PASSWORD_KEY}`;
        secrets[SMTP_PASSWORD_KEY] = email.password;
      }
    }
    if (slack !== undefined) {
      amArgs.slack = {
        apiUrlFile: `${ALERTMANAGER_SECRETS_DIR}/${SLACK_WEBHOOK_KEY}`,
        channels: slack.channels,
      };
      secrets[SLACK_WEBHOOK_KEY] = slack.webhookUrl;
    }
    this.receivers = [...(email !== undefined ? ['email'] : []), ...(slack !== undefined ? ['slack'] : [])];

    // Selector labels follow from a service's resource name: the NetworkPolicies of components created before
    // Prometheus (or Grafana) exist can name its pods already.
    const promLabels = serviceLabels('prometheus', `${name}-prometheus`).selector;
    const alertmanager = new Alertmanager(
      `${name}-alertmanager`,
      {
        namespace: args.namespace,
        namespaceName: ns,
        image: args.alertmanager.image,
        config: alertmanagerConfig(amArgs),
        secrets,
        replicas: args.alertmanager.replicas,
        storage: args.alertmanager.storage,
        storageClass: args.alertmanager.storageClass,
        resources: args.alertmanager.resources,
        smtpPort: email !== undefined ? Number(email.smarthost.split(':').pop()) : undefined,
        clients: [promLabels],
        protect,
      },
      child,
    );

    new KubeStateMetrics(
      `${name}-kube-state-metrics`,
      {
        namespace: args.namespace,
        image: args.kubeStateMetrics.image,
        resources: args.kubeStateMetrics.resources,
        scraperLabels: promLabels,
      },
      child,
    );
    if (args.nodeExporter !== undefined) {
      new NodeExporter(
        `${name}-node-exporter`,
        {
          namespace: args.nodeExporter.namespace,
          image: args.nodeExporter.image,
          resources: args.nodeExporter.resources,
          scraperNamespace: args.namespace,
          scraperLabels: promLabels,
        },
        child,
      );
    }
    if (args.blackbox !== undefined) {
      new BlackboxExporter(
        `${name}-blackbox`,
        {
          namespace: args.namespace,
          image: args.blackbox.image,
          resources: args.blackbox.resources,
          scraperLabels: promLabels,
          config: blackboxConfig(Math.max(5, Math.ceil(args.thresholds.probeSlowSeconds * 2))),
          probedNamespaces: [args.app.namespace],
        },
        child,
      );
    }

    const blackbox = args.blackbox;
    const config = pulumi.output(args.app.probes).apply((probes) =>
      prometheusConfig({
        environment: args.environment,
        scrapeInterval: args.scrapeInterval ?? '30s',
        evaluationInterval: args.evaluationInterval ?? '30s',
        namespace: ns,
        nodeExporterNamespace: args.nodeExporter?.namespaceName,
        alertmanagers: alertmanager.endpoints,
        kubeStateMetrics: `kube-state-metrics.${ns}.svc:${KSM_PORT}`,
        blackbox:
          blackbox !== undefined
            ? {
                address: `blackbox-exporter.${ns}.svc:${BLACKBOX_PORT}`,
                interval: blackbox.interval,
                targets: probes,
              }
            : undefined,
        rulesDir: '/etc/prometheus/rules',
      }),
    );
    const prometheus = new Prometheus(
      `${name}-prometheus`,
      {
        namespace: args.namespace,
        image: args.prometheus.image,
        config,
        ruleGroups: alertRuleGroups({
          appNamespace: args.app.namespace,
          appName: args.app.name,
          logging: args.logging,
          thresholds: args.thresholds,
          runbookBase: args.runbookBase ?? DEFAULT_RUNBOOK_BASE,
        }),
        replicas: args.prometheus.replicas,
        retention: args.prometheus.retention,
        storage: args.prometheus.storage,
        storageClass: args.prometheus.storageClass,
        resources: args.prometheus.resources,
        scrapeNamespaces: [
          args.app.namespace,
          ...(args.logging !== undefined ? [args.logging.namespace] : []),
          ...(args.nodeExporter !== undefined ? [args.nodeExporter.namespace] : []),
        ],
        queriers: [serviceLabels('grafana', `${name}-grafana`).selector],
        protect,
      },
      child,
    );

    const grafana = new Grafana(
      `${name}-grafana`,
      {
        namespace: args.namespace,
        image: args.grafana.image,
        prometheusUrl: prometheus.url,
        prometheusPodLabels: prometheus.podLabels,
        dashboards: allDashboards({ appNamespace: args.app.namespace, appName: args.app.name }),
        elasticsearch: args.elasticsearch,
        replicas: args.grafana.replicas,
        resources: args.grafana.resources,
      },
      child,
    );

    this.prometheusUrl = prometheus.url;
    this.alertmanagerUrl = alertmanager.url;
    this.grafanaUrl = grafana.url;
    this.grafanaAdminPassword = grafana.adminPassword;
    this.registerOutputs({
      prometheusUrl: this.prometheusUrl,
      alertmanagerUrl: this.alertmanagerUrl,
      grafanaUrl: this.grafanaUrl,
      grafanaAdminPassword: this.grafanaAdminPassword,
    });
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks the arguments a component cannot default; throws one error listing every bad one. */
export function validateMonitoringArgs(name: string, args: MonitoringArgs): void {
  const errors: string[] = [];
  for (const [what, ns] of [
    ['namespaceName', args.namespaceName],
    ['app.namespace', args.app.namespace],
    ['nodeExporter.namespaceName', args.nodeExporter?.namespaceName],
    ['logging.namespace', args.logging?.namespace],
    ['logging.shipperNamespace', args.logging?.shipperNamespace],
  ] as const) {
    if (ns !== undefined && (ns.length > 63 || !DNS_LABEL.test(ns))) {
      errors.push(`${what} "${ns}" is not an RFC 1123 label`);
    }
  }
  const t = args.thresholds;
  for (const key of ['errorRatio', 'nodeCpuRatio', 'nodeMemoryRatio', 'nodeDiskRatio', 'pvcRatio'] as const) {
    if (!(t[key] > 0 && t[key] <= 1)) {
      errors.push(`thresholds.${key} ${t[key]} is not a ratio in (0, 1]`);
    }
  }
  for (const key of [
    'latencyP95Seconds',
    'noTrafficMinutes',
    'restartsPerHour',
    'replicaMismatchMinutes',
    'probeSlowSeconds',
  ] as const) {
    if (!(t[key] > 0)) {
      errors.push(`thresholds.${key} ${t[key]} is not positive`);
    }
  }
  const email = args.alerting.email;
  if (email !== undefined) {
    if (email.to.length === 0) {
      errors.push('alerting.email.to names no recipient');
    }
    if (!/^[^:\s]+:\d+$/.test(email.smarthost) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(email.smarthost)) {
      errors.push(`alerting.email.smarthost "${email.smarthost}" is not "host:port"`);
    }
  }
  if (errors.length > 0) {
    throw new Error(`Monitoring ${name}: invalid arguments:\n  - ${errors.join('\n  - ')}`);
  }
}
