/**
 * Defaults shared by the logging components and the `pavemaster:logging` config section: images, ports and the
 * names of what the stack creates inside Elasticsearch and Kibana.
 *
 * Images are Docker Hub names without a registry host. Elasticsearch, Logstash and Kibana are pinned to the
 * digests of the official images' multi-platform index for 8.19.22 as published in the docker-library
 * `repo-info` records. No published digest could be found for `elastic/filebeat`, the Elasticsearch exporter or
 * the Logstash exporter, so those stay pinned by tag only (see docs/logging.md): never invent a digest.
 */

/** The Elastic Stack version every component runs. */
export const ELASTIC_VERSION = '8.19.22';

export const DEFAULT_IMAGES = {
  elasticsearch: `elasticsearch:${ELASTIC_VERSION}@sha256:d071f96fab6c11db8fbf8cd23ac296bf96fdb71f4b56c23b1b4da88c7057c991`,
  logstash: `logstash:${ELASTIC_VERSION}@sha256:fb58a8999d6f0b30e9125bd20ff112637b4ea444ca5dc9e514ea32d5eb972e02`,
  kibana: `kibana:${ELASTIC_VERSION}@sha256:35544f1ff28abc0ec3547ca0e81089f2e1640f0f5c6c657fd39f921c217673a5`,
  filebeat: `elastic/filebeat:${ELASTIC_VERSION}`,
  elasticsearchExporter: 'prometheuscommunity/elasticsearch-exporter:v1.9.0',
  logstashExporter: 'kuskoman/logstash-exporter:v1.9.1',
} as const;

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
