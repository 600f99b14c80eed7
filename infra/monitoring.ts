/** Wires the monitoring stack (Prometheus, Alertmanager, Grafana, exporters) into a stack. */
import * as pulumi from '@pulumi/pulumi';
import { PlatformNamespace } from '../components/PlatformNamespace';
import { Settings } from '../stacks/settings';
import { LoggingOutputs } from './logging';

/** What the monitoring stack is told about the rest of the stack. */
export interface MonitoringInputs {
  /** The application namespace. */
  appNamespace: pulumi.Output<string>;
  /** The app's Services and public URL, for blackbox probes. */
  app: {
    activeServiceName: pulumi.Output<string>;
    previewServiceName: pulumi.Output<string>;
    url: pulumi.Output<string | undefined>;
  };
  /** The logging stack, when enabled (Elasticsearch datasource, logging alerts). */
  logging?: LoggingOutputs;
}

/** What the rest of the stack needs from the monitoring stack. */
export interface MonitoringOutputs {
  /** The monitoring namespace. */
  namespace: pulumi.Output<string>;
}

/** Creates the monitoring stack when the stack enables it. */
export function deployMonitoring(
  settings: Settings,
  _inputs: MonitoringInputs,
): MonitoringOutputs | undefined {
  if (!settings.monitoring.enabled) {
    return undefined;
  }
  const ns = new PlatformNamespace('monitoring-namespace', { name: settings.monitoring.namespace });
  return { namespace: ns.name };
}
