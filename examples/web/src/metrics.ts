/**
 * The metric contract of docs/monitoring.md, exactly: names, types and labels. The dashboards, the alert rules
 * and the release command's post-promotion check query these series, so a change here is a change of contract.
 *
 * `status` is the numeric HTTP status as text, `route` the route pattern (bounded cardinality). Probes and
 * scrapes are not traffic: they are not counted (the PavemasterNoTraffic alert relies on the idle slot, which only
 * gets probes, counting nothing). `namespace`, `pod`, `app`, `slot`, `version` are added by Prometheus.
 */
import promClient from 'prom-client';

export interface Metrics {
  readonly registry: promClient.Registry;
  readonly requests: promClient.Counter<'method' | 'route' | 'status'>;
  readonly duration: promClient.Histogram<'route'>;
  readonly activeSessions: promClient.Gauge;
  readonly dbPoolConnections: promClient.Gauge<'state'>;
  readonly dbPoolMax: promClient.Gauge;
  readonly featureUsed: promClient.Counter<'feature'>;
  readonly logins: promClient.Counter;
  readonly jobsProcessed: promClient.Counter;
}

/** The simulated database pool's state, read at every scrape. */
export interface PoolState {
  active: number;
  idle: number;
  waiting: number;
}

export function createMetrics(poolMax: number, pool: () => PoolState): Metrics {
  const registry = new promClient.Registry();
  // process_* and nodejs_*: memory, CPU, heap, event loop (the Application dashboard).
  promClient.collectDefaultMetrics({ register: registry });
  const requests = new promClient.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new promClient.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by route pattern.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const activeSessions = new promClient.Gauge({
    name: 'pavemaster_active_sessions',
    help: 'Signed-in sessions that have not expired.',
    registers: [registry],
  });
  const dbPoolConnections = new promClient.Gauge({
    name: 'pavemaster_db_pool_connections',
    help: 'Database pool connections by state (active, idle, waiting).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const s = pool();
      this.set({ state: 'active' }, s.active);
      this.set({ state: 'idle' }, s.idle);
      this.set({ state: 'waiting' }, s.waiting);
    },
  });
  const dbPoolMax = new promClient.Gauge({
    name: 'pavemaster_db_pool_max',
    help: 'Size of the database pool.',
    registers: [registry],
  });
  dbPoolMax.set(poolMax);
  const featureUsed = new promClient.Counter({
    name: 'pavemaster_feature_used_total',
    help: 'Uses of each product feature.',
    labelNames: ['feature'] as const,
    registers: [registry],
  });
  const logins = new promClient.Counter({
    name: 'pavemaster_user_logins_total',
    help: 'Successful sign-ins.',
    registers: [registry],
  });
  const jobsProcessed = new promClient.Counter({
    name: 'pavemaster_jobs_processed_total',
    help: 'Background jobs processed.',
    registers: [registry],
  });
  return {
    registry,
    requests,
    duration,
    activeSessions,
    dbPoolConnections,
    dbPoolMax,
    featureUsed,
    logins,
    jobsProcessed,
  };
}
