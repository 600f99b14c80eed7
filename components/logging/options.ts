/**
 * The logging stack's defaults and checks (each service's component file declares its options, with their docs),
 * without the Pulumi SDK: the stack reader (stacks/logging.ts) and so the release command apply and check them
 * without loading it. Each component file re-exports its own.
 */
import type { ApiServerPeer } from './common';
import type { ResolvedElasticsearchOptions } from './Elasticsearch';
import type { ElasticsearchExporterOptions } from './ElasticsearchExporter';
import type { ResolvedKibanaOptions } from './Kibana';
import type { LoggingOptions, ResolvedLoggingOptions } from './Logging';
import type { LogShipperOptions } from './LogShipper';
import type { ResolvedLogstashOptions } from './Logstash';
import { ArgChecks, ArgProblem, DeepPartial, withDefaults } from '../shared/args';
import { checkDnsLabel, checkWholeNumber, parseJvmSize, parseQuantity } from '../shared/checks';
import { checkNetworkPeer } from '../shared/peers';
import { ContainerResources } from '../shared/resources';
import { LOGGING_IMAGES } from '../versions';
import { checkExternalElasticsearch, resolveExternalElasticsearch } from './external';

export const ELASTICSEARCH_DEFAULTS: ResolvedElasticsearchOptions = {
  replicas: 1,
  heap: '512m',
  resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
  storageSize: '10Gi',
  image: LOGGING_IMAGES.elasticsearch,
  bootstrapped: false,
  antiAffinity: 'preferred',
};

/** The API server of any cluster: any address, the `kubernetes` Service's port and the usual control-plane port. */
export const ANY_API_SERVER: ApiServerPeer = { cidr: '0.0.0.0/0', ports: [443, 6443] };

export const ELASTICSEARCH_EXPORTER_DEFAULTS: Required<ElasticsearchExporterOptions> = {
  image: LOGGING_IMAGES.elasticsearchExporter,
  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
};

