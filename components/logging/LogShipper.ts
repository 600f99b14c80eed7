/**
 * Filebeat as a DaemonSet: reads the container log files of the shipped namespaces on every node, attaches the
 * pods' Kubernetes metadata (labels included: `app`, `slot`, `version`) and sends the events to Logstash.
 *
 * It must read the node's log files through hostPath volumes, which the restricted and baseline Pod Security
 * levels forbid, so it lives in its own namespace that enforces `privileged` (and still warns and audits at
 * `restricted`). Everything else stays as tight as it goes:
 * - the log directories are mounted read-only; the only writable host path is Filebeat's own registry (the
 *   read offsets, so a restart neither loses nor re-sends lines);
 * - it runs as root (uid 0) because kubelet writes the log files as root with mode 0640: only their owner can
 *   read them. Root here holds no capability at all (`drop: [ALL]`), cannot escalate, and has a read-only root
 *   filesystem and the RuntimeDefault seccomp profile;
 * - RBAC is get/list/watch on pods, namespaces and nodes, nothing else.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { withDefaults } from '../shared/args';
import { allowPolicy, tcp } from '../shared/network';
import * as workload from '../shared/workload';
import { ApiServerPeer, contentHash, rolePeer, roleLabels } from './common';
import { PORTS } from './defaults';
import { FILEBEAT_HTTP_PORT, filebeatConfig } from './pipeline';
import { LOG_SHIPPER_DEFAULTS } from './options';
import { CA_FILE, caVolume, TLS_GENERATION_ANNOTATION } from './tls';

export { LOG_SHIPPER_DEFAULTS } from './options';

/** What a stack decides about the shipper (`pavemaster:logging.shipper`): its image and resources. */
export type LogShipperOptions = workload.ImageOptions;

export interface LogShipperArgs extends LogShipperOptions {
  /** The shipper's (privileged) namespace. Required. */
  readonly namespace: pulumi.Input<string>;
  /** The namespace's name, for cluster-scoped names. Required. */
  readonly namespaceName: string;
  /** Namespaces whose container logs are shipped. Required. */
  readonly shippedNamespaces: readonly string[];
  /** The Logstash namespace and Beats host (`host:port`). Required. */
  readonly logstashNamespace: string;
  readonly logstashHost: string;
  /** The API server, for pod metadata. Required. */
  readonly apiServer: ApiServerPeer;
  /** The certificates' generation: a new one rolls the pods, which read the CA at start. @default 1 */
  readonly tlsGeneration?: number;
  /** Resources to create the DaemonSet after (the certificate Job). @default none */
  readonly certificates?: readonly pulumi.Resource[];
}

const APP = 'filebeat';

