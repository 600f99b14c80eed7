/**
 * The Prometheus Elasticsearch exporter: cluster health (`elasticsearch_cluster_health_status`), node and index
 * statistics, scraped through the `prometheus.io/*` annotations of its pods by the monitoring namespace only.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { withDefaults } from '../shared/args';
import { allowPolicy, tcp } from '../shared/network';
import { restrictedPodSecurityContext } from '../shared/security';
import * as workload from '../shared/workload';
import {
  CREDENTIALS_CHECKSUM_ANNOTATION,
  generatedSecretsChecksum,
  roleLabels,
  TO_ELASTICSEARCH,
} from './common';
import { NAMES, PORTS } from './defaults';
import { ELASTICSEARCH_EXPORTER_DEFAULTS } from './options';
import { CA_FILE, caVolume, TLS_GENERATION_ANNOTATION } from './tls';

export { ELASTICSEARCH_EXPORTER_DEFAULTS } from './options';

/** What a stack decides about the exporter (`pavemaster:logging.exporter`): its image and resources. */
export type ElasticsearchExporterOptions = workload.ImageOptions;

export interface ElasticsearchExporterArgs extends ElasticsearchExporterOptions {
  /** The namespace. Required. */
  readonly namespace: string;
  /** Elasticsearch's in-cluster URL. Required. */
  readonly elasticsearchUrl: pulumi.Input<string>;
  /** The exporter user's password. Required. */
  readonly password: pulumi.Input<string>;
  /** Who may scrape it (the monitoring namespace). @default nobody */
  readonly metricsClients?: readonly k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** The certificates' generation: a new one rolls the pod, which reads the CA at start. @default 1 */
  readonly tlsGeneration?: number;
  /** Resources to create the Deployment after (the certificate Job). @default none */
  readonly certificates?: readonly pulumi.Resource[];
}

/** The image's unprivileged user (`nobody`). */
const EXPORTER_UID = 65534;
const APP = 'elasticsearch-exporter';

/** The exporter's Deployment spec: one replica, credentials from its Secret, scraped by annotation. */
export function exporterDeploymentSpec(
  o: Required<ElasticsearchExporterOptions> & { elasticsearchUrl: pulumi.Input<string> },
  credentialsSecret: pulumi.Input<string>,
  tlsGeneration = 1,
  /** {@link generatedSecretsChecksum} of the Secret's values: their change rolls the pods. */
  credentialsChecksum?: pulumi.Input<string>,
): k8s.types.input.apps.v1.DeploymentSpec {
  const { labels, selector } = roleLabels('exporter', APP);
  const ca = caVolume();
  return workload.deploymentSpec({
    replicas: 1,
    labels,
    selector,
    annotations: {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(PORTS.elasticsearchExporter),
      'prometheus.io/path': '/metrics',
      [TLS_GENERATION_ANNOTATION]: String(tlsGeneration),
      ...(credentialsChecksum !== undefined
        ? { [CREDENTIALS_CHECKSUM_ANNOTATION]: credentialsChecksum }
        : {}),
    },
    pod: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: restrictedPodSecurityContext(EXPORTER_UID),
      containers: [
        workload.restrictedContainer({
          name: 'exporter',
          image: o.image,
          args: [
            pulumi.interpolate`--es.uri=${o.elasticsearchUrl}`,
            // Verified with the stack's CA (chain and host name; --es.ssl-skip-verify stays off).
            `--es.ca=${CA_FILE}`,
            '--es.all',
            '--es.timeout=10s',
            `--web.listen-address=:${PORTS.elasticsearchExporter}`,
          ],
          // The exporter reads its credentials from these variables, so the URI carries none.
          env: workload.envFromSecret(credentialsSecret, {
            ES_USERNAME: 'username',
            ES_PASSWORD: 'password',
          }),
          ports: [{ name: 'metrics', containerPort: PORTS.elasticsearchExporter }],
          resources: o.resources,
          readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 },
          livenessProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 20 },
          volumeMounts: [ca.mount],
        }),
      ],
      volumes: [ca.volume],
    },
  });
}

export class ElasticsearchExporter extends pulumi.ComponentResource {
  constructor(name: string, args: ElasticsearchExporterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:ElasticsearchExporter', name, {}, opts);
    const o = {
      ...withDefaults(ELASTICSEARCH_EXPORTER_DEFAULTS, args),
      elasticsearchUrl: args.elasticsearchUrl,
    };
    const child = { parent: this };
    const ns = args.namespace;
    const { labels, selector } = roleLabels('exporter', APP);
    const scope = (objectName: string) => ({ objectName, namespace: ns, labels });

    const credentials = workload.opaqueSecret(
      `${name}-credentials`,
      {
        ...scope(`${APP}-elasticsearch`),
        data: { username: NAMES.exporterUser, password: pulumi.secret(args.password) },
      },
      child,
    );
    workload.deployment(
      name,
      scope(APP),
      exporterDeploymentSpec(
        o,
        credentials.objectName,
        args.tlsGeneration ?? 1,
        generatedSecretsChecksum(args.password),
      ),
      // By its known name and dependsOn: a replaced Secret must not replace the Deployment (workload.Referable).
      { parent: this, dependsOn: [credentials, ...(args.certificates ?? [])] },
    );
    workload.clusterService(
      `${name}-service`,
      {
        ...scope(APP),
        selector,
        ports: [{ name: 'metrics', port: PORTS.elasticsearchExporter, targetPort: 'metrics' }],
      },
      child,
    );
    const metricsClients = args.metricsClients ?? [];
    allowPolicy(
      `${name}-netpol`,
      {
        ...scope(APP),
        podSelector: selector,
        ingress:
          metricsClients.length > 0
            ? [{ from: [...metricsClients], ports: tcp(PORTS.elasticsearchExporter) }]
            : [],
        egress: [TO_ELASTICSEARCH],
      },
      child,
    );

    this.registerOutputs({});
  }
}
