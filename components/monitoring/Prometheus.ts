/**
 * Prometheus: a StatefulSet (one PersistentVolumeClaim per replica, kept when the set is deleted or scaled
 * down in production), its configuration and rules from typed objects, a ServiceAccount bound to a ClusterRole
 * that can only read what service discovery needs, and the NetworkPolicies that let it scrape and be queried.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { Resolved, throwIfNoReplicas, withDefaults } from '../shared/args';
import { imageTag } from '../shared/image';
import { allowPolicy, namespacePeer, NetworkPeer, networkPeer, tcp } from '../shared/network';
import * as workload from '../shared/workload';
import { ANYWHERE, checksum, monitoringContainer, podSecurity, podsPeer, serviceLabels } from './common';
import { PrometheusConfig, toYaml } from './prometheusConfig';
import { RuleGroup } from './rules';
import { NODE_EXPORTER_PORT } from './nodeExporter';
import { PROMETHEUS_DEFAULTS } from './options';

export { PROMETHEUS_DEFAULTS } from './options';

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

/**
 * What a stack decides about Prometheus (`pavemaster:monitoring.prometheus`): each replica scrapes everything and
 * keeps its own copy on its volume (an HA pair in production), for `retention`.
 */
export interface PrometheusOptions extends workload.StatefulOptions {
  /** How long samples are kept (a Prometheus duration). @default "7d" */
  readonly retention?: string;
  /**
   * Who else may query Prometheus besides the stack's own Grafana, as the app's `ingressFrom`: another Grafana
   * that reads the stack's Prometheus datasource (`dashboards.configMaps`), e.g.
   * `{ namespace: "monitoring", podLabels: { "app.kubernetes.io/name": "grafana" } }`.
   * @default nobody; with the datasource handed to another Grafana, that Grafana's pods (the grafana chart's
   * `app.kubernetes.io/name: grafana` in `dashboards.configMaps.namespace`)
   */
  readonly ingressFrom?: readonly NetworkPeer[];
}

export type ResolvedPrometheusOptions = Resolved<PrometheusOptions, 'storageClass'>;

export interface PrometheusArgs extends PrometheusOptions {
  /** The namespace to run in. Required. */
  readonly namespace: pulumi.Input<string>;
  /** The image. Required. */
  readonly image: string;
  /** The configuration (prometheus.yml); an Input, as probe targets may be known only at deployment. Required. */
  readonly config: pulumi.Input<PrometheusConfig>;
  /** The alert rule groups, one file per group. Required. */
  readonly ruleGroups: readonly RuleGroup[];
  /** Namespaces Prometheus scrapes pods in, besides its own (app, logging, node-exporter). @default none */
  readonly scrapeNamespaces?: readonly pulumi.Input<string>[];
  /**
   * Ports of exporters on the nodes' host network it scrapes (node-exporter's). Node addresses match no
   * selector, so egress to these ports is open to any address.
   * @default [9100]
   */
  readonly hostExporterPorts?: readonly number[];
  /** Pod labels (in this namespace) allowed to query Prometheus, e.g. Grafana's. @default none */
  readonly queriers?: readonly Record<string, string>[];
  /** Protect the StatefulSet and keep the volume claims on deletion and scale-down. @default false */
  readonly protect?: boolean;
}

const OBJECT = 'prometheus';
const WEB = { name: 'web', port: PROMETHEUS_PORT, targetPort: 'web', protocol: 'TCP' };

