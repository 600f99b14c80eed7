/**
 * The monitoring stack of one environment, as one component: its namespaces, Prometheus, Alertmanager and
 * Grafana, with kube-state-metrics, node-exporter and the blackbox exporter feeding Prometheus. Every
 * configuration file is built from typed objects (prometheusConfig, rules, alertmanagerConfig, dashboards,
 * blackboxConfig); this component only wires them to the services, one file per service.
 */
import * as pulumi from '@pulumi/pulumi';
import { PlatformNamespace } from '../PlatformNamespace';
import { ArgChecks, throwIfInvalid } from '../shared/args';
import { checkDnsLabel, portOf } from '../shared/checks';
import { MONITORING_IMAGES } from '../versions';
import {
  Alertmanager,
  ALERTMANAGER_DEFAULTS,
  ALERTMANAGER_SECRETS_DIR,
  AlertmanagerOptions,
  RECEIVERS_CA_KEY,
  SLACK_WEBHOOK_KEY,
  SMTP_PASSWORD_KEY,
} from './Alertmanager';
import { alertmanagerConfig, AlertmanagerConfigArgs, EmailOptions, SlackOptions } from './alertmanagerConfig';
import { blackboxConfig } from './blackboxConfig';
import { BLACKBOX_DEFAULTS, BLACKBOX_PORT, BlackboxExporter, BlackboxOptions } from './blackboxExporter';
import { serviceLabels } from './common';
import { allDashboards } from './dashboards';
import { ElasticsearchDatasource, Grafana, GRAFANA_DEFAULTS, GrafanaOptions } from './Grafana';
import { GrafanaSidecarObjects } from './GrafanaSidecarObjects';
import {
  KSM_PORT,
  KUBE_STATE_METRICS_DEFAULTS,
  KubeStateMetrics,
  KubeStateMetricsOptions,
} from './kubeStateMetrics';
import { NODE_EXPORTER_DEFAULTS, NodeExporter, NodeExporterOptions } from './nodeExporter';
import { Prometheus, PROMETHEUS_DEFAULTS, PrometheusOptions } from './Prometheus';
import { ProbeTarget, prometheusConfig } from './prometheusConfig';
import { alertRuleGroups, AlertThresholds } from './rules';
import { checkMonitoringOptions, resolveMonitoringOptions } from './options';
import {
  checkDashboardConfigMaps,
  DashboardConfigMapsOptions,
  GRAFANA_CHART_POD_LABELS,
  resolveDashboardConfigMaps,
  ResolvedDashboardConfigMaps,
} from './sidecar';

export {
  checkMonitoringOptions,
  checkPemCertificates,
  defaultSlackChannels,
  MONITORING_DEFAULTS,
  resolveMonitoringOptions,
} from './options';

/** The container images of the monitoring stack. */
export type MonitoringImages = typeof MONITORING_IMAGES;

/** Where alerts go and how they are batched (`pavemaster:monitoring.alerting`). */
export interface AlertingOptions {
  /** How long to wait to batch the first alerts of a group. @default "30s" */
  readonly groupWait?: string;
  /** How long to wait before notifying about new alerts of a group. @default "5m" */
  readonly groupInterval?: string;
  /** How long to wait before repeating a notification. @default "12h" */
  readonly repeatInterval?: string;
  readonly email?: Partial<EmailOptions>;
  readonly slack?: Partial<SlackOptions>;
  /**
   * PEM text of the CA certificates the receivers' servers must chain to, instead of the image's system CAs:
   * for a Slack-compatible webhook (Mattermost, Rocket.Chat, a proxy in front of Slack) or an SMTP server whose
   * STARTTLS certificate a private CA signed. Used by both receivers; mounted as a file from Alertmanager's
   * Secret. Must hold at least one "BEGIN CERTIFICATE" block. @default none: the image's system CAs
   */
  readonly caPem?: string;
}

