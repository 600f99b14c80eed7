/**
 * The logging section of the stack config (`pavemaster:logging`): Elasticsearch, Logstash, Kibana, the log
 * shipper and the Elasticsearch exporter. It produces the `Logging` component's own options
 * (components/logging/Logging.ts), with the environment's profile over the component's defaults (staging: one
 * Elasticsearch node, 7 days of logs; production: three nodes, 30 days, protected volumes); every value is checked
 * here, the component's invariants through its own check, so a bad value is reported with its full key before any
 * resource is registered.
 */
import { ExternalElasticsearchOptions, resolveExternalElasticsearch } from '../components/logging/external';
import type { ResolvedLoggingOptions } from '../components/logging/Logging';
import { checkLoggingOptions, MAX_TLS_ROTATION, resolveLoggingOptions } from '../components/logging/options';
import {
  checkDnsLabel,
  checkHeap,
  checkHostName,
  checkLabelValue,
  checkStorage,
} from '../components/shared/checks';
import { ContainerResources } from '../components/shared/resources';
import { readResources, reportArgProblems } from './common';
import { ParseContext } from './context';
import { Fields } from './fields';
import { readEgress, readIngressFrom } from './network';
import { PROFILES } from './profiles';
import { checkImage } from './validators';

/** The logging settings: the Logging component's options, resolved, and whether the stack deploys it. */
export interface LoggingSettings extends ResolvedLoggingOptions {
  /** Deploy the logging stack. */
  enabled: boolean;
}

/** Top-level keys this section reads. */
export const LOGGING_KEYS = ['logging'] as const;
/** Top-level keys whose values are secrets (none: every password is generated). */
export const LOGGING_SECRET_KEYS: readonly string[] = [];

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

const label = (v: string) => checkDnsLabel(v);

