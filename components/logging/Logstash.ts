/**
 * Logstash: receives the shipper's Beats connections, parses and enriches the app's log lines (see
 * `pipeline.ts`) and writes them to Elasticsearch with its own credentials. Its persistent queue lives on a
 * PersistentVolumeClaim, so events already accepted from the shipper survive a slow or restarting Elasticsearch
 * and a Logstash restart. A Prometheus exporter sidecar turns the monitoring API into metrics.
 *
 * It is a StatefulSet rather than a Deployment: each replica needs its own queue volume (a ReadWriteOnce claim
 * cannot be shared by several replicas, and two Logstash processes must never share a queue directory), and
 * volumeClaimTemplates give every replica a stable claim that it finds again after a restart.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ContainerResources, toResourceRequirements } from '../shared/resources';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../shared/security';
import { parseQuantity } from '../../stacks/validators';
import { allowPolicy, contentHash, rolePeer, roleLabels, roleSelector, tcp } from './common';
import { ELASTIC_UID, NAMES, PORTS } from './defaults';
import { logstashPipeline, logstashSettings } from './pipeline';

export interface LogstashArgs {
  /** The namespace. Required. */
  namespace: string;
  /** Replicas, each with its own queue volume. Required. */
  replicas: number;
  /** The JVM heap ("512m"). Required. */
  heap: string;
  /** Logstash's requests and limits. Required. */
  resources: ContainerResources;
  /** Each replica's queue volume; the queue may fill 90% of it. Required. */
  queueSize: string;
  /** The queue volumes' StorageClass; the cluster default when unset. */
  storageClass?: string;
  /** The Logstash image. Required. */
  image: string;
  /** The Prometheus exporter sidecar's image and resources. Required. */
  exporterImage: string;
  exporterResources: ContainerResources;
  /** Elasticsearch's in-cluster URL. Required. */
  elasticsearchUrl: pulumi.Input<string>;
  /** Logstash's Elasticsearch password (user `pavemaster_logstash`). Required. */
  password: pulumi.Input<string>;
  /** The data stream namespace (the environment). Required. */
  dataStreamNamespace: string;
  /** Access-log paths dropped as noise. Required. */
  dropPaths: string[];
  /** Who may send Beats traffic (the shipper's pods). Required. */
  beatsClients: k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** Who may scrape the exporter (the monitoring namespace); nobody when empty. */
  metricsClients: k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** Keep the queue volumes when the StatefulSet is deleted or scaled down; protect the StatefulSet. */
  protect: boolean;
}

export class Logstash extends pulumi.ComponentResource {
  /** The Beats Service's name. */
  readonly serviceName: pulumi.Output<string>;
  /** `host:port` of the Beats endpoint, for the shipper. */
  readonly beatsHost: pulumi.Output<string>;

