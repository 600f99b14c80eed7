/**
 * Elasticsearch as a StatefulSet: one node with single-node discovery, or an odd number of master-eligible data
 * nodes that find each other through a headless Service. Security is on (the `elastic` password comes from a
 * Secret), node-to-node traffic is TLS with certificates made once by a Job (`certificates.ts`), data lives on
 * per-node PersistentVolumeClaims, and a setup Job (`setupJob.ts`) applies the ILM policy, index template, roles
 * and users.
 *
 * Kernel settings: `node.store.allow_mmap: false` makes Elasticsearch use NIO instead of memory-mapped files, so
 * no privileged init container has to raise `vm.max_map_count`. The file-descriptor limit (65535) cannot be set
 * from a pod spec; the container runtimes' default (1048576 for containerd and CRI-O) satisfies it.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { Resolved, withDefaults } from '../shared/args';
import { allowPolicy, tcp } from '../shared/network';
import { ContainerResources } from '../shared/resources';
import * as workload from '../shared/workload';
import { certificateJob } from './certificates';
import { CA_CONFIG_MAP, ES_CERT_SECRET } from './tls';
import { ApiServerPeer, configCopyInit, contentHash, rolePeer, roleLabels, SecretCopy } from './common';
import { elasticPodSecurityContext, PORTS } from './defaults';
import { elasticsearchSetupRequests, LifecycleOptions, PLACEHOLDERS } from './elastic';
import { setupJob } from './setupJob';
import { ANY_API_SERVER, ELASTICSEARCH_DEFAULTS } from './options';

export { ANY_API_SERVER, ELASTICSEARCH_DEFAULTS } from './options';

/** Generated passwords the Elasticsearch component stores and the setup Job applies. */
export interface ElasticsearchPasswords {
  /** The `elastic` superuser's password (bootstrap password of a new cluster). */
  readonly elastic: pulumi.Input<string>;
  /** Logstash's writer user. */
  readonly writer: pulumi.Input<string>;
  /** The read-only user of the Grafana datasource. */
  readonly reader: pulumi.Input<string>;
  /** The exporter's monitoring user. */
  readonly exporter: pulumi.Input<string>;
  /** The built-in `kibana_system` user. */
  readonly kibanaSystem: pulumi.Input<string>;
}

/** What a stack decides about Elasticsearch (`pavemaster:logging.elasticsearch`). */
export interface ElasticsearchOptions {
  /** Nodes: 1 (single-node discovery) or an odd number of master-eligible data nodes. @default 1 */
  readonly replicas?: number;
  /** The JVM heap (`-Xms`/`-Xmx`), e.g. "1g"; at most half the memory limit. @default "512m" */
  readonly heap?: string;
  /** Container requests and limits. @default 250m/1Gi requested, 1/1Gi limit */
  readonly resources?: ContainerResources;
  /** Each node's data volume size. @default "10Gi" */
  readonly storageSize?: string;
  /** The volumes' StorageClass. @default the cluster's default class */
  readonly storageClass?: string;
  /** The Elasticsearch image (also runs the certificate and setup Jobs, which need its certutil and curl). @default the pinned 8.19 image */
  readonly image?: string;
  /**
   * False until the cluster has formed once: while false, the nodes get `cluster.initial_master_nodes`. Set it to
   * true after the first successful deployment, as Elasticsearch asks that the setting be removed afterwards.
   * @default false
   */
  readonly bootstrapped?: boolean;
  /** How nodes spread over Kubernetes nodes. @default "preferred" */
  readonly antiAffinity?: workload.AntiAffinity;
}

/** The options with every default applied. */
export type ResolvedElasticsearchOptions = Resolved<ElasticsearchOptions, 'storageClass'>;