export const KIBANA_DEFAULTS: ResolvedKibanaOptions = {
  image: LOGGING_IMAGES.kibana,
  resources: { requests: { cpu: '100m', memory: '768Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  ingressFrom: [],
};

export const LOG_SHIPPER_DEFAULTS: Required<LogShipperOptions> = {
  image: LOGGING_IMAGES.filebeat,
  resources: { requests: { cpu: '50m', memory: '100Mi' }, limits: { cpu: '200m', memory: '200Mi' } },
};

export const LOGSTASH_DEFAULTS: ResolvedLogstashOptions = {
  replicas: 1,
  heap: '256m',
  resources: { requests: { cpu: '100m', memory: '768Mi' }, limits: { cpu: '1', memory: '768Mi' } },
  queueSize: '2Gi',
  image: LOGGING_IMAGES.logstash,
  exporterImage: LOGGING_IMAGES.logstashExporter,
  exporterResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
};

/** The highest certificate generation (`tls.rotation`); far above any real count of rotations. */
export const MAX_TLS_ROTATION = 1_000_000;

/** The smallest queue volume Logstash is given. */
export const MIN_QUEUE_BYTES = 256 * 2 ** 20;

/** The defaults: a small single-node stack with pinned Elastic images and no protection. */
export const LOGGING_DEFAULTS: Omit<ResolvedLoggingOptions, 'nodeNamespace'> = {
  namespace: 'pavemaster-logging',
  retentionDays: 7,
  rollover: { maxAge: '1d', maxPrimaryShardSize: '10gb' },
  protect: false,
  awaitSetupJobs: false,
  grafanaPodLabels: { 'app.kubernetes.io/name': 'grafana' },
  elasticsearch: ELASTICSEARCH_DEFAULTS,
  logstash: LOGSTASH_DEFAULTS,
  shipper: LOG_SHIPPER_DEFAULTS,
  kibana: KIBANA_DEFAULTS,
  exporter: ELASTICSEARCH_EXPORTER_DEFAULTS,
  tls: { rotation: 1 },
};

/** Applies the defaults, once; `grafanaPodLabels` replaces its default as a whole. */
export function resolveLoggingOptions(o: DeepPartial<LoggingOptions>): ResolvedLoggingOptions {
  const base = withDefaults(LOGGING_DEFAULTS, o as DeepPartial<typeof LOGGING_DEFAULTS>, [
    'grafanaPodLabels',
  ]);
  // An external Elasticsearch is not in the defaults: it is resolved on its own, and only when given.
  const external = o.elasticsearch?.external;
  return {
    ...base,
    elasticsearch:
      external !== undefined
        ? {
            ...base.elasticsearch,
            external: resolveExternalElasticsearch(external),
          }
        : base.elasticsearch,
    nodeNamespace: o.nodeNamespace ?? `${base.namespace}-node`,
  };
}

/**
 * The JVM heap plus off-heap memory (Lucene's file cache for Elasticsearch, direct buffers for both) must fit in
 * the container: a heap of at most half the memory limit.
 */
function checkHeap(c: ArgChecks, path: string, heap: string, resources: ContainerResources): void {
  const heapBytes = parseJvmSize(heap);
  const limit = parseQuantity(resources.limits.memory);
  if (heapBytes === undefined) {
    c.fail(`${path}.heap`, heap, 'a JVM size such as "512m"');
  } else if (limit === undefined || heapBytes > limit / 2) {
    c.fail(
      `${path}.heap`,
      heap,
      `a heap of at most half the memory limit (${path}.resources.limits.memory = "${resources.limits.memory}", so at most ${Math.floor((limit ?? 0) / 2 / 2 ** 20)}m)`,
    );
  }
}

/** The logging stack's own invariants; every problem at once, each named by its option path. */
export function checkLoggingOptions(o: ResolvedLoggingOptions): ArgProblem[] {
  const c = new ArgChecks();
  c.check('namespace', o.namespace, (v) => checkDnsLabel(v));
  c.check('nodeNamespace', o.nodeNamespace, (v) => checkDnsLabel(v));
  if (o.namespace === o.nodeNamespace) {
    c.fail(
      'nodeNamespace',
      o.nodeNamespace,
      'a namespace other than namespace (it enforces the privileged level)',
    );
  }
  c.check('retentionDays', o.retentionDays, (v) => checkWholeNumber(v, 1));
  c.check('tls.rotation', o.tls.rotation, (v) =>
    Number.isInteger(v) && v >= 1 && v <= MAX_TLS_ROTATION
      ? undefined
      : `the certificates' generation, a whole number from 1 to ${MAX_TLS_ROTATION}: raise it by one to rotate them`,
  );
  const n = o.elasticsearch.replicas;
  if (!Number.isInteger(n) || n < 1 || (n > 1 && n % 2 === 0)) {
    c.fail(
      'elasticsearch.replicas',
      n,
      '1 or an odd number (3, 5, 7, 9): an even number of master-eligible nodes adds no fault tolerance',
    );
  }
  checkHeap(c, 'elasticsearch', o.elasticsearch.heap, o.elasticsearch.resources);
  checkHeap(c, 'logstash', o.logstash.heap, o.logstash.resources);
  c.check('logstash.replicas', o.logstash.replicas, (v) => checkWholeNumber(v, 1));
  if ((parseQuantity(o.logstash.queueSize) ?? 0) < MIN_QUEUE_BYTES) {
    c.fail('logstash.queueSize', o.logstash.queueSize, 'a queue volume of at least "256Mi"');
  }
  const external = o.elasticsearch.external;
  if (external !== undefined) {
    checkExternalElasticsearch(c, 'elasticsearch.external', external);
    if (o.kibana.host !== undefined) {
      c.fail(
        'kibana.host',
        o.kibana.host,
        "no host with elasticsearch.external: the stack runs no Kibana for an external cluster (use that cluster's own Kibana)",
      );
    }
  }
  o.kibana.ingressFrom.forEach((peer, i) =>
    checkNetworkPeer(c, `kibana.ingressFrom[${i}]`, peer, { podLabelsAlone: true }),
  );
  if (o.kibana.host !== undefined && o.kibana.ingressFrom.length === 0 && external === undefined) {
    c.fail(
      'kibana.ingressFrom',
      o.kibana.ingressFrom,
      `at least one source with kibana.host "${o.kibana.host}" (the ingress controller's pods, e.g. ` +
        '[{namespace: ingress-nginx, podLabels: {app.kubernetes.io/name: ingress-nginx}}]): otherwise the ' +
        'Ingress has no controller that can reach Kibana',
    );
  }
  return [...c.problems];
}
