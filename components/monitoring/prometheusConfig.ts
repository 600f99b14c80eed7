/**
 * The Prometheus configuration as typed objects: what to scrape (Kubernetes service discovery of annotated pods
 * and services, the API server, kubelet and cAdvisor, the exporters, Prometheus itself and Alertmanager), the
 * blackbox probes, and where alerts go. `prometheus.yml` is this object serialized to YAML; the tests check it
 * with the real `promtool check config`.
 */
import { stringify } from 'yaml';

/** A relabeling step (`relabel_configs`, `metric_relabel_configs`). */
export interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep' | 'hashmod';
}

/** Kubernetes service discovery. */
export interface KubernetesSdConfig {
  role: 'pod' | 'service' | 'endpointslice' | 'node';
  namespaces?: { names: string[] };
}

export interface TlsConfig {
  ca_file?: string;
  insecure_skip_verify?: boolean;
}

export interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  metrics_path?: string;
  scheme?: 'http' | 'https';
  honor_labels?: boolean;
  params?: Record<string, string[]>;
  authorization?: { credentials_file: string };
  tls_config?: TlsConfig;
  kubernetes_sd_configs?: KubernetesSdConfig[];
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  relabel_configs?: RelabelConfig[];
}

export interface PrometheusConfig {
  global: {
    scrape_interval: string;
    evaluation_interval: string;
    scrape_timeout?: string;
    external_labels: Record<string, string>;
  };
  rule_files: string[];
  alerting: {
    alertmanagers: { static_configs: { targets: string[] }[]; api_version?: 'v2' }[];
  };
  scrape_configs: ScrapeConfig[];
}

/** A blackbox probe target. */
export interface ProbeTarget {
  /** The `probe` label: what is probed ("public", "active", "preview"). */
  name: string;
  /** The URL. */
  url: string;
  /** The namespace of what is probed (a target label), for in-cluster Services. */
  namespace?: string;
}

/** What the configuration is built from. */
export interface PrometheusConfigArgs {
  /** The environment, an external label on every series and alert (routing by environment). */
  environment: string;
  scrapeInterval: string;
  evaluationInterval: string;
  /** The monitoring namespace (Prometheus, Alertmanager, kube-state-metrics, blackbox). */
  namespace: string;
  /** The node-exporter namespace, when node-exporter runs. */
  nodeExporterNamespace?: string;
  /** Alertmanager endpoints, "host:port". */
  alertmanagers: string[];
  /** The kube-state-metrics Service address, "host:port". */
  kubeStateMetrics: string;
  /** The blackbox exporter address "host:port" and its probes, when it runs. */
  blackbox?: { address: string; interval: string; targets: ProbeTarget[] };
  /** Where the rule files are mounted. */
  rulesDir: string;
}

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const inCluster = {
  scheme: 'https' as const,
  authorization: { credentials_file: `${SA}/token` },
};

