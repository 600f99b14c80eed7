/**
 * The logging section of the stack config (`pavemaster:logging`): Elasticsearch, Logstash, Kibana, the log
 * shipper and the Elasticsearch exporter. Every value has a per-environment default (staging: one Elasticsearch
 * node, 7 days of logs; production: three nodes, 30 days, protected volumes) and is checked here, so that a bad
 * value is reported with its full key before any resource is registered.
 */
import { DEFAULT_IMAGES } from '../components/logging/defaults';
import { readResources } from './common';
import { Environment, ParseContext, ResourceSettings } from './context';
import { Fields } from './fields';
import {
  checkDnsLabel,
  checkHostName,
  checkImage,
  checkLabelValue,
  checkStorage,
  parseQuantity,
} from './validators';

/** Elasticsearch settings. */
export interface ElasticsearchSettings {
  /** Nodes: 1 (single-node discovery) or an odd number of master-eligible data nodes (3, 5, ...). */
  replicas: number;
  /** The JVM heap (`-Xms`/`-Xmx`), e.g. "1g"; at most half the memory limit. */
  heap: string;
  resources: ResourceSettings;
  /** The size of each node's data volume. */
  storageSize: string;
  /** The StorageClass of the data volumes; the cluster default when unset. */
  storageClass?: string;
  image: string;
  /**
   * False until the cluster has formed once: while false, the nodes get `cluster.initial_master_nodes`. Set it to
   * true after the first successful deployment, as Elasticsearch asks that the setting be removed afterwards.
   */
  bootstrapped: boolean;
  /** How the nodes spread over Kubernetes nodes. */
  antiAffinity: 'none' | 'preferred' | 'required';
}

/** Logstash settings. */
export interface LogstashSettings {
  replicas: number;
  /** The JVM heap, at most half the memory limit. */
  heap: string;
  resources: ResourceSettings;
  /** The size of each replica's persistent-queue volume; the queue itself may use 90% of it. */
  queueSize: string;
  image: string;
  /** The Prometheus exporter sidecar's image. */
  exporterImage: string;
  exporterResources: ResourceSettings;
}

export interface LoggingSettings {
  /** Deploy the logging stack. */
  enabled: boolean;
  /** The namespace of the logging stack. */
  namespace: string;
  /** The namespace of the log shipper DaemonSet (privileged Pod Security: it mounts host paths). */
  nodeNamespace: string;
  /** How many days logs are kept before ILM deletes them. */
  retentionDays: number;
  /** When the write index rolls over. */
  rollover: { maxAge: string; maxPrimaryShardSize: string };
  /** Protect the stateful resources (volumes, namespaces) and retain volumes when the StatefulSets go. */
  protect: boolean;
  /** Make Pulumi wait for the setup Jobs to complete. */
  awaitSetupJobs: boolean;
  /** Namespaces of the ingress controllers that may reach Kibana. */
  ingressNamespaces: string[];
  /** Labels of the Grafana pods in the monitoring namespace that may query Elasticsearch. */
  grafanaPodLabels: Record<string, string>;
  elasticsearch: ElasticsearchSettings;
  logstash: LogstashSettings;
  shipper: { resources: ResourceSettings; image: string };
  kibana: {
    resources: ResourceSettings;
    image: string;
    /** A public host for Kibana (an Ingress); none when unset. */
    host?: string;
    ingressClassName?: string;
    tlsSecretName?: string;
  };
  exporter: { resources: ResourceSettings; image: string };
}

/** Top-level keys this section reads. */
export const LOGGING_KEYS = ['logging'] as const;
/** Top-level keys whose values are secrets (none: every password is generated). */
export const LOGGING_SECRET_KEYS: readonly string[] = [];

/** Per-environment defaults of the logging section. */
export interface LoggingProfile {
  retentionDays: number;
  minRetentionDays: number;
  protect: boolean;
  elasticsearch: {
    replicas: number;
    heap: string;
    resources: ResourceSettings;
    storageSize: string;
    antiAffinity: 'none' | 'preferred' | 'required';
  };
  logstash: { replicas: number; heap: string; resources: ResourceSettings; queueSize: string };
  shipper: ResourceSettings;
  kibana: ResourceSettings;
  exporter: ResourceSettings;
  logstashExporter: ResourceSettings;
}

const small = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string): ResourceSettings => ({
  requests: { cpu, memory },
  limits: { cpu: cpuLimit, memory: memoryLimit },
});

