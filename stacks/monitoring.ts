/**
 * The monitoring section of the stack config (`pavemaster:monitoring`): Prometheus, Alertmanager, Grafana,
 * kube-state-metrics, node-exporter and the blackbox exporter; their sizes, the alert thresholds and where alerts
 * go. Two top-level SECRET keys hold the receivers' credentials: `pavemaster:slackWebhookUrl` and
 * `pavemaster:smtpPassword` (set them with `pulumi config set --secret`). docs/monitoring.md lists every key.
 */
import * as pulumi from '@pulumi/pulumi';
import { readResources } from './common';
import { Environment, ParseContext, ResourceSettings } from './context';
import { Check, Fields } from './fields';
import { checkDnsLabel, checkImage, checkStorage } from './validators';

/** Alert severities, from most to least urgent. */
export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The container images of the monitoring stack. */
export interface MonitoringImages {
  prometheus: string;
  alertmanager: string;
  grafana: string;
  kubeStateMetrics: string;
  nodeExporter: string;
  blackboxExporter: string;
}

/** Alert thresholds: what counts as bad enough to wake someone. */
export interface AlertThresholds {
  /** 5xx responses as a fraction of all requests of a slot, over 5 minutes (0-1). */
  errorRatio: number;
  /** The 95th percentile request latency of a slot, in seconds. */
  latencyP95Seconds: number;
  /** Minutes without a single request to the active slot before PavemasterNoTraffic fires. */
  noTrafficMinutes: number;
  /** Container restarts within an hour before PavemasterPodRestarting fires. */
  restartsPerHour: number;
  /** Minutes a Deployment may run fewer available replicas than it wants. */
  replicaMismatchMinutes: number;
  /** Node CPU busy fraction (0-1). */
  nodeCpuRatio: number;
  /** Node memory used fraction (0-1). */
  nodeMemoryRatio: number;
  /** Node filesystem used fraction (0-1). */
  nodeDiskRatio: number;
  /** PersistentVolume used fraction (0-1). */
  pvcRatio: number;
  /** Seconds a blackbox probe may take before ProbeSlow fires. */
  probeSlowSeconds: number;
}

/** Email notifications. */
export interface EmailSettings {
  /** Send email at all (also needs `pavemaster:smtpPassword` when `username` is set). */
  enabled: boolean;
  /** Recipients. */
  to: string[];
  /** Sender address. */
  from: string;
  /** The SMTP server, "host:port". */
  smarthost: string;
  /** SMTP user name; unset means no SMTP authentication (and no password needed). */
  username?: string;
  /** Require STARTTLS. */
  requireTls: boolean;
  /** Severities that are emailed. */
  severities: Severity[];
}

/** Slack notifications. */
export interface SlackSettings {
  /** Post to Slack at all (also needs `pavemaster:slackWebhookUrl`). */
  enabled: boolean;
  /** The channel of each severity; a severity without channel is not posted. */
  channels: Partial<Record<Severity, string>>;
}

/** Where alerts go and how they are batched. */
export interface AlertingSettings {
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
  email: EmailSettings;
  slack: SlackSettings;
}

export interface MonitoringSettings {
  /** Deploy the monitoring stack. */
  enabled: boolean;
  /** The namespace of the monitoring stack; node-exporter runs in `<namespace>-node`. */
  namespace: string;
  /** How often targets are scraped (a Prometheus duration). */
  scrapeInterval: string;
  /** How often rules are evaluated (a Prometheus duration). */
  evaluationInterval: string;
  prometheus: {
    replicas: number;
    /** How long samples are kept (a Prometheus duration). */
    retention: string;
    /** The size of each replica's PersistentVolumeClaim. */
    storage: string;
    /** The StorageClass of the claims; unset means the cluster default. */
    storageClass?: string;
    resources: ResourceSettings;
  };
  alertmanager: { replicas: number; storage: string; storageClass?: string; resources: ResourceSettings };
  grafana: { replicas: number; resources: ResourceSettings };
  kubeStateMetrics: { resources: ResourceSettings };
  nodeExporter: { enabled: boolean; resources: ResourceSettings };
  blackbox: { enabled: boolean; interval: string; resources: ResourceSettings };
  images: MonitoringImages;
  thresholds: AlertThresholds;
  alerting: AlertingSettings;
  /** Where alerts' runbook links point (docs/runbooks.md in the repository browser); default the relative path. */
  runbookBaseUrl?: string;
  /** The Slack incoming-webhook URL (a Pulumi secret), from `pavemaster:slackWebhookUrl`. */
  slackWebhookUrl?: pulumi.Output<string>;
  /** The SMTP password (a Pulumi secret), from `pavemaster:smtpPassword`. */
  smtpPassword?: pulumi.Output<string>;
}

