/**
 * Logstash: receives the shipper's Beats connections, parses and enriches the app's log lines (see
 * `pipeline.ts`) and writes them to Elasticsearch with its own credentials: the stack's own, or an external cluster
 * (`external`) with the credentials of the user's Secret, by reference, verified with the user's CA. Its persistent
 * queue lives on a PersistentVolumeClaim, so events already accepted from the shipper survive a slow or restarting
 * Elasticsearch and a Logstash restart. A Prometheus exporter sidecar turns the monitoring API into metrics.
 *
 * It is a StatefulSet rather than a Deployment: each replica needs its own queue volume (a ReadWriteOnce claim
 * cannot be shared by several replicas, and two Logstash processes must never share a queue directory), and
 * volumeClaimTemplates give every replica a stable claim that it finds again after a restart.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { withDefaults } from '../shared/args';
import { parseQuantity } from '../shared/checks';
import { allowPolicy, networkPeer, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import * as workload from '../shared/workload';
import { configCopyInit, contentHash, roleLabels, TO_ELASTICSEARCH } from './common';
import { elasticPodSecurityContext, NAMES, PORTS } from './defaults';
import { logstashPipeline, logstashSettings, PipelineOptions } from './pipeline';
import { LOGSTASH_DEFAULTS } from './options';
import type { ResolvedExternalElasticsearch } from './external';
import { CA_FILE, CA_KEY, caVolume, LOGSTASH_CERT_SECRET, TLS_GENERATION_ANNOTATION } from './tls';

export { LOGSTASH_DEFAULTS, MIN_QUEUE_BYTES } from './options';

/** What a stack decides about Logstash (`pavemaster:logging.logstash`). */
export interface LogstashOptions {
  /** Replicas, each with its own queue volume. @default 1 */
  readonly replicas?: number;
  /** The JVM heap ("512m"), at most half the memory limit. @default "256m" */
  readonly heap?: string;
  /** Logstash's requests and limits. @default 100m/768Mi requested, 1/768Mi limit */
  readonly resources?: ContainerResources;
  /** Each replica's queue volume (at least 256Mi); the queue may fill 90% of it. @default "2Gi" */
  readonly queueSize?: string;
  /** The Logstash image. @default the pinned 8.19 image */
  readonly image?: string;
  /** The Prometheus exporter sidecar's image. @default the pinned logstash-exporter */
  readonly exporterImage?: string;
  /** The exporter sidecar's requests and limits. @default 10m/32Mi requested, 100m/64Mi limit */
  readonly exporterResources?: ContainerResources;
}

/** The options with every default applied. */
export type ResolvedLogstashOptions = Required<LogstashOptions>;

export interface LogstashArgs extends LogstashOptions {
  /** The namespace. Required. */
  readonly namespace: string;
  /** The queue volumes' StorageClass. @default the cluster's default class */
  readonly storageClass?: string;
  /** Elasticsearch's in-cluster URL (the stack's own). Required unless `external`. */
  readonly elasticsearchUrl?: pulumi.Input<string>;
  /** Logstash's Elasticsearch password (user `pavemaster_logstash`, the stack's own). Required unless `external`. */
  readonly password?: pulumi.Input<string>;
  /**
   * An existing Elasticsearch to write to instead (`logging.elasticsearch.external`): its hosts, its CA (a key of
   * an existing ConfigMap or Secret, or the system trust store) and Logstash's credentials by reference to an
   * existing Secret; its egress peers are the only destinations Logstash may reach.
   * @default the stack's own Elasticsearch
   */
  readonly external?: ResolvedExternalElasticsearch;
  /** The data stream namespace (the environment, or the external cluster's `dataStream.namespace`). Required. */
  readonly dataStreamNamespace: string;
  /** Access-log paths dropped as noise. @default none */
  readonly dropPaths?: readonly string[];
  /** Who may send Beats traffic (the shipper's pods). Required. */
  readonly beatsClients: readonly k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** Who may scrape the exporter (the monitoring namespace). @default nobody */
  readonly metricsClients?: readonly k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** Keep the queue volumes when the StatefulSet is deleted or scaled down; protect the StatefulSet. @default false */
  readonly protect?: boolean;
  /** The certificates' generation: a new one rolls the pods, which read their certificate at start. @default 1 */
  readonly tlsGeneration?: number;
  /** Resources to create the pods after (the certificate Job). @default none */
  readonly certificates?: readonly pulumi.Resource[];
}