export const LOGGING_PROFILES: Record<Environment, LoggingProfile> = {
  staging: {
    retentionDays: 7,
    minRetentionDays: 1,
    protect: false,
    elasticsearch: {
      replicas: 1,
      heap: '512m',
      resources: small('250m', '1Gi', '1', '1Gi'),
      storageSize: '10Gi',
      antiAffinity: 'preferred',
    },
    logstash: {
      replicas: 1,
      heap: '256m',
      resources: small('100m', '768Mi', '1', '768Mi'),
      queueSize: '2Gi',
    },
    shipper: small('50m', '100Mi', '200m', '200Mi'),
    kibana: small('100m', '768Mi', '1', '1Gi'),
    exporter: small('10m', '32Mi', '100m', '64Mi'),
    logstashExporter: small('10m', '32Mi', '100m', '64Mi'),
  },
  production: {
    retentionDays: 30,
    minRetentionDays: 7,
    protect: true,
    elasticsearch: {
      replicas: 3,
      heap: '2g',
      resources: small('1', '4Gi', '2', '4Gi'),
      storageSize: '100Gi',
      antiAffinity: 'required',
    },
    logstash: { replicas: 2, heap: '1g', resources: small('500m', '2Gi', '2', '2Gi'), queueSize: '10Gi' },
    shipper: small('100m', '200Mi', '500m', '400Mi'),
    kibana: small('250m', '1Gi', '1', '2Gi'),
    exporter: small('20m', '32Mi', '200m', '128Mi'),
    logstashExporter: small('20m', '32Mi', '200m', '128Mi'),
  },
};

const JVM_SIZE = /^([1-9]\d*)([kmg])$/i;
const JVM_FACTOR: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

/** Parses a JVM memory size ("512m", "2g") to bytes, or `undefined` when it is not one. */
export function parseJvmSize(text: string): number | undefined {
  const match = JVM_SIZE.exec(text);
  if (!match) {
    return undefined;
  }
  return Number(match[1]) * JVM_FACTOR[match[2].toLowerCase()];
}

/** A JVM heap size: a whole number with k, m or g, at least 128m. */
export function checkHeap(text: string): string | undefined {
  const bytes = parseJvmSize(text);
  if (bytes === undefined) {
    return 'a JVM heap size such as "512m" or "2g" (a whole number followed by k, m or g)';
  }
  if (bytes < 128 * 2 ** 20) {
    return 'a JVM heap of at least "128m"';
  }
  return undefined;
}

/** An ILM duration ("1d", "12h", "30m"). */
function checkIlmAge(text: string): string | undefined {
  return /^[1-9]\d*(d|h|m)$/.test(text) ? undefined : 'an ILM age such as "1d", "12h" or "30m"';
}

/** An Elasticsearch byte size ("10gb", "500mb"). */
function checkByteSize(text: string): string | undefined {
  return /^[1-9]\d*(kb|mb|gb|tb)$/.test(text)
    ? undefined
    : 'an Elasticsearch byte size such as "10gb" or "500mb"';
}

/**
 * Records a problem on `<prefix>heap` when the heap is more than half the container's memory limit: the JVM heap
 * plus off-heap memory (Lucene's file cache for Elasticsearch, direct buffers for both) must fit in the limit.
 */
function checkHeapAgainstLimit(f: Fields, heap: string, resources: ResourceSettings): void {
  const heapBytes = parseJvmSize(heap);
  const limit = parseQuantity(resources.limits.memory);
  if (heapBytes !== undefined && limit !== undefined && heapBytes > limit / 2) {
    f.fail(
      'heap',
      heap,
      `a heap of at most half the memory limit (${f.prefix}resources.limits.memory = "${resources.limits.memory}", so at most ${Math.floor(limit / 2 / 2 ** 20)}m)`,
    );
  }
}

function readImage(f: Fields, name: string, def: string, ctx: ParseContext, requireDigest: boolean): string {
  const check = (text: string) => checkImage(text, { production: ctx.production, requireDigest });
  const image = f.string(name, def, { check });
  // A default is checked too: with requireDigest, a default pinned only by tag must be overridden.
  const defaultProblem = f.has(name) ? undefined : check(def);
  if (defaultProblem !== undefined) {
    f.fail(name, def, `${defaultProblem}; the default has no published digest, so set this key`);
  }
  return image;
}

function readOptional(
  f: Fields,
  name: string,
  check: (text: string) => string | undefined,
): string | undefined {
  return f.optionalString(name, { check });
}

