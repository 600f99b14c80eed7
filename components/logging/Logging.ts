/**
 * The logging stack of one environment: the app's container logs → Filebeat (DaemonSet, its own privileged
 * namespace) → Logstash (persistent queue) → Elasticsearch (StatefulSet, ILM) → Kibana, plus the Prometheus
 * Elasticsearch exporter. It creates its two namespaces, generates every password (`@pulumi/random`), stores them
 * in Kubernetes Secrets and keeps them secret in Pulumi; every pod is default-denied and gets narrow NetworkPolicy
 * allowances. It hands the monitoring stack a ready Grafana datasource.
 *
 * With `elasticsearch.external` (a team's own cluster: ECK, Elastic Cloud) it deploys no Elasticsearch and nothing
 * that only serves it (the setup Job, the node certificate, the exporter, Kibana, the Grafana datasource, the
 * passwords): Filebeat → Logstash → the external cluster, Logstash verifying it with the given CA and
 * authenticating with the given Secret, by reference.
 */
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { ElasticsearchDatasource } from '../monitoring/Grafana';
import { PlatformNamespace } from '../PlatformNamespace';
import { ArgChecks, throwIfInvalid } from '../shared/args';
import { namespacePeer } from '../shared/network';
import { ApiServerPeer, rolePeer } from './common';
import { LOG_INDEX_PATTERN, NAMES, PORTS } from './defaults';
import { ANY_API_SERVER, Elasticsearch, ELASTICSEARCH_DEFAULTS, ElasticsearchOptions } from './Elasticsearch';
import {
  ELASTICSEARCH_EXPORTER_DEFAULTS,
  ElasticsearchExporter,
  ElasticsearchExporterOptions,
} from './ElasticsearchExporter';
import { Kibana, KIBANA_DEFAULTS, KibanaOptions } from './Kibana';
import { LOG_SHIPPER_DEFAULTS, LogShipper, LogShipperOptions } from './LogShipper';
import { Logstash, LogstashArgs, LOGSTASH_DEFAULTS, LogstashOptions } from './Logstash';
import { certificateJob } from './certificates';
import type { ExternalElasticsearchOptions, ResolvedExternalElasticsearch } from './external';
import { checkLoggingOptions, resolveLoggingOptions } from './options';
import { CA_CONFIG_MAP, CA_KEY, CaBundle, CERT_WRITER, TlsOptions } from './tls';

export { checkLoggingOptions, LOGGING_DEFAULTS, resolveLoggingOptions } from './options';

/** What a stack decides about its logging stack (`pavemaster:logging`; stacks/logging.ts produces exactly this). */
export interface LoggingOptions {
  /** The logging namespace (Elasticsearch, Logstash, Kibana, exporter). @default "pavemaster-logging" */
  readonly namespace?: string;
  /** The shipper's namespace, which enforces the `privileged` Pod Security level. @default "<namespace>-node" */
  readonly nodeNamespace?: string;
  /** Days logs are kept after rollover before ILM deletes them. @default 7 */
  readonly retentionDays?: number;
  /** When the write index rolls over. @default at 1 day ("1d") or a 10gb primary shard, whichever comes first */
  readonly rollover?: { readonly maxAge?: string; readonly maxPrimaryShardSize?: string };
  /** Protect stateful resources (volumes, namespace), retain volumes, protect the passwords. @default false */
  readonly protect?: boolean;
  /** Make Pulumi wait for the setup Jobs to complete (needs a cluster that runs pods). @default false */
  readonly awaitSetupJobs?: boolean;
  /** Labels of the Grafana pods in the monitoring namespace that may query Elasticsearch. @default app.kubernetes.io/name: grafana */
  readonly grafanaPodLabels?: Record<string, string>;
  /**
   * Elasticsearch, and `external`: write to an existing cluster instead of deploying one (then the sizing keys do
   * not apply; `image` still runs the certificate Job, `storageClass` still holds Logstash's queues).
   * @default one node of the stack's own, 512m heap in a 1Gi limit, 10Gi volume
   */
  readonly elasticsearch?: ElasticsearchOptions & { readonly external?: ExternalElasticsearchOptions };
  /** Logstash. @default one replica, 256m heap in 768Mi, 2Gi queue volume */
  readonly logstash?: LogstashOptions;
  /**
   * Filebeat, and `enabled`: run it (and its privileged namespace). Off, nothing ships the app's logs (a cluster
   * that refuses host namespaces and hostPath, GKE Autopilot-like, runs the stack with it and node-exporter off).
   * @default enabled, 50m/100Mi requested
   */
  readonly shipper?: LogShipperOptions & { readonly enabled?: boolean };
  /** Kibana. @default no public host */
  readonly kibana?: KibanaOptions;
  /** The Elasticsearch exporter. */
  readonly exporter?: ElasticsearchExporterOptions;
  /** TLS on every hop (always on): the certificates' generation. @default generation 1 */
  readonly tls?: TlsOptions;
}

