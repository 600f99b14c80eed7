/**
 * node-exporter on every node: host metrics. It reads the host: the host's PID and network namespaces and its root
 * filesystem (read-only). Those are exactly what the `restricted` and `baseline` Pod Security levels forbid, so it
 * runs in a namespace of its own at `privileged` (the Monitoring component creates it; see docs/monitoring.md). The
 * container itself stays as tight as the rest: non-root, no capability, no privilege escalation, read-only root
 * filesystem.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ArgChecks, ArgProblem, throwIfInvalid } from '../shared/args';
import { imageTag } from '../shared/image';
import { allowPolicy, namespacePeer, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import * as workload from '../shared/workload';
import { monitoringContainer, podSecurity, serviceLabels } from './common';
import { ExporterArgs } from './kubeStateMetrics';
import { checkNodeExporterPort, NODE_EXPORTER_PORT } from './options';

export {
  checkNodeExporterPort,
  NODE_EXPORTER_DEFAULTS,
  NODE_EXPORTER_PORT,
  RESERVED_HOST_PORTS,
} from './options';

/** What a stack decides about node-exporter (`pavemaster:monitoring.nodeExporter`). */
export interface NodeExporterOptions {
  /** Run node-exporter (and its privileged namespace `<monitoring namespace>-node`). @default true */
  readonly enabled?: boolean;
  /** Requests and limits. @default 20m/32Mi requested, 200m/64Mi limit */
  readonly resources?: ContainerResources;
  /**
   * The port it listens on, on every node's host network (1024-65535, none of the kubelet's, kube-proxy's,
   * etcd's). A node has each host port once: a second stack in the same cluster (staging beside production)
   * sets a port of its own, or its pods stay Pending and its update waits until the provider's timeout
   * (docs/operations.md, "Two stacks in one cluster").
   * @default 9100
   */
  readonly port?: number;
}

export interface NodeExporterArgs extends ExporterArgs {
  /** The monitoring namespace, whose scraper may reach the exporters. Required. */
  readonly scraperNamespace: pulumi.Input<string>;
  /** The host port it listens on. @default 9100 ({@link NodeExporterOptions.port}) */
  readonly port?: number;
}

function portProblems(port: number): ArgProblem[] {
  const c = new ArgChecks();
  c.check('port', port, checkNodeExporterPort);
  return [...c.problems];
}

export class NodeExporter extends pulumi.ComponentResource {
  constructor(name: string, args: NodeExporterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:monitoring:NodeExporter', name, {}, opts);
    const child = { parent: this };
    const objectName = 'node-exporter';
    const port = args.port ?? NODE_EXPORTER_PORT;
    throwIfInvalid(`NodeExporter ${name}`, portProblems(port));
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
            ports: tcp(port),
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
  const port = args.port ?? NODE_EXPORTER_PORT;
  return workload.daemonSetSpec({
    labels,
    selector,
    pod: {
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
            `--web.listen-address=:${port}`,
            '--path.rootfs=/host/root',
            '--path.procfs=/host/root/proc',
            '--path.sysfs=/host/root/sys',
            '--no-collector.wifi',
            '--no-collector.hwmon',
            '--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s/containerd/.+|var/lib/docker/.+|var/lib/kubelet/.+)($|/)',
          ],
          ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 10 },
          // Liveness only asks whether the process still accepts connections; readiness that it serves.
          livenessProbe: {
            tcpSocket: { port },
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
  });
}
