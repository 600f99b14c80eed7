/**
 * Nothing is exposed outside the cluster except through the Ingress: no Service of type LoadBalancer or
 * NodePort (and no externalIPs) unless the stack's policy config allows external Services.
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { at, identity, kindOf, str, strings, Obj } from '../lib/kubernetes';

/** Policy config: `allowExternalServices` (default false). */
export interface ExternalServicesConfig {
  allowExternalServices?: boolean;
}

export function serviceViolations(
  props: Obj,
  fallbackName: string,
  config: ExternalServicesConfig,
): string[] {
  const { name, namespace } = identity(props, fallbackName);
  const out: string[] = [];
  const type = str(at(props, 'spec.type')) ?? 'ClusterIP';
  if ((type === 'LoadBalancer' || type === 'NodePort') && config.allowExternalServices !== true) {
    out.push(
      `Service ${namespace}/${name} is of type ${type}; expose it through the Ingress, or allow external ` +
        'Services in this stack (policy config allowExternalServices and pavemaster:allowExternalServices).',
    );
  }
  if (strings(at(props, 'spec.externalIPs')).length > 0) {
    out.push(
      `Service ${namespace}/${name} sets externalIPs, which can intercept other traffic (CVE-2020-8554).`,
    );
  }
  return out;
}

export const servicesPolicy: ResourceValidationPolicy = {
  name: 'no-external-services',
  description:
    'No Service of type LoadBalancer or NodePort unless the policy config sets allowExternalServices; ' +
    'no Service with externalIPs.',
  severity: 'high',
  configSchema: {
    properties: {
      allowExternalServices: {
        type: 'boolean',
        default: false,
        description: 'Allow Services of type LoadBalancer and NodePort.',
      },
    },
  },
  validateResource: (args, reportViolation) => {
    if (kindOf(args.type) !== 'Service') {
      return;
    }
    serviceViolations(args.props, args.name, args.getConfig<ExternalServicesConfig>()).forEach((m) =>
      reportViolation(m),
    );
  },
};
