/**
 * The Prometheus Elasticsearch exporter: cluster health (`elasticsearch_cluster_health_status`), node and index
 * statistics, scraped through the `prometheus.io/*` annotations of its pods by the monitoring namespace only.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources, toResourceRequirements } from '../shared/resources';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../shared/security';
import { allowPolicy, rolePeer, roleLabels, roleSelector, tcp } from './common';
import { NAMES, PORTS } from './defaults';

export interface ElasticsearchExporterArgs {
  /** The namespace. Required. */
  namespace: string;
  /** The exporter image. Required. */
  image: string;
  /** Requests and limits. Required. */
  resources: ContainerResources;
  /** Elasticsearch's in-cluster URL. Required. */
  elasticsearchUrl: pulumi.Input<string>;
  /** The exporter user's password. Required. */
  password: pulumi.Input<string>;
  /** Who may scrape it (the monitoring namespace); nobody when empty. */
  metricsClients: k8s.types.input.networking.v1.NetworkPolicyPeer[];
}

/** The image's unprivileged user (`nobody`). */
const EXPORTER_UID = 65534;

export class ElasticsearchExporter extends pulumi.ComponentResource {
  constructor(name: string, args: ElasticsearchExporterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:ElasticsearchExporter', name, {}, opts);
    const child = { parent: this };
    const ns = args.namespace;
    const app = 'elasticsearch-exporter';
    const labels = roleLabels('exporter', app);
    const selector = roleSelector('exporter', app);

    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: `${app}-elasticsearch`, namespace: ns, labels },
        type: 'Opaque',
        stringData: { username: NAMES.exporterUser, password: pulumi.secret(args.password) },
      },
      child,
    );

    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: {
              labels,
              annotations: {
                'prometheus.io/scrape': 'true',
                'prometheus.io/port': String(PORTS.elasticsearchExporter),
                'prometheus.io/path': '/metrics',
              },
            },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurityContext(EXPORTER_UID),
              containers: [
                {
                  name: 'exporter',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  args: [
                    pulumi.interpolate`--es.uri=${args.elasticsearchUrl}`,
                    '--es.all',
                    '--es.timeout=10s',
                    `--web.listen-address=:${PORTS.elasticsearchExporter}`,
                  ],
                  // The exporter reads its credentials from these variables, so the URI carries none.
                  env: [
                    {
                      name: 'ES_USERNAME',
                      valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: 'username' } },
                    },
                    {
                      name: 'ES_PASSWORD',
                      valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: 'password' } },
                    },
                  ],
                  ports: [{ name: 'metrics', containerPort: PORTS.elasticsearchExporter }],
                  resources: toResourceRequirements(args.resources),
                  securityContext: restrictedContainerSecurityContext(),
                  readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 },
                  livenessProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 20 },
                },
              ],
            },
          },
        },
      },
      child,
    );

    new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          selector,
          ports: [{ name: 'metrics', port: PORTS.elasticsearchExporter, targetPort: 'metrics' }],
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
        ingress:
          args.metricsClients.length > 0
            ? [{ from: args.metricsClients, ports: tcp(PORTS.elasticsearchExporter) }]
            : [],
        egress: [{ to: [rolePeer('elasticsearch', 'elasticsearch')], ports: tcp(PORTS.elasticsearchHttp) }],
      },
      child,
    );

    this.registerOutputs({});
  }
}
