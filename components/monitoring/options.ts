/**
 * The monitoring stack's defaults and checks (each service's component file declares its options, with their
 * docs), without the Pulumi SDK: the stack reader (stacks/monitoring.ts) and so the release command apply and
 * check them without loading it. Each component file re-exports its own.
 */
import { X509Certificate } from 'crypto';
import type * as pulumi from '@pulumi/pulumi';
import type { ResolvedAlertmanagerOptions } from './Alertmanager';
import type { BlackboxOptions } from './blackboxExporter';
import type { GrafanaOptions } from './Grafana';
import type { KubeStateMetricsOptions } from './kubeStateMetrics';
import type { MonitoringOptions, ResolvedMonitoringOptions } from './Monitoring';
import type { NodeExporterOptions } from './nodeExporter';
import type { ResolvedPrometheusOptions } from './Prometheus';
import { ArgChecks, ArgProblem, DeepPartial, withDefaults } from '../shared/args';
import { checkDnsLabel, checkHostPort } from '../shared/checks';
import { checkNetworkPeer } from '../shared/peers';
import { MONITORING_IMAGES } from '../versions';
import { ALERT_THRESHOLD_DEFAULTS, DEFAULT_RUNBOOK_BASE, RATIO_THRESHOLDS, Severity } from './rules';

/** One replica, a 1Gi volume, 20m/32Mi requested and 100m/64Mi limit. */
export const ALERTMANAGER_DEFAULTS: ResolvedAlertmanagerOptions = {
  replicas: 1,
  storage: '1Gi',
  resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
};

export const BLACKBOX_DEFAULTS: Required<BlackboxOptions> = {
  enabled: true,
  interval: '30s',
  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
};

export const GRAFANA_DEFAULTS: Required<GrafanaOptions> = {
  enabled: true,
  replicas: 1,
  resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  ingressFrom: [],
};

export const KUBE_STATE_METRICS_DEFAULTS: Required<KubeStateMetricsOptions> = {
  resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
};

/** node-exporter's customary port, the default of {@link NodeExporterOptions.port}. */
export const NODE_EXPORTER_PORT = 9100;

/**
 * Ports a node agent on the host network must not take: the kubelet (10248, 10250, 10255), kube-proxy (10249,
 * 10256), the scheduler and controller manager (10257, 10259) and etcd (2379, 2380).
 */
export const RESERVED_HOST_PORTS: readonly number[] = [
  2379, 2380, 10248, 10249, 10250, 10255, 10256, 10257, 10259,
];

/** Why a host port is not acceptable for node-exporter, or undefined. */
export function checkNodeExporterPort(port: number): string | undefined {
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    return 'an integer in 1024-65535';
  }
  if (RESERVED_HOST_PORTS.includes(port)) {
    return `a port no node component uses (not ${RESERVED_HOST_PORTS.join(', ')})`;
  }
  return undefined;
}

export const NODE_EXPORTER_DEFAULTS: Required<NodeExporterOptions> = {
  enabled: true,
  port: NODE_EXPORTER_PORT,
  resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
};

