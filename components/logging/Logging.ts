/**
 * The logging stack of one environment: the app's container logs → Filebeat (DaemonSet, its own privileged
 * namespace) → Logstash (persistent queue) → Elasticsearch (StatefulSet, ILM) → Kibana, plus the Prometheus
 * Elasticsearch exporter. Every password is generated here (`@pulumi/random`), stored in Kubernetes Secrets and
 * kept secret in Pulumi; every pod is default-denied and gets narrow NetworkPolicy allowances.
 */
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { PlatformNamespace } from '../PlatformNamespace';
import { ContainerResources } from '../shared/resources';
import { parseQuantity } from '../../stacks/validators';
import { ApiServerPeer, namespacePeer, rolePeer } from './common';
import { DEFAULT_IMAGES, NAMES } from './defaults';
import { Elasticsearch } from './Elasticsearch';
import { ElasticsearchExporter } from './ElasticsearchExporter';
import { Kibana } from './Kibana';
import { Logstash } from './Logstash';
import { LogShipper } from './LogShipper';

const res = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string): ContainerResources => ({
  requests: { cpu, memory },
  limits: { cpu: cpuLimit, memory: memoryLimit },
});

export interface LoggingArgs {
  /** The logging namespace (Elasticsearch, Logstash, Kibana, exporter). Required. */
  namespace: string;
  /** The shipper's namespace, which enforces the `privileged` Pod Security level. Default `<namespace>-node`. */
  nodeNamespace?: string;
  /** The environment: the data stream namespace of the logs (`logs-pavemaster-<environment>`). Required. */
  environment: string;
  /** Namespaces whose container logs are shipped (the app's). Required, at least one. */
  appNamespaces: string[];
  /** Access-log paths dropped as health-check noise. Default `/healthz`, `/readyz`, `/metrics`. */
  dropPaths?: string[];
  /** Days logs are kept after rollover. Default 7. */
  retentionDays?: number;
  /** Roll the write index over at this age. Default "1d". */
  rolloverMaxAge?: string;
  /** ... or at this primary shard size. Default "10gb". */
  rolloverMaxPrimaryShardSize?: string;
  /** Elasticsearch. Defaults: one node, 512m heap in a 1Gi limit, 10Gi volume, the pinned 8.19 image. */
  elasticsearch?: {
    /** 1, or an odd number of master-eligible nodes. Default 1. */
    replicas?: number;
    /** JVM heap, at most half the memory limit. Default "512m". */
    heap?: string;
    /** Default 250m/1Gi requested, 1/1Gi limit. */
    resources?: ContainerResources;
    /** Default "10Gi". */
    storageSize?: string;
    /** Default: the cluster's default StorageClass. */
    storageClass?: string;
    /** Default the pinned `elasticsearch:8.19.22`. */
    image?: string;
    /** True once the cluster has formed (drops `cluster.initial_master_nodes`). Default false. */
    bootstrapped?: boolean;
    /** Default "preferred". */
    antiAffinity?: 'none' | 'preferred' | 'required';
  };
  /** Logstash. Defaults: one replica, 256m heap in 768Mi, 2Gi queue volume. */
  logstash?: {
    replicas?: number;
    heap?: string;
    resources?: ContainerResources;
    queueSize?: string;
    image?: string;
    exporterImage?: string;
    exporterResources?: ContainerResources;
  };
  /** Filebeat. Default the `elastic/filebeat:8.19.22` image, 50m/100Mi requested. */
  shipper?: { image?: string; resources?: ContainerResources };
  /** Kibana. Default the pinned `kibana:8.19.22`, no public host. */
  kibana?: {
    image?: string;
    resources?: ContainerResources;
    host?: string;
    ingressClassName?: string;
    tlsSecretName?: string;
  };
  /** The Elasticsearch exporter. Default `prometheuscommunity/elasticsearch-exporter:v1.9.0`. */
  exporter?: { image?: string; resources?: ContainerResources };
  /** The monitoring namespace, allowed to scrape the exporters and (its Grafana pods) to query Elasticsearch. */
  monitoringNamespace?: string;
  /** Labels of the Grafana pods in the monitoring namespace. Default `app.kubernetes.io/name: grafana`. */
  grafanaPodLabels?: Record<string, string>;
  /** Ingress controller namespaces allowed to reach Kibana. Default `ingress-nginx`. */
  ingressNamespaces?: string[];
  /** Protect stateful resources, retain volumes, protect the passwords. Default false. */
  protect?: boolean;
  /** Wait for the setup Jobs to complete (see `jobAnnotations`). Default false. */
  awaitSetupJobs?: boolean;
  /** The API server's address range and ports. Default any address on 443 and 6443. */
  apiServer?: ApiServerPeer;
}

