/**
 * The alert rules as code, grouped by what they watch: the app, the platform (nodes, volumes, targets), the
 * logging stack, the monitoring stack itself, and the blackbox probes. Every alert carries a `severity` label and
 * `summary`, `description` and `runbook_url` annotations; the runbook is the alert's section of docs/runbooks.md.
 * Thresholds come from the stack settings. The tests check the groups with `promtool check rules` and
 * `promtool test rules`.
 */
import { SLOTS } from '../shared/slots';

/** Alert severities, from most to least urgent. */
export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One alerting rule as Prometheus reads it. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: Severity } & Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

/** A recording rule (used by the tests to parse dashboard queries). */
export interface RecordingRule {
  record: string;
  expr: string;
}

export interface RuleGroup<R = AlertRule> {
  name: string;
  interval?: string;
  rules: R[];
}

/** Alert thresholds: what counts as bad enough to wake someone (`pavemaster:monitoring.thresholds`). */
export interface AlertThresholds {
  /** 5xx responses as a fraction of all requests of a slot, over 5 minutes (0-1). @default 0.05 */
  readonly errorRatio: number;
  /** The 95th percentile request latency of a slot, in seconds. @default 1 */
  readonly latencyP95Seconds: number;
  /** Minutes without a single request to the active slot before PavemasterNoTraffic fires. @default 60 */
  readonly noTrafficMinutes: number;
  /** Container restarts within an hour before PavemasterPodRestarting fires. @default 5 */
  readonly restartsPerHour: number;
  /** Minutes a Deployment may run fewer available replicas than it wants. @default 15 */
  readonly replicaMismatchMinutes: number;
  /** Node CPU busy fraction (0-1). @default 0.9 */
  readonly nodeCpuRatio: number;
  /** Node memory used fraction (0-1). @default 0.9 */
  readonly nodeMemoryRatio: number;
  /** Node filesystem used fraction (0-1). @default 0.85 */
  readonly nodeDiskRatio: number;
  /** PersistentVolume used fraction (0-1). @default 0.85 */
  readonly pvcRatio: number;
  /** Seconds a blackbox probe may take before ProbeSlow fires. @default 2 */
  readonly probeSlowSeconds: number;
}

export const ALERT_THRESHOLD_DEFAULTS: AlertThresholds = {
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
};

/** The thresholds that are fractions (0, 1]; the others are positive amounts. */
export const RATIO_THRESHOLDS = [
  'errorRatio',
  'nodeCpuRatio',
  'nodeMemoryRatio',
  'nodeDiskRatio',
  'pvcRatio',
] as const;

/** What the rules are built from. */
export interface RuleArgs {
  /** The app's namespace. */
  appNamespace: string;
  /** The app's name: the `app` label of its pods and Deployments. */
  appName: string;
  /** The logging stack's namespaces, when it runs (adds the logging group). */
  logging?: {
    /** Where Elasticsearch and Logstash run. */
    namespace: string;
    /** Where the log shipper (Filebeat) DaemonSet runs, when it runs (`logging.shipper.enabled`). */
    shipperNamespace?: string;
  };
  /** Alerting thresholds. */
  thresholds: AlertThresholds;
  /** Where runbook links point; each alert's link is `<runbookBase>#<alert name in lowercase>`. */
  runbookBase: string;
}

/**
 * The default runbook location: the runbooks document, relative to the repository root. Stacks set
 * `pavemaster:monitoring.runbookBaseUrl` to the document's address in their repository browser so the links are
 * clickable from Slack and email.
 */
export const DEFAULT_RUNBOOK_BASE = 'docs/runbooks.md';

const pct = (ratio: number): string => `${Number((ratio * 100).toFixed(2))}%`;

/** The group of the app's own alerts (error rate, latency, availability per slot). */
export const APP_RULE_GROUP = 'pavemaster-app';