/** Top-level keys this section reads. */
export const MONITORING_KEYS = ['monitoring', 'slackWebhookUrl', 'smtpPassword'] as const;
/** Top-level keys whose values are secrets. */
export const MONITORING_SECRET_KEYS: readonly string[] = ['slackWebhookUrl', 'smtpPassword'];

/**
 * The default images: the versions this project is tested with, pinned by the digests their registries
 * publish (multi-architecture index digests, as found in public manifests pinning these exact versions).
 */
export const DEFAULT_IMAGES: MonitoringImages = {
  prometheus:
    'prom/prometheus:v3.13.1@sha256:3c42b892cf723fa54d2f262c37a0e1f80aa8c8ddb1da7b9b0df9455a35a7f893',
  alertmanager:
    'prom/alertmanager:v0.33.1@sha256:9e082985f56f4c8c9f724e18f2288c6708f472e56a5286b8863d080434ea065d',
  grafana: 'grafana/grafana:13.1.0@sha256:121a7a9ece6dc10b969f1f96eed64b4f07dfac0d0b8abc070f7cb83bbde86f63',
  kubeStateMetrics:
    'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.19.1@sha256:85108987d044b18a098126732f98602df408888c0f7d456241f5abefb9744bc1',
  nodeExporter:
    'prom/node-exporter:v1.12.1@sha256:1b4e4438faca4dd7e001dd445d161a4a2091b0fededa84093b3a8dfeae1f1be0',
  blackboxExporter:
    'prom/blackbox-exporter:v0.28.0@sha256:e753ff9f3fc458d02cca5eddab5a77e1c175eee484a8925ac7d524f04366c2fc',
};

const res = (reqCpu: string, reqMem: string, limCpu: string, limMem: string): ResourceSettings => ({
  requests: { cpu: reqCpu, memory: reqMem },
  limits: { cpu: limCpu, memory: limMem },
});

/** Per-environment defaults of the section. */
export interface MonitoringProfile {
  scrapeInterval: string;
  prometheus: { replicas: number; retention: string; storage: string; resources: ResourceSettings };
  alertmanager: { replicas: number; storage: string; resources: ResourceSettings };
  grafana: { replicas: number; resources: ResourceSettings };
  kubeStateMetrics: { resources: ResourceSettings };
  nodeExporter: { resources: ResourceSettings };
  blackbox: { resources: ResourceSettings };
  thresholds: AlertThresholds;
  repeatInterval: string;
  emailSeverities: Severity[];
}

export const MONITORING_PROFILES: Record<Environment, MonitoringProfile> = {
  staging: {
    scrapeInterval: '30s',
    prometheus: {
      replicas: 1,
      retention: '7d',
      storage: '10Gi',
      resources: res('200m', '512Mi', '1', '1Gi'),
    },
    alertmanager: { replicas: 1, storage: '1Gi', resources: res('20m', '32Mi', '100m', '64Mi') },
    grafana: { replicas: 1, resources: res('50m', '128Mi', '500m', '256Mi') },
    kubeStateMetrics: { resources: res('20m', '64Mi', '200m', '128Mi') },
    nodeExporter: { resources: res('20m', '32Mi', '200m', '64Mi') },
    blackbox: { resources: res('10m', '32Mi', '100m', '64Mi') },
    thresholds: {
      errorRatio: 0.05,
      latencyP95Seconds: 1,
      noTrafficMinutes: 60,
      restartsPerHour: 5,
      replicaMismatchMinutes: 15,
      nodeCpuRatio: 0.9,
      nodeMemoryRatio: 0.9,
      nodeDiskRatio: 0.85,
      pvcRatio: 0.85,
      probeSlowSeconds: 2,
    },
    repeatInterval: '12h',
    emailSeverities: ['critical'],
  },
  production: {
    scrapeInterval: '30s',
    prometheus: { replicas: 2, retention: '30d', storage: '50Gi', resources: res('500m', '2Gi', '2', '4Gi') },
    alertmanager: { replicas: 3, storage: '2Gi', resources: res('50m', '64Mi', '200m', '128Mi') },
    grafana: { replicas: 2, resources: res('100m', '256Mi', '1', '512Mi') },
    kubeStateMetrics: { resources: res('50m', '128Mi', '500m', '256Mi') },
    nodeExporter: { resources: res('50m', '64Mi', '250m', '128Mi') },
    blackbox: { resources: res('20m', '32Mi', '200m', '64Mi') },
    thresholds: {
      errorRatio: 0.02,
      latencyP95Seconds: 0.5,
      noTrafficMinutes: 10,
      restartsPerHour: 3,
      replicaMismatchMinutes: 10,
      nodeCpuRatio: 0.85,
      nodeMemoryRatio: 0.85,
      nodeDiskRatio: 0.8,
      pvcRatio: 0.8,
      probeSlowSeconds: 1,
    },
    repeatInterval: '4h',
    emailSeverities: ['critical', 'warning'],
  },
};

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

