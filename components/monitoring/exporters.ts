/**
 * The exporters: kube-state-metrics (object state from the API server, as kube-prometheus runs it), node-exporter
 * (one per node, host metrics) and the blackbox exporter (HTTP probes of the app's URLs).
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources } from '../shared/resources';
import { BlackboxConfig } from './blackboxConfig';
import {
  allowPolicy,
  ANYWHERE,
  checksum,
  containerBasics,
  imageTag,
  namespacePeer,
  podSecurity,
  serviceLabels,
  tcp,
} from './common';
import { toYaml } from './prometheusConfig';

export const KSM_PORT = 8080;
/** kube-state-metrics' own metrics. */
export const KSM_TELEMETRY_PORT = 8081;
export const NODE_EXPORTER_PORT = 9100;
export const BLACKBOX_PORT = 9115;

/** The objects kube-state-metrics reports on: what the rules and dashboards use, nothing else. */
export const KSM_RESOURCES = [
  'daemonsets',
  'deployments',
  'nodes',
  'persistentvolumeclaims',
  'pods',
  'statefulsets',
];

/** Read-only access to exactly those objects (list and watch, as its informers need). */
export const KSM_CLUSTER_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes', 'persistentvolumeclaims', 'pods'], verbs: ['list', 'watch'] },
  { apiGroups: ['apps'], resources: ['daemonsets', 'deployments', 'statefulsets'], verbs: ['list', 'watch'] },
];

interface ExporterArgs {
  /** The namespace to run in. Required. */
  namespace: pulumi.Input<string>;
  /** The image. Required. */
  image: string;
  /** Requests and limits. Required. */
  resources: ContainerResources;
  /** Pod labels (in the monitoring namespace) of the scraper allowed in. Required. */
  scraperLabels: Record<string, string>;
}

export interface KubeStateMetricsArgs extends ExporterArgs {
  /** The monitoring namespace when the scraper is elsewhere; default the exporter's own namespace. */
  scraperNamespace?: pulumi.Input<string>;
  /** Pod and Deployment labels exposed as `label_*` (kube_*_labels). Default app, slot, version. */
  labelsAllowlist?: string[];
  /** Deployment annotations exposed as `annotation_*`. Default the release annotations. */
  deploymentAnnotationsAllowlist?: string[];
}

export class KubeStateMetrics extends pulumi.ComponentResource {
  /** "host:port" of the metrics Service. */
  readonly address: pulumi.Output<string>;