/** The arguments with every default applied. */
export interface ResolvedLoggingArgs {
  namespace: string;
  nodeNamespace: string;
  environment: string;
  appNamespaces: string[];
  dropPaths: string[];
  retentionDays: number;
  rolloverMaxAge: string;
  rolloverMaxPrimaryShardSize: string;
  elasticsearch: {
    replicas: number;
    heap: string;
    resources: ContainerResources;
    storageSize: string;
    storageClass?: string;
    image: string;
    bootstrapped: boolean;
    antiAffinity: 'none' | 'preferred' | 'required';
  };
  logstash: Required<NonNullable<LoggingArgs['logstash']>>;
  shipper: Required<NonNullable<LoggingArgs['shipper']>>;
  kibana: {
    image: string;
    resources: ContainerResources;
    host?: string;
    ingressClassName?: string;
    tlsSecretName?: string;
  };
  exporter: Required<NonNullable<LoggingArgs['exporter']>>;
  monitoringNamespace?: string;
  grafanaPodLabels: Record<string, string>;
  ingressNamespaces: string[];
  protect: boolean;
  awaitSetupJobs: boolean;
  apiServer: ApiServerPeer;
}

const JVM = /^([1-9]\d*)([kmg])$/i;
function jvmBytes(text: string): number | undefined {
  const m = JVM.exec(text);
  return m
    ? Number(m[1]) * { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2].toLowerCase() as 'k' | 'm' | 'g']
    : undefined;
}

/** Applies the defaults in one place and validates; throws one error listing every bad argument. */
export function resolveLoggingArgs(name: string, args: LoggingArgs): ResolvedLoggingArgs {
  const es = args.elasticsearch ?? {};
  const ls = args.logstash ?? {};
  const kb = args.kibana ?? {};
  const r: ResolvedLoggingArgs = {
    namespace: args.namespace,
    nodeNamespace: args.nodeNamespace ?? `${args.namespace}-node`,
    environment: args.environment,
    appNamespaces: args.appNamespaces,
    dropPaths: args.dropPaths ?? ['/healthz', '/readyz', '/metrics'],
    retentionDays: args.retentionDays ?? 7,
    rolloverMaxAge: args.rolloverMaxAge ?? '1d',
    rolloverMaxPrimaryShardSize: args.rolloverMaxPrimaryShardSize ?? '10gb',
    elasticsearch: {
      replicas: es.replicas ?? 1,
      heap: es.heap ?? '512m',
      resources: es.resources ?? res('250m', '1Gi', '1', '1Gi'),
      storageSize: es.storageSize ?? '10Gi',
      storageClass: es.storageClass,
      image: es.image ?? DEFAULT_IMAGES.elasticsearch,
      bootstrapped: es.bootstrapped ?? false,
      antiAffinity: es.antiAffinity ?? 'preferred',
    },
    logstash: {
      replicas: ls.replicas ?? 1,
      heap: ls.heap ?? '256m',
      resources: ls.resources ?? res('100m', '768Mi', '1', '768Mi'),
      queueSize: ls.queueSize ?? '2Gi',
      image: ls.image ?? DEFAULT_IMAGES.logstash,
      exporterImage: ls.exporterImage ?? DEFAULT_IMAGES.logstashExporter,
      exporterResources: ls.exporterResources ?? res('10m', '32Mi', '100m', '64Mi'),
    },
    shipper: {
      image: args.shipper?.image ?? DEFAULT_IMAGES.filebeat,
      resources: args.shipper?.resources ?? res('50m', '100Mi', '200m', '200Mi'),
    },
    kibana: {
      image: kb.image ?? DEFAULT_IMAGES.kibana,
      resources: kb.resources ?? res('100m', '768Mi', '1', '1Gi'),
      host: kb.host,
      ingressClassName: kb.ingressClassName,
      tlsSecretName: kb.tlsSecretName,
    },
    exporter: {
      image: args.exporter?.image ?? DEFAULT_IMAGES.elasticsearchExporter,
      resources: args.exporter?.resources ?? res('10m', '32Mi', '100m', '64Mi'),
    },
    monitoringNamespace: args.monitoringNamespace,
    grafanaPodLabels: args.grafanaPodLabels ?? { 'app.kubernetes.io/name': 'grafana' },
    ingressNamespaces: args.ingressNamespaces ?? ['ingress-nginx'],
    protect: args.protect ?? false,
    awaitSetupJobs: args.awaitSetupJobs ?? false,
    apiServer: args.apiServer ?? { cidr: '0.0.0.0/0', ports: [443, 6443] },
  };

  const errors: string[] = [];
  const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  for (const [key, value] of [
    ['namespace', r.namespace],
    ['nodeNamespace', r.nodeNamespace],
  ] as const) {
    if (!label.test(value) || value.length > 63) {
      errors.push(`${key} "${value}" is not an RFC 1123 label`);
    }
  }
  if (r.namespace === r.nodeNamespace) {
    errors.push('nodeNamespace must differ from namespace: it enforces the privileged level');
  }
  if (!/^[a-z0-9_]+$/.test(r.environment)) {
    errors.push(
      `environment "${r.environment}" must be lowercase letters, digits or "_" (a data stream namespace)`,
    );
  }
  if (r.appNamespaces.length === 0) {
    errors.push('appNamespaces names no namespace: nothing would be shipped');
  }
  if (!Number.isInteger(r.retentionDays) || r.retentionDays < 1) {
    errors.push(`retentionDays ${r.retentionDays} is not a whole number of at least 1`);
  }
  const n = r.elasticsearch.replicas;
  if (!Number.isInteger(n) || n < 1 || (n > 1 && n % 2 === 0)) {
    errors.push(`elasticsearch.replicas ${n} is not 1 or an odd number of master-eligible nodes`);
  }
  for (const [key, heap, limit] of [
    ['elasticsearch', r.elasticsearch.heap, r.elasticsearch.resources.limits.memory],
    ['logstash', r.logstash.heap, r.logstash.resources.limits.memory],
  ] as const) {
    const heapBytes = jvmBytes(heap);
    const limitBytes = parseQuantity(limit);
    if (heapBytes === undefined) {
      errors.push(`${key}.heap "${heap}" is not a JVM size such as "512m"`);
    } else if (limitBytes === undefined || heapBytes > limitBytes / 2) {
      errors.push(`${key}.heap "${heap}" is more than half the memory limit "${limit}"`);
    }
  }
  if (!Number.isInteger(r.logstash.replicas) || r.logstash.replicas < 1) {
    errors.push(`logstash.replicas ${r.logstash.replicas} is not a whole number of at least 1`);
  }
  if ((parseQuantity(r.logstash.queueSize) ?? 0) < 256 * 2 ** 20) {
    errors.push(`logstash.queueSize "${r.logstash.queueSize}" is not a storage quantity of at least 256Mi`);
  }
  if (errors.length > 0) {
    throw new Error(`Logging ${name}: invalid arguments:\n  - ${errors.join('\n  - ')}`);
  }
  return r;
}