export interface ElasticsearchArgs extends ElasticsearchOptions {
  /** The namespace (a plain name: it is part of the certificates' DNS names). Required. */
  readonly namespace: string;
  /** Protect the StatefulSet and keep its volumes when it is deleted or scaled down. @default false */
  readonly protect?: boolean;
  /** The index lifecycle of the logs. Required. */
  readonly lifecycle: LifecycleOptions;
  /** Wait for the setup and certificate Jobs to complete. @default false */
  readonly awaitJobs?: boolean;
  /** The passwords. Required. */
  readonly passwords: ElasticsearchPasswords;
  /** Peers (besides the setup Job) that may reach the HTTP port 9200. @default none */
  readonly httpClients?: readonly k8s.types.input.networking.v1.NetworkPolicyPeer[];
  /** The API server, for the certificate Job. @default any address on 443 and 6443 */
  readonly apiServer?: ApiServerPeer;
  /** The certificates' generation (`logging.tls.rotation`): a new one rotates every certificate. @default 1 */
  readonly tlsGeneration?: number;
  /** Logstash's client Service, whose names its Beats certificate carries. @default "logstash" */
  readonly logstashService?: string;
  /** Namespaces this stack creates whose pods verify the certificates (the shipper's). @default none */
  readonly caNamespaces?: readonly { name: string; resource: pulumi.Resource }[];
  /** Namespaces whose owner grants the certificate Job the CA ConfigMap there (Grafana's). @default none */
  readonly grantedCaNamespaces?: readonly string[];
}

/** The object names of the cluster (fixed: the certificates and every client name them). */
const STS = 'elasticsearch';
const HEADLESS = `${STS}-headless`;
const CERT_SECRET = ES_CERT_SECRET;

/** The in-cluster HTTPS URL of the Elasticsearch of a namespace (a name of its certificate). */
export function elasticsearchUrl(namespace: string): string {
  return `https://${STS}.${namespace}.svc:${PORTS.elasticsearchHttp}`;
}

/** The Elasticsearch cluster of the logging stack. */
export class Elasticsearch extends pulumi.ComponentResource {
  /** The in-cluster HTTPS URL. */
  readonly url: pulumi.Output<string>;
  /** The certificate Job: clients that must start with its certificates depend on it. */
  readonly certificates: k8s.batch.v1.Job;
  /** The client Service's name. */
  readonly serviceName: pulumi.Output<string>;
  /** The Secret holding the `elastic` password (key `password`). */
  readonly elasticSecretName: pulumi.Output<string>;
  /** The StatefulSet. */
  readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: ElasticsearchArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Elasticsearch', name, {}, opts);
    const o = { ...withDefaults(ELASTICSEARCH_DEFAULTS, args), protect: args.protect ?? false };
    const awaitJobs = args.awaitJobs ?? false;
    const apiServer = args.apiServer ?? ANY_API_SERVER;
    const child = { parent: this };
    const ns = args.namespace;
    const { labels, selector } = roleLabels('elasticsearch', STS);
    const scope = (objectName: string) => ({ objectName, namespace: ns, labels });

    const elasticSecret = workload.opaqueSecret(
      `${name}-elastic`,
      {
        ...scope(`${STS}-elastic`),
        data: { username: 'elastic', password: pulumi.secret(args.passwords.elastic) },
      },
      child,
    );
    // Only the setup Job reads this one: the passwords it sets for the service users.
    const usersSecret = workload.opaqueSecret(
      `${name}-users`,
      {
        ...scope(`${STS}-service-users`),
        data: {
          [PLACEHOLDERS.WRITER_PASSWORD]: pulumi.secret(args.passwords.writer),
          [PLACEHOLDERS.READER_PASSWORD]: pulumi.secret(args.passwords.reader),
          [PLACEHOLDERS.EXPORTER_PASSWORD]: pulumi.secret(args.passwords.exporter),
          [PLACEHOLDERS.KIBANA_SYSTEM_PASSWORD]: pulumi.secret(args.passwords.kibanaSystem),
        },
      },
      child,
    );

    const certs = certificateJob(
      name,
      {
        namespace: ns,
        elasticsearch: { sts: STS, headless: HEADLESS },
        logstashService: args.logstashService ?? 'logstash',
        generation: args.tlsGeneration ?? 1,
        ownedCaNamespaces: args.caNamespaces ?? [],
        grantedCaNamespaces: args.grantedCaNamespaces ?? [],
        image: o.image,
        awaitCompletion: awaitJobs,
        apiServer,
      },
      this,
    );

