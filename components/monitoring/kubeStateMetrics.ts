/** kube-state-metrics: the state of Kubernetes objects from the API server, as kube-prometheus runs it. */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { imageTag } from '../shared/image';
import { allowPolicy, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import { RELEASE_ANNOTATIONS } from '../shared/release';
import * as workload from '../shared/workload';
import { ANYWHERE, monitoringContainer, podSecurity, podsPeer, serviceLabels } from './common';

export { KUBE_STATE_METRICS_DEFAULTS } from './options';

export const KSM_PORT = 8080;
/** kube-state-metrics' own metrics. */
export const KSM_TELEMETRY_PORT = 8081;

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

/** What a stack decides about kube-state-metrics (`pavemaster:monitoring.kubeStateMetrics`). */
export interface KubeStateMetricsOptions {
  /** Requests and limits. @default 20m/64Mi requested, 200m/128Mi limit */
  readonly resources?: ContainerResources;
}

/** What every exporter is told: where it runs, its image, and who scrapes it. */
export interface ExporterArgs {
  /** The namespace to run in. Required. */
  readonly namespace: pulumi.Input<string>;
  /** The image. Required. */
  readonly image: string;
  /** Requests and limits. Required. */
  readonly resources: ContainerResources;
  /** Pod labels (in the monitoring namespace) of the scraper allowed in. Required. */
  readonly scraperLabels: Record<string, string>;
}

export interface KubeStateMetricsArgs extends ExporterArgs {
  /** Pod and Deployment labels exposed as `label_*` (kube_*_labels). @default app, slot, version */
  readonly labelsAllowlist?: readonly string[];
  /** Deployment annotations exposed as `annotation_*`. @default the release annotations */
  readonly deploymentAnnotationsAllowlist?: readonly string[];
}

const OBJECT = 'kube-state-metrics';

export class KubeStateMetrics extends pulumi.ComponentResource {
  /** "host:port" of the metrics Service. */
  readonly address: pulumi.Output<string>;

  constructor(name: string, args: KubeStateMetricsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:KubeStateMetrics', name, {}, opts);
    const child = { parent: this };
    const { labels, selector } = serviceLabels('kube-state-metrics', name, imageTag(args.image));
    const scope = { objectName: OBJECT, namespace: args.namespace, labels };

    const sa = workload.serviceAccount(`${name}-sa`, { ...scope, automount: false }, child);
    workload.clusterReader(
      name,
      {
        roleName: pulumi.interpolate`${args.namespace}-kube-state-metrics`,
        labels,
        rules: KSM_CLUSTER_RULES,
        serviceAccount: { name: sa.metadata.name, namespace: args.namespace },
      },
      child,
    );
    workload.deployment(
      name,
      scope,
      kubeStateMetricsDeploymentSpec(args, labels, selector, sa.metadata.name),
      child,
    );
    const service = workload.clusterService(
      `${name}-service`,
      {
        ...scope,
        selector,
        ports: [{ name: 'http-metrics', port: KSM_PORT, targetPort: 'http-metrics', protocol: 'TCP' }],
      },
      child,
    );
    allowPolicy(
      `${name}-network`,
      {
        ...scope,
        podSelector: selector,
        // 8080: the cluster-state metrics; 8081: kube-state-metrics' own metrics (telemetry), scraped too.
        ingress: [{ from: [podsPeer(args.scraperLabels)], ports: tcp(KSM_PORT, KSM_TELEMETRY_PORT) }],
        // The API server is a node address: no selector reaches it.
        egress: [{ to: [ANYWHERE], ports: tcp(443, 6443) }],
      },
      child,
    );
    this.address = pulumi.interpolate`${service.metadata.name}.${args.namespace}.svc:${KSM_PORT}`;
    this.registerOutputs({ address: this.address });
  }
}

/**
 * kube-state-metrics' Deployment spec: one replica reporting exactly KSM_RESOURCES, with the app's labels and the
 * release annotations, its token mounted to read the API server.
 */
export function kubeStateMetricsDeploymentSpec(
  args: KubeStateMetricsArgs,
  labels: Record<string, string>,
  selector: Record<string, string>,
  serviceAccountName: pulumi.Input<string>,
): k8s.types.input.apps.v1.DeploymentSpec {
  const labelAllow = (args.labelsAllowlist ?? ['app', 'slot', 'version']).join(',');
  const annotations = (args.deploymentAnnotationsAllowlist ?? RELEASE_ANNOTATIONS).join(',');
  return workload.deploymentSpec({
    replicas: 1,
    labels,
    selector,
    pod: {
      serviceAccountName,
      automountServiceAccountToken: true,
      securityContext: podSecurity(),
      containers: [
        monitoringContainer({
          name: 'kube-state-metrics',
          image: args.image,
          resources: args.resources,
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
        }),
      ],
    },
  });
}