  constructor(name: string, args: KubeStateMetricsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:KubeStateMetrics', name, {}, opts);
    const child = { parent: this };
    const objectName = 'kube-state-metrics';
    const { labels, selector } = serviceLabels('kube-state-metrics', name, imageTag(args.image));
    const labelAllow = (args.labelsAllowlist ?? ['app', 'slot', 'version']).join(',');
    const annotations = (
      args.deploymentAnnotationsAllowlist ?? ['pavemaster.io/release-id', 'pavemaster.io/released-at']
    ).join(',');

    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        automountServiceAccountToken: false,
      },
      child,
    );
    const roleName = pulumi.interpolate`${args.namespace}-kube-state-metrics`;
    const role = new k8s.rbac.v1.ClusterRole(
      `${name}-role`,
      { metadata: { name: roleName, labels }, rules: KSM_CLUSTER_RULES },
      child,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-binding`,
      {
        metadata: { name: roleName, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: args.namespace }],
      },
      child,
    );
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: sa.metadata.name,
              automountServiceAccountToken: true,
              securityContext: podSecurity(),
              containers: [
                {
                  name: 'kube-state-metrics',
                  image: args.image,
                  ...containerBasics(args.resources),
                  args: [
                    `--port=${KSM_PORT}`,
                    `--telemetry-port=${KSM_TELEMETRY_PORT}`,
                    `--resources=${KSM_RESOURCES.join(',')}`,
                    `--metric-labels-allowlist=pods=[${labelAllow}],deployments=[${labelAllow}]`,
                    `--metric-annotations-allowlist=deployments=[${annotations}]`,
                  ],
                  ports: [
                    { name: 'http-metrics', containerPort: KSM_PORT, protocol: 'TCP' },
                    { name: 'telemetry', containerPort: KSM_TELEMETRY_PORT, protocol: 'TCP' },
                  ],
                  readinessProbe: { httpGet: { path: '/', port: KSM_TELEMETRY_PORT }, periodSeconds: 10 },
                  livenessProbe: { httpGet: { path: '/healthz', port: KSM_PORT }, periodSeconds: 15 },
                },
              ],
            },
          },
        },
      },
      child,
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          selector,
          ports: [{ name: 'http-metrics', port: KSM_PORT, targetPort: 'http-metrics', protocol: 'TCP' }],
        },
      },
      child,
    );
    allowPolicy(
      `${name}-network`,
      {
        objectName,
        namespace: args.namespace,
        labels,
        podSelector: selector,
        // 8080: the cluster-state metrics; 8081: kube-state-metrics' own metrics (telemetry), scraped too.
        ingress: [
          {
            from: [{ podSelector: { matchLabels: args.scraperLabels } }],
            ports: tcp(KSM_PORT, KSM_TELEMETRY_PORT),
          },
        ],
        // The API server is a node address: no selector reaches it.
        egress: [{ to: [ANYWHERE], ports: tcp(443, 6443) }],
      },
      child,
    );
    this.address = pulumi.interpolate`${service.metadata.name}.${args.namespace}.svc:${KSM_PORT}`;
    this.registerOutputs({ address: this.address });
  }
}

export interface NodeExporterArgs extends ExporterArgs {
  /** The monitoring namespace, whose scraper may reach the exporters. Required. */
  scraperNamespace: pulumi.Input<string>;
}

/**
 * node-exporter on every node. It reads the host: the host's PID and network namespaces and its root filesystem
 * (read-only). Those are exactly what the `restricted` and `baseline` Pod Security levels forbid, so it runs in a
 * namespace of its own at `privileged` (see infra/monitoring.ts and docs/monitoring.md). The container itself
 * stays as tight as the rest: non-root, no capability, no privilege escalation, read-only root filesystem.
 */
export class NodeExporter extends pulumi.ComponentResource {
  constructor(name: string, args: NodeExporterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:NodeExporter', name, {}, opts);
    const child = { parent: this };
    const objectName = 'node-exporter';
    const { labels, selector } = serviceLabels('node-exporter', name, imageTag(args.image));
    new k8s.apps.v1.DaemonSet(
      `${name}-daemonset`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          selector: { matchLabels: selector },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              // EXCEPTION to restricted Pod Security: host namespaces and a hostPath volume, to read the node.
              hostNetwork: true,
              hostPID: true,
              dnsPolicy: 'ClusterFirstWithHostNet',
              securityContext: podSecurity(),
              tolerations: [{ operator: 'Exists' }],
              priorityClassName: 'system-node-critical',
              containers: [
                {
                  name: 'node-exporter',
                  image: args.image,
                  ...containerBasics(args.resources),
                  args: [
                    `--web.listen-address=:${NODE_EXPORTER_PORT}`,
                    '--path.rootfs=/host/root',
                    '--path.procfs=/host/root/proc',
                    '--path.sysfs=/host/root/sys',
                    '--no-collector.wifi',
                    '--no-collector.hwmon',
                    '--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s/containerd/.+|var/lib/docker/.+|var/lib/kubelet/.+)($|/)',
                  ],
                  ports: [{ name: 'metrics', containerPort: NODE_EXPORTER_PORT, protocol: 'TCP' }],
                  readinessProbe: { httpGet: { path: '/', port: NODE_EXPORTER_PORT }, periodSeconds: 10 },
                  // Liveness only asks whether the process still accepts connections; readiness that it serves.
                  livenessProbe: {
                    tcpSocket: { port: NODE_EXPORTER_PORT },
                    periodSeconds: 15,
                    failureThreshold: 4,
                  },
                  volumeMounts: [
                    {
                      name: 'root',
                      mountPath: '/host/root',
                      readOnly: true,
                      mountPropagation: 'HostToContainer',
                    },
                  ],
                },
              ],
              volumes: [{ name: 'root', hostPath: { path: '/', type: 'Directory' } }],
            },
          },
        },
      },
      child,
    );
    allowPolicy(
      `${name}-network`,
      {
        objectName,
        namespace: args.namespace,
        labels,
        podSelector: selector,
        ingress: [
          {
            from: [namespacePeer(args.scraperNamespace, args.scraperLabels)],
            ports: tcp(NODE_EXPORTER_PORT),
          },
        ],
        egress: [],
      },
      child,
    );
    this.registerOutputs({});
  }
}

export interface BlackboxExporterArgs extends ExporterArgs {
  /** The configuration (modules). Required. */
  config: BlackboxConfig;
  /** Namespaces whose pods are probed (the app's). Required. */
  probedNamespaces: pulumi.Input<string>[];
}

/** The blackbox exporter: Prometheus asks it to probe a URL and records success and duration. */
export class BlackboxExporter extends pulumi.ComponentResource {
  /** "host:port" of its Service. */
  readonly address: pulumi.Output<string>;

  constructor(name: string, args: BlackboxExporterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:BlackboxExporter', name, {}, opts);
    const child = { parent: this };
    const objectName = 'blackbox-exporter';
    const { labels, selector } = serviceLabels('blackbox-exporter', name, imageTag(args.image));
    const configText = toYaml(args.config);
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: `${objectName}-config`, namespace: args.namespace, labels },
        data: { 'blackbox.yml': configText },
      },
      child,
    );
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels, annotations: { 'pavemaster.io/config-checksum': checksum(configText) } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: podSecurity(),
              containers: [
                {
                  name: 'blackbox-exporter',
                  image: args.image,
                  ...containerBasics(args.resources),
                  args: [
                    '--config.file=/etc/blackbox/blackbox.yml',
                    `--web.listen-address=:${BLACKBOX_PORT}`,
                  ],
                  ports: [{ name: 'http', containerPort: BLACKBOX_PORT, protocol: 'TCP' }],
                  readinessProbe: { httpGet: { path: '/-/healthy', port: 'http' }, periodSeconds: 10 },
                  // Liveness only asks whether the process still accepts connections; readiness that it is healthy.
                  livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 15, failureThreshold: 4 },
                  volumeMounts: [{ name: 'config', mountPath: '/etc/blackbox', readOnly: true }],
                },
              ],
              volumes: [{ name: 'config', configMap: { name: config.metadata.name } }],
            },
          },
        },
      },
      child,
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          selector,
          ports: [{ name: 'http', port: BLACKBOX_PORT, targetPort: 'http', protocol: 'TCP' }],
        },
      },
      child,
    );
    allowPolicy(
      `${name}-network`,
      {
        objectName,
        namespace: args.namespace,
        labels,
        podSelector: selector,
        ingress: [
          { from: [{ podSelector: { matchLabels: args.scraperLabels } }], ports: tcp(BLACKBOX_PORT) },
        ],
        egress: [
          // The app's pods behind its Services, and the public URL (through whatever serves it).
          { to: args.probedNamespaces.map((ns) => namespacePeer(ns)) },
          { to: [ANYWHERE], ports: tcp(80, 443) },
        ],
      },
      child,
    );
    this.address = pulumi.interpolate`${service.metadata.name}.${args.namespace}.svc:${BLACKBOX_PORT}`;
    this.registerOutputs({ address: this.address });
  }
}
