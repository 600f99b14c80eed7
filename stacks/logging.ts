/** The logging section of the stack config (`pavemaster:logging`): Elasticsearch, Logstash, Kibana, shipper. */
import { ParseContext } from './context';
import { Fields } from './fields';
import { checkDnsLabel } from './validators';

export interface LoggingSettings {
  /** Deploy the logging stack. */
  enabled: boolean;
  /** The namespace of the logging stack. */
  namespace: string;
}

/** Top-level keys this section reads. */
export const LOGGING_KEYS = ['logging'] as const;
/** Top-level keys whose values are secrets. */
export const LOGGING_SECRET_KEYS: readonly string[] = [];

export function parseLogging(root: Fields, ctx: ParseContext): LoggingSettings {
  const f = root.object('logging');
  const settings: LoggingSettings = {
    enabled: f.bool('enabled', true),
    namespace: f.string('namespace', `${ctx.namespace}-logging`, { check: checkDnsLabel }),
  };
  f.finish();
  return settings;
}