/** What a stack decides about its monitoring stack (`pavemaster:monitoring`; stacks/monitoring.ts produces it). */
export interface MonitoringOptions {
  /** The monitoring namespace (at most 58 characters); node-exporter runs in `<namespace>-node`. @default "pavemaster-monitoring" */
  readonly namespace?: string;
  /** How often targets are scraped (a Prometheus duration). @default "30s" */
  readonly scrapeInterval?: string;
  /** How often rules are evaluated (a Prometheus duration). @default scrapeInterval */
  readonly evaluationInterval?: string;
  readonly prometheus?: PrometheusOptions;
  readonly alertmanager?: AlertmanagerOptions;
  readonly grafana?: GrafanaOptions;
  readonly kubeStateMetrics?: KubeStateMetricsOptions;
  readonly nodeExporter?: NodeExporterOptions;
  readonly blackbox?: BlackboxOptions;
  /** The dashboards for a cluster's own Grafana (`grafana.enabled: false`): ConfigMaps for its sidecar. */
  readonly dashboards?: { readonly configMaps?: DashboardConfigMapsOptions };
  /** The images. @default the pinned versions of components/versions.ts */
  readonly images?: Partial<MonitoringImages>;
  /** Alert thresholds. @default see ALERT_THRESHOLD_DEFAULTS (./rules.ts) */
  readonly thresholds?: Partial<AlertThresholds>;
  readonly alerting?: AlertingOptions;
  /** Where alerts' runbook links point. @default "docs/runbooks.md" (relative) */
  readonly runbookBaseUrl?: string;
  /** The Slack incoming-webhook URL (a Pulumi secret). @default none: Slack is left out, with a warning */
  readonly slackWebhookUrl?: pulumi.Input<string>;
  /** The SMTP password (a Pulumi secret), when email authenticates. @default none */
  readonly smtpPassword?: pulumi.Input<string>;
}

/** The application the monitoring stack watches. */
export interface WatchedApp {
  /** Its namespace's name. */
  readonly namespace: string;
  /** Its name: the `app` label of its pods and Deployments. */
  readonly name: string;
  /** The path of its health check, probed on each Service and the public URL. */
  readonly healthPath: string;
  /** Its active and preview Services and public URL. */
  readonly activeService: pulumi.Input<string>;
  readonly previewService: pulumi.Input<string>;
  readonly url: pulumi.Input<string | undefined>;
}

/** The arguments: the stack's options, plus what the program wires in. */
export interface MonitoringArgs extends MonitoringOptions {
  /** The environment: an external label on every alert, used for routing. Required. */
  readonly environment: string;
  /** The application watched. Required. */
  readonly app: WatchedApp;
  /** The logging stack's namespaces, when it runs (its alerts and scraping; the shipper's when it runs). @default none */
  readonly logging?: { readonly namespace: string; readonly shipperNamespace?: string };
  /** The Elasticsearch datasource for Grafana, as the logging stack hands it over. @default none */
  readonly elasticsearch?: ElasticsearchDatasource;
  /** Protect stateful data (Prometheus and Alertmanager sets, their volume claims). @default false */
  readonly protect?: boolean;
}

/** Every option with its default applied (the secrets stay optional). */
export interface ResolvedMonitoringOptions {
  namespace: string;
  scrapeInterval: string;
  evaluationInterval: string;
  prometheus: typeof PROMETHEUS_DEFAULTS;
  alertmanager: typeof ALERTMANAGER_DEFAULTS;
  grafana: typeof GRAFANA_DEFAULTS;
  kubeStateMetrics: typeof KUBE_STATE_METRICS_DEFAULTS;
  nodeExporter: typeof NODE_EXPORTER_DEFAULTS;
  blackbox: typeof BLACKBOX_DEFAULTS;
  dashboards: { configMaps: DashboardConfigMapsOptions };
  images: MonitoringImages;
  thresholds: AlertThresholds;
  alerting: {
    groupWait: string;
    groupInterval: string;
    repeatInterval: string;
    email: EmailOptions;
    slack: SlackOptions;
    caPem?: string;
  };
  runbookBaseUrl: string;
  slackWebhookUrl?: pulumi.Input<string>;
  smtpPassword?: pulumi.Input<string>;
}