/** The StatefulSet's spec: Prometheus with its config, rules and a data claim per replica. */
export function prometheusStatefulSetSpec(
  o: ResolvedPrometheusOptions & { image: string; protect: boolean },
  labels: Record<string, string>,
  selector: Record<string, string>,
  refs: {
    serviceAccountName: pulumi.Input<string>;
    serviceName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    rulesMapName: pulumi.Input<string>;
    configChecksum: pulumi.Input<string>;
  },
): k8s.types.input.apps.v1.StatefulSetSpec {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: 'web' },
    periodSeconds,
    failureThreshold,
  });
  return {
    // Deleting or scaling down the set keeps the data in production; staging cleans up after itself.
    ...workload.parallelStatefulSet({ ...o, serviceName: refs.serviceName, selector }),
    template: {
      metadata: { labels, annotations: { 'pavemaster.io/config-checksum': refs.configChecksum } },
      spec: {
        serviceAccountName: refs.serviceAccountName,
        // The ServiceAccount mounts no token by default; this pod, which queries the API server, opts in.
        automountServiceAccountToken: true,
        securityContext: podSecurity(),
        affinity: workload.antiAffinity('preferred', selector),
        terminationGracePeriodSeconds: 120,
        containers: [
          monitoringContainer({
            name: 'prometheus',
            image: o.image,
            resources: o.resources,
            args: [
              '--config.file=/etc/prometheus/prometheus.yml',
              '--storage.tsdb.path=/prometheus',
              `--storage.tsdb.retention.time=${o.retention}`,
              '--web.listen-address=:9090',
              '--web.enable-lifecycle',
            ],
            ports: [{ name: 'web', containerPort: PROMETHEUS_PORT, protocol: 'TCP' }],
            readinessProbe: probe('/-/ready', 10, 3),
            livenessProbe: probe('/-/healthy', 15, 6),
            startupProbe: probe('/-/ready', 10, 60),
            volumeMounts: [
              { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
              { name: 'rules', mountPath: '/etc/prometheus/rules', readOnly: true },
              { name: 'data', mountPath: '/prometheus' },
            ],
          }),
        ],
        volumes: [
          { name: 'config', configMap: { name: refs.configMapName } },
          { name: 'rules', configMap: { name: refs.rulesMapName } },
        ],
      },
    },
    volumeClaimTemplates: [
      workload.volumeClaim({ name: 'data', labels, storage: o.storage, storageClass: o.storageClass }),
    ],
  };
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
    const o = {
      ...withDefaults(PROMETHEUS_DEFAULTS, args),
      image: args.image,
      protect: args.protect ?? false,
    };
    throwIfNoReplicas(`Prometheus ${name}`, o.replicas);
    const child = { parent: this };
    const { labels, selector } = serviceLabels('prometheus', name, imageTag(args.image));
    const scope = (objectName: string) => ({ objectName, namespace: args.namespace, labels });
    this.podLabels = selector;

    const sa = workload.serviceAccount(`${name}-sa`, { ...scope(OBJECT), automount: false }, child);
    // ClusterRole names are cluster-wide: the namespace keeps two stacks' roles apart.
    workload.clusterReader(
      name,
      {
        roleName: pulumi.interpolate`${args.namespace}-prometheus`,
        labels,
        rules: PROMETHEUS_CLUSTER_RULES,
        serviceAccount: { name: sa.metadata.name, namespace: args.namespace },
      },
      child,
    );

    const configText = pulumi.output(args.config).apply((c) => toYaml(c as PrometheusConfig));
    const ruleFiles: Record<string, string> = {};
    for (const group of args.ruleGroups) {
      ruleFiles[`${group.name}.yml`] = toYaml({ groups: [group] });
    }
    const config = workload.configFiles(
      `${name}-config`,
      { ...scope(`${OBJECT}-config`), data: { 'prometheus.yml': configText } },
      child,
    );
    const rules = workload.configFiles(
      `${name}-rules`,
      { ...scope(`${OBJECT}-rules`), data: ruleFiles },
      child,
    );

    const headless = workload.headlessService(
      `${name}-headless`,
      { ...scope(`${OBJECT}-headless`), selector, ports: [WEB] },
      child,
    );
    this.statefulSet = workload.statefulSet(
      name,
      scope(OBJECT),
      prometheusStatefulSetSpec(o, labels, selector, {
        serviceAccountName: sa.metadata.name,
        serviceName: headless.metadata.name,
        configMapName: config.objectName,
        rulesMapName: rules.objectName,
        configChecksum: configText.apply((c) => checksum(c, ...Object.values(ruleFiles))),
      }),
      workload.dependingOn({ parent: this, protect: o.protect }, config, rules),
    );
    const service = workload.serviceWithPdb(
      name,
      { ...scope(OBJECT), selector, ports: [WEB], replicas: o.replicas },
      child,
    );

    allowPolicy(
      `${name}-network`,
      {
        ...scope(OBJECT),
        podSelector: selector,
        ingress: [
          {
            from: [
              podsPeer(selector),
              ...(args.queriers ?? []).map(podsPeer),
              ...o.ingressFrom.map(networkPeer),
            ],
            ports: tcp(PROMETHEUS_PORT),
          },
        ],
        egress: [
          // Scrape targets: every pod of this namespace and of the namespaces it monitors, on their own ports.
          { to: [{ podSelector: {} }, ...(args.scrapeNamespaces ?? []).map((ns) => namespacePeer(ns))] },
          // The API server, the kubelets and host-network exporters are node addresses: no selector reaches them.
          {
            to: [ANYWHERE],
            ports: tcp(443, 6443, 10250, ...(args.hostExporterPorts ?? [NODE_EXPORTER_PORT])),
          },
        ],
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.url = pulumi.interpolate`http://${service.metadata.name}.${args.namespace}.svc:${PROMETHEUS_PORT}`;
    this.registerOutputs({ serviceName: this.serviceName, url: this.url });
  }
}
