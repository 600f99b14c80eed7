/**
 * Prometheus: a StatefulSet (one PersistentVolumeClaim per replica, kept when the set is deleted or scaled
 * down in production), its configuration and rules from typed objects, a ServiceAccount bound to a ClusterRole
 * that can only read what service discovery needs, and the NetworkPolicies that let it scrape and be queried.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources } from '../shared/resources';
import {
  allowPolicy,
  ANYWHERE,
  checksum,
  containerBasics,
  imageTag,
  namespacePeer,
  podSecurity,
  serviceLabels,
  spreadOverNodes,
  tcp,
} from './common';
import { PrometheusConfig, toYaml } from './prometheusConfig';
import { RuleGroup } from './rules';

/** The port Prometheus serves on. */
export const PROMETHEUS_PORT = 9090;

/**
 * What Prometheus may read cluster-wide: exactly the objects its Kubernetes service discovery lists and watches
 * (pods, services, endpointslices, nodes), the kubelet's metrics endpoints (nodes/metrics, get only) and the API
 * server's /metrics. No wildcards, no write verbs, no secrets.
 */
export const PROMETHEUS_CLUSTER_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes', 'pods', 'services'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  { nonResourceURLs: ['/metrics'], verbs: ['get'] },
];

export interface PrometheusArgs {
  /** The namespace to run in. Required. */
  namespace: pulumi.Input<string>;
  /** The image. Required. */
  image: string;
  /** The configuration (prometheus.yml); an Input, as probe targets may be known only at deployment. Required. */
  config: pulumi.Input<PrometheusConfig>;
  /** The alert rule groups, one file per group. Required. */
  ruleGroups: RuleGroup[];
  /** Replicas; each scrapes everything and keeps its own copy (HA pair in production). Default 1. */
  replicas?: number;
  /** How long samples are kept (a Prometheus duration). Default "15d". */
  retention?: string;
  /** The size of each replica's volume claim. Default "10Gi". */
  storage?: string;
  /** The StorageClass; default the cluster's default class. */
  storageClass?: string;
  /** Requests and limits. Default 200m/512Mi requested, 1 CPU/1Gi limit. */
  resources?: ContainerResources;
  /** Namespaces Prometheus scrapes pods in, besides its own (app, logging, node-exporter). Default none. */
  scrapeNamespaces?: pulumi.Input<string>[];
  /** Pod labels (in this namespace) allowed to query Prometheus, e.g. Grafana's. Default none. */
  queriers?: Record<string, string>[];
  /** Protect the StatefulSet and keep the volume claims on deletion and scale-down. Default false. */
  protect?: boolean;
}

