/** The blackbox exporter: Prometheus asks it to probe a URL (the app's public, active and preview endpoints). */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { imageTag } from '../shared/image';
import { allowPolicy, namespacePeer, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import * as workload from '../shared/workload';
import { BlackboxConfig } from './blackboxConfig';
import { ANYWHERE, checksum, monitoringContainer, podSecurity, podsPeer, serviceLabels } from './common';
import { ExporterArgs } from './kubeStateMetrics';
import { toYaml } from './prometheusConfig';

export { BLACKBOX_DEFAULTS } from './options';

export const BLACKBOX_PORT = 9115;

/** What a stack decides about the blackbox exporter (`pavemaster:monitoring.blackbox`). */
export interface BlackboxOptions {
  /** Probe the app's URLs. @default true */
  readonly enabled?: boolean;
  /** How often each URL is probed (a Prometheus duration). @default "30s" */
  readonly interval?: string;
  /** Requests and limits. @default 10m/32Mi requested, 100m/64Mi limit */
  readonly resources?: ContainerResources;
}

export interface BlackboxExporterArgs extends ExporterArgs {
  /** The configuration (modules). Required. */
  readonly config: BlackboxConfig;
  /** Namespaces whose pods are probed (the app's). Required. */
  readonly probedNamespaces: readonly pulumi.Input<string>[];
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
    const scope = (object: string) => ({ objectName: object, namespace: args.namespace, labels });
    const configText = toYaml(args.config);
    const config = workload.configFiles(
      `${name}-config`,
      { ...scope(`${objectName}-config`), data: { 'blackbox.yml': configText } },
      child,
    );
    workload.deployment(
      name,
      scope(objectName),
      blackboxDeploymentSpec(args, labels, selector, {
        configMapName: config.objectName,
        configChecksum: checksum(configText),
      }),
      workload.dependingOn(child, config),
    );
    const service = workload.clusterService(
      `${name}-service`,
      {
        ...scope(objectName),
        selector,
        ports: [{ name: 'http', port: BLACKBOX_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
      child,
    );
    allowPolicy(
      `${name}-network`,
      {
        ...scope(objectName),
        podSelector: selector,
        ingress: [{ from: [podsPeer(args.scraperLabels)], ports: tcp(BLACKBOX_PORT) }],
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

/** The blackbox exporter's Deployment spec: one replica with its modules from the ConfigMap. */
export function blackboxDeploymentSpec(
  args: BlackboxExporterArgs,
  labels: Record<string, string>,
  selector: Record<string, string>,
  refs: { configMapName: pulumi.Input<string>; configChecksum: string },
): k8s.types.input.apps.v1.DeploymentSpec {
  return workload.deploymentSpec({
    replicas: 1,
    labels,
    selector,
    annotations: { 'pavemaster.io/config-checksum': refs.configChecksum },
    pod: {
      automountServiceAccountToken: false,
      securityContext: podSecurity(),
      containers: [
        monitoringContainer({
          name: 'blackbox-exporter',
          image: args.image,
          resources: args.resources,
          args: ['--config.file=/etc/blackbox/blackbox.yml', `--web.listen-address=:${BLACKBOX_PORT}`],
          ports: [{ name: 'http', containerPort: BLACKBOX_PORT, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/-/healthy', port: 'http' }, periodSeconds: 10 },
          // Liveness only asks whether the process still accepts connections; readiness that it is healthy.
          livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 15, failureThreshold: 4 },
          volumeMounts: [{ name: 'config', mountPath: '/etc/blackbox', readOnly: true }],
        }),
      ],
      volumes: [{ name: 'config', configMap: { name: refs.configMapName } }],
    },
  });
}
