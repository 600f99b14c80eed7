/**
 * node-exporter on every node: host metrics. It reads the host: the host's PID and network namespaces and its root
 * filesystem (read-only). Those are exactly what the `restricted` and `baseline` Pod Security levels forbid, so it
 * runs in a namespace of its own at `privileged` (the Monitoring component creates it; see docs/monitoring.md). The
 * container itself stays as tight as the rest: non-root, no capability, no privilege escalation, read-only root
 * filesystem.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { imageTag } from '../shared/image';
import { allowPolicy, namespacePeer, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import * as workload from '../shared/workload';
import { monitoringContainer, podSecurity, serviceLabels } from './common';
import { ExporterArgs } from './kubeStateMetrics';

export const NODE_EXPORTER_PORT = 9100;

/** What a stack decides about node-exporter (`pavemaster:monitoring.nodeExporter`). */
export interface NodeExporterOptions {
  /** Run node-exporter (and its privileged namespace `<monitoring namespace>-node`). @default true */
  readonly enabled?: boolean;
  /** Requests and limits. @default 20m/32Mi requested, 200m/64Mi limit */
  readonly resources?: ContainerResources;
}

export const NODE_EXPORTER_DEFAULTS: Required<NodeExporterOptions> = {
  enabled: true,
  resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
};

export interface NodeExporterArgs extends ExporterArgs {
  /** The monitoring namespace, whose scraper may reach the exporters. Required. */
  readonly scraperNamespace: pulumi.Input<string>;
}

export class NodeExporter extends pulumi.ComponentResource {
  constructor(name: string, args: NodeExporterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:NodeExporter', name, {}, opts);
    const child = { parent: this };
    const objectName = 'node-exporter';
    const { labels, selector } = serviceLabels('node-exporter', name, imageTag(args.image));
    workload.daemonSet(
      name,
      { objectName, namespace: args.namespace, labels },
      nodeExporterDaemonSetSpec(args, labels, selector),
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

/** node-exporter's DaemonSet spec: one pod per node, tolerating every taint, reading the host read-only. */
export function nodeExporterDaemonSetSpec(
  args: NodeExporterArgs,
  labels: Record<string, string>,
  selector: Record<string, string>,
): k8s.types.input.apps.v1.DaemonSetSpec {
  return {
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
          monitoringContainer({
            name: 'node-exporter',
            image: args.image,
            resources: args.resources,
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
          }),
        ],
        volumes: [{ name: 'root', hostPath: { path: '/', type: 'Directory' } }],
      },
    },
  };
}
