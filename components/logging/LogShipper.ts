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
import { ContainerResources, toResourceRequirements } from '../shared/resources';
import { restrictedContainerSecurityContext } from '../shared/security';
import { allowPolicy, ApiServerPeer, contentHash, rolePeer, roleLabels, roleSelector, tcp } from './common';
import { PORTS } from './defaults';
import { FILEBEAT_HTTP_PORT, filebeatConfig } from './pipeline';

export interface LogShipperArgs {
  /** The shipper's (privileged) namespace. Required. */
  namespace: pulumi.Input<string>;
  /** The namespace's name, for cluster-scoped names. Required. */
  namespaceName: string;
  /** The Filebeat image. Required. */
  image: string;
  /** Requests and limits. Required. */
  resources: ContainerResources;
  /** Namespaces whose container logs are shipped. Required. */
  shippedNamespaces: string[];
  /** The Logstash namespace and Beats host (`host:port`). Required. */
  logstashNamespace: string;
  logstashHost: string;
  /** The API server, for pod metadata. Required. */
  apiServer: ApiServerPeer;
}

export class LogShipper extends pulumi.ComponentResource {
  constructor(name: string, args: LogShipperArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:LogShipper', name, {}, opts);
    const child = { parent: this };
    const ns = args.namespace;
    const app = 'filebeat';
    const labels = roleLabels('shipper', app);
    const selector = roleSelector('shipper', app);
    const clusterName = `${args.namespaceName}-filebeat`;

    const account = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name: app, namespace: ns, labels } },
      child,
    );
    const role = new k8s.rbac.v1.ClusterRole(
      `${name}-clusterrole`,
      {
        metadata: { name: clusterName, labels },
        rules: [
          { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['get', 'list', 'watch'] },
        ],
      },
      child,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-clusterrolebinding`,
      {
        metadata: { name: clusterName, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: ns }],
      },
      child,
    );

    const configText = filebeatConfig({
      namespaces: args.shippedNamespaces,
      logstashHosts: [args.logstashHost],
    });
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: { name: `${app}-config`, namespace: ns, labels }, data: { 'filebeat.yml': configText } },
      child,
    );

    const hostDir = (volume: string, path: string): k8s.types.input.core.v1.Volume => ({
      name: volume,
      hostPath: { path, type: 'Directory' },
    });
    new k8s.apps.v1.DaemonSet(
      `${name}-daemonset`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          selector: { matchLabels: selector },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
          template: {
            metadata: { labels, annotations: { 'pavemaster.io/config-hash': contentHash(configText) } },
            spec: {
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: true,
              enableServiceLinks: false,
              terminationGracePeriodSeconds: 30,
              securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'filebeat',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
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
                  resources: toResourceRequirements(args.resources),
                  // Exception to runAsNonRoot (see the file comment): root without any capability.
                  securityContext: {
                    ...restrictedContainerSecurityContext(),
                    runAsNonRoot: false,
                    runAsUser: 0,
                    runAsGroup: 0,
                  },
                  volumeMounts: [
                    { name: 'config', mountPath: '/etc/filebeat', readOnly: true },
                    { name: 'containers', mountPath: '/var/log/containers', readOnly: true },
                    { name: 'pods', mountPath: '/var/log/pods', readOnly: true },
                    { name: 'registry', mountPath: '/usr/share/filebeat/data' },
                    { name: 'tmp', mountPath: '/tmp' },
                  ],
                },
              ],
              volumes: [
                // Filebeat refuses a config file that others may write: read-only for its owner (root).
                { name: 'config', configMap: { name: config.metadata.name, defaultMode: 0o400 } },
                hostDir('containers', '/var/log/containers'),
                hostDir('pods', '/var/log/pods'),
                {
                  name: 'registry',
                  hostPath: { path: `/var/lib/${clusterName}`, type: 'DirectoryOrCreate' },
                },
                { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
              ],
            },
          },
        },
      },
      child,
    );

    allowPolicy(
      `${name}-netpol`,
      {
        namespace: ns,
        objectName: app,
        podSelector: selector,
        labels,
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