/** The arguments: the stack's options, plus what the program wires in. */
export interface LoggingArgs extends LoggingOptions {
  /** The environment: the data stream namespace of the logs (`logs-pavemaster-<environment>`). Required. */
  readonly environment: string;
  /** Namespaces whose container logs are shipped (the app's). Required, at least one. */
  readonly appNamespaces: readonly string[];
  /** Access-log paths dropped as health-check noise. @default "/healthz", "/readyz", "/metrics" */
  readonly dropPaths?: readonly string[];
  /** The monitoring namespace, allowed to scrape the exporters and (its Grafana pods) to query Elasticsearch. @default none */
  readonly monitoringNamespace?: string;
  /** The API server's address range and ports. @default any address on 443 and 6443 */
  readonly apiServer?: ApiServerPeer;
  /**
   * The monitoring namespace runs the stack's own Grafana, which grants the certificate Job its CA ConfigMap there
   * (a cluster's own Grafana gets no Elasticsearch datasource, so no CA either).
   * @default true when monitoringNamespace is set
   */
  readonly grafanaCa?: boolean;
}

/** Every option with its default applied. */
export interface ResolvedLoggingOptions {
  namespace: string;
  nodeNamespace: string;
  retentionDays: number;
  rollover: { maxAge: string; maxPrimaryShardSize: string };
  protect: boolean;
  awaitSetupJobs: boolean;
  grafanaPodLabels: Record<string, string>;
  elasticsearch: typeof ELASTICSEARCH_DEFAULTS & { external?: ResolvedExternalElasticsearch };
  logstash: typeof LOGSTASH_DEFAULTS;
  shipper: typeof LOG_SHIPPER_DEFAULTS & { enabled?: boolean };
  kibana: typeof KIBANA_DEFAULTS;
  exporter: typeof ELASTICSEARCH_EXPORTER_DEFAULTS;
  tls: Required<TlsOptions>;
}

