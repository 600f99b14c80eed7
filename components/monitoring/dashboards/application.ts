/** The Application dashboard. */
import { Dashboard, dashboard, DashboardArgs } from '../dashboard';

/** Request rate, latency, errors, sessions, database pool, memory and CPU, each split by slot. */
export function applicationDashboard(a: DashboardArgs): Dashboard {
  const sel = `namespace="${a.appNamespace}"`;
  const rate = (filter: string) => `sum by (slot) (rate(http_requests_total{${sel}${filter}}[5m]))`;
  const quantile = (q: number) => ({
    expr: `histogram_quantile(${q}, sum by (slot, le) (rate(http_request_duration_seconds_bucket{${sel}}[5m])))`,
    legend: `p${Math.round(q * 100)} {{slot}}`,
  });
  return dashboard(
    'pavemaster-application',
    'PaveMaster / Application',
    ['application'],
    [
      {
        title: 'Traffic',
        panels: [
          { title: 'Request rate by slot', unit: 'reqps', queries: [{ expr: rate(''), legend: '{{slot}}' }] },
          {
            title: 'Request rate by route',
            unit: 'reqps',
            queries: [
              {
                expr: `sum by (slot, route) (rate(http_requests_total{${sel}}[5m]))`,
                legend: '{{slot}} {{route}}',
              },
            ],
          },
          {
            title: 'Latency p50 / p95 / p99 by slot',
            unit: 's',
            queries: [quantile(0.5), quantile(0.95), quantile(0.99)],
          },
          {
            title: '4xx and 5xx ratio by slot',
            unit: 'percentunit',
            queries: [
              { expr: `${rate(',status=~"4.."')} / ${rate('')}`, legend: '4xx {{slot}}' },
              { expr: `${rate(',status=~"5.."')} / ${rate('')}`, legend: '5xx {{slot}}' },
            ],
          },
        ],
      },
      {
        title: 'Sessions and database',
        panels: [
          {
            title: 'Active sessions by slot',
            queries: [{ expr: `sum by (slot) (pavemaster_active_sessions{${sel}})`, legend: '{{slot}}' }],
          },
          {
            title: 'Database pool by slot and state',
            queries: [
              {
                expr: `sum by (slot, state) (pavemaster_db_pool_connections{${sel}})`,
                legend: '{{slot}} {{state}}',
              },
              { expr: `sum by (slot) (pavemaster_db_pool_max{${sel}})`, legend: 'max {{slot}}' },
            ],
          },
        ],
      },
      {
        title: 'Resources',
        panels: [
          {
            title: 'Memory (resident) by slot',
            unit: 'bytes',
            queries: [{ expr: `sum by (slot) (process_resident_memory_bytes{${sel}})`, legend: '{{slot}}' }],
          },
          {
            title: 'CPU by slot',
            unit: 'cores',
            queries: [
              { expr: `sum by (slot) (rate(process_cpu_seconds_total{${sel}}[5m]))`, legend: '{{slot}}' },
            ],
          },
          {
            title: 'Node.js heap used by slot',
            unit: 'bytes',
            queries: [{ expr: `sum by (slot) (nodejs_heap_size_used_bytes{${sel}})`, legend: '{{slot}}' }],
          },
          {
            title: 'Event loop lag p99 by slot',
            unit: 's',
            queries: [
              { expr: `max by (slot) (nodejs_eventloop_lag_p99_seconds{${sel}})`, legend: '{{slot}}' },
            ],
          },
        ],
      },
    ],
  );
}