/** Credentials of the read-only Elasticsearch user, for Grafana's datasource. */
export interface ReaderCredentials {
  username: string;
  /** A Pulumi secret. */
  password: pulumi.Output<string>;
}

export class Logging extends pulumi.ComponentResource {
  /** The logging namespace. */
  readonly namespace: pulumi.Output<string>;
  /** The shipper's namespace. */
  readonly nodeNamespace: pulumi.Output<string>;
  /** Elasticsearch's in-cluster URL. */
  readonly elasticsearchUrl: pulumi.Output<string>;
  /** Kibana's URL (public when a host is set). */
  readonly kibanaUrl: pulumi.Output<string>;
  /** The `elastic` superuser's password (secret). */
  readonly elasticPassword: pulumi.Output<string>;
  /** The Grafana datasource's read-only user. */
  readonly grafanaCredentials: ReaderCredentials;

  constructor(name: string, args: LoggingArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Logging', name, {}, opts);
    const a = resolveLoggingArgs(name, args);
    const child = { parent: this };

    const ns = new PlatformNamespace(`${name}-namespace`, { name: a.namespace, protect: a.protect }, child);
    const nodeNs = new PlatformNamespace(
      `${name}-node-namespace`,
      // hostPath volumes (the node's log files) are forbidden by the restricted and baseline levels.
      { name: a.nodeNamespace, podSecurity: 'privileged' },
      child,
    );

    // Alphanumeric passwords: safe in JSON bodies, shell and URLs without escaping; 32 characters from 62 symbols
    // are ~190 bits. Protected with the data: Elasticsearch only reads the `elastic` password when it bootstraps.
    const password = (id: string): pulumi.Output<string> =>
      new random.RandomPassword(
        `${name}-${id}-password`,
        { length: 32, special: false, minLower: 1, minUpper: 1, minNumeric: 1 },
        { parent: this, protect: a.protect, additionalSecretOutputs: ['result'] },
      ).result;
    const passwords = {
      elastic: password('elastic'),
      writer: password('logstash'),
      reader: password('grafana'),
      exporter: password('exporter'),
      kibanaSystem: password('kibana-system'),
    };
    const deps = { parent: this, dependsOn: [ns] };

    const monitoringPeers = a.monitoringNamespace !== undefined ? [namespacePeer(a.monitoringNamespace)] : [];
    const es = new Elasticsearch(
      `${name}-elasticsearch`,
      {
        namespace: a.namespace,
        ...a.elasticsearch,
        protect: a.protect,
        lifecycle: {
          retentionDays: a.retentionDays,
          rolloverMaxAge: a.rolloverMaxAge,
          rolloverMaxPrimaryShardSize: a.rolloverMaxPrimaryShardSize,
        },
        awaitJobs: a.awaitSetupJobs,
        passwords,
        httpClients: [
          rolePeer('logstash', 'logstash'),
          rolePeer('kibana', 'kibana'),
          rolePeer('exporter', 'elasticsearch-exporter'),
          ...(a.monitoringNamespace !== undefined
            ? [namespacePeer(a.monitoringNamespace, a.grafanaPodLabels)]
            : []),
        ],
        apiServer: a.apiServer,
      },
      deps,
    );

    const logstash = new Logstash(
      `${name}-logstash`,
      {
        namespace: a.namespace,
        ...a.logstash,
        storageClass: a.elasticsearch.storageClass,
        elasticsearchUrl: es.url,
        password: passwords.writer,
        dataStreamNamespace: a.environment,
        dropPaths: a.dropPaths,
        beatsClients: [rolePeer('shipper', 'filebeat', a.nodeNamespace)],
        metricsClients: monitoringPeers,
        protect: a.protect,
      },
      deps,
    );

    new LogShipper(
      `${name}-shipper`,
      {
        namespace: nodeNs.name,
        namespaceName: a.nodeNamespace,
        ...a.shipper,
        shippedNamespaces: a.appNamespaces,
        logstashNamespace: a.namespace,
        logstashHost: `logstash.${a.namespace}.svc:5044`,
        apiServer: a.apiServer,
      },
      { parent: this, dependsOn: [nodeNs, logstash] },
    );

    const key = (id: string): pulumi.Output<string> =>
      new random.RandomPassword(
        `${name}-kibana-${id}-key`,
        { length: 48, special: false },
        { parent: this, additionalSecretOutputs: ['result'] },
      ).result;
    const kibana = new Kibana(
      `${name}-kibana`,
      {
        namespace: a.namespace,
        image: a.kibana.image,
        setupImage: a.elasticsearch.image,
        resources: a.kibana.resources,
        elasticsearchUrl: es.url,
        kibanaSystemPassword: passwords.kibanaSystem,
        encryptionKeys: {
          security: key('security'),
          savedObjects: key('saved-objects'),
          reporting: key('reporting'),
        },
        elasticSecretName: es.elasticSecretName,
        host: a.kibana.host,
        ingressClassName: a.kibana.ingressClassName,
        tlsSecretName: a.kibana.tlsSecretName,
        ingressNamespaces: a.ingressNamespaces,
        awaitSetupJob: a.awaitSetupJobs,
      },
      deps,
    );

    new ElasticsearchExporter(
      `${name}-exporter`,
      {
        namespace: a.namespace,
        ...a.exporter,
        elasticsearchUrl: es.url,
        password: passwords.exporter,
        metricsClients: monitoringPeers,
      },
      deps,
    );

    this.namespace = ns.name;
    this.nodeNamespace = nodeNs.name;
    this.elasticsearchUrl = es.url;
    this.kibanaUrl = kibana.url;
    this.elasticPassword = pulumi.secret(passwords.elastic);
    this.grafanaCredentials = { username: NAMES.readerUser, password: pulumi.secret(passwords.reader) };
    this.registerOutputs({
      namespace: this.namespace,
      nodeNamespace: this.nodeNamespace,
      elasticsearchUrl: this.elasticsearchUrl,
      kibanaUrl: this.kibanaUrl,
      elasticPassword: this.elasticPassword,
      grafanaUsername: this.grafanaCredentials.username,
      grafanaPassword: this.grafanaCredentials.password,
    });
  }
}
