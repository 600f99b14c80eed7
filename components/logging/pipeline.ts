/**
 * The text configuration of the log path: the Logstash pipeline and settings, and the Filebeat configuration.
 * Pure functions of their options, so tests and the real-tool checks (docs/logging.md) see exactly what the
 * ConfigMaps hold. None of them contains a secret: Logstash reads its Elasticsearch password from an
 * environment variable (`${VAR}` substitution), which comes from a Kubernetes Secret.
 */
import { NAMES, PORTS } from './defaults';

/** Options of the Logstash pipeline. */
export interface PipelineOptions {
  /**
   * The Elasticsearch URL, e.g. `https://elasticsearch.pavemaster-staging-logging.svc:9200`, or several (an
   * external cluster's endpoints, over which the output balances); https only.
   */
  elasticsearchUrl: string | readonly string[];
  /**
   * The CA bundle file Elasticsearch's certificate is verified with (full verification: chain and host name);
   * `undefined` only for an external cluster whose certificate the JVM's own trust store verifies (still full).
   */
  caFile: string | undefined;
  /** The Beats input's certificate and PKCS#8 key files (the shipper connects with TLS only). */
  beatsCertificate: string;
  beatsKey: string;
  /** The data stream namespace: logs go to `logs-<dataset>-<namespace>` (lowercase, no "-"). */
  dataStreamNamespace: string;
  /** The data stream dataset (lowercase, ".", no "-"). @default "pavemaster" */
  dataStreamDataset?: string;
  /** Paths whose access lines are health-check noise and are dropped. */
  dropPaths: readonly string[];
  /**
   * The environment variables holding Logstash's Elasticsearch credentials: a user and a password, or an API key
   * (`<id>:<api_key>`, Logstash's `api_key` format). Exactly one of the two.
   */
  userEnv?: string;
  passwordEnv?: string;
  apiKeyEnv?: string;
  /** Whose CA `caFile` holds, for the generated comment. @default "the stack's CA" */
  caName?: string;
  /** The Beats port. @default 5044 */
  beatsPort?: number;
}

/** Quotes a string for the Logstash config language (double quotes; backslash and quote escaped). */
export function lsString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Escapes a path for a regular expression literal of the Logstash config language. "/" becomes `\x2F` rather
 * than `\/`: both mean a slash to Logstash's (Ruby) regexp engine, but the hex escape keeps the literal free of
 * slashes, which every parser of the grammar agrees on.
 */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\//g, '\\x2F');
}

/** The Kubernetes metadata the shipper attaches, copied to the top-level fields the index template maps. */
export const METADATA_FIELDS: Record<string, string> = {
  slot: '[kubernetes][labels][slot]',
  version: '[kubernetes][labels][version]',
  app: '[kubernetes][labels][app]',
  pod: '[kubernetes][pod][name]',
  namespace: '[kubernetes][namespace]',
  container: '[kubernetes][container][name]',
  node: '[kubernetes][node][name]',
};

/**
 * The Logstash pipeline: Beats in; JSON lines parsed into `[json]` (their `level`, `msg`/`message` and time
 * lifted to the top), other lines kept as `message`; health-check access lines dropped; the pod's slot, version,
 * pod, namespace and container copied from the shipper's Kubernetes metadata; out to the environment's data
 * stream with Logstash's own credentials (a user and password, or an external cluster's API key). In data-stream
 * mode the output refuses every option but the connection settings, `id` and `data_stream_*` (for instance `index`
 * and `manage_template`): the template is the setup Job's (or an external cluster's owners'), Logstash's writer
 * role may not manage templates.
 */