/** Reads the logging section. */
export function parseLogging(root: Fields, ctx: ParseContext): LoggingSettings {
  const profile = LOGGING_PROFILES[ctx.environment];
  const f = root.object('logging');
  const enabled = f.bool('enabled', true);
  const namespace = f.string<string>('namespace', `${ctx.namespace}-logging`, { check: checkDnsLabel });
  const nodeNamespace = f.string<string>('nodeNamespace', `${namespace}-node`, { check: checkDnsLabel });
  if (nodeNamespace === namespace) {
    f.fail('nodeNamespace', nodeNamespace, `a namespace other than ${f.key('namespace')} (it is privileged)`);
  }
  const retentionDays = f.int('retentionDays', profile.retentionDays, {
    min: profile.minRetentionDays,
    max: 3650,
    why: ctx.production ? 'production keeps logs at least 7 days' : 'days of logs kept before deletion',
  });
  const rolloverFields = f.object('rollover');
  const rollover = {
    maxAge: rolloverFields.string('maxAge', '1d', { check: checkIlmAge }),
    maxPrimaryShardSize: rolloverFields.string('maxPrimaryShardSize', '10gb', { check: checkByteSize }),
  };
  rolloverFields.finish();
  const maxAgeDays = /^(\d+)d$/.exec(rollover.maxAge);
  if (maxAgeDays && Number(maxAgeDays[1]) > retentionDays) {
    rolloverFields.fail(
      'maxAge',
      rollover.maxAge,
      `a rollover age no longer than the retention (${f.key('retentionDays')} = ${retentionDays})`,
    );
  }
  const protect = f.bool('protect', profile.protect);
  const awaitSetupJobs = f.bool('awaitSetupJobs', false);
  const requireDigest = f.bool('requireDigest', false);
  const ingressNamespaces = f.stringList('ingressNamespaces', ['ingress-nginx'], { check: checkDnsLabel });
  const grafanaPodLabels = f.stringMap('grafanaPodLabels', { checkValue: checkLabelValue });
  if (Object.keys(grafanaPodLabels).length === 0) {
    grafanaPodLabels['app.kubernetes.io/name'] = 'grafana';
  }

  // Elasticsearch
  const es = f.object('elasticsearch');
  const replicas = es.int('replicas', profile.elasticsearch.replicas, {
    min: ctx.production ? 3 : 1,
    max: 9,
    why: ctx.production
      ? 'production runs at least three master-eligible nodes'
      : '1 for a single node, or an odd number of master-eligible nodes',
  });
  if (replicas > 1 && replicas % 2 === 0) {
    es.fail(
      'replicas',
      replicas,
      '1 or an odd number (3, 5, 7, 9): an even number of master-eligible nodes adds no fault tolerance',
    );
  }
  const esResources = readResources(es, 'resources', profile.elasticsearch.resources);
  const esHeap = es.string('heap', profile.elasticsearch.heap, { check: checkHeap });
  checkHeapAgainstLimit(es, esHeap, esResources);
  const elasticsearch: ElasticsearchSettings = {
    replicas,
    heap: esHeap,
    resources: esResources,
    storageSize: es.string('storageSize', profile.elasticsearch.storageSize, { check: checkStorage }),
    storageClass: readOptional(es, 'storageClass', checkDnsLabel),
    image: readImage(es, 'image', DEFAULT_IMAGES.elasticsearch, ctx, requireDigest),
    bootstrapped: es.bool('bootstrapped', false),
    antiAffinity: es.string('antiAffinity', profile.elasticsearch.antiAffinity, {
      oneOf: ['none', 'preferred', 'required'] as const,
    }),
  };
  es.finish();

  // Logstash
  const ls = f.object('logstash');
  const lsResources = readResources(ls, 'resources', profile.logstash.resources);
  const lsHeap = ls.string('heap', profile.logstash.heap, { check: checkHeap });
  checkHeapAgainstLimit(ls, lsHeap, lsResources);
  const logstash: LogstashSettings = {
    replicas: ls.int('replicas', profile.logstash.replicas, { min: 1, max: 20 }),
    heap: lsHeap,
    resources: lsResources,
    queueSize: ls.string('queueSize', profile.logstash.queueSize, {
      check: (text) => {
        const problem = checkStorage(text);
        if (problem !== undefined) {
          return problem;
        }
        return (parseQuantity(text) ?? 0) < 256 * 2 ** 20 ? 'a queue volume of at least "256Mi"' : undefined;
      },
    }),
    image: readImage(ls, 'image', DEFAULT_IMAGES.logstash, ctx, requireDigest),
    exporterImage: readImage(ls, 'exporterImage', DEFAULT_IMAGES.logstashExporter, ctx, requireDigest),
    exporterResources: readResources(ls, 'exporterResources', profile.logstashExporter),
  };
  ls.finish();

  // Shipper
  const sh = f.object('shipper');
  const shipper = {
    resources: readResources(sh, 'resources', profile.shipper),
    image: readImage(sh, 'image', DEFAULT_IMAGES.filebeat, ctx, requireDigest),
  };
  sh.finish();

  // Kibana
  const kb = f.object('kibana');
  const kibana = {
    resources: readResources(kb, 'resources', profile.kibana),
    image: readImage(kb, 'image', DEFAULT_IMAGES.kibana, ctx, requireDigest),
    host: readOptional(kb, 'host', checkHostName),
    ingressClassName: readOptional(kb, 'ingressClassName', checkDnsLabel),
    tlsSecretName: readOptional(kb, 'tlsSecretName', checkDnsLabel),
  };
  kb.finish();

  // Elasticsearch exporter
  const ex = f.object('exporter');
  const exporter = {
    resources: readResources(ex, 'resources', profile.exporter),
    image: readImage(ex, 'image', DEFAULT_IMAGES.elasticsearchExporter, ctx, requireDigest),
  };
  ex.finish();

  f.finish();
  return {
    enabled,
    namespace,
    nodeNamespace,
    retentionDays,
    rollover,
    protect,
    awaitSetupJobs,
    ingressNamespaces,
    grafanaPodLabels,
    elasticsearch,
    logstash,
    shipper,
    kibana,
    exporter,
  };
}