/** The arguments with every default applied, checked; throws one error listing every bad argument. */
export function resolveLoggingArgs(
  name: string,
  args: LoggingArgs,
): ResolvedLoggingOptions & LoggingArgs & Required<Pick<LoggingArgs, 'dropPaths' | 'apiServer'>> {
  const r = {
    ...args,
    ...resolveLoggingOptions(args),
    dropPaths: args.dropPaths ?? ['/healthz', '/readyz', '/metrics'],
    apiServer: args.apiServer ?? ANY_API_SERVER,
  };
  const c = new ArgChecks();
  c.check('environment', r.environment, (v) =>
    /^[a-z0-9_]+$/.test(v) ? undefined : 'lowercase letters, digits or "_" (a data stream namespace)',
  );
  if (r.appNamespaces.length === 0) {
    c.fail('appNamespaces', r.appNamespaces, 'at least one namespace: otherwise nothing is shipped');
  }
  throwIfInvalid(`Logging ${name}`, [...checkLoggingOptions(r), ...c.problems]);
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
  /** The shipper's namespace, when the shipper runs. */
  readonly nodeNamespace?: pulumi.Output<string>;
  /** Elasticsearch's URL: the stack's own in-cluster one, or the external cluster's first host. */
  readonly elasticsearchUrl: pulumi.Output<string>;
  /** Kibana's URL (public when a host is set); none with an external Elasticsearch. */
  readonly kibanaUrl?: pulumi.Output<string>;
  /** The `elastic` superuser's password (secret); none with an external Elasticsearch. */
  readonly elasticPassword?: pulumi.Output<string>;
  /** The Grafana datasource's read-only user; none with an external Elasticsearch. */
  readonly grafanaCredentials?: ReaderCredentials;
  /**
   * Grafana's Elasticsearch datasource, ready to hand to the monitoring stack (HTTPS, verified with `ca`); none with
   * an external Elasticsearch (the stack has no reader of that cluster: its own Grafana or Kibana searches it).
   */
  readonly grafanaDatasource?: ElasticsearchDatasource & { ca: CaBundle };

  constructor(name: string, args: LoggingArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('pavemaster:logging:Logging', name, {}, opts);
    const a = resolveLoggingArgs(name, args);
    const child = { parent: this };
    const { dropPaths, apiServer } = a;

    const ns = new PlatformNamespace(`${name}-namespace`, { name: a.namespace, protect: a.protect }, child);
    const { enabled: shipperEnabled = true, ...shipperOptions } = a.shipper;
    const nodeNs = shipperEnabled
      ? new PlatformNamespace(
          `${name}-node-namespace`,
          // hostPath volumes (the node's log files) are forbidden by the restricted and baseline levels.
          { name: a.nodeNamespace, podSecurity: 'privileged' },
          child,
        )
      : undefined;

    const { external, ...elasticsearch } = a.elasticsearch;
    const deps = { parent: this, dependsOn: [ns] };
    const monitoringPeers = a.monitoringNamespace !== undefined ? [namespacePeer(a.monitoringNamespace)] : [];
    const tlsGeneration = a.tls.rotation;
    const caNamespaces = nodeNs !== undefined ? [{ name: a.nodeNamespace, resource: nodeNs }] : [];

    /** Logstash and the shipper, writing to `output` (the stack's own Elasticsearch or the external one). */
    const pipeline = (
      output: Pick<LogstashArgs, 'elasticsearchUrl' | 'password' | 'external' | 'dataStreamNamespace'>,
      certificates: pulumi.Resource[],
    ) => {
      const logstash = new Logstash(
        `${name}-logstash`,
        {
          namespace: a.namespace,
          ...a.logstash,
          storageClass: elasticsearch.storageClass,
          ...output,
          dropPaths,
          beatsClients: [rolePeer('shipper', 'filebeat', a.nodeNamespace)],
          metricsClients: monitoringPeers,
          protect: a.protect,
          tlsGeneration,
          certificates,
        },
        deps,
      );
      if (nodeNs !== undefined) {
        new LogShipper(
          `${name}-shipper`,
          {
            namespace: nodeNs.name,
            namespaceName: a.nodeNamespace,
            ...shipperOptions,
            shippedNamespaces: a.appNamespaces,
            logstashNamespace: a.namespace,
            logstashHost: `logstash.${a.namespace}.svc:${PORTS.beats}`,
            apiServer,
            tlsGeneration,
            certificates,
          },
          { parent: this, dependsOn: [nodeNs, logstash] },
        );
      }
    };

    if (external !== undefined) {
      // Only Logstash's Beats certificate and the trust bundle the shipper verifies it with: the external cluster
      // has its own certificates, and no Grafana of this stack queries it (so no CA goes to monitoring).
      // The same objects as the stack's own Elasticsearch's certificate Job, by name and (through the aliases) by
      // identity: a stack that switches to an external cluster updates them instead of creating objects of the
      // same Kubernetes names next to them.
      const ownElasticsearch = `${name}-elasticsearch`;
      const certs = certificateJob(
        ownElasticsearch,
        {
          namespace: a.namespace,
          logstashService: 'logstash',
          generation: tlsGeneration,
          ownedCaNamespaces: caNamespaces,
          grantedCaNamespaces: [],
          image: elasticsearch.image,
          awaitCompletion: a.awaitSetupJobs,
          apiServer,
        },
        this,
        [ns],
        [{ parent: pulumi.createUrn(ownElasticsearch, 'pavemaster:logging:Elasticsearch', this) }],
      );
      pipeline({ external, dataStreamNamespace: external.dataStream.namespace ?? a.environment }, [certs]);
      this.namespace = ns.name;
      this.nodeNamespace = nodeNs?.name;
      this.elasticsearchUrl = pulumi.output(external.hosts[0]);
      this.registerOutputs({
        namespace: this.namespace,
        nodeNamespace: this.nodeNamespace,
        elasticsearchUrl: this.elasticsearchUrl,
      });
      return;
    }

    // Alphanumeric: safe in JSON bodies, shell and URLs without escaping. Passwords are 32 characters from 62
    // symbols (~190 bits), protected with the data: Elasticsearch only reads the `elastic` password when it
    // bootstraps. Kibana's encryption keys are 48 characters.
    const generated = (id: string, length: number, protect: boolean, mixed: boolean): pulumi.Output<string> =>
      new random.RandomPassword(
        `${name}-${id}`,
        { length, special: false, ...(mixed ? { minLower: 1, minUpper: 1, minNumeric: 1 } : {}) },
        { parent: this, protect, additionalSecretOutputs: ['result'] },
      ).result;
    const password = (id: string) => generated(`${id}-password`, 32, a.protect, true);
    const key = (id: string) => generated(`kibana-${id}-key`, 48, false, false);
    const passwords = {
      elastic: password('elastic'),
      writer: password('logstash'),
      reader: password('grafana'),
      exporter: password('exporter'),
      kibanaSystem: password('kibana-system'),
    };
    const es = new Elasticsearch(
      `${name}-elasticsearch`,
      {
        namespace: a.namespace,
        ...elasticsearch,
        protect: a.protect,
        lifecycle: {
          retentionDays: a.retentionDays,
          rolloverMaxAge: a.rollover.maxAge,
          rolloverMaxPrimaryShardSize: a.rollover.maxPrimaryShardSize,
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
        apiServer,
        tlsGeneration,
        logstashService: 'logstash',
        // The trust bundle goes to the shipper's namespace (granted here) and Grafana's (granted by Grafana).
        caNamespaces,
        grantedCaNamespaces:
          a.monitoringNamespace !== undefined && (a.grafanaCa ?? true) ? [a.monitoringNamespace] : [],
      },
      deps,
    );
    const certificates = [es.certificates];

    pipeline(
      { elasticsearchUrl: es.url, password: passwords.writer, dataStreamNamespace: a.environment },
      certificates,
    );

    const kibana = new Kibana(
      `${name}-kibana`,
      {
        namespace: a.namespace,
        ...a.kibana,
        setupImage: a.elasticsearch.image,
        elasticsearchUrl: es.url,
        kibanaSystemPassword: passwords.kibanaSystem,
        encryptionKeys: {
          security: key('security'),
          savedObjects: key('saved-objects'),
          reporting: key('reporting'),
        },
        elasticSecretName: es.elasticSecretName,
        awaitSetupJob: a.awaitSetupJobs,
        tlsGeneration,
        certificates,
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
        tlsGeneration,
        certificates,
      },
      deps,
    );

    this.namespace = ns.name;
    this.nodeNamespace = nodeNs?.name;
    this.elasticsearchUrl = es.url;
    this.kibanaUrl = kibana.url;
    this.elasticPassword = pulumi.secret(passwords.elastic);
    this.grafanaCredentials = { username: NAMES.readerUser, password: pulumi.secret(passwords.reader) };
    this.grafanaDatasource = {
      url: this.elasticsearchUrl,
      namespace: this.namespace,
      port: PORTS.elasticsearchHttp,
      username: this.grafanaCredentials.username,
      password: this.grafanaCredentials.password,
      index: LOG_INDEX_PATTERN,
      timeField: '@timestamp',
      ca: {
        configMapName: CA_CONFIG_MAP,
        key: CA_KEY,
        generation: tlsGeneration,
        writer: { serviceAccountName: CERT_WRITER, namespace: a.namespace },
      },
    };
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
