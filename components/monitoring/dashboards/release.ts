/** The Release dashboard. */
import { Dashboard, dashboard, DashboardArgs } from '../dashboard';

/**
 * Which slot serves, which versions run, and the promotions and rollbacks over time. The release command
 * annotates the Deployments with `pavemaster.io/release-id` and `pavemaster.io/released-at`; kube-state-metrics
 * exposes them (allowlisted) as `annotation_pavemaster_io_release_id` and `annotation_pavemaster_io_released_at`.
 */
export function releaseDashboard(a: DashboardArgs): Dashboard {
  const ns = `namespace="${a.appNamespace}"`;
  const dep = `${ns},label_app="${a.appName}"`;
  return dashboard(
    'pavemaster-release',
    'PaveMaster / Release',
    ['release'],
    [
      {
        title: 'Now',
        panels: [
          {
            title: 'Share of traffic by slot',
            kind: 'stat',
            unit: 'percentunit',
            description: 'The slot taking (nearly) all requests is the one the active Service selects.',
            queries: [
              {
                expr: `sum by (slot) (rate(http_requests_total{${ns}}[5m])) / scalar(sum(rate(http_requests_total{${ns}}[5m])))`,
                legend: '{{slot}}',
              },
            ],
          },
          {
            title: 'Versions running by slot',
            kind: 'table',
            queries: [
              {
                expr: `count by (label_slot, label_version) (kube_pod_labels{${dep}})`,
                legend: '{{label_slot}} {{label_version}}',
              },
            ],
          },
          {
            title: 'Releases of each Deployment',
            kind: 'table',
            width: 24,
            queries: [
              {
                expr: `max by (deployment, annotation_pavemaster_io_release_id, annotation_pavemaster_io_released_at) (kube_deployment_annotations{${ns}})`,
                legend: '{{deployment}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Over time',
        panels: [
          {
            title: 'Requests by slot and version (promotions and rollbacks show as the traffic moving)',
            unit: 'reqps',
            stacked: true,
            width: 24,
            queries: [
              {
                expr: `sum by (slot, version) (rate(http_requests_total{${ns}}[1m]))`,
                legend: '{{slot}} {{version}}',
              },
            ],
          },
          {
            title: 'Ready replicas by slot',
            queries: [
              {
                expr: `sum by (label_slot) (kube_deployment_status_replicas_available{${ns}} * on (namespace, deployment) group_left (label_slot) kube_deployment_labels{${dep}})`,
                legend: '{{label_slot}}',
              },
            ],
          },
          {
            title: 'Rollouts (Deployment generation changes per hour)',
            queries: [
              {
                expr: `changes(kube_deployment_metadata_generation{${ns}}[1h])`,
                legend: '{{deployment}}',
              },
            ],
          },
        ],
      },
    ],
  );
}