const checkSmarthost: Check<string> = (text) => {
  const match = /^([a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text);
  return match && Number(match[2]) > 0 && Number(match[2]) < 65536
    ? undefined
    : 'an SMTP server "host:port", e.g. "smtp.example.com:587"';
};

const checkSlackChannel: Check<string> = (text) =>
  /^[#@][a-z0-9._-]{1,80}$/.test(text) ? undefined : 'a Slack channel such as "#alerts" (lowercase)';

const checkWebhookUrl: Check<string> = (text) =>
  /^https:\/\/[^\s/]+\/\S*$/.test(text) ? undefined : 'an https:// Slack incoming-webhook URL';

const checkStorageClass: Check<string> = (text) =>
  /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text) && text.length <= 253
    ? undefined
    : 'a StorageClass name (RFC 1123 subdomain)';

function readImages(parent: Fields, ctx: ParseContext): MonitoringImages {
  const f = parent.object('images');
  const check = (text: string) =>
    checkImage(text, { production: ctx.production, requireDigest: ctx.production });
  const images: MonitoringImages = {
    prometheus: f.string('prometheus', DEFAULT_IMAGES.prometheus, { check }),
    alertmanager: f.string('alertmanager', DEFAULT_IMAGES.alertmanager, { check }),
    grafana: f.string('grafana', DEFAULT_IMAGES.grafana, { check }),
    kubeStateMetrics: f.string('kubeStateMetrics', DEFAULT_IMAGES.kubeStateMetrics, { check }),
    nodeExporter: f.string('nodeExporter', DEFAULT_IMAGES.nodeExporter, { check }),
    blackboxExporter: f.string('blackboxExporter', DEFAULT_IMAGES.blackboxExporter, { check }),
  };
  f.finish();
  return images;
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

function readSeverities(f: Fields, name: string, def: readonly Severity[]): Severity[] {
  const list = f.stringList(name, def, {
    check: (s) =>
      (SEVERITIES as readonly string[]).includes(s) ? undefined : `one of ${SEVERITIES.join(', ')}`,
  });
  return list as Severity[];
}

function readAlerting(parent: Fields, ctx: ParseContext, profile: MonitoringProfile): AlertingSettings {
  const f = parent.object('alerting');
  const email = f.object('email');
  const emailSettings: EmailSettings = {
    enabled: email.bool('enabled', false),
    to: email.stringList('to', [], { check: checkEmail }),
    from: email.string('from', '', { check: checkEmail }),
    smarthost: email.string('smarthost', '', { check: checkSmarthost }),
    username: email.optionalString('username'),
    requireTls: email.bool('requireTls', true),
    severities: readSeverities(email, 'severities', profile.emailSeverities),
  };
  if (emailSettings.enabled) {
    for (const [name, missing] of [
      ['to', emailSettings.to.length === 0],
      ['from', emailSettings.from === ''],
      ['smarthost', emailSettings.smarthost === ''],
    ] as const) {
      if (missing && !email.problems.list.some((p) => p.key.startsWith(email.key(name)))) {
        email.fail(name, undefined, `required when ${email.key('enabled')} is true`);
      }
    }
  }
  email.finish();

  const slack = f.object('slack');
  const slackEnabled = slack.bool('enabled', true);
  const channels = slack.object('channels');
  const slackSettings: SlackSettings = { enabled: slackEnabled, channels: {} };
  for (const severity of SEVERITIES) {
    const def = severity === 'info' ? undefined : `#pavemaster-${ctx.environment}-${severity}`;
    const channel = channels.optionalString(severity, { check: checkSlackChannel }) ?? def;
    if (channel !== undefined) {
      slackSettings.channels[severity] = channel;
    }
  }
  channels.finish();
  slack.finish();

  const out: AlertingSettings = {
    groupWait: f.string('groupWait', '30s', { check: checkDuration }),
    groupInterval: f.string('groupInterval', '5m', { check: checkDuration }),
    repeatInterval: f.string('repeatInterval', profile.repeatInterval, { check: checkDuration }),
    email: emailSettings,
    slack: slackSettings,
  };
  f.finish();
  return out;
}

export function parseMonitoring(root: Fields, ctx: ParseContext): MonitoringSettings {
  const profile = MONITORING_PROFILES[ctx.environment];
  const f = root.object('monitoring');
  const minReplicas = ctx.production ? 2 : 1;
  const why = ctx.production ? 'production runs monitoring highly available' : undefined;

  const p = f.object('prometheus');
  const prometheus: MonitoringSettings['prometheus'] = {
    replicas: p.int('replicas', profile.prometheus.replicas, { min: minReplicas, max: 5, why }),
    retention: p.string('retention', profile.prometheus.retention, { check: checkDuration }),
    storage: p.string('storage', profile.prometheus.storage, { check: checkStorage }),
    storageClass: p.optionalString('storageClass', { check: checkStorageClass }),
    resources: readResources(p, 'resources', profile.prometheus.resources),
  };
  p.finish();

  const a = f.object('alertmanager');
  const alertmanager: MonitoringSettings['alertmanager'] = {
    // A gossip cluster needs a majority to agree on silences: production runs an odd number, at least three.
    replicas: a.int('replicas', profile.alertmanager.replicas, {
      min: ctx.production ? 3 : 1,
      max: 7,
      why: ctx.production ? 'production runs a clustered Alertmanager of at least three' : undefined,
    }),
    storage: a.string('storage', profile.alertmanager.storage, { check: checkStorage }),
    storageClass: a.optionalString('storageClass', { check: checkStorageClass }),
    resources: readResources(a, 'resources', profile.alertmanager.resources),
  };
  a.finish();

  const g = f.object('grafana');
  const grafana = {
    replicas: g.int('replicas', profile.grafana.replicas, { min: minReplicas, max: 5, why }),
    resources: readResources(g, 'resources', profile.grafana.resources),
  };
  g.finish();

  const k = f.object('kubeStateMetrics');
  const kubeStateMetrics = { resources: readResources(k, 'resources', profile.kubeStateMetrics.resources) };
  k.finish();

  const n = f.object('nodeExporter');
  const nodeExporter = {
    enabled: n.bool('enabled', true),
    resources: readResources(n, 'resources', profile.nodeExporter.resources),
  };
  n.finish();

  const b = f.object('blackbox');
  const blackbox = {
    enabled: b.bool('enabled', true),
    interval: b.string('interval', '30s', { check: checkDuration }),
    resources: readResources(b, 'resources', profile.blackbox.resources),
  };
  b.finish();

  const settings: MonitoringSettings = {
    enabled: f.bool('enabled', true),
    namespace: f.string('namespace', `${ctx.namespace}-monitoring`, {
      // node-exporter's namespace is this name plus "-node": keep room for it.
      check: (text) => checkDnsLabel(text) ?? (text.length > 58 ? 'at most 58 characters' : undefined),
    }),
    scrapeInterval: f.string('scrapeInterval', profile.scrapeInterval, { check: checkDuration }),
    evaluationInterval: f.string('evaluationInterval', profile.scrapeInterval, { check: checkDuration }),
    prometheus,
    alertmanager,
    grafana,
    kubeStateMetrics,
    nodeExporter,
    blackbox,
    images: readImages(f, ctx),
    thresholds: readThresholds(f, profile.thresholds),
    alerting: readAlerting(f, ctx, profile),
    runbookBaseUrl: f.optionalString('runbookBaseUrl', {
      check: (text) =>
        /^https?:\/\/[^\s#]+$/.test(text) ? undefined : 'an http(s) URL of docs/runbooks.md, without "#"',
    }),
  };
  f.finish();

  const slackWebhookUrl = root.optionalString('slackWebhookUrl', { check: checkWebhookUrl });
  const smtpPassword = root.optionalString('smtpPassword');
  if (slackWebhookUrl !== undefined) {
    settings.slackWebhookUrl = pulumi.secret(slackWebhookUrl);
  }
  if (smtpPassword !== undefined) {
    settings.smtpPassword = pulumi.secret(smtpPassword);
  }
  return settings;
}
