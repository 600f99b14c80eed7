/** Wires the logging stack (Elasticsearch, Logstash, Kibana, log shipper) into a stack. */
import * as pulumi from '@pulumi/pulumi';
import { Logging } from '../components/logging/Logging';
import { Settings } from '../stacks/settings';

/** What the rest of the stack needs from the logging stack. */
export interface LoggingOutputs {
  /** The logging namespace. */
  namespace: pulumi.Output<string>;
  /** Elasticsearch's in-cluster URL (http://elasticsearch.<namespace>.svc:9200). */
  elasticsearchUrl: pulumi.Output<string>;
  /** Kibana's URL: the public one when `pavemaster:logging.kibana.host` is set, else the in-cluster one. */
  kibanaUrl: pulumi.Output<string>;
  /**
   * The read-only Elasticsearch user for Grafana's Elasticsearch datasource (index pattern `logs-pavemaster-*`,
   * time field `@timestamp`). Its pods must carry `pavemaster:logging.grafanaPodLabels` to pass the NetworkPolicy.
   */
  grafanaCredentials: { username: string; password: pulumi.Output<string> };
  /** The `elastic` superuser's password (a Pulumi secret), for operators. */
  elasticPassword: pulumi.Output<string>;
}

/** Creates the logging stack when the stack enables it. */
export function deployLogging(settings: Settings): LoggingOutputs | undefined {
  const l = settings.logging;
  if (!l.enabled) {
    return undefined;
  }
  const logging = new Logging('logging', {
    namespace: l.namespace,
    nodeNamespace: l.nodeNamespace,
    environment: settings.environment,
    appNamespaces: [settings.namespace],
    dropPaths: [settings.app.healthPath, settings.app.readyPath, settings.app.metricsPath],
    retentionDays: l.retentionDays,
    rolloverMaxAge: l.rollover.maxAge,
    rolloverMaxPrimaryShardSize: l.rollover.maxPrimaryShardSize,
    elasticsearch: l.elasticsearch,
    logstash: l.logstash,
    shipper: l.shipper,
    kibana: l.kibana,
    exporter: l.exporter,
    monitoringNamespace: settings.monitoring.enabled ? settings.monitoring.namespace : undefined,
    grafanaPodLabels: l.grafanaPodLabels,
    ingressNamespaces: l.ingressNamespaces,
    protect: l.protect,
    awaitSetupJobs: l.awaitSetupJobs,
  });
  return {
    namespace: logging.namespace,
    elasticsearchUrl: logging.elasticsearchUrl,
    kibanaUrl: logging.kibanaUrl,
    grafanaCredentials: logging.grafanaCredentials,
    elasticPassword: logging.elasticPassword,
  };
}