/** The receivers alerts can reach, and what to warn about: a configured receiver without its secret is left out. */
export function receivers(o: ResolvedMonitoringOptions): {
  email?: Omit<EmailOptions, 'enabled'> & { password?: pulumi.Input<string> };
  slack?: { webhookUrl: pulumi.Input<string>; channels: SlackOptions['channels'] };
  warnings: string[];
} {
  const warnings: string[] = [];
  const { enabled: emailEnabled, ...email } = o.alerting.email;
  const slack = o.alerting.slack;
  let emailReceiver: (typeof email & { password?: pulumi.Input<string> }) | undefined;
  if (emailEnabled) {
    if (email.username !== undefined && o.smtpPassword === undefined) {
      warnings.push(
        'monitoring: email alerts are configured with an SMTP user but pavemaster:smtpPassword is not set: the email receiver is left out. Set it with `pulumi config set --secret pavemaster:smtpPassword`.',
      );
    } else {
      emailReceiver = { ...email, password: o.smtpPassword };
    }
  }
  if (slack.enabled && o.slackWebhookUrl === undefined) {
    warnings.push(
      'monitoring: pavemaster:slackWebhookUrl is not set: the Slack receiver is left out. Set it with `pulumi config set --secret pavemaster:slackWebhookUrl`.',
    );
  }
  const slackReceiver =
    slack.enabled && o.slackWebhookUrl !== undefined
      ? { webhookUrl: o.slackWebhookUrl, channels: slack.channels }
      : undefined;
  if (emailReceiver === undefined && slackReceiver === undefined) {
    warnings.push('monitoring: no alert receiver is configured: alerts are visible in Alertmanager only.');
  }
  return { email: emailReceiver, slack: slackReceiver, warnings };
}

/** What the blackbox exporter probes: the public URL (when there is one), the active and preview health endpoints. */
export function probeTargets(app: WatchedApp): pulumi.Output<ProbeTarget[]> {
  return pulumi.all([app.activeService, app.previewService, app.url]).apply(([active, preview, url]) => [
    ...(url !== undefined ? [{ name: 'public', url: `${url.replace(/\/$/, '')}${app.healthPath}` }] : []),
    {
      name: 'active',
      url: `http://${active}.${app.namespace}.svc${app.healthPath}`,
      namespace: app.namespace,
    },
    {
      name: 'preview',
      url: `http://${preview}.${app.namespace}.svc${app.healthPath}`,
      namespace: app.namespace,
    },
  ]);
}

/** The Alertmanager configuration of the receivers, and the Secret files they read. */
function alerting(
  environment: string,
  o: ResolvedMonitoringOptions,
  r: ReturnType<typeof receivers>,
): { config: AlertmanagerConfigArgs; secrets: Record<string, pulumi.Input<string>> } {
  const secrets: Record<string, pulumi.Input<string>> = {};
  const config: AlertmanagerConfigArgs = {
    environment,
    groupWait: o.alerting.groupWait,
    groupInterval: o.alerting.groupInterval,
    repeatInterval: o.alerting.repeatInterval,
  };
  if (o.alerting.caPem !== undefined && (r.email !== undefined || r.slack !== undefined)) {
    config.caFile = `${ALERTMANAGER_SECRETS_DIR}/${RECEIVERS_CA_KEY}`;
    secrets[RECEIVERS_CA_KEY] = o.alerting.caPem;
  }
  if (r.email !== undefined) {
    const { password, ...email } = r.email;
    config.email = email;
    if (email.username !== undefined && password !== undefined) {
      config.email = { ...email, passwordFile: `${ALERTMANAGER_SECRETS_DIR}/${SMTP_PASSWORD_KEY}` };
      secrets[SMTP_PASSWORD_KEY] = password;
    }
  }
  if (r.slack !== undefined) {
    config.slack = {
      apiUrlFile: `${ALERTMANAGER_SECRETS_DIR}/${SLACK_WEBHOOK_KEY}`,
      channels: r.slack.channels,
    };
    secrets[SLACK_WEBHOOK_KEY] = r.slack.webhookUrl;
  }
  return { config, secrets };
}

/** The sidecar ConfigMaps' settings of a stack that runs its own monitoring, every default applied. */
export function monitoringSidecar(
  o: ResolvedMonitoringOptions,
  appNamespace: string,
): ResolvedDashboardConfigMaps {
  return resolveDashboardConfigMaps(o.dashboards.configMaps, {
    grafanaEnabled: o.grafana.enabled,
    ownPrometheus: true,
    monitoringNamespace: o.namespace,
    appNamespace,
  });
}

/**
 * Who may query Prometheus besides the stack's own Grafana: `prometheus.ingressFrom`, else, when the datasource
 * is handed to another Grafana, that Grafana's pods (the grafana chart's labels in the ConfigMaps' namespace).
 */