/** Builds the rule groups. */
export function alertRuleGroups(args: RuleArgs): RuleGroup[] {
  const t = args.thresholds;
  const ns = args.appNamespace;
  const alert = (
    name: string,
    severity: Severity,
    expr: string,
    forDuration: string | undefined,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert: name,
    expr,
    ...(forDuration !== undefined ? { for: forDuration } : {}),
    labels: { severity },
    annotations: {
      summary,
      description,
      runbook_url: `${args.runbookBase}#${name.toLowerCase()}`,
    },
  });
  const app = `namespace="${ns}"`;
  const requests = (filter: string) =>
    `sum by (namespace, slot) (rate(http_requests_total{${app}${filter}}[5m]))`;

  const groups: RuleGroup[] = [
    {
      name: APP_RULE_GROUP,
      rules: [
        alert(
          'PavemasterHighErrorRate',
          'critical',
          `${requests(',status=~"5.."')} / ${requests('')} > ${t.errorRatio}`,
          '5m',
          'PaveMaster {{ $labels.slot }} slot answers with server errors',
          `More than ${pct(t.errorRatio)} of the requests to the {{ $labels.slot }} slot in {{ $labels.namespace }} failed with a 5xx status over the last 5 minutes.`,
        ),
        alert(
          'PavemasterHighLatency',
          'warning',
          `histogram_quantile(0.95, sum by (namespace, slot, le) (rate(http_request_duration_seconds_bucket{${app}}[5m]))) > ${t.latencyP95Seconds}`,
          '10m',
          'PaveMaster {{ $labels.slot }} slot is slow',
          `The 95th percentile latency of the {{ $labels.slot }} slot in {{ $labels.namespace }} is above ${t.latencyP95Seconds}s.`,
        ),
        // Every rule is independent of which slot is active, so a promotion changes no rule (and restarts no
        // Prometheus): the idle slot takes no traffic, so the app's total is the active slot's.
        alert(
          'PavemasterNoTraffic',
          'warning',
          `sum by (namespace) (rate(http_requests_total{${app}}[5m])) == 0`,
          `${t.noTrafficMinutes}m`,
          'PaveMaster gets no requests',
          `PaveMaster in {{ $labels.namespace }} has served no request for ${t.noTrafficMinutes} minutes.`,
        ),
        alert(
          'PavemasterPodRestarting',
          'warning',
          `increase(kube_pod_container_status_restarts_total{${app}}[1h]) > ${t.restartsPerHour}`,
          undefined,
          'PaveMaster pod {{ $labels.pod }} keeps restarting',
          `Container {{ $labels.container }} of pod {{ $labels.pod }} in {{ $labels.namespace }} restarted more than ${t.restartsPerHour} times in the last hour.`,
        ),
        alert(
          'PavemasterPodCrashLooping',
          'critical',
          `max by (namespace, pod, container) (kube_pod_container_status_waiting_reason{${app},reason="CrashLoopBackOff"}) == 1`,
          '5m',
          'PaveMaster pod {{ $labels.pod }} is crash looping',
          'Container {{ $labels.container }} of pod {{ $labels.pod }} in {{ $labels.namespace }} has been in CrashLoopBackOff for 5 minutes.',
        ),
        // The idle slot is whatever the preview Service selects: its blackbox probe fails while the slot's pods
        // are not ready. A slot scaled to zero on purpose (idleReplicas 0) is not an alert.
        alert(
          'PavemasterIdleSlotNotReady',
          'warning',
          `(probe_success{probe="preview",${app}} == 0) and on (namespace) (min by (namespace) (kube_deployment_spec_replicas{${app},deployment=~"${args.appName}-(${SLOTS.join('|')})"}) > 0)`,
          '10m',
          'The idle slot is not ready for a promotion',
          'The health check through the preview Service ({{ $labels.instance }}) has failed for 10 minutes: promoting the idle slot now would send traffic to pods that are not ready.',
        ),
        alert(
          'PavemasterReplicaMismatch',
          'warning',
          `kube_deployment_spec_replicas{${app}} != kube_deployment_status_replicas_available{${app}}`,
          `${t.replicaMismatchMinutes}m`,
          'Deployment {{ $labels.deployment }} does not run the replicas it wants',
          `Deployment {{ $labels.deployment }} in {{ $labels.namespace }} has not had its desired number of available replicas for ${t.replicaMismatchMinutes} minutes.`,
        ),
      ],
    },
    {
      name: 'platform',
      rules: [
        alert(
          'NodeHighCpu',
          'warning',
          `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > ${t.nodeCpuRatio}`,
          '15m',
          'Node {{ $labels.instance }} is CPU bound',
          `Node {{ $labels.instance }} has been more than ${pct(t.nodeCpuRatio)} busy for 15 minutes.`,
        ),
        alert(
          'NodeHighMemory',
          'warning',
          `1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > ${t.nodeMemoryRatio}`,
          '10m',
          'Node {{ $labels.instance }} is running out of memory',
          `Node {{ $labels.instance }} has used more than ${pct(t.nodeMemoryRatio)} of its memory for 10 minutes.`,
        ),
        alert(
          'NodeDiskFilling',
          'warning',
          `1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} > ${t.nodeDiskRatio}`,
          '10m',
          'Filesystem {{ $labels.mountpoint }} of node {{ $labels.instance }} is filling up',
          `Filesystem {{ $labels.mountpoint }} of node {{ $labels.instance }} is more than ${pct(t.nodeDiskRatio)} full.`,
        ),
        alert(
          'PersistentVolumeFilling',
          'warning',
          `kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes > ${t.pvcRatio}`,
          '10m',
          'Volume {{ $labels.persistentvolumeclaim }} is filling up',
          `PersistentVolumeClaim {{ $labels.persistentvolumeclaim }} in {{ $labels.namespace }} is more than ${pct(t.pvcRatio)} full.`,
        ),
        alert(
          'TargetDown',
          'warning',
          'up == 0',
          '5m',
          'Scrape target {{ $labels.instance }} of job {{ $labels.job }} is down',
          'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 5 minutes.',
        ),
      ],
    },
    {
      name: 'monitoring',
      rules: [
        alert(
          'PrometheusRuleEvaluationFailures',
          'warning',
          'increase(prometheus_rule_evaluation_failures_total[5m]) > 0',
          '10m',
          'Prometheus fails to evaluate rules',
          'Prometheus {{ $labels.instance }} failed to evaluate rules of group {{ $labels.rule_group }} in the last 10 minutes: alerts of that group may not fire.',
        ),
        alert(
          'AlertmanagerNotificationsFailing',
          'critical',
          'rate(alertmanager_notifications_failed_total[5m]) > 0',
          '10m',
          'Alertmanager cannot deliver {{ $labels.integration }} notifications',
          'Alertmanager {{ $labels.instance }} has failed to send notifications through {{ $labels.integration }} for 10 minutes.',
        ),
      ],
    },
    {
      name: 'probes',
      rules: [
        alert(
          'ProbeFailing',
          'critical',
          // The preview Service has its own alert, PavemasterIdleSlotNotReady: no user is behind it.
          'probe_success{probe!="preview"} == 0',
          '2m',
          'Probe {{ $labels.probe }} fails',
          'The blackbox probe of {{ $labels.instance }} ({{ $labels.probe }}) has failed for 2 minutes.',
        ),
        alert(
          'ProbeSlow',
          'warning',
          `probe_duration_seconds > ${t.probeSlowSeconds}`,
          '5m',
          'Probe {{ $labels.probe }} is slow',
          `The blackbox probe of {{ $labels.instance }} ({{ $labels.probe }}) has taken more than ${t.probeSlowSeconds}s for 5 minutes.`,
        ),
      ],
    },
  ];
  if (args.logging !== undefined) {
    const log = `namespace="${args.logging.namespace}"`;
    const shipperNamespace = args.logging.shipperNamespace;
    groups.splice(2, 0, {
      name: 'logging',
      rules: [
        alert(
          'ElasticsearchClusterRed',
          'critical',
          `max by (cluster) (elasticsearch_cluster_health_status{color="red"}) == 1`,
          '2m',
          'Elasticsearch cluster {{ $labels.cluster }} is red',
          'Elasticsearch cluster {{ $labels.cluster }} has unassigned primary shards: some logs cannot be written or searched.',
        ),
        alert(
          'ElasticsearchClusterYellow',
          'warning',
          `max by (cluster) (elasticsearch_cluster_health_status{color="yellow"}) == 1`,
          '20m',
          'Elasticsearch cluster {{ $labels.cluster }} is yellow',
          'Elasticsearch cluster {{ $labels.cluster }} has had unassigned replica shards for 20 minutes: one more node failure may lose logs.',
        ),
        alert(
          'LogstashDown',
          'critical',
          // Logstash runs as a Deployment or, with persistent queues, a StatefulSet: either has no ready pod.
          `max by (namespace, workload) (label_replace(kube_deployment_status_replicas_available{${log},deployment=~".*logstash.*"}, "workload", "$1", "deployment", "(.+)") or label_replace(kube_statefulset_status_replicas_ready{${log},statefulset=~".*logstash.*"}, "workload", "$1", "statefulset", "(.+)")) == 0`,
          '5m',
          'Logstash is down',
          'Logstash ({{ $labels.workload }} in {{ $labels.namespace }}) has had no ready pod for 5 minutes: logs are not being indexed.',
        ),
        // Without a shipper (logging.shipper.enabled false) there is no DaemonSet to watch.
        ...(shipperNamespace !== undefined
          ? [
              alert(
                'FilebeatDown',
                'warning',
                `kube_daemonset_status_number_unavailable{namespace="${shipperNamespace}",daemonset=~".*filebeat.*"} > 0`,
                '10m',
                'Filebeat is not running on every node',
                'DaemonSet {{ $labels.daemonset }} in {{ $labels.namespace }} has had unavailable pods for 10 minutes: logs of some nodes are not shipped.',
              ),
            ]
          : []),
      ],
    });
  }
  return groups;
}

/** Every alert name the rules can define (with the logging group), for the runbooks document check. */
export function alertNames(groups: readonly RuleGroup[]): string[] {
  return groups.flatMap((g) => g.rules.map((r) => r.alert));
}