export function logstashPipeline(opts: PipelineOptions): string {
  const urls =
    typeof opts.elasticsearchUrl === 'string' ? [opts.elasticsearchUrl] : [...opts.elasticsearchUrl];
  if (urls.length === 0) {
    throw new Error('the Elasticsearch output needs at least one URL');
  }
  for (const url of urls) {
    if (!/^https:\/\/[^\s"\\]+$/.test(url)) {
      throw new Error(`Elasticsearch URL "${url}" must be https: every hop is TLS`);
    }
  }
  for (const file of [
    ...(opts.caFile !== undefined ? [opts.caFile] : []),
    opts.beatsCertificate,
    opts.beatsKey,
  ]) {
    if (!/^\/[\x21-\x7e]+$/.test(file) || file.includes('"')) {
      throw new Error(`"${file}" is not an absolute file path`);
    }
  }
  const dataset = opts.dataStreamDataset ?? NAMES.dataStreamDataset;
  if (!/^[a-z0-9][a-z0-9_.]*$/.test(dataset)) {
    throw new Error(`data stream dataset "${dataset}" must be lowercase letters, digits, "_" or "."`);
  }
  if (!/^[a-z0-9_]+$/.test(opts.dataStreamNamespace)) {
    throw new Error(
      `data stream namespace "${opts.dataStreamNamespace}" must be lowercase letters, digits or "_"`,
    );
  }
  const basic = opts.userEnv !== undefined || opts.passwordEnv !== undefined;
  if (
    basic === (opts.apiKeyEnv !== undefined) ||
    (basic && (opts.userEnv === undefined || opts.passwordEnv === undefined))
  ) {
    throw new Error('the Elasticsearch output needs either userEnv and passwordEnv, or apiKeyEnv');
  }
  for (const env of [opts.userEnv, opts.passwordEnv, opts.apiKeyEnv]) {
    if (env !== undefined && !/^[A-Z_][A-Z0-9_]*$/.test(env)) {
      throw new Error(`"${env}" is not an environment variable name`);
    }
  }
  if (opts.dropPaths.length === 0 || opts.dropPaths.some((p) => !/^\/[\x21-\x7e]*$/.test(p))) {
    throw new Error('dropPaths must be absolute HTTP paths without spaces');
  }
  const paths = [...new Set(opts.dropPaths)];
  const list = `[${paths.map(lsString).join(', ')}]`;
  const alternation = paths.map(escapeRegex).join('|');
  const copies = Object.entries(METADATA_FIELDS)
    .map(([to, from]) => `      ${lsString(from)} => ${lsString(to)}`)
    .join('\n');
  // `${VAR}`: Logstash substitutes the environment variable, which comes from a Secret; none is in the text.
  const credentials =
    opts.apiKeyEnv !== undefined
      ? `    api_key => "\${${opts.apiKeyEnv}}"`
      : `    user => "\${${opts.userEnv}}"\n    password => "\${${opts.passwordEnv}}"`;
  const caComment =
    opts.caFile !== undefined
      ? `# The chain must lead to ${opts.caName ?? "the stack's CA"} and the certificate must name the host.`
      : "# The chain must lead to a CA of the JVM's trust store and the certificate must name the host.";
  const caLine =
    opts.caFile !== undefined ? `    ssl_certificate_authorities => [${lsString(opts.caFile)}]\n` : '';
  return `# Generated by the PaveMaster logging component.
input {
  beats {
    id => "beats"
    port => ${opts.beatsPort ?? PORTS.beats}
    # TLS only: the shipper verifies this certificate against the stack's CA (the key is PKCS#8, as required).
    ssl_enabled => true
    ssl_certificate => ${lsString(opts.beatsCertificate)}
    ssl_key => ${lsString(opts.beatsKey)}
  }
}

filter {
  # The app logs JSON lines; anything else (a stack trace, a library's plain line) stays as it is in "message".
  if [message] =~ /^\\s*\\{/ {
    json {
      id => "parse-json"
      source => "message"
      target => "json"
      skip_on_invalid_json => true
    }
  }
  if [json][level] {
    mutate { id => "lift-level" copy => { "[json][level]" => "level" } }
  }
  if [json][msg] {
    mutate { id => "lift-msg" replace => { "message" => "%{[json][msg]}" } }
  } else if [json][message] {
    mutate { id => "lift-message" replace => { "message" => "%{[json][message]}" } }
  }
  if [json][time] {
    date { id => "lift-time" match => ["[json][time]", "ISO8601", "UNIX_MS"] target => "@timestamp" }
  } else if [json][timestamp] {
    date { id => "lift-timestamp" match => ["[json][timestamp]", "ISO8601", "UNIX_MS"] target => "@timestamp" }
  }

  # Health checks and scrapes are noise: drop their access lines, JSON or plain.
  if [json][path] in ${list} or [json][url] in ${list} or [json][req][url] in ${list} {
    drop { id => "drop-health-json" }
  }
  if [message] =~ /(GET|HEAD) (${alternation})([ ?"]|$)/ {
    drop { id => "drop-health-plain" }
  }

  # Where the line came from. The shipper's ECS "container" object gives way to the container's name.
  mutate { id => "drop-ecs-container" remove_field => ["[container]"] }
  mutate {
    id => "copy-kubernetes-metadata"
    copy => {
${copies}
    }
  }
  if [level] {
    mutate { id => "normalize-level" lowercase => ["level"] }
  }
}

output {
  elasticsearch {
    id => "elasticsearch"
    hosts => [${urls.map(lsString).join(', ')}]
${credentials}
    ${caComment}
    ssl_enabled => true
    ssl_verification_mode => "full"
${caLine}    data_stream => "true"
    data_stream_type => ${lsString(NAMES.dataStreamType)}
    data_stream_dataset => ${lsString(dataset)}
    data_stream_namespace => ${lsString(opts.dataStreamNamespace)}
    data_stream_sync_fields => false
    data_stream_auto_routing => false
  }
}
`;
}

/** Options of `logstash.yml`. */
export interface LogstashSettingsOptions {
  /** The persistent queue's directory (on the PVC). */
  queuePath: string;
  /** The most the queue may hold, in bytes (below the volume's size). */
  queueMaxBytes: number;
}

/** `logstash.yml`: the monitoring API on all interfaces (for the exporter), a persisted queue on the volume. */
export function logstashSettings(opts: LogstashSettingsOptions): string {
  const mb = Math.floor(opts.queueMaxBytes / 2 ** 20);
  if (mb < 64) {
    throw new Error(`queue of ${opts.queueMaxBytes} bytes is below 64mb`);
  }
  return `# Generated by the PaveMaster logging component.
api.enabled: true
api.http.host: "0.0.0.0"
api.http.port: ${PORTS.logstashApi}
path.data: /usr/share/logstash/data
path.queue: ${JSON.stringify(opts.queuePath)}
queue.type: persisted
queue.max_bytes: ${mb}mb
queue.checkpoint.writes: 1024
pipeline.ecs_compatibility: v8
config.reload.automatic: false
xpack.monitoring.enabled: false
log.format: json
`;
}

/** Filebeat's HTTP endpoint, for the kubelet's probes. */
export const FILEBEAT_HTTP_PORT = 5066;

/** Options of the Filebeat configuration. */
export interface FilebeatOptions {
  /** Namespaces whose container logs are shipped (the app's). */
  namespaces: readonly string[];
  /** Logstash hosts, `host:port` (names of Logstash's certificate). */
  logstashHosts: readonly string[];
  /** The CA bundle Logstash's certificate is verified with. */
  caFile: string;
}

/**
 * `filebeat.yml`, written as JSON (JSON is YAML, so Filebeat reads it and nothing can go wrong with quoting):
 * one filestream input over the container log files of the shipped namespaces, CRI/Docker lines decoded, pod
 * metadata (labels included) attached, events sent to Logstash.
 */
export function filebeatConfig(opts: FilebeatOptions): string {
  if (opts.namespaces.length === 0 || opts.logstashHosts.length === 0) {
    throw new Error('filebeat needs at least one namespace and one Logstash host');
  }
  const config = {
    'filebeat.inputs': [
      {
        type: 'filestream',
        id: 'kubernetes-containers',
        // Kubelet names the files <pod>_<namespace>_<container>-<id>.log: only the shipped namespaces' files.
        paths: opts.namespaces.map((ns) => `/var/log/containers/*_${ns}_*.log`),
        'prospector.scanner.symlinks': true,
        parsers: [{ container: { stream: 'all', format: 'auto' } }],
        processors: [
          {
            add_kubernetes_metadata: {
              host: '${NODE_NAME}',
              matchers: [{ logs_path: { logs_path: '/var/log/containers/' } }],
              // Only pods, namespaces and nodes: nothing that would need more RBAC than the ClusterRole grants.
              add_resource_metadata: { deployment: false, cronjob: false },
            },
          },
        ],
      },
    ],
    'filebeat.registry.path': '/usr/share/filebeat/data/registry',
    'output.logstash': {
      hosts: [...opts.logstashHosts],
      loadbalance: true,
      // TLS only, fully verified: the chain leads to the stack's CA and the certificate names the host.
      ssl: { enabled: true, certificate_authorities: [opts.caFile], verification_mode: 'full' },
    },
    // The stats endpoint, bound on the pod's address so that the kubelet's probes reach it.
    'http.enabled': true,
    'http.host': '0.0.0.0',
    'http.port': FILEBEAT_HTTP_PORT,
    'logging.level': 'info',
    'logging.to_stderr': true,
    'logging.json': true,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
