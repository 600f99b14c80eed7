/**
 * The per-environment defaults, in one table. The components' own defaults (their `@default`s, e.g.
 * `PROMETHEUS_DEFAULTS`) are the small, single-replica shape; each environment's profile says what it changes,
 * and the environment's rules (minimum replicas, digest pinning). A stack file only has to say what differs from
 * its environment's profile; every value here can be overridden by the stack's config.
 */
import type { BlueGreenAppOptions } from '../components/BlueGreenApp';
import type { LoggingOptions } from '../components/logging/Logging';
import type { MonitoringOptions } from '../components/monitoring/Monitoring';
import type { DeepPartial } from '../components/shared/args';
import type { ContainerResources } from '../components/shared/resources';
import { LOCAL_SMOKE_TEST_IMAGE, MONITORING_IMAGES, SMOKE_TEST_IMAGE, byTag } from '../components/versions';
import { Environment } from './context';

/** What an environment changes, and the rules it sets. */
export interface Profile {
  app: BlueGreenAppOptions;
  monitoring: DeepPartial<MonitoringOptions>;
  logging: DeepPartial<LoggingOptions>;
  release: {
    /** The smoke test's image (`pavemaster:release.smoke.image` overrides it): an image with `sh` and `curl`. */
    smokeImage: string;
  };
  rules: {
    /** Fewest replicas of the app's active slot. */
    minReplicas: number;
    /** Refuse app images not pinned by digest. */
    requireDigest: boolean;
    /** Fewest replicas of Prometheus and Grafana (Alertmanager: see below). */
    minMonitoringReplicas: number;
    /** Fewest Alertmanager replicas: a gossip cluster needs a majority to agree on silences. */
    minAlertmanagerReplicas: number;
    /** Fewest Elasticsearch nodes. */
    minElasticsearchReplicas: number;
    /** Fewest days of logs kept. */
    minRetentionDays: number;
  };
}

const res = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string): ContainerResources => ({
  requests: { cpu, memory },
  limits: { cpu: cpuLimit, memory: memoryLimit },
});

export const PROFILES: Record<Environment, Profile> = {
  staging: {
    app: { replicas: 1 },
    // Staging names by tag what the local registry serves (scripts/images builds these tags), so on the local
    // cluster these pods run for real; a digest-pinned reference could not be served there (a local build never
    // has upstream's digest). Grafana, kube-state-metrics and the Elastic Stack have no build source here: they
    // keep their digests and stay simulated. Production keeps every digest (rules.requireDigest).
    monitoring: {
      images: {
        prometheus: byTag(MONITORING_IMAGES.prometheus),
        alertmanager: byTag(MONITORING_IMAGES.alertmanager),
        nodeExporter: byTag(MONITORING_IMAGES.nodeExporter),
        blackboxExporter: byTag(MONITORING_IMAGES.blackboxExporter),
      },
    },
    logging: {},
    release: { smokeImage: LOCAL_SMOKE_TEST_IMAGE },
    rules: {
      minReplicas: 1,
      requireDigest: false,
      minMonitoringReplicas: 1,
      minAlertmanagerReplicas: 1,
      minElasticsearchReplicas: 1,
      minRetentionDays: 1,
    },
  },
  production: {
    app: { replicas: 3, resources: res('250m', '256Mi', '1', '512Mi'), antiAffinity: 'required' },
    monitoring: {
      prometheus: {
        replicas: 2,
        retention: '30d',
        storage: '50Gi',
        resources: res('500m', '2Gi', '2', '4Gi'),
      },
      alertmanager: { replicas: 3, storage: '2Gi', resources: res('50m', '64Mi', '200m', '128Mi') },
      grafana: { replicas: 2, resources: res('100m', '256Mi', '1', '512Mi') },
      kubeStateMetrics: { resources: res('50m', '128Mi', '500m', '256Mi') },
      nodeExporter: { resources: res('50m', '64Mi', '250m', '128Mi') },
      blackbox: { resources: res('20m', '32Mi', '200m', '64Mi') },
      thresholds: {
        errorRatio: 0.02,
        latencyP95Seconds: 0.5,
        noTrafficMinutes: 10,
        restartsPerHour: 3,
        replicaMismatchMinutes: 10,
        nodeCpuRatio: 0.85,
        nodeMemoryRatio: 0.85,
        nodeDiskRatio: 0.8,
        pvcRatio: 0.8,
        probeSlowSeconds: 1,
      },
      alerting: { repeatInterval: '4h', email: { severities: ['critical', 'warning'] } },
    },
    logging: {
      retentionDays: 30,
      protect: true,
      elasticsearch: {
        replicas: 3,
        heap: '2g',
        resources: res('1', '4Gi', '2', '4Gi'),
        storageSize: '100Gi',
        antiAffinity: 'required',
      },
      logstash: {
        replicas: 2,
        heap: '1g',
        resources: res('500m', '2Gi', '2', '2Gi'),
        queueSize: '10Gi',
        exporterResources: res('20m', '32Mi', '200m', '128Mi'),
      },
      shipper: { resources: res('100m', '200Mi', '500m', '400Mi') },
      kibana: { resources: res('250m', '1Gi', '1', '2Gi') },
      exporter: { resources: res('20m', '32Mi', '200m', '128Mi') },
    },
    release: { smokeImage: SMOKE_TEST_IMAGE },
    rules: {
      minReplicas: 2,
      requireDigest: true,
      minMonitoringReplicas: 2,
      minAlertmanagerReplicas: 3,
      minElasticsearchReplicas: 3,
      minRetentionDays: 7,
    },
  },
};
