/**
 * Constants the logging components share: ports, the Elastic images' user, and the names of what the stack creates
 * inside Elasticsearch and Kibana. The images are pinned in components/versions.ts.
 */
import * as k8s from '@pulumi/kubernetes';
import { restrictedPodSecurityContext } from '../shared/security';

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

/**
 * The uid and gid the Elastic images' processes run as: above 10000 (checkov CKV_K8S_40, kube-score's
 * container-security-context-user-group-id), a range no account of the node uses, instead of the images' own
 * user 1000, so a container escape lands on no host user's files.
 */
export const ELASTIC_UID = 10001;

/**
 * The group the Elastic images give their install trees to: Elasticsearch, Logstash and Kibana own them as
 * 1000:0 with group permissions equal to the user's (their Dockerfiles' `chmod g=u`, for OpenShift's arbitrary
 * uids), and Elastic documents running them with any uid and gid as long as the process is also in group 0
 * ("Install Elasticsearch with Docker": `--group-add 0`). A supplementary group, not the primary one: what the
 * processes create is group-owned by ELASTIC_UID (fsGroup on volumes), never by root's group.
 */
export const ELASTIC_IMAGE_GROUP = 0;

/** The pod security context of every pod running an Elastic image (the restricted one, plus group 0). */
export function elasticPodSecurityContext(): k8s.types.input.core.v1.PodSecurityContext {
  return { ...restrictedPodSecurityContext(ELASTIC_UID), supplementalGroups: [ELASTIC_IMAGE_GROUP] };
}

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