/** Copies the Kubernetes namespace, pod and container into target labels. */
const podLabels: RelabelConfig[] = [
  { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
  { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
];

/** The annotation-driven part shared by pods and service endpoints: scrape flag, path, port, scheme. */
function annotated(kind: 'pod' | 'service'): RelabelConfig[] {
  const a = (name: string) => `__meta_kubernetes_${kind}_annotation_prometheus_io_${name}`;
  return [
    { source_labels: [a('scrape')], regex: 'true', action: 'keep' },
    { source_labels: [a('scheme')], regex: '(https?)', target_label: '__scheme__' },
    { source_labels: [a('path')], regex: '(.+)', target_label: '__metrics_path__' },
    // The annotated port replaces the discovered one (IPv4 and IPv6 addresses alike).
    {
      source_labels: ['__address__', a('port')],
      regex: '(.+?)(?::\\d+)?;(\\d+)',
      replacement: '$1:$2',
      target_label: '__address__',
    },
  ];
}

/** Builds the configuration. */
export function prometheusConfig(args: PrometheusConfigArgs): PrometheusConfig {
  const jobs: ScrapeConfig[] = [
    {
      job_name: 'prometheus',
      static_configs: [{ targets: ['localhost:9090'] }],
    },
    {
      job_name: 'alertmanager',
      static_configs: [{ targets: args.alertmanagers }],
    },
    {
      job_name: 'kube-state-metrics',
      // kube-state-metrics reports on other objects: its namespace/pod labels are theirs, not its own.
      honor_labels: true,
      static_configs: [{ targets: [args.kubeStateMetrics] }],
    },
    {
      job_name: 'kubernetes-apiservers',
      ...inCluster,
      tls_config: { ca_file: `${SA}/ca.crt` },
      kubernetes_sd_configs: [{ role: 'endpointslice', namespaces: { names: ['default'] } }],
      relabel_configs: [
        {
          source_labels: ['__meta_kubernetes_service_name', '__meta_kubernetes_endpointslice_port_name'],
          regex: 'kubernetes;https',
          action: 'keep',
        },
      ],
    },
    // Kubelets serve certificates signed by their own CA on most clusters (kube-prometheus skips verification
    // for the same reason); the bearer token still authenticates Prometheus, and nodes/metrics authorizes it.
    {
      job_name: 'kubelet',
      ...inCluster,
      tls_config: { insecure_skip_verify: true },
      kubernetes_sd_configs: [{ role: 'node' }],
      relabel_configs: [{ source_labels: ['__meta_kubernetes_node_name'], target_label: 'node' }],
    },
    {
      job_name: 'cadvisor',
      ...inCluster,
      metrics_path: '/metrics/cadvisor',
      tls_config: { insecure_skip_verify: true },
      kubernetes_sd_configs: [{ role: 'node' }],
      relabel_configs: [{ source_labels: ['__meta_kubernetes_node_name'], target_label: 'node' }],
    },
    {
      job_name: 'kubernetes-pods',
      kubernetes_sd_configs: [{ role: 'pod' }],
      relabel_configs: [
        ...annotated('pod'),
        // Only running pods: completed Job pods keep their annotations but serve nothing.
        { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Pending|Succeeded|Failed', action: 'drop' },
        ...podLabels,
        // The app's pods carry app/slot/version: they become target labels, so every series says which slot
        // and version produced it (the dashboards and alerts split by slot).
        { source_labels: ['__meta_kubernetes_pod_label_app'], regex: '(.+)', target_label: 'app' },
        { source_labels: ['__meta_kubernetes_pod_label_slot'], regex: '(.+)', target_label: 'slot' },
        { source_labels: ['__meta_kubernetes_pod_label_version'], regex: '(.+)', target_label: 'version' },
      ],
    },
    {
      job_name: 'kubernetes-service-endpoints',
      kubernetes_sd_configs: [{ role: 'endpointslice' }],
      relabel_configs: [
        ...annotated('service'),
        { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
        { source_labels: ['__meta_kubernetes_service_name'], target_label: 'service' },
        { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      ],
    },
  ];
  if (args.nodeExporterNamespace !== undefined) {
    jobs.push({
      job_name: 'node-exporter',
      kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [args.nodeExporterNamespace] } }],
      relabel_configs: [
        {
          source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'],
          regex: 'node-exporter',
          action: 'keep',
        },
        { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'metrics', action: 'keep' },
        // One node-exporter per node: the node name is the meaningful instance.
        { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'instance' },
        { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
      ],
    });
  }
  if (args.blackbox !== undefined) {
    jobs.push({ job_name: 'blackbox-exporter', static_configs: [{ targets: [args.blackbox.address] }] });
    if (args.blackbox.targets.length > 0) {
      jobs.push({
        job_name: 'blackbox-http',
        scrape_interval: args.blackbox.interval,
        metrics_path: '/probe',
        params: { module: ['http_2xx'] },
        static_configs: args.blackbox.targets.map((t) => ({
          targets: [t.url],
          labels: { probe: t.name, ...(t.namespace !== undefined ? { namespace: t.namespace } : {}) },
        })),
        relabel_configs: [
          { source_labels: ['__address__'], target_label: '__param_target' },
          { source_labels: ['__param_target'], target_label: 'instance' },
          { target_label: '__address__', replacement: args.blackbox.address },
        ],
      });
    }
  }
  return {
    global: {
      scrape_interval: args.scrapeInterval,
      evaluation_interval: args.evaluationInterval,
      external_labels: { environment: args.environment },
    },
    rule_files: [`${args.rulesDir}/*.yml`],
    alerting: { alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: args.alertmanagers }] }] },
    scrape_configs: jobs,
  };
}

/** Serializes any configuration object to YAML the way every generated file of the stack is written. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}