/** Where Logstash mounts its Beats certificate (the Secret `logstash-certs`). */
const CERTS_DIR = '/usr/share/logstash/certs';

/** Where Logstash mounts an external cluster's CA, and the file it verifies the cluster with. */
export const EXTERNAL_CA_DIR = '/etc/pavemaster/elasticsearch-ca';
export const EXTERNAL_CA_FILE = `${EXTERNAL_CA_DIR}/${CA_KEY}`;

/** The credentials' environment variables, by the Secret key each comes from. */
const OWN_CREDENTIALS_ENV = { ES_USER: 'username', ES_PASSWORD: 'password' };

/** The environment variables of an external cluster's credentials: the API key, or the user and password. */
export function externalCredentialsEnv(e: ResolvedExternalElasticsearch): Record<string, string> {
  return e.credentials.type === 'apiKey'
    ? { ES_API_KEY: e.credentials.apiKeyKey }
    : { ES_USER: e.credentials.usernameKey, ES_PASSWORD: e.credentials.passwordKey };
}

/**
 * The volume and mount of an external cluster's CA: the given key of the existing ConfigMap or Secret as
 * EXTERNAL_CA_FILE; none with the system trust store. Not optional: Logstash must not start without its CA.
 */
export function externalCaVolume(
  e: ResolvedExternalElasticsearch,
): { volume: k8s.types.input.core.v1.Volume; mount: k8s.types.input.core.v1.VolumeMount } | undefined {
  const { ca } = e;
  if (ca.systemTrustStore) {
    return undefined;
  }
  const name = 'elasticsearch-ca';
  const items = [{ key: ca.key, path: CA_KEY }];
  return {
    volume:
      ca.configMap !== undefined
        ? { name, configMap: { name: ca.configMap, items, defaultMode: 0o444 } }
        : { name, secret: { secretName: ca.secret, items, defaultMode: 0o440 } },
    mount: { name, mountPath: EXTERNAL_CA_DIR, readOnly: true },
  };
}

/** The pipeline's output settings: the stack's own Elasticsearch, or the external one. */
export function outputOptions(
  external: ResolvedExternalElasticsearch | undefined,
  ownUrl: string,
): Pick<
  PipelineOptions,
  'elasticsearchUrl' | 'caFile' | 'caName' | 'userEnv' | 'passwordEnv' | 'apiKeyEnv' | 'dataStreamDataset'
> {
  if (external === undefined) {
    return { elasticsearchUrl: ownUrl, caFile: CA_FILE, userEnv: 'ES_USER', passwordEnv: 'ES_PASSWORD' };
  }
  const env = externalCredentialsEnv(external);
  return {
    elasticsearchUrl: external.hosts,
    ...(external.ca.systemTrustStore
      ? { caFile: undefined }
      : { caFile: EXTERNAL_CA_FILE, caName: "the external cluster's CA" }),
    ...('ES_API_KEY' in env
      ? { apiKeyEnv: 'ES_API_KEY' }
      : { userEnv: 'ES_USER', passwordEnv: 'ES_PASSWORD' }),
    dataStreamDataset: external.dataStream.dataset,
  };
}

const APP = 'logstash';

export class Logstash extends pulumi.ComponentResource {
  /** The Beats Service's name. */
  readonly serviceName: pulumi.Output<string>;
  /** `host:port` of the Beats endpoint, for the shipper. */
  readonly beatsHost: pulumi.Output<string>;