export class Prometheus extends pulumi.ComponentResource {
  /** The Service name. */
  readonly serviceName: pulumi.Output<string>;
  /** The in-cluster URL, "http://prometheus.<namespace>.svc:9090". */
  readonly url: pulumi.Output<string>;
  /** The labels that select Prometheus's pods (for other components' NetworkPolicies). */
  readonly podLabels: Record<string, string>;
  /** The StatefulSet. */
  readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: PrometheusArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:Prometheus', name, {}, opts);
    const replicas = args.replicas ?? 1;
    const retention = args.retention ?? '15d';
    const storage = args.storage ?? '10Gi';
    const resources = args.resources ?? {
      requests: { cpu: '200m', memory: '512Mi' },
      limits: { cpu: '1', memory: '1Gi' },
    };
    const protect = args.protect ?? false;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`Prometheus ${name}: replicas ${replicas} is not a whole number of at least 1`);
    }
    const child = { parent: this };
    const objectName = 'prometheus';
    const { labels, selector } = serviceLabels('prometheus', name, imageTag(args.image));
    this.podLabels = selector;

    const sa = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        automountServiceAccountToken: false,
      },
      child,
    );
    // ClusterRole names are cluster-wide: the namespace keeps two stacks' roles apart.
    const clusterRoleName = pulumi.interpolate`${args.namespace}-prometheus`;
    const role = new k8s.rbac.v1.ClusterRole(
      `${name}-role`,
      { metadata: { name: clusterRoleName, labels }, rules: PROMETHEUS_CLUSTER_RULES },
      child,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-binding`,
      {
        metadata: { name: clusterRoleName, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: args.namespace }],
      },
      child,
    );

    const configText = pulumi.output(args.config).apply((c) => toYaml(c as PrometheusConfig));
    const ruleFiles: Record<string, string> = {};
    for (const group of args.ruleGroups) {
      ruleFiles[`${group.name}.yml`] = toYaml({ groups: [group] });
    }
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: `${objectName}-config`, namespace: args.namespace, labels },
        data: { 'prometheus.yml': configText },
      },
      child,
    );
    const rules = new k8s.core.v1.ConfigMap(
      `${name}-rules`,
      { metadata: { name: `${objectName}-rules`, namespace: args.namespace, labels }, data: ruleFiles },
      child,
    );

    const headless = new k8s.core.v1.Service(
      `${name}-headless`,
      {
        metadata: { name: `${objectName}-headless`, namespace: args.namespace, labels },
        spec: {
          clusterIP: 'None',
          selector,
          ports: [{ name: 'web', port: PROMETHEUS_PORT, targetPort: 'web', protocol: 'TCP' }],
        },
      },
      child,
    );
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          replicas,
          serviceName: headless.metadata.name,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: selector },
          // Deleting or scaling down the set keeps the data in production; staging cleans up after itself.
          persistentVolumeClaimRetentionPolicy: protect
            ? { whenDeleted: 'Retain', whenScaled: 'Retain' }
            : { whenDeleted: 'Delete', whenScaled: 'Delete' },
          template: {
            metadata: {
              labels,
              annotations: {
                'pavemaster.io/config-checksum': configText.apply((c) =>
                  checksum(c, ...Object.values(ruleFiles)),
                ),
              },
            },
            spec: {
              serviceAccountName: sa.metadata.name,
              // The ServiceAccount mounts no token by default; this pod, which queries the API server, opts in.
              automountServiceAccountToken: true,
              securityContext: podSecurity(),
              affinity: spreadOverNodes(selector),
              terminationGracePeriodSeconds: 120,
              containers: [
                {
                  name: 'prometheus',
                  image: args.image,
                  ...containerBasics(resources),
                  args: [
                    '--config.file=/etc/prometheus/prometheus.yml',
                    '--storage.tsdb.path=/prometheus',
                    `--storage.tsdb.retention.time=${retention}`,
                    '--web.listen-address=:9090',
                    '--web.enable-lifecycle',
                  ],
                  ports: [{ name: 'web', containerPort: PROMETHEUS_PORT, protocol: 'TCP' }],
                  readinessProbe: {
                    httpGet: { path: '/-/ready', port: 'web' },
                    periodSeconds: 10,
                    failureThreshold: 3,
                  },
                  livenessProbe: {
                    httpGet: { path: '/-/healthy', port: 'web' },
                    periodSeconds: 15,
                    failureThreshold: 6,
                  },
                  startupProbe: {
                    httpGet: { path: '/-/ready', port: 'web' },
                    periodSeconds: 10,
                    failureThreshold: 60,
                  },
                  volumeMounts: [
                    { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
                    { name: 'rules', mountPath: '/etc/prometheus/rules', readOnly: true },
                    { name: 'data', mountPath: '/prometheus' },
                  ],
                },
              ],
              volumes: [
                { name: 'config', configMap: { name: config.metadata.name } },
                { name: 'rules', configMap: { name: rules.metadata.name } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(args.storageClass !== undefined ? { storageClassName: args.storageClass } : {}),
                resources: { requests: { storage } },
              },
            },
          ],
        },
      },
      { parent: this, protect },
    );

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: objectName, namespace: args.namespace, labels },
        spec: {
          selector,
          ports: [{ name: 'web', port: PROMETHEUS_PORT, targetPort: 'web', protocol: 'TCP' }],
        },
      },
      child,
    );
    if (replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-pdb`,
        {
          metadata: { name: objectName, namespace: args.namespace, labels },
          spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
        },
        child,
      );
    }

    allowPolicy(
      `${name}-network`,
      {
        objectName: 'prometheus',
        namespace: args.namespace,
        labels,
        podSelector: selector,
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: selector } },
              ...(args.queriers ?? []).map((q) => ({ podSelector: { matchLabels: q } })),
            ],
            ports: tcp(PROMETHEUS_PORT),
          },
        ],
        egress: [
          // Scrape targets: every pod of this namespace and of the namespaces it monitors, on their own ports.
          { to: [{ podSelector: {} }, ...(args.scrapeNamespaces ?? []).map((ns) => namespacePeer(ns))] },
          // The API server, the kubelets and host-network exporters are node addresses: no selector reaches them.
          { to: [ANYWHERE], ports: tcp(443, 6443, 10250, 9100) },
        ],
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.url = pulumi.interpolate`http://${service.metadata.name}.${args.namespace}.svc:${PROMETHEUS_PORT}`;
    this.registerOutputs({ serviceName: this.serviceName, url: this.url });
  }
}
