/**
 * Constants the logging components share: ports, the Elastic images' user, and the names of what the stack creates
 * inside Elasticsearch and Kibana. The images are pinned in components/versions.ts.
 */

/** Ports. */
export const PORTS = {
  elasticsearchHttp: 9200,
  elasticsearchTransport: 9300,
  beats: 5044,
  logstashApi: 9600,
  logstashMetrics: 9198,
  kibana: 5601,
  elasticsearchExporter: 9114,
} as const;

/** The uid/gid the Elastic images run as. */
export const ELASTIC_UID = 1000;

/** What the setup Jobs create inside Elasticsearch and Kibana (fixed names, so re-running overwrites). */
export const NAMES = {
  /** The ILM policy of the app's logs. */
  ilmPolicy: 'pavemaster-logs',
  /** The composable index template of the app's logs. */
  indexTemplate: 'pavemaster-logs',
  /** Data streams are `logs-<dataset>-<namespace>`; Logstash writes `logs-pavemaster-<environment>`. */
  dataStreamType: 'logs',
  dataStreamDataset: 'pavemaster',
  /** The Kibana data view (index pattern) id. */
  dataView: 'pavemaster-logs',
  /** Roles and users. */
  writerRole: 'pavemaster_logstash_writer',
  writerUser: 'pavemaster_logstash',
  readerRole: 'pavemaster_logs_reader',
  readerUser: 'grafana',
  exporterRole: 'pavemaster_metrics_exporter',
  exporterUser: 'pavemaster_exporter',
  kibanaSystemUser: 'kibana_system',
} as const;

/** The index pattern of the app's logs. */
export const LOG_INDEX_PATTERN = `${NAMES.dataStreamType}-${NAMES.dataStreamDataset}-*`;
