/**
 * Every image the stacks run by default, pinned in one place (as kube-prometheus pins its versions): bump a version
 * here and nowhere else. Each is pinned by the digest its registry publishes (multi-architecture index digests, as
 * found in public manifests pinning these exact versions), except where none could be found: those stay pinned by
 * tag only and are named in docs/logging.md and the production policy config. Never invent a digest.
 *
 * Images are Docker Hub names without a registry host (the Kubernetes project's own are on registry.k8s.io).
 */

/** The monitoring stack's images. */
export const MONITORING_IMAGES = {
  prometheus:
    'prom/prometheus:v3.13.1@sha256:3c42b892cf723fa54d2f262c37a0e1f80aa8c8ddb1da7b9b0df9455a35a7f893',
  alertmanager:
    'prom/alertmanager:v0.33.1@sha256:9e082985f56f4c8c9f724e18f2288c6708f472e56a5286b8863d080434ea065d',
  grafana: 'grafana/grafana:13.1.0@sha256:121a7a9ece6dc10b969f1f96eed64b4f07dfac0d0b8abc070f7cb83bbde86f63',
  kubeStateMetrics:
    'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.19.1@sha256:85108987d044b18a098126732f98602df408888c0f7d456241f5abefb9744bc1',
  nodeExporter:
    'prom/node-exporter:v1.12.1@sha256:1b4e4438faca4dd7e001dd445d161a4a2091b0fededa84093b3a8dfeae1f1be0',
  blackboxExporter:
    'prom/blackbox-exporter:v0.28.0@sha256:e753ff9f3fc458d02cca5eddab5a77e1c175eee484a8925ac7d524f04366c2fc',
};

/** The Elastic Stack version every logging component runs. */
export const ELASTIC_VERSION = '8.19.22';

/**
 * The logging stack's images. Elasticsearch, Logstash and Kibana are pinned to the digests of the official images'
 * multi-platform index for 8.19.22 as published in the docker-library `repo-info` records. No published digest
 * could be found for `elastic/filebeat`, the Elasticsearch exporter or the Logstash exporter.
 */
export const LOGGING_IMAGES = {
  elasticsearch: `elasticsearch:${ELASTIC_VERSION}@sha256:d071f96fab6c11db8fbf8cd23ac296bf96fdb71f4b56c23b1b4da88c7057c991`,
  logstash: `logstash:${ELASTIC_VERSION}@sha256:fb58a8999d6f0b30e9125bd20ff112637b4ea444ca5dc9e514ea32d5eb972e02`,
  kibana: `kibana:${ELASTIC_VERSION}@sha256:35544f1ff28abc0ec3547ca0e81089f2e1640f0f5c6c657fd39f921c217673a5`,
  filebeat: `elastic/filebeat:${ELASTIC_VERSION}`,
  elasticsearchExporter: 'prometheuscommunity/elasticsearch-exporter:v1.9.0',
  logstashExporter: 'kuskoman/logstash-exporter:v1.9.1',
};

/** The release command's smoke test: an image with `sh` and `curl`. */
export const SMOKE_TEST_IMAGE = 'curlimages/curl:8.11.1';

/**
 * The smoke-test image staging runs: the same contract (`sh` and `curl`), built here from Debian's packages by
 * scripts/images (curlimages/curl has no build source here), so staging's smoke Job runs for real on the local
 * cluster's real node.
 */
export const LOCAL_SMOKE_TEST_IMAGE = 'pavemaster/curl:7.88.1';

/**
 * A pinned reference by its tag alone ("prom/prometheus:v3.13.1"): what staging names where the local registry
 * serves the image. An image built here can never have upstream's digest, so a digest-pinned reference could not
 * be served locally; the tag keeps the version in this one file.
 */
export function byTag(reference: string): string {
  const at = reference.indexOf('@');
  return at >= 0 ? reference.slice(0, at) : reference;
}