  constructor(name: string, args: LogstashArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Logstash', name, {}, opts);
    const o = {
      ...withDefaults(LOGSTASH_DEFAULTS, args),
      protect: args.protect ?? false,
      storageClass: args.storageClass,
    };
    const child = { parent: this };
    const ns = args.namespace;
    const { labels, selector } = roleLabels('logstash', APP);
    const scope = (objectName: string) => ({ objectName, namespace: ns, labels });
    const queueBytes = parseQuantity(o.queueSize);
    if (queueBytes === undefined) {
      throw new Error(`Logstash ${name}: queueSize "${o.queueSize}" is not a storage quantity`);
    }

    const external = args.external;
    if (external === undefined && (args.elasticsearchUrl === undefined || args.password === undefined)) {
      throw new Error(`Logstash ${name}: elasticsearchUrl and password are required without external`);
    }
    // An external cluster's credentials stay in the user's Secret, referred to by name: none passes through here.
    const credentials =
      external === undefined
        ? workload.opaqueSecret(
            `${name}-credentials`,
            {
              ...scope(`${APP}-elasticsearch`),
              data: { username: NAMES.writerUser, password: pulumi.secret(args.password ?? '') },
            },
            child,
          )
        : undefined;
    const pipeline = pulumi.output(args.elasticsearchUrl ?? '').apply((url) =>
      logstashPipeline({
        ...outputOptions(external, url),
        dataStreamNamespace: args.dataStreamNamespace,
        dropPaths: args.dropPaths ?? [],
        beatsCertificate: `${CERTS_DIR}/logstash.crt`,
        beatsKey: `${CERTS_DIR}/logstash.key`,
      }),
    );
    const settings = logstashSettings({
      queuePath: '/usr/share/logstash/data/queue',
      queueMaxBytes: Math.floor(queueBytes * 0.9),
    });
    const config = workload.referable(
      new k8s.core.v1.ConfigMap(
        `${name}-config`,
        {
          metadata: { name: `${APP}-config`, namespace: ns, labels },
          data: { 'logstash.yml': settings, 'logstash.conf': pipeline },
        },
        child,
      ),
      `${APP}-config`,
    );

    const beats = [{ name: 'beats', port: PORTS.beats, targetPort: 'beats' }];
    const service = workload.clusterService(
      `${name}-service`,
      { ...scope(APP), explicitType: true, selector, ports: beats },
      child,
    );
    // The StatefulSet's governing Service: headless, so every replica has a stable DNS name.
    const headless = workload.headlessService(
      `${name}-headless`,
      { ...scope(`${APP}-headless`), selector, ports: beats },
      child,
    );

    workload.statefulSet(
      name,
      scope(APP),
      logstashStatefulSetSpec(o, {
        serviceName: headless.metadata.name,
        configMapName: config.objectName,
        credentialsSecret: credentials?.objectName ?? external?.credentials.secret ?? '',
        credentialsEnv: external !== undefined ? externalCredentialsEnv(external) : OWN_CREDENTIALS_ENV,
        ca: external !== undefined ? (externalCaVolume(external) ?? null) : undefined,
        configHash: pipeline.apply((p) => contentHash(p, settings)),
        tlsGeneration: args.tlsGeneration ?? 1,
      }),
      workload.dependingOn(
        { parent: this, protect: o.protect },
        config,
        ...(credentials !== undefined ? [credentials] : []),
        ...(args.certificates ?? []),
      ),
    );
    workload.podDisruptionBudget(`${name}-pdb`, { ...scope(APP), selector }, child);

    const metricsClients = args.metricsClients ?? [];
    allowPolicy(
      `${name}-netpol`,
      {
        ...scope(APP),
        podSelector: selector,
        ingress: [
          { from: [...args.beatsClients], ports: tcp(PORTS.beats) },
          ...(metricsClients.length > 0
            ? [{ from: [...metricsClients], ports: tcp(PORTS.logstashMetrics) }]
            : []),
        ],
        // The external cluster's destinations replace the stack's Elasticsearch: nothing else is opened.
        egress:
          external === undefined
            ? [TO_ELASTICSEARCH]
            : external.egress.map((peer) => ({ to: [networkPeer(peer)], ports: tcp(...peer.ports) })),
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.beatsHost = pulumi.interpolate`${service.metadata.name}.${ns}.svc:${PORTS.beats}`;
    this.registerOutputs({ serviceName: this.serviceName, beatsHost: this.beatsHost });
  }
}

/** The StatefulSet's spec: Logstash with its persistent queue, and the exporter sidecar. */
export function logstashStatefulSetSpec(
  o: ResolvedLogstashOptions & { protect: boolean; storageClass?: string },
  refs: {
    serviceName: pulumi.Input<string>;
    configMapName: pulumi.Input<string>;
    credentialsSecret: pulumi.Input<string>;
    /** The credentials' environment variables by Secret key. @default ES_USER and ES_PASSWORD from username and password */
    credentialsEnv?: Record<string, string>;
    /** The CA Logstash verifies Elasticsearch with: null for the system trust store. @default the stack's bundle */
    ca?: { volume: k8s.types.input.core.v1.Volume; mount: k8s.types.input.core.v1.VolumeMount } | null;
    configHash: pulumi.Input<string>;
    tlsGeneration: number;
  },
): k8s.types.input.apps.v1.StatefulSetSpec {
  const { labels, selector } = roleLabels('logstash', APP);
  const ca = refs.ca === undefined ? caVolume() : refs.ca;
  const configItem = (key: string) => ({ name: refs.configMapName, items: [{ key, path: key }] });
  return {
    ...workload.parallelStatefulSet({ ...o, serviceName: refs.serviceName, selector }),
    template: {
      metadata: {
        labels,
        annotations: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(PORTS.logstashMetrics),
          'prometheus.io/path': '/metrics',
          // Restart on a changed pipeline or settings: Logstash does not reload them (reload is off).
          'pavemaster.io/config-hash': refs.configHash,
          // Restart on rotated certificates: the Beats input and the output read theirs at start.
          [TLS_GENERATION_ANNOTATION]: String(refs.tlsGeneration),
        },
      },
      spec: {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: elasticPodSecurityContext(),
        // Time to drain in-flight batches into the persistent queue.
        terminationGracePeriodSeconds: 60,
        // The root filesystem stays read-only: the image's config directory is copied to an emptyDir (its
        // entrypoint rewrites logstash.yml from the environment at start), with our logstash.yml over it.
        initContainers: [
          configCopyInit(o.image, '/usr/share/logstash/config', { volume: 'settings', name: 'logstash.yml' }),
        ],
        containers: [
          workload.restrictedContainer({
            name: 'logstash',
            image: o.image,
            env: [
              { name: 'LS_JAVA_OPTS', value: `-Xms${o.heap} -Xmx${o.heap} -Djava.io.tmpdir=/tmp` },
              ...workload.envFromSecret(refs.credentialsSecret, refs.credentialsEnv ?? OWN_CREDENTIALS_ENV),
            ],
            // The monitoring API (9600) is not declared: only the sidecar (localhost) and the kubelet use it.
            ports: [{ name: 'beats', containerPort: PORTS.beats }],
            resources: o.resources,
            startupProbe: {
              httpGet: { path: '/', port: PORTS.logstashApi },
              periodSeconds: 5,
              failureThreshold: 60,
            },
            // Ready once the API answers; alive while the Beats port accepts connections.
            readinessProbe: { httpGet: { path: '/', port: PORTS.logstashApi }, periodSeconds: 10 },
            livenessProbe: { tcpSocket: { port: 'beats' }, periodSeconds: 20, failureThreshold: 6 },
            volumeMounts: [
              { name: 'queue', mountPath: '/usr/share/logstash/data' },
              { name: 'config', mountPath: '/usr/share/logstash/config' },
              { name: 'pipeline', mountPath: '/usr/share/logstash/pipeline', readOnly: true },
              { name: 'logs', mountPath: '/usr/share/logstash/logs' },
              { name: 'tmp', mountPath: '/tmp' },
              { name: 'certs', mountPath: CERTS_DIR, readOnly: true },
              ...(ca !== null ? [ca.mount] : []),
            ],
          }),
          workload.restrictedContainer({
            name: 'exporter',
            image: o.exporterImage,
            env: [
              { name: 'LOGSTASH_URL', value: `http://127.0.0.1:${PORTS.logstashApi}` },
              { name: 'PORT', value: String(PORTS.logstashMetrics) },
            ],
            ports: [{ name: 'metrics', containerPort: PORTS.logstashMetrics }],
            resources: o.exporterResources,
            readinessProbe: { httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 30 },
            livenessProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 20 },
          }),
        ],
        volumes: [
          { name: 'pipeline', configMap: configItem('logstash.conf') },
          { name: 'settings', configMap: configItem('logstash.yml') },
          workload.scratchVolume('config', '64Mi'),
          workload.scratchVolume('logs', '512Mi'),
          workload.scratchVolume('tmp', '512Mi'),
          // By its known name: the certificate Job creates it (tls.ts).
          { name: 'certs', secret: { secretName: LOGSTASH_CERT_SECRET, defaultMode: 0o440 } },
          ...(ca !== null ? [ca.volume] : []),
        ],
      },
    },
    volumeClaimTemplates: [
      workload.volumeClaim({ name: 'queue', labels, storage: o.queueSize, storageClass: o.storageClass }),
    ],
  };
}
