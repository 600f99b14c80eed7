/** Wires the logging stack (Elasticsearch, Logstash, Kibana, log shipper) into a stack. */
import * as pulumi from '@pulumi/pulumi';
import { PlatformNamespace } from '../components/PlatformNamespace';
import { Settings } from '../stacks/settings';

/** What the rest of the stack needs from the logging stack. */
export interface LoggingOutputs {
  /** The logging namespace. */
  namespace: pulumi.Output<string>;
}

/** Creates the logging stack when the stack enables it. */
export function deployLogging(settings: Settings): LoggingOutputs | undefined {
  if (!settings.logging.enabled) {
    return undefined;
  }
  const ns = new PlatformNamespace('logging-namespace', { name: settings.logging.namespace });
  return { namespace: ns.name };
}