    const http = { name: 'http', port: PORTS.elasticsearchHttp, targetPort: 'http' };
    workload.headlessService(
      `${name}-headless`,
      {
        ...scope(HEADLESS),
        // Discovery must find nodes before they are Ready: a forming cluster is not Ready until it has formed.
        publishNotReadyAddresses: true,
        selector,
        ports: [http, { name: 'transport', port: PORTS.elasticsearchTransport, targetPort: 'transport' }],
      },
      child,
    );
    const service = workload.clusterService(
      `${name}-service`,
      { ...scope(STS), explicitType: true, selector, ports: [http] },
      child,
    );

    const masters = Array.from({ length: o.replicas }, (_, i) => `${STS}-${i}`);
    const configYml = elasticsearchConfig({
      replicas: o.replicas,
      seedHosts: HEADLESS,
      initialMasterNodes: o.bootstrapped ? undefined : masters,
    });
    const config = workload.referable(
      new k8s.core.v1.ConfigMap(
        `${name}-config`,
        {
          metadata: { name: `${STS}-config`, namespace: ns, labels },
          data: { 'elasticsearch.yml': configYml },
        },
        child,
      ),
      `${STS}-config`,
    );
    this.statefulSet = workload.statefulSet(
      name,
      scope(STS),
      elasticsearchStatefulSetSpec(o, {
        configMapName: config.objectName,
        elasticSecretName: elasticSecret.objectName,
        configHash: contentHash(configYml),
      }),
      { parent: this, protect: o.protect, dependsOn: [certs, config, elasticSecret] },
    );
    // One node at a time: with three nodes the other two keep a quorum; a single node can still be drained.
    workload.podDisruptionBudget(`${name}-pdb`, { ...scope(STS), selector }, child);

    setupJob(
      `${name}-setup`,
      {
        namespace: ns,
        objectName: `${STS}-setup`,
        role: 'elasticsearch-setup',
        instance: STS,
        image: o.image,
        requests: elasticsearchSetupRequests({ ...args.lifecycle, replicas: o.replicas }),
        script: { waitPath: '/_cluster/health?wait_for_status=yellow&timeout=5s' },
        awaitCompletion: awaitJobs,
        // HTTPS to the short name (one of the certificate's), verified with the trust bundle.
        caConfigMap: CA_CONFIG_MAP,
        env: [
          { name: 'TARGET_URL', value: `https://${STS}:${PORTS.elasticsearchHttp}` },
          { name: 'SETUP_USER', value: 'elastic' },
        ],
        // By the output name on purpose: a change of these Secrets' data replaces them, and the engine then
        // replaces (re-runs) this Job with them, as it always did; a Job keeps nothing. The StatefulSet refers to
        // the elastic Secret by its known name (workload.ts Referable) and is not replaced.
        secretFiles: [
          { secret: elasticSecret.metadata.name, key: 'password', file: 'SETUP_PASSWORD' },
          ...Object.values(PLACEHOLDERS).map((key) => ({
            secret: usersSecret.metadata.name,
            key,
            file: key,
          })),
        ],
      },
      { parent: this, dependsOn: [service], deleteBeforeReplace: true },
    );

    allowPolicy(
      `${name}-netpol`,
      {
        ...scope(STS),
        podSelector: selector,
        ingress: [
          {
            from: [...(args.httpClients ?? []), rolePeer('elasticsearch-setup', STS)],
            ports: tcp(PORTS.elasticsearchHttp),
          },
          { from: [rolePeer('elasticsearch', STS)], ports: tcp(PORTS.elasticsearchTransport) },
        ],
        egress: [{ to: [rolePeer('elasticsearch', STS)], ports: tcp(PORTS.elasticsearchTransport) }],
      },
      child,
    );
    allowPolicy(
      `${name}-setup-netpol`,
      {
        ...scope(`${STS}-setup`),
        podSelector: roleLabels('elasticsearch-setup', STS).selector,
        egress: [{ to: [rolePeer('elasticsearch', STS)], ports: tcp(PORTS.elasticsearchHttp) }],
      },
      child,
    );