/** What Filebeat may read cluster-wide: the metadata it attaches to each line. */
export const FILEBEAT_CLUSTER_RULES: k8s.types.input.rbac.v1.PolicyRule[] = [
  { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
];

/** The DaemonSet's spec: Filebeat on every node, reading the container logs read-only. */
export function logShipperDaemonSetSpec(
  o: Required<LogShipperOptions>,
  refs: {
    serviceAccountName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    configHash: string;
    registryDir: string;
    tlsGeneration?: number;
  },
): k8s.types.input.apps.v1.DaemonSetSpec {
  const { labels, selector } = roleLabels('shipper', APP);
  const ca = caVolume();
  const hostDir = (volume: string, path: string): k8s.types.input.core.v1.Volume => ({
    name: volume,
    hostPath: { path, type: 'Directory' },
  });
  return workload.daemonSetSpec({
    labels,
    selector,
    annotations: {
      'pavemaster.io/config-hash': refs.configHash,
      [TLS_GENERATION_ANNOTATION]: String(refs.tlsGeneration ?? 1),
    },
    pod: {
      serviceAccountName: refs.serviceAccountName,
      automountServiceAccountToken: true,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        workload.restrictedContainer({
          name: 'filebeat',
          image: o.image,
          args: ['-c', '/etc/filebeat/filebeat.yml', '-e', '--path.data', '/usr/share/filebeat/data'],
          env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          // Filebeat's HTTP endpoint (stats as JSON) on 5066, for the kubelet's probes only: the port is not
          // declared and the namespace's default-deny admits no one else.
          readinessProbe: { httpGet: { path: '/', port: FILEBEAT_HTTP_PORT }, periodSeconds: 10 },
          livenessProbe: {
            tcpSocket: { port: FILEBEAT_HTTP_PORT },
            periodSeconds: 20,
            failureThreshold: 6,
          },
          resources: o.resources,
          // Exception to runAsNonRoot (see the file comment): root without any capability.
          securityContext: { runAsNonRoot: false, runAsUser: 0, runAsGroup: 0 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/filebeat', readOnly: true },
            { name: 'containers', mountPath: '/var/log/containers', readOnly: true },
            { name: 'pods', mountPath: '/var/log/pods', readOnly: true },
            { name: 'registry', mountPath: '/usr/share/filebeat/data' },
            { name: 'tmp', mountPath: '/tmp' },
            ca.mount,
          ],
        }),
      ],
      volumes: [
        // Filebeat refuses a config file that others may write: read-only for its owner (root).
        { name: 'config', configMap: { name: refs.configMapName, defaultMode: 0o400 } },
        hostDir('containers', '/var/log/containers'),
        hostDir('pods', '/var/log/pods'),
        { name: 'registry', hostPath: { path: refs.registryDir, type: 'DirectoryOrCreate' } },
        workload.scratchVolume('tmp', '64Mi'),
        // The trust bundle the certificate Job publishes into this namespace.
        ca.volume,
      ],
    },
  });
}

export class LogShipper extends pulumi.ComponentResource {
  constructor(name: string, args: LogShipperArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:LogShipper', name, {}, opts);
    const o = withDefaults(LOG_SHIPPER_DEFAULTS, args);
    const child = { parent: this };
    const ns = args.namespace;
    const { labels, selector } = roleLabels('shipper', APP);
    const scope = (objectName: string) => ({ objectName, namespace: ns, labels });
    const clusterName = `${args.namespaceName}-filebeat`;

    const account = workload.serviceAccount(`${name}-sa`, scope(APP), child);
    workload.clusterReader(
      name,
      {
        roleName: clusterName,
        labels,
        rules: FILEBEAT_CLUSTER_RULES,
        serviceAccount: { name: account.metadata.name, namespace: ns },
      },
      child,
      // Named `-clusterrole` and `-clusterrolebinding` before the workload toolkit named every reader alike.
      { role: [{ name: `${name}-clusterrole` }], binding: [{ name: `${name}-clusterrolebinding` }] },
    );

    const configText = filebeatConfig({
      namespaces: [...args.shippedNamespaces],
      logstashHosts: [args.logstashHost],
      caFile: CA_FILE,
    });
    const config = workload.configFiles(
      `${name}-config`,
      { ...scope(`${APP}-config`), data: { 'filebeat.yml': configText } },
      child,
    );
    workload.daemonSet(
      name,
      scope(APP),
      logShipperDaemonSetSpec(o, {
        serviceAccountName: account.metadata.name,
        configMapName: config.objectName,
        configHash: contentHash(configText),
        registryDir: `/var/lib/${clusterName}`,
        tlsGeneration: args.tlsGeneration,
      }),
      workload.dependingOn(child, config, ...(args.certificates ?? [])),
    );

    allowPolicy(
      `${name}-netpol`,
      {
        ...scope(APP),
        podSelector: selector,
        ingress: [],
        egress: [
          { to: [rolePeer('logstash', 'logstash', args.logstashNamespace)], ports: tcp(PORTS.beats) },
          { to: [{ ipBlock: { cidr: args.apiServer.cidr } }], ports: tcp(...args.apiServer.ports) },
        ],
      },
      child,
    );

    this.registerOutputs({});
  }
}