/** One replica, 7 days, a 10Gi volume, 200m/512Mi requested and 1 CPU/1Gi limit. */
export const PROMETHEUS_DEFAULTS: ResolvedPrometheusOptions = {
  replicas: 1,
  retention: '7d',
  storage: '10Gi',
  resources: { requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  ingressFrom: [],
};

export const PROMETHEUS_OPERATOR_DEFAULTS = { enabled: false, labels: {}, interval: '30s' } as const;

/** The defaults; Slack's channels follow from the environment (see {@link resolveMonitoringOptions}). */
export const MONITORING_DEFAULTS: Omit<
  ResolvedMonitoringOptions,
  'evaluationInterval' | 'slackWebhookUrl' | 'smtpPassword'
> = {
  namespace: 'pavemaster-monitoring',
  scrapeInterval: '30s',
  prometheus: PROMETHEUS_DEFAULTS,
  alertmanager: ALERTMANAGER_DEFAULTS,
  grafana: GRAFANA_DEFAULTS,
  kubeStateMetrics: KUBE_STATE_METRICS_DEFAULTS,
  nodeExporter: NODE_EXPORTER_DEFAULTS,
  blackbox: BLACKBOX_DEFAULTS,
  dashboards: { configMaps: {} },
  images: MONITORING_IMAGES,
  thresholds: ALERT_THRESHOLD_DEFAULTS,
  alerting: {
    groupWait: '30s',
    groupInterval: '5m',
    repeatInterval: '12h',
    email: { enabled: false, to: [], from: '', smarthost: '', requireTls: true, severities: ['critical'] },
    slack: { enabled: true, channels: {} },
  },
  runbookBaseUrl: DEFAULT_RUNBOOK_BASE,
};

/** The default Slack channel of a severity: `#pavemaster-<environment>-<severity>`; info is not posted. */
export function defaultSlackChannels(environment: string): Partial<Record<Severity, string>> {
  return {
    critical: `#pavemaster-${environment}-critical`,
    warning: `#pavemaster-${environment}-warning`,
  };
}

/** Applies the defaults, once. */
export function resolveMonitoringOptions(
  environment: string,
  o: DeepPartial<MonitoringOptions>,
): ResolvedMonitoringOptions {
  const base = withDefaults(
    {
      ...MONITORING_DEFAULTS,
      alerting: {
        ...MONITORING_DEFAULTS.alerting,
        slack: { enabled: true, channels: defaultSlackChannels(environment) },
      },
    },
    o as DeepPartial<typeof MONITORING_DEFAULTS>,
  );
  return {
    ...base,
    evaluationInterval: o.evaluationInterval ?? base.scrapeInterval,
    slackWebhookUrl: o.slackWebhookUrl as pulumi.Input<string> | undefined,
    smtpPassword: o.smtpPassword as pulumi.Input<string> | undefined,
  };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** PEM text of one or more X.509 certificates, each of which parses (`alerting.caPem`). */
export function checkPemCertificates(text: string): string | undefined {
  const blocks = text.match(PEM_BLOCK) ?? [];
  const what = 'PEM text of one or more "BEGIN CERTIFICATE" blocks, each an X.509 certificate';
  if (blocks.length === 0) {
    return what;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (e) {
      return `${what} (certificate ${i + 1} does not parse: ${e instanceof Error ? e.message : String(e)})`;
    }
  }
  return undefined;
}

/** The monitoring stack's own invariants; every problem at once, each named by its option path. */
export function checkMonitoringOptions(o: ResolvedMonitoringOptions): ArgProblem[] {
  const c = new ArgChecks();
  // node-exporter's namespace is this name plus "-node": keep room for it.
  c.check('namespace', o.namespace, (v) => checkDnsLabel(v, 58));
  c.check('nodeExporter.port', o.nodeExporter.port, checkNodeExporterPort);
  for (const service of ['grafana', 'prometheus'] as const) {
    o[service].ingressFrom.forEach((peer, i) =>
      checkNetworkPeer(c, `${service}.ingressFrom[${i}]`, peer, { podLabelsAlone: true }),
    );
  }
  for (const key of RATIO_THRESHOLDS) {
    c.check(`thresholds.${key}`, o.thresholds[key], (v) =>
      v > 0 && v <= 1 ? undefined : 'a ratio in (0, 1]',
    );
  }
  for (const key of [
    'latencyP95Seconds',
    'noTrafficMinutes',
    'restartsPerHour',
    'replicaMismatchMinutes',
    'probeSlowSeconds',
  ] as const) {
    c.check(`thresholds.${key}`, o.thresholds[key], (v) => (v > 0 ? undefined : 'a positive number'));
  }
  if (o.alerting.caPem !== undefined) {
    c.check('alerting.caPem', o.alerting.caPem, checkPemCertificates);
  }
  const email = o.alerting.email;
  if (email.enabled) {
    if (email.to.length === 0) {
      c.fail('alerting.email.to', email.to, 'at least one recipient when alerting.email.enabled is true');
    }
    if (email.from === '') {
      c.fail('alerting.email.from', undefined, 'required when alerting.email.enabled is true');
    }
    if (email.smarthost === '') {
      c.fail('alerting.email.smarthost', undefined, 'required when alerting.email.enabled is true');
    } else {
      c.check('alerting.email.smarthost', email.smarthost, checkHostPort);
    }
  }
  return [...c.problems];
}