    this.url = pulumi.output(elasticsearchUrl(ns));
    this.certificates = certs;
    this.serviceName = service.metadata.name;
    this.elasticSecretName = elasticSecret.metadata.name;
    this.registerOutputs({
      url: this.url,
      serviceName: this.serviceName,
      elasticSecretName: this.elasticSecretName,
    });
  }
}

/**
 * The `elastic` password's way into the nodes: the Secret's key `password`, copied by the config init container
 * to a memory-backed volume as a file only the node's user can read, named by ELASTIC_PASSWORD_FILE.
 */
const ELASTIC_SECRET: SecretCopy = {
  volume: 'elastic-secret',
  key: 'password',
  dirVolume: 'secrets',
  dir: '/run/elasticsearch-secrets',
  file: 'elastic-password',
};

/** The nodes' config directory (the writable copy; the certificates are mounted below it). */
const ES_CONFIG_DIR = '/usr/share/elasticsearch/config';

/** The StatefulSet's spec: the nodes, their config copy step, probes, volumes and claims. */
export function elasticsearchStatefulSetSpec(
  o: ResolvedElasticsearchOptions & { protect: boolean },
  refs: { configMapName: pulumi.Input<string>; elasticSecretName: pulumi.Input<string>; configHash: string },
): k8s.types.input.apps.v1.StatefulSetSpec {
  const { labels, selector } = roleLabels('elasticsearch', STS);
  const passwordFile = `${ELASTIC_SECRET.dir}/${ELASTIC_SECRET.file}`;
  const readiness = [
    'sh',
    '-c',
    // The password goes to curl on stdin, not on its command line. HTTPS to localhost (a name of the node's
    // certificate), pinned to the loopback address, verified with the trust bundle.
    `printf 'user = "elastic:%s"\\n' "$(cat ${passwordFile})" | curl -s -K - --cacert ${ES_CONFIG_DIR}/certs/ca.crt --resolve localhost:${PORTS.elasticsearchHttp}:127.0.0.1 -o /dev/null -w '%{http_code}' 'https://localhost:${PORTS.elasticsearchHttp}/_cluster/health?local=true' | grep -q '^200$'`,
  ];
  return {
    // Every master-eligible node must start for a new cluster to elect a master.
    ...workload.parallelStatefulSet({ ...o, serviceName: HEADLESS, selector }),
    updateStrategy: { type: 'RollingUpdate' },
    template: {
      // A changed elasticsearch.yml (e.g. `bootstrapped`) rolls the nodes one by one.
      metadata: { labels, annotations: { 'pavemaster.io/config-hash': refs.configHash } },
      spec: {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: elasticPodSecurityContext(),
        terminationGracePeriodSeconds: 120,
        affinity: workload.antiAffinity(o.antiAffinity, selector),
        // The root filesystem stays read-only: the image's config directory is copied to an emptyDir, where
        // the entrypoint may write the keystore (bootstrap password) and our elasticsearch.yml replaces its.
        initContainers: [
          configCopyInit(
            o.image,
            '/usr/share/elasticsearch/config',
            { volume: 'es-config', name: 'elasticsearch.yml' },
            ELASTIC_SECRET,
          ),
        ],
        containers: [
          workload.restrictedContainer({
            name: 'elasticsearch',
            image: o.image,
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'ES_JAVA_OPTS', value: `-Xms${o.heap} -Xmx${o.heap}` },
              // The image's entrypoint reads the bootstrap password from this file ("Configure Elasticsearch with
              // Docker": ELASTIC_PASSWORD_FILE), so the password is not in the container's environment.
              { name: 'ELASTIC_PASSWORD_FILE', value: passwordFile },
            ],
            ports: [
              { name: 'http', containerPort: PORTS.elasticsearchHttp },
              { name: 'transport', containerPort: PORTS.elasticsearchTransport },
            ],
            resources: o.resources,
            startupProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5, failureThreshold: 60 },
            readinessProbe: { exec: { command: readiness }, periodSeconds: 10, timeoutSeconds: 5 },
            livenessProbe: { tcpSocket: { port: 'transport' }, periodSeconds: 20, failureThreshold: 6 },
            volumeMounts: [
              { name: 'data', mountPath: '/usr/share/elasticsearch/data' },
              { name: 'config', mountPath: '/usr/share/elasticsearch/config' },
              { name: 'certs', mountPath: '/usr/share/elasticsearch/config/certs', readOnly: true },
              { name: 'logs', mountPath: '/usr/share/elasticsearch/logs' },
              { name: 'tmp', mountPath: '/tmp' },
              { name: ELASTIC_SECRET.dirVolume, mountPath: ELASTIC_SECRET.dir, readOnly: true },
            ],
          }),
        ],
        volumes: [
          { name: 'es-config', configMap: { name: refs.configMapName } },
          { name: ELASTIC_SECRET.volume, secret: { secretName: refs.elasticSecretName, defaultMode: 0o440 } },
          workload.scratchVolume(ELASTIC_SECRET.dirVolume, '1Mi', 'Memory'),
          workload.scratchVolume('config', '64Mi'),
          { name: 'certs', secret: { secretName: CERT_SECRET, defaultMode: 0o440 } },
          workload.scratchVolume('logs', '1Gi'),
          workload.scratchVolume('tmp', '1Gi'),
        ],
      },
    },
    volumeClaimTemplates: [
      workload.volumeClaim({ name: 'data', labels, storage: o.storageSize, storageClass: o.storageClass }),
    ],
  };
}