export function prometheusQueriers(
  o: ResolvedMonitoringOptions,
  sidecar: ResolvedDashboardConfigMaps,
): ResolvedMonitoringOptions['prometheus']['ingressFrom'] {
  if (o.prometheus.ingressFrom.length > 0 || !(sidecar.enabled && sidecar.datasources)) {
    return o.prometheus.ingressFrom;
  }
  return [{ namespace: sidecar.namespace, podLabels: GRAFANA_CHART_POD_LABELS }];
}

/** The options with every default applied, checked with the wiring; throws one error listing every bad argument. */
export function validateMonitoringArgs(name: string, args: MonitoringArgs): ResolvedMonitoringOptions {
  const o = resolveMonitoringOptions(args.environment, args);
  const c = new ArgChecks();
  for (const [what, ns] of [
    ['app.namespace', args.app.namespace],
    ['logging.namespace', args.logging?.namespace],
    ['logging.shipperNamespace', args.logging?.shipperNamespace],
  ] as const) {
    c.check(what, ns, (v) => checkDnsLabel(v));
  }
  const sidecar = monitoringSidecar(o, args.app.namespace);
  throwIfInvalid(`Monitoring ${name}`, [
    ...checkMonitoringOptions(o),
    ...checkDashboardConfigMaps(sidecar, { ownPrometheus: true }),
    ...c.problems,
  ]);
  return o;
}

export class Monitoring extends pulumi.ComponentResource {
  /** The monitoring namespace. */
  readonly namespace: pulumi.Output<string>;
  /** The namespace node-exporter runs in (Pod Security `privileged`), when it runs. */
  readonly nodeExporterNamespace?: pulumi.Output<string>;
  /** In-cluster URLs. */
  readonly prometheusUrl: pulumi.Output<string>;
  readonly alertmanagerUrl: pulumi.Output<string>;
  /** The stack's own Grafana's URL, when it runs one (`grafana.enabled`). */
  readonly grafanaUrl?: pulumi.Output<string>;
  /** Grafana's generated admin password (a secret), when it runs one. */
  readonly grafanaAdminPassword?: pulumi.Output<string>;
  /** The sidecar ConfigMaps for a cluster's own Grafana, when emitted (`dashboards.configMaps`). */
  readonly sidecar?: GrafanaSidecarObjects;
  /** The receivers that alerts can reach ("email", "slack"). */
  readonly receivers: string[];

  constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:Monitoring', name, {}, opts);
    const o = validateMonitoringArgs(name, args);
    const sidecar = monitoringSidecar(o, args.app.namespace);
    const child = { parent: this };
    const protect = args.protect ?? false;
    const nsName = o.namespace;
    const nodeNsName = `${nsName}-node`;

    // Before this component created its namespaces, the program did, at the top of the stack.
    const atTop = [{ parent: pulumi.rootStackResource }];
    const ns = new PlatformNamespace(`${name}-namespace`, { name: nsName }, { parent: this, aliases: atTop });
    // node-exporter reads the host (host PID and network namespaces, the root filesystem through hostPath): the
    // restricted and baseline Pod Security levels forbid all three, so it gets a namespace of its own at
    // `privileged` (still warning and auditing at restricted), and nothing else runs there.
    const nodeNs = o.nodeExporter.enabled
      ? new PlatformNamespace(
          `${name}-node-namespace`,
          { name: nodeNsName, podSecurity: 'privileged' },
          { parent: this, aliases: atTop },
        )
      : undefined;
    const namespace = ns.name;

    const r = receivers(o);
    for (const warning of r.warnings) {
      void pulumi.log.warn(warning);
    }
    this.receivers = [
      ...(r.email !== undefined ? ['email'] : []),
      ...(r.slack !== undefined ? ['slack'] : []),
    ];
    const am = alerting(args.environment, o, r);

