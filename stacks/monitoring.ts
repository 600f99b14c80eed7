/**
 * The monitoring section of the stack config (`pavemaster:monitoring`): Prometheus, Alertmanager, Grafana,
 * kube-state-metrics, node-exporter and the blackbox exporter; their sizes, the alert thresholds and where alerts
 * go. It produces the `Monitoring` component's own options (components/monitoring/Monitoring.ts), with the
 * environment's profile over the component's defaults. Two top-level SECRET keys hold the receivers' credentials:
 * `pavemaster:slackWebhookUrl` and `pavemaster:smtpPassword` (set them with `pulumi config set --secret`).
 * docs/monitoring.md lists every key.
 */
import type * as pulumi from '@pulumi/pulumi';
import type { MonitoringImages, ResolvedMonitoringOptions } from '../components/monitoring/Monitoring';
import {
  checkMonitoringOptions,
  checkNodeExporterPort,
  checkPemCertificates,
  PROMETHEUS_OPERATOR_DEFAULTS,
  resolveMonitoringOptions,
} from '../components/monitoring/options';
import type { PrometheusOperatorOptions } from '../components/monitoring/PrometheusOperatorObjects';
import {
  checkDashboardConfigMaps,
  checkGrafanaUid,
  DashboardConfigMapsOptions,
  resolveDashboardConfigMaps,
  ResolvedDashboardConfigMaps,
} from '../components/monitoring/sidecar';
import { AlertThresholds, Severity, SEVERITIES } from '../components/monitoring/rules';
import { ContainerResources } from '../components/shared/resources';
import {
  checkDnsLabel,
  checkDnsSubdomain,
  checkHostPort,
  checkLabelKey,
  checkLabelValue,
  checkStorage,
} from '../components/shared/checks';
import { readResources, reportArgProblems } from './common';
import { ParseContext } from './context';
import { Check, Fields } from './fields';
import { readIngressFrom } from './network';
import { PROFILES } from './profiles';
import { secretOutput } from './secret';
import { checkImage } from './validators';

/** The monitoring settings: the Monitoring component's options, resolved, and whether the stack deploys it. */
export interface MonitoringSettings extends ResolvedMonitoringOptions {
  /** Deploy the monitoring stack. */
  enabled: boolean;
  /** The PodMonitor and PrometheusRule for the cluster's own prometheus-operator (independent of `enabled`). */
  prometheusOperator: Required<PrometheusOperatorOptions>;
  /** The sidecar ConfigMaps for a cluster's own Grafana, every default applied (independent of `enabled`). */
  dashboards: { configMaps: ResolvedDashboardConfigMaps };
  /** The Slack incoming-webhook URL (a Pulumi secret), from `pavemaster:slackWebhookUrl`. */
  slackWebhookUrl?: pulumi.Output<string>;
  /** The SMTP password (a Pulumi secret), from `pavemaster:smtpPassword`. */
  smtpPassword?: pulumi.Output<string>;
}

/** Top-level keys this section reads. */
export const MONITORING_KEYS = ['monitoring', 'slackWebhookUrl', 'smtpPassword'] as const;
/** Top-level keys whose values are secrets. */
export const MONITORING_SECRET_KEYS: readonly string[] = ['slackWebhookUrl', 'smtpPassword'];

// A Prometheus/Alertmanager duration: units from years down to milliseconds, largest first, at least one.
const DURATION = /^(?!$)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;

/** A Prometheus duration such as "30s", "15d" or "1h30m". */
export const checkDuration: Check<string> = (text) =>
  DURATION.test(text) && !/^0+[a-z]+$/.test(text)
    ? undefined
    : 'a Prometheus duration greater than zero, e.g. "30s", "5m", "15d" or "1h30m"';