  constructor(name: string, args: LogstashArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Logstash', name, {}, opts);
    const child = { parent: this };
    const ns = args.namespace;
    const app = 'logstash';
    const labels = roleLabels('logstash', app);
    const selector = roleSelector('logstash', app);
    const queueBytes = parseQuantity(args.queueSize);
    if (queueBytes === undefined) {
      throw new Error(`Logstash ${name}: queueSize "${args.queueSize}" is not a storage quantity`);
    }

    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: `${app}-elasticsearch`, namespace: ns, labels },
        type: 'Opaque',
        stringData: { username: NAMES.writerUser, password: pulumi.secret(args.password) },
      },
      child,
    );

    const pipeline = pulumi.output(args.elasticsearchUrl).apply((url) =>
      logstashPipeline({
        elasticsearchUrl: url,
        dataStreamNamespace: args.dataStreamNamespace,
        dropPaths: args.dropPaths,
        userEnv: 'ES_USER',
        passwordEnv: 'ES_PASSWORD',
      }),
    );
    const settings = logstashSettings({
      queuePath: '/usr/share/logstash/data/queue',
      queueMaxBytes: Math.floor(queueBytes * 0.9),
    });
    const config = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      {
        metadata: { name: `${app}-config`, namespace: ns, labels },
        data: { 'logstash.yml': settings, 'logstash.conf': pipeline },
      },
      child,
    );

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: 'beats', port: PORTS.beats, targetPort: 'beats' }],
        },
      },
      child,
    );

    // The StatefulSet's governing Service: headless, so every replica has a stable DNS name.
    const headless = new k8s.core.v1.Service(
      `${name}-headless`,
      {
        metadata: { name: `${app}-headless`, namespace: ns, labels },
        spec: {
          clusterIP: 'None',
          selector,
          ports: [{ name: 'beats', port: PORTS.beats, targetPort: 'beats' }],
        },
      },
      child,
    );

    const retention = args.protect ? 'Retain' : 'Delete';
    new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: {
          serviceName: headless.metadata.name,
          replicas: args.replicas,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: selector },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: retention, whenScaled: retention },
          template: {
            metadata: {
              labels,
              annotations: {
                'prometheus.io/scrape': 'true',
                'prometheus.io/port': String(PORTS.logstashMetrics),
                'prometheus.io/path': '/metrics',
                // Restart on a changed pipeline or settings: Logstash does not reload them (reload is off).
                'pavemaster.io/config-hash': pipeline.apply((p) => contentHash(p, settings)),
              },
            },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurityContext(ELASTIC_UID),
              // Time to drain in-flight batches into the persistent queue.
              terminationGracePeriodSeconds: 60,
              // The root filesystem stays read-only: the image's config directory is copied to an emptyDir (its
              // entrypoint rewrites logstash.yml from the environment at start), with our logstash.yml over it.
              initContainers: [
                {
                  name: 'config',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  command: [
                    'sh',
                    '-c',
                    'cp -R /usr/share/logstash/config/. /config/ && cp /settings/logstash.yml /config/logstash.yml',
                  ],
                  resources: toResourceRequirements({
                    requests: { cpu: '10m', memory: '32Mi' },
                    limits: { cpu: '200m', memory: '64Mi' },
                  }),
                  securityContext: restrictedContainerSecurityContext(),
                  volumeMounts: [
                    { name: 'config', mountPath: '/config' },
                    { name: 'settings', mountPath: '/settings', readOnly: true },
                  ],
                },
              ],
              containers: [
                {
                  name: 'logstash',
                  image: args.image,
                  imagePullPolicy: 'IfNotPresent',
                  env: [
                    {
                      name: 'LS_JAVA_OPTS',
                      value: `-Xms${args.heap} -Xmx${args.heap} -Djava.io.tmpdir=/tmp`,
                    },
                    {
                      name: 'ES_USER',
                      valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: 'username' } },
                    },
                    {
                      name: 'ES_PASSWORD',
                      valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: 'password' } },
                    },
                  ],
                  // The monitoring API (9600) is not declared: only the sidecar (localhost) and the kubelet use it.
                  ports: [{ name: 'beats', containerPort: PORTS.beats }],
                  resources: toResourceRequirements(args.resources),
                  securityContext: restrictedContainerSecurityContext(),
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
                  ],
                },
                {
                  name: 'exporter',
                  image: args.exporterImage,
                  imagePullPolicy: 'IfNotPresent',
                  env: [
                    { name: 'LOGSTASH_URL', value: `http://127.0.0.1:${PORTS.logstashApi}` },
                    { name: 'PORT', value: String(PORTS.logstashMetrics) },
                  ],
                  ports: [{ name: 'metrics', containerPort: PORTS.logstashMetrics }],
                  resources: toResourceRequirements(args.exporterResources),
                  securityContext: restrictedContainerSecurityContext(),
                  readinessProbe: { httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 30 },
                  livenessProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 20 },
                },
              ],
              volumes: [
                {
                  name: 'pipeline',
                  configMap: {
                    name: config.metadata.name,
                    items: [{ key: 'logstash.conf', path: 'logstash.conf' }],
                  },
                },
                {
                  name: 'settings',
                  configMap: {
                    name: config.metadata.name,
                    items: [{ key: 'logstash.yml', path: 'logstash.yml' }],
                  },
                },
                { name: 'config', emptyDir: { sizeLimit: '64Mi' } },
                { name: 'logs', emptyDir: { sizeLimit: '512Mi' } },
                { name: 'tmp', emptyDir: { sizeLimit: '512Mi' } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'queue', labels },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(args.storageClass !== undefined ? { storageClassName: args.storageClass } : {}),
                resources: { requests: { storage: args.queueSize } },
              },
            },
          ],
        },
      },
      { parent: this, protect: args.protect },
    );

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { name: app, namespace: ns, labels },
        spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
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
        ingress: [
          { from: args.beatsClients, ports: tcp(PORTS.beats) },
          ...(args.metricsClients.length > 0
            ? [{ from: args.metricsClients, ports: tcp(PORTS.logstashMetrics) }]
            : []),
        ],
        egress: [{ to: [rolePeer('elasticsearch', 'elasticsearch')], ports: tcp(PORTS.elasticsearchHttp) }],
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.beatsHost = pulumi.interpolate`${service.metadata.name}.${ns}.svc:${PORTS.beats}`;
    this.registerOutputs({ serviceName: this.serviceName, beatsHost: this.beatsHost });
  }
}
