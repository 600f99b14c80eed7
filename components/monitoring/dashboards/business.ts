/** The Business dashboard. */
import { Dashboard, dashboard, DashboardArgs } from '../dashboard';

/** User engagement and feature adoption from the app's own counters. */
export function businessDashboard(a: DashboardArgs): Dashboard {
  const ns = `namespace="${a.appNamespace}"`;
  return dashboard(
    'pavemaster-business',
    'PaveMaster / Business',
    ['business'],
    [
      {
        title: 'Engagement',
        panels: [
          {
            title: 'Active sessions',
            kind: 'stat',
            width: 8,
            queries: [{ expr: `sum(pavemaster_active_sessions{${ns}})` }],
          },
          {
            title: 'Logins (24h)',
            kind: 'stat',
            width: 8,
            queries: [{ expr: `sum(increase(pavemaster_user_logins_total{${ns}}[1d]))` }],
          },
          {
            title: 'Jobs processed (24h)',
            kind: 'stat',
            width: 8,
            queries: [{ expr: `sum(increase(pavemaster_jobs_processed_total{${ns}}[1d]))` }],
          },
          {
            title: 'Logins per hour',
            queries: [{ expr: `sum(increase(pavemaster_user_logins_total{${ns}}[1h]))`, legend: 'logins' }],
          },
          {
            title: 'Jobs processed per minute',
            queries: [{ expr: `sum(rate(pavemaster_jobs_processed_total{${ns}}[5m])) * 60`, legend: 'jobs' }],
          },
        ],
      },
      {
        title: 'Feature adoption',
        panels: [
          {
            title: 'Feature use per hour',
            stacked: true,
            queries: [
              {
                expr: `sum by (feature) (increase(pavemaster_feature_used_total{${ns}}[1h]))`,
                legend: '{{feature}}',
              },
            ],
          },
          {
            title: 'Share of feature use (24h)',
            kind: 'table',
            unit: 'percentunit',
            queries: [
              {
                expr: `sum by (feature) (increase(pavemaster_feature_used_total{${ns}}[1d])) / scalar(sum(increase(pavemaster_feature_used_total{${ns}}[1d])))`,
                legend: '{{feature}}',
              },
            ],
          },
          {
            title: 'Feature uses per login (24h)',
            kind: 'table',
            width: 24,
            queries: [
              {
                expr: `sum by (feature) (increase(pavemaster_feature_used_total{${ns}}[1d])) / scalar(sum(increase(pavemaster_user_logins_total{${ns}}[1d])))`,
                legend: '{{feature}}',
              },
            ],
          },
        ],
      },
    ],
  );
}