const EMAIL = /^[^\s@<>"]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/;
const checkEmail: Check<string> = (text) =>
  EMAIL.test(text) ? undefined : 'an email address such as "alerts@example.com"';

const checkSlackChannel: Check<string> = (text) =>
  /^[#@][a-z0-9._-]{1,80}$/.test(text) ? undefined : 'a Slack channel such as "#alerts" (lowercase)';

const checkWebhookUrl: Check<string> = (text) =>
  /^https:\/\/[^\s/]+\/\S*$/.test(text) ? undefined : 'an https:// Slack incoming-webhook URL';

/** The defaults of a stateful service's options. */
interface StatefulDefaults {
  replicas: number;
  storage: string;
  resources: ContainerResources;
}

const checkStorageClass: Check<string> = (text) =>
  checkDnsSubdomain(text) === undefined ? undefined : 'a StorageClass name (RFC 1123 subdomain)';

function readImages(parent: Fields, ctx: ParseContext, def: MonitoringImages): MonitoringImages {
  const f = parent.object('images');
  const check = (text: string) =>
    checkImage(text, { production: ctx.production, requireDigest: ctx.production });
  const out = {} as Record<keyof MonitoringImages, string>;
  for (const key of Object.keys(def) as (keyof MonitoringImages)[]) {
    out[key] = f.string(key, def[key], { check });
  }
  f.finish();
  return out;
}

function readThresholds(parent: Fields, def: AlertThresholds): AlertThresholds {
  const f = parent.object('thresholds');
  const ratio = (name: keyof AlertThresholds) => f.number(name, def[name], { min: 0.0001, max: 1 });
  const out: AlertThresholds = {
    errorRatio: ratio('errorRatio'),
    latencyP95Seconds: f.number('latencyP95Seconds', def.latencyP95Seconds, { min: 0.001, max: 600 }),
    noTrafficMinutes: f.int('noTrafficMinutes', def.noTrafficMinutes, { min: 1, max: 1440 }),
    restartsPerHour: f.int('restartsPerHour', def.restartsPerHour, { min: 1, max: 1000 }),
    replicaMismatchMinutes: f.int('replicaMismatchMinutes', def.replicaMismatchMinutes, {
      min: 1,
      max: 1440,
    }),
    nodeCpuRatio: ratio('nodeCpuRatio'),
    nodeMemoryRatio: ratio('nodeMemoryRatio'),
    nodeDiskRatio: ratio('nodeDiskRatio'),
    pvcRatio: ratio('pvcRatio'),
    probeSlowSeconds: f.number('probeSlowSeconds', def.probeSlowSeconds, { min: 0.001, max: 120 }),
  };
  f.finish();
  return out;
}

function readAlerting(
  parent: Fields,
  def: ResolvedMonitoringOptions['alerting'],
): ResolvedMonitoringOptions['alerting'] {
  const f = parent.object('alerting');
  const email = f.object('email');
  const emailSettings = {
    enabled: email.bool('enabled', def.email.enabled),
    to: email.stringList('to', def.email.to, { check: checkEmail }),
    from: email.string('from', def.email.from, { check: checkEmail }),
    smarthost: email.string('smarthost', def.email.smarthost, { check: checkHostPort }),
    username: email.optionalString('username'),
    requireTls: email.bool('requireTls', def.email.requireTls),
    severities: email.stringList('severities', def.email.severities, {
      check: (s) =>
        (SEVERITIES as readonly string[]).includes(s) ? undefined : `one of ${SEVERITIES.join(', ')}`,
    }) as Severity[],
  };
  email.finish();

  const slack = f.object('slack');
  const channels = slack.object('channels');
  const slackChannels: Partial<Record<Severity, string>> = {};
  for (const severity of SEVERITIES) {
    const channel =
      channels.optionalString(severity, { check: checkSlackChannel }) ?? def.slack.channels[severity];
    if (channel !== undefined) {
      slackChannels[severity] = channel;
    }
  }
  const slackSettings = { enabled: slack.bool('enabled', def.slack.enabled), channels: slackChannels };
  channels.finish();
  slack.finish();

  const out = {
    groupWait: f.string('groupWait', def.groupWait, { check: checkDuration }),
    groupInterval: f.string('groupInterval', def.groupInterval, { check: checkDuration }),
    repeatInterval: f.string('repeatInterval', def.repeatInterval, { check: checkDuration }),
    email: emailSettings,
    slack: slackSettings,
    caPem: f.optionalString('caPem', { check: checkPemCertificates }),
  };
  f.finish();
  return out;
}

export function parseMonitoring(root: Fields, ctx: ParseContext): MonitoringSettings {
  const { rules } = PROFILES[ctx.environment];
  const d = resolveMonitoringOptions(ctx.environment, PROFILES[ctx.environment].monitoring);
  const f = root.object('monitoring');
  const why = ctx.production ? 'production runs monitoring highly available' : undefined;

  /** A stateful service's replicas (in [min, max]), claim size and class, and resources. */
  const stateful = (fields: Fields, def: StatefulDefaults, min: number, max: number, reason = why) => ({
    replicas: fields.int('replicas', def.replicas, { min, max, why: reason }),
    storage: fields.string('storage', def.storage, { check: (v) => checkStorage(v) }),
    storageClass: fields.optionalString('storageClass', { check: checkStorageClass }),
    resources: readResources(fields, 'resources', def.resources),
  });

  const p = f.object('prometheus');
  const prometheus = {
    ...stateful(p, d.prometheus, rules.minMonitoringReplicas, 5),
    retention: p.string('retention', d.prometheus.retention, { check: checkDuration }),
    ingressFrom: readIngressFrom(p, d.prometheus.ingressFrom),
  };
  p.finish();

  const a = f.object('alertmanager');
  const alertmanager = stateful(
    a,
    d.alertmanager,
    rules.minAlertmanagerReplicas,
    7,
    ctx.production ? 'production runs a clustered Alertmanager of at least three' : undefined,
  );
  a.finish();

  const g = f.object('grafana');
  const grafana = {
    enabled: g.bool('enabled', d.grafana.enabled),
    replicas: g.int('replicas', d.grafana.replicas, { min: rules.minMonitoringReplicas, max: 5, why }),
    resources: readResources(g, 'resources', d.grafana.resources),
    ingressFrom: readIngressFrom(g, d.grafana.ingressFrom),
  };
  g.finish();

  const k = f.object('kubeStateMetrics');
  const kubeStateMetrics = { resources: readResources(k, 'resources', d.kubeStateMetrics.resources) };
  k.finish();

  const n = f.object('nodeExporter');
  const nodeExporter = {
    enabled: n.bool('enabled', d.nodeExporter.enabled),
    port: n.int('port', d.nodeExporter.port, { min: 1024, max: 65535 }),
    resources: readResources(n, 'resources', d.nodeExporter.resources),
  };
  const portProblem = checkNodeExporterPort(nodeExporter.port);
  if (portProblem !== undefined) {
    n.fail('port', nodeExporter.port, portProblem);
    nodeExporter.port = d.nodeExporter.port;
  }
  n.finish();

  const b = f.object('blackbox');
  const blackbox = {
    enabled: b.bool('enabled', d.blackbox.enabled),
    interval: b.string('interval', d.blackbox.interval, { check: checkDuration }),
    resources: readResources(b, 'resources', d.blackbox.resources),
  };
  b.finish();

  const scrapeInterval = f.string('scrapeInterval', d.scrapeInterval, { check: checkDuration });

  const po = f.object('prometheusOperator');
  const prometheusOperator = {
    enabled: po.bool('enabled', PROMETHEUS_OPERATOR_DEFAULTS.enabled),
    labels: po.stringMap('labels', { checkKey: checkLabelKey, checkValue: checkLabelValue }),
    interval: po.string('interval', scrapeInterval, { check: checkDuration }),
  };
  po.finish();
  const enabled = f.bool('enabled', true);
  const namespace = f.string('namespace', `${ctx.namespace}-monitoring`, {
    check: (v) => checkDnsLabel(v, 58),
  });

  const dash = f.object('dashboards');
  const cm = dash.object('configMaps');
  const label = (name: string) => cm.optionalString(name, { check: checkLabelKey });
  const value = (name: string) => cm.optionalString(name, { check: checkLabelValue });
  const rawConfigMaps: DashboardConfigMapsOptions = {
    enabled: cm.has('enabled') ? cm.bool('enabled', false) : undefined,
    namespace: cm.optionalString('namespace', { check: (v) => checkDnsLabel(v) }),
    label: label('label'),
    labelValue: value('labelValue'),
    datasources: cm.has('datasources') ? cm.bool('datasources', true) : undefined,
    datasourceLabel: label('datasourceLabel'),
    datasourceLabelValue: value('datasourceLabelValue'),
    datasourceUid: cm.optionalString('datasourceUid', { check: checkGrafanaUid }),
  };
  const configMaps = resolveDashboardConfigMaps(rawConfigMaps, {
    grafanaEnabled: grafana.enabled,
    ownPrometheus: enabled,
    monitoringNamespace: namespace,
    appNamespace: ctx.namespace,
  });
  reportArgProblems(
    cm,
    checkDashboardConfigMaps(
      configMaps,
      { ownPrometheus: enabled, datasourcesSet: rawConfigMaps.datasources === true },
      '',
    ),
  );
  cm.finish();
  dash.finish();

  const settings: MonitoringSettings = {
    enabled,
    prometheusOperator,
    dashboards: { configMaps },
    namespace,
    scrapeInterval,
    evaluationInterval: f.string('evaluationInterval', scrapeInterval, { check: checkDuration }),
    prometheus,
    alertmanager,
    grafana,
    kubeStateMetrics,
    nodeExporter,
    blackbox,
    images: readImages(f, ctx, d.images),
    thresholds: readThresholds(f, d.thresholds),
    alerting: readAlerting(f, d.alerting),
    runbookBaseUrl:
      f.optionalString('runbookBaseUrl', {
        check: (text) =>
          /^https?:\/\/[^\s#]+$/.test(text) ? undefined : 'an http(s) URL of docs/runbooks.md, without "#"',
      }) ?? d.runbookBaseUrl,
  };
  reportArgProblems(f, checkMonitoringOptions(settings));
  f.finish();

  const slackWebhookUrl = root.optionalString('slackWebhookUrl', { check: checkWebhookUrl });
  const smtpPassword = root.optionalString('smtpPassword');
  if (slackWebhookUrl !== undefined) {
    settings.slackWebhookUrl = secretOutput(slackWebhookUrl);
  }
  if (smtpPassword !== undefined) {
    settings.smtpPassword = secretOutput(smtpPassword);
  }
  return settings;
}
