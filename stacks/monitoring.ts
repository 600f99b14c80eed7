/** The monitoring section of the stack config (`pavemaster:monitoring`): Prometheus, Alertmanager, Grafana. */
import { ParseContext } from './context';
import { Fields } from './fields';
import { checkDnsLabel } from './validators';

export interface MonitoringSettings {
  /** Deploy the monitoring stack. */
  enabled: boolean;
  /** The namespace of the monitoring stack. */
  namespace: string;
}

/** Top-level keys this section reads. */
export const MONITORING_KEYS = ['monitoring'] as const;
/** Top-level keys whose values are secrets. */
export const MONITORING_SECRET_KEYS: readonly string[] = [];

export function parseMonitoring(root: Fields, ctx: ParseContext): MonitoringSettings {
  const f = root.object('monitoring');
  const settings: MonitoringSettings = {
    enabled: f.bool('enabled', true),
    namespace: f.string('namespace', `${ctx.namespace}-monitoring`, { check: checkDnsLabel }),
  };
  f.finish();
  return settings;
}