/** Reads a logging service's `image` and `resources`, and with `requireDigest` checks the default image too. */
function readService(
  f: Fields,
  def: { image: string; resources: ContainerResources },
  ctx: ParseContext,
  requireDigest: boolean,
): { image: string; resources: ContainerResources } {
  return {
    resources: readResources(f, 'resources', def.resources),
    image: readImage(f, 'image', def.image, ctx, requireDigest),
  };
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

/**
 * `logging.elasticsearch.external`: an existing cluster, read as given (types and unknown keys here); the
 * component's own check (checkExternalElasticsearch) judges the values, reported under these keys.
 */
function readExternal(f: Fields): ExternalElasticsearchOptions {
  const optional = (g: Fields, name: string) => (g.has(name) ? { [name]: g.string(name, '') } : {});
  const ca = f.object('ca');
  const caOptions = {
    ...optional(ca, 'configMap'),
    ...optional(ca, 'secret'),
    ...optional(ca, 'key'),
    ...(ca.has('systemTrustStore') ? { systemTrustStore: ca.bool('systemTrustStore', false) } : {}),
  };
  ca.finish();
  const cr = f.object('credentials');
  const credentials = {
    ...optional(cr, 'secret'),
    ...(cr.has('type')
      ? { type: cr.string<'apiKey' | 'basic'>('type', 'apiKey', { oneOf: ['apiKey', 'basic'] }) }
      : {}),
    ...optional(cr, 'apiKeyKey'),
    ...optional(cr, 'usernameKey'),
    ...optional(cr, 'passwordKey'),
  };
  cr.finish();
  const ds = f.object('dataStream');
  const dataStream = { ...optional(ds, 'dataset'), ...optional(ds, 'namespace') };
  ds.finish();
  const external: ExternalElasticsearchOptions = {
    hosts: f.stringList('hosts', []),
    ca: caOptions,
    credentials,
    egress: readEgress(f, []),
    dataStream,
  };
  f.finish();
  return external;
}

/**
 * With an external Elasticsearch, the keys that only serve the stack's own (its sizing and index lifecycle, Kibana,
 * the exporter, Grafana's datasource) would be ignored silently: each one given is refused, with why.
 */
function refuseOwnElasticsearchKeys(f: Fields, es: Fields, externalKey: string): void {
  const why = (what: string) => `nothing with ${externalKey}: ${what}; remove the key`;
  for (const name of ['replicas', 'heap', 'resources', 'storageSize', 'bootstrapped', 'antiAffinity']) {
    if (es.has(name)) {
      es.fail(
        name,
        '(set)',
        why("the stack runs no Elasticsearch of its own, the external cluster's owners size it"),
      );
    }
  }
  for (const name of ['retentionDays', 'rollover']) {
    if (f.has(name)) {
      f.fail(
        name,
        '(set)',
        why(
          'the external cluster\'s index lifecycle keeps the logs (docs/logging.md, "An existing Elasticsearch")',
        ),
      );
    }
  }
  for (const [name, what] of [
    ['kibana', "the stack runs no Kibana for an external cluster (use that cluster's own)"],
    ['exporter', 'the stack runs no Elasticsearch exporter for an external cluster (its owners monitor it)'],
    ['grafanaPodLabels', "the stack's Grafana gets no datasource of an external cluster"],
  ] as const) {
    if (f.has(name)) {
      f.fail(name, '(set)', why(what));
    }
  }
}

/** Reads the logging section. */
export function parseLogging(root: Fields, ctx: ParseContext): LoggingSettings {
  const { rules } = PROFILES[ctx.environment];
  const d = resolveLoggingOptions({
    namespace: `${ctx.namespace}-logging`,
    ...PROFILES[ctx.environment].logging,
  });
  const f = root.object('logging');
  const enabled = f.bool('enabled', true);
  const namespace = f.string<string>('namespace', d.namespace, { check: label });
  const nodeNamespace = f.string<string>('nodeNamespace', `${namespace}-node`, { check: label });
  const retentionDays = f.int('retentionDays', d.retentionDays, {
    min: rules.minRetentionDays,
    max: 3650,
    why: ctx.production ? 'production keeps logs at least 7 days' : 'days of logs kept before deletion',
  });
  const rolloverFields = f.object('rollover');
  const rollover = {
    maxAge: rolloverFields.string('maxAge', d.rollover.maxAge, { check: checkIlmAge }),
    maxPrimaryShardSize: rolloverFields.string('maxPrimaryShardSize', d.rollover.maxPrimaryShardSize, {
      check: checkByteSize,
    }),
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
  const requireDigest = f.bool('requireDigest', false);
  const grafanaPodLabels = f.stringMap('grafanaPodLabels', { checkValue: checkLabelValue });

  const es = f.object('elasticsearch');
  const external = es.has('external') ? readExternal(es.object('external')) : undefined;
  const elasticsearch = {
    replicas: es.int('replicas', d.elasticsearch.replicas, {
      min: rules.minElasticsearchReplicas,
      max: 9,
      why: ctx.production
        ? 'production runs at least three master-eligible nodes'
        : '1 for a single node, or an odd number of master-eligible nodes',
    }),
    heap: es.string('heap', d.elasticsearch.heap, { check: checkHeap }),
    storageSize: es.string('storageSize', d.elasticsearch.storageSize, { check: (v) => checkStorage(v) }),
    storageClass: es.optionalString('storageClass', { check: label }),
    bootstrapped: es.bool('bootstrapped', d.elasticsearch.bootstrapped),
    antiAffinity: es.string('antiAffinity', d.elasticsearch.antiAffinity, {
      oneOf: ['none', 'preferred', 'required'] as const,
    }),
    ...readService(es, d.elasticsearch, ctx, requireDigest),
    ...(external !== undefined ? { external: resolveExternalElasticsearch(external) } : {}),
  };
  if (external !== undefined) {
    refuseOwnElasticsearchKeys(f, es, es.key('external'));
  }
  es.finish();
  // Kibana's and the exporter's images are not deployed with an external cluster: no digest is asked of them.
  const ownRequireDigest = requireDigest && external === undefined;

  const ls = f.object('logstash');
  const logstash = {
    replicas: ls.int('replicas', d.logstash.replicas, { min: 1, max: 20 }),
    heap: ls.string('heap', d.logstash.heap, { check: checkHeap }),
    queueSize: ls.string('queueSize', d.logstash.queueSize, { check: (v) => checkStorage(v) }),
    ...readService(ls, d.logstash, ctx, requireDigest),
    exporterImage: readImage(ls, 'exporterImage', d.logstash.exporterImage, ctx, requireDigest),
    exporterResources: readResources(ls, 'exporterResources', d.logstash.exporterResources),
  };
  ls.finish();

  const sh = f.object('shipper');
  const shipper = {
    ...readService(sh, d.shipper, ctx, requireDigest),
    enabled: sh.bool('enabled', true),
  };
  sh.finish();

  const kb = f.object('kibana');
  const kibana = {
    ...readService(kb, d.kibana, ctx, ownRequireDigest),
    host: kb.optionalString('host', { check: checkHostName }),
    ingressClassName: kb.optionalString('ingressClassName', { check: label }),
    tlsSecretName: kb.optionalString('tlsSecretName', { check: label }),
    ingressFrom: readIngressFrom(kb, d.kibana.ingressFrom),
  };
  kb.finish();

  // Replaced by kibana.ingressFrom (issue 17): a namespace let every pod of it in; say so rather than "no such key".
  if (f.names().includes('ingressNamespaces')) {
    const given = f.stringList('ingressNamespaces', []);
    f.fail(
      'ingressNamespaces',
      given,
      `nothing: replaced by ${f.key('kibana.ingressFrom')}, a list of peers as in pavemaster:ingressFrom ` +
        '(e.g. [{namespace: ingress-nginx, podLabels: {app.kubernetes.io/name: ingress-nginx}}])',
    );
  }

  const ex = f.object('exporter');
  const exporter = readService(ex, d.exporter, ctx, ownRequireDigest);
  ex.finish();

  // TLS is always on (docs/logging.md, "TLS"): the only choice is the certificates' generation.
  const tf = f.object('tls');
  if (tf.has('enabled') && !tf.bool('enabled', true)) {
    tf.fail(
      'enabled',
      false,
      'true (or no key): TLS on every hop of the logging stack cannot be turned off (a plaintext hop would carry the ' +
        "stack's passwords and the app's logs); remove the key",
    );
  }
  const tls = {
    rotation: tf.int('rotation', d.tls.rotation, {
      min: 1,
      max: MAX_TLS_ROTATION,
      why: "the certificates' generation: raise it by one to rotate every certificate of the logging stack",
    }),
  };
  tf.finish();

  const settings: LoggingSettings = {
    enabled,
    namespace,
    nodeNamespace,
    retentionDays,
    rollover,
    protect: f.bool('protect', d.protect),
    awaitSetupJobs: f.bool('awaitSetupJobs', d.awaitSetupJobs),
    grafanaPodLabels: Object.keys(grafanaPodLabels).length > 0 ? grafanaPodLabels : d.grafanaPodLabels,
    elasticsearch,
    logstash,
    shipper,
    // Refused above when given with an external cluster, which gets no Kibana: the defaults stand in.
    kibana: external !== undefined ? d.kibana : kibana,
    exporter,
    tls,
  };
  reportArgProblems(f, checkLoggingOptions(settings));
  f.finish();
  return settings;
}