    // Selector labels follow from a service's resource name: the NetworkPolicies of components created before
    // Prometheus (or Grafana) exist can name its pods already.
    const promLabels = serviceLabels('prometheus', `${name}-prometheus`).selector;
    const alertmanager = new Alertmanager(
      `${name}-alertmanager`,
      {
        namespace,
        namespaceName: nsName,
        image: o.images.alertmanager,
        config: alertmanagerConfig(am.config),
        secrets: am.secrets,
        ...o.alertmanager,
        smtpPort: r.email !== undefined ? portOf(r.email.smarthost) : undefined,
        clients: [promLabels],
        protect,
      },
      child,
    );
    new KubeStateMetrics(
      `${name}-kube-state-metrics`,
      { namespace, image: o.images.kubeStateMetrics, ...o.kubeStateMetrics, scraperLabels: promLabels },
      child,
    );
    if (nodeNs !== undefined) {
      new NodeExporter(
        `${name}-node-exporter`,
        {
          namespace: nodeNs.name,
          image: o.images.nodeExporter,
          resources: o.nodeExporter.resources,
          port: o.nodeExporter.port,
          scraperNamespace: namespace,
          scraperLabels: promLabels,
        },
        child,
      );
    }
    if (o.blackbox.enabled) {
      new BlackboxExporter(
        `${name}-blackbox`,
        {
          namespace,
          image: o.images.blackboxExporter,
          resources: o.blackbox.resources,
          scraperLabels: promLabels,
          config: blackboxConfig(Math.max(5, Math.ceil(o.thresholds.probeSlowSeconds * 2))),
          probedNamespaces: [args.app.namespace],
        },
        child,
      );
    }

    const config = probeTargets(args.app).apply((probes) =>
      prometheusConfig({
        environment: args.environment,
        scrapeInterval: o.scrapeInterval,
        evaluationInterval: o.evaluationInterval,
        namespace: nsName,
        nodeExporterNamespace: nodeNs !== undefined ? nodeNsName : undefined,
        alertmanagers: alertmanager.endpoints,
        kubeStateMetrics: `kube-state-metrics.${nsName}.svc:${KSM_PORT}`,
        blackbox: o.blackbox.enabled
          ? {
              address: `blackbox-exporter.${nsName}.svc:${BLACKBOX_PORT}`,
              interval: o.blackbox.interval,
              targets: probes,
            }
          : undefined,
        rulesDir: '/etc/prometheus/rules',
      }),
    );
    const prometheus = new Prometheus(
      `${name}-prometheus`,
      {
        namespace,
        image: o.images.prometheus,
        config,
        ruleGroups: alertRuleGroups({
          appNamespace: args.app.namespace,
          appName: args.app.name,
          logging: args.logging,
          thresholds: o.thresholds,
          runbookBase: o.runbookBaseUrl,
        }),
        ...o.prometheus,
        ingressFrom: prometheusQueriers(o, sidecar),
        scrapeNamespaces: [
          args.app.namespace,
          ...(args.logging !== undefined ? [args.logging.namespace] : []),
          ...(nodeNs !== undefined ? [nodeNs.name] : []),
        ],
        hostExporterPorts: [o.nodeExporter.port],
        queriers: o.grafana.enabled ? [serviceLabels('grafana', `${name}-grafana`).selector] : [],
        protect,
      },
      child,
    );
    const dashboards = allDashboards({ appNamespace: args.app.namespace, appName: args.app.name });
    const { enabled: grafanaEnabled, ...grafanaOptions } = o.grafana;
    const grafana = grafanaEnabled
      ? new Grafana(
          `${name}-grafana`,
          {
            namespace,
            image: o.images.grafana,
            prometheusUrl: prometheus.url,
            prometheusPodLabels: prometheus.podLabels,
            dashboards,
            elasticsearch: args.elasticsearch,
            ...grafanaOptions,
          },
          child,
        )
      : undefined;
    if (sidecar.enabled) {
      this.sidecar = new GrafanaSidecarObjects(
        `${name}-grafana-sidecar`,
        {
          ...sidecar,
          appNamespace: args.app.namespace,
          dashboards,
          prometheusUrl: prometheus.url,
          scrapeInterval: o.scrapeInterval,
        },
        // The ConfigMaps may go to the monitoring namespace, which must exist first.
        { parent: this, dependsOn: [ns] },
      );
    }

    this.namespace = namespace;
    this.nodeExporterNamespace = nodeNs?.name;
    this.prometheusUrl = prometheus.url;
    this.alertmanagerUrl = alertmanager.url;
    this.grafanaUrl = grafana?.url;
    this.grafanaAdminPassword = grafana?.adminPassword;
    this.registerOutputs({
      prometheusUrl: this.prometheusUrl,
      alertmanagerUrl: this.alertmanagerUrl,
      grafanaUrl: this.grafanaUrl,
      grafanaAdminPassword: this.grafanaAdminPassword,
    });
  }
}