/**
 * `elasticsearch.yml` (YAML; values JSON-quoted). Security on, transport and HTTP TLS with the certificate Job's
 * PEM files (see docs/logging.md), memory-mapped files off so that no privileged sysctl is needed,
 * and the discovery settings of the topology: `single-node` for one node, else seed hosts from the headless
 * Service plus, only until the cluster has formed, the initial master nodes. Exported for tests.
 */
export function elasticsearchConfig(opts: {
  replicas: number;
  seedHosts: string;
  initialMasterNodes?: string[];
}): string {
  const settings: [string, unknown][] = [
    ['cluster.name', 'pavemaster-logs'],
    ['node.name', '${POD_NAME}'],
    ['node.roles', ['master', 'data', 'ingest']],
    ['network.host', '0.0.0.0'],
    ['path.data', '/usr/share/elasticsearch/data'],
    ['path.logs', '/usr/share/elasticsearch/logs'],
    ...(opts.replicas === 1
      ? ([['discovery.type', 'single-node']] as [string, unknown][])
      : ([
          ['discovery.seed_hosts', [opts.seedHosts]],
          ...(opts.initialMasterNodes !== undefined
            ? [['cluster.initial_master_nodes', opts.initialMasterNodes]]
            : []),
        ] as [string, unknown][])),
    ['node.store.allow_mmap', false],
    ['bootstrap.memory_lock', false],
    ['xpack.ml.enabled', false],
    ['xpack.security.enabled', true],
    ['xpack.security.enrollment.enabled', false],
    // HTTPS on 9200 with the node certificate, whose names include the client Service's (certificates.ts). The
    // node watches these files and reloads them when the certificate Job rotates them (no restart).
    ['xpack.security.http.ssl.enabled', true],
    ['xpack.security.http.ssl.key', 'certs/node.key'],
    ['xpack.security.http.ssl.certificate', 'certs/node.crt'],
    ['xpack.security.http.ssl.certificate_authorities', ['certs/ca.crt']],
    ['xpack.security.transport.ssl.enabled', true],
    // Peers must present a certificate signed by the stack's CA; host names are not checked, as nodes connect to
    // each other's pod IPs.
    ['xpack.security.transport.ssl.verification_mode', 'certificate'],
    ['xpack.security.transport.ssl.key', 'certs/node.key'],
    ['xpack.security.transport.ssl.certificate', 'certs/node.crt'],
    ['xpack.security.transport.ssl.certificate_authorities', ['certs/ca.crt']],
  ];
  return `# Generated by the PaveMaster logging component.\n${settings
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join('\n')}\n`;
}
