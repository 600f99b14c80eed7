/** The Infrastructure dashboard. */
import { Dashboard, dashboard, DashboardArgs } from '../dashboard';

/** Containers, nodes, network, storage and the database pool across the cluster. */
export function infrastructureDashboard(a: DashboardArgs): Dashboard {
  const ns = `namespace="${a.appNamespace}"`;
  return dashboard(
    'pavemaster-infrastructure',
    'PaveMaster / Infrastructure',
    ['infrastructure'],
    [
      {
        title: 'Containers',
        panels: [
          {
            title: 'Container CPU by pod',
            unit: 'cores',
            queries: [
              {
                expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{${ns},container!="",container!="POD"}[5m]))`,
                legend: '{{pod}}',
              },
            ],
          },
          {
            title: 'Container memory (working set) by pod',
            unit: 'bytes',
            queries: [
              {
                expr: `sum by (pod) (container_memory_working_set_bytes{${ns},container!="",container!="POD"})`,
                legend: '{{pod}}',
              },
            ],
          },
          {
            title: 'Container restarts (1h)',
            queries: [
              {
                expr: `sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[1h])) > 0`,
                legend: '{{namespace}}/{{pod}}',
              },
            ],
          },
          {
            title: 'Pods not ready',
            queries: [
              {
                expr: 'sum by (namespace) (kube_pod_status_ready{condition="false"})',
                legend: '{{namespace}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Nodes',
        panels: [
          {
            title: 'Node CPU busy',
            unit: 'percentunit',
            queries: [
              {
                expr: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
                legend: '{{instance}}',
              },
            ],
          },
          {
            title: 'Node memory used',
            unit: 'percentunit',
            queries: [
              {
                expr: '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes',
                legend: '{{instance}}',
              },
            ],
          },
          {
            title: 'Nodes ready',
            kind: 'stat',
            width: 6,
            queries: [{ expr: 'sum(kube_node_status_condition{condition="Ready",status="true"})' }],
          },
          {
            title: 'Load (1m) per CPU',
            width: 18,
            queries: [
              {
                expr: 'node_load1 / on (instance) count by (instance) (node_cpu_seconds_total{mode="idle"})',
                legend: '{{instance}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Network',
        panels: [
          {
            title: 'Node network received / transmitted',
            unit: 'Bps',
            queries: [
              {
                expr: 'sum by (instance) (rate(node_network_receive_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*"}[5m]))',
                legend: 'rx {{instance}}',
              },
              {
                expr: 'sum by (instance) (rate(node_network_transmit_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*"}[5m]))',
                legend: 'tx {{instance}}',
              },
            ],
          },
          {
            title: 'App pod network received / transmitted',
            unit: 'Bps',
            queries: [
              {
                expr: `sum by (pod) (rate(container_network_receive_bytes_total{${ns}}[5m]))`,
                legend: 'rx {{pod}}',
              },
              {
                expr: `sum by (pod) (rate(container_network_transmit_bytes_total{${ns}}[5m]))`,
                legend: 'tx {{pod}}',
              },
            ],
          },
        ],
      },
      {
        title: 'Storage',
        panels: [
          {
            title: 'Node filesystem used',
            unit: 'percentunit',
            queries: [
              {
                expr: '1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"}',
                legend: '{{instance}} {{mountpoint}}',
              },
            ],
          },
          {
            title: 'PersistentVolumeClaims used',
            unit: 'percentunit',
            queries: [
              {
                expr: 'kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes',
                legend: '{{namespace}}/{{persistentvolumeclaim}}',
              },
            ],
          },
          {
            title: 'Prometheus storage (TSDB) size',
            unit: 'bytes',
            queries: [
              {
                expr: 'prometheus_tsdb_storage_blocks_bytes + prometheus_tsdb_head_chunks_storage_size_bytes',
              },
            ],
          },
        ],
      },
      {
        title: 'Database',
        panels: [
          {
            title: 'Database connections in use vs pool size',
            unit: 'percentunit',
            queries: [
              {
                expr: `sum by (slot) (pavemaster_db_pool_connections{${ns},state="active"}) / sum by (slot) (pavemaster_db_pool_max{${ns}})`,
                legend: '{{slot}}',
              },
            ],
          },
          {
            title: 'Requests waiting for a database connection',
            queries: [
              {
                expr: `sum by (slot) (pavemaster_db_pool_connections{${ns},state="waiting"})`,
                legend: '{{slot}}',
              },
            ],
          },
        ],
      },
    ],
  );
}
