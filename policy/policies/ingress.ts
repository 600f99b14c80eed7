/**
 * Every Ingress serves TLS: each host of its rules is covered by a `tls` entry with a certificate Secret, so
 * nothing reaches the app in plain HTTP from outside the cluster. The stack's policy config may turn the
 * requirement off (`requireTls: false`) where no certificate exists yet (staging on a local cluster).
 */
import { ResourceValidationPolicy } from '@pulumi/policy';
import { at, identity, kindOf, Obj, objects, str, strings } from '../lib/kubernetes';

/** Policy config: `requireTls` (default true). */
export interface IngressTlsConfig {
  requireTls?: boolean;
}

export function ingressTlsViolations(props: Obj, fallbackName: string, config: IngressTlsConfig): string[] {
  if (config.requireTls === false) {
    return [];
  }
  const { name, namespace } = identity(props, fallbackName);
  const tls = objects(at(props, 'spec.tls'));
  if (tls.length === 0) {
    return [`Ingress ${namespace}/${name} has no tls section: it would serve plain HTTP.`];
  }
  const out: string[] = [];
  tls.forEach((t, i) => {
    if (str(t.secretName) === undefined) {
      out.push(`Ingress ${namespace}/${name} tls ${i} names no certificate Secret (secretName).`);
    }
  });
  const covered = new Set(tls.flatMap((t) => strings(t.hosts)));
  for (const rule of objects(at(props, 'spec.rules'))) {
    const host = str(rule.host);
    if (host !== undefined && !covered.has(host)) {
      out.push(`Ingress ${namespace}/${name} serves host ${host} without TLS (no tls entry lists it).`);
    }
  }
  return out;
}

export const ingressTlsPolicy: ResourceValidationPolicy = {
  name: 'ingress-tls',
  description:
    'Every Ingress has a tls section with a certificate Secret covering each host of its rules, unless the ' +
    'policy config sets requireTls to false.',
  severity: 'high',
  configSchema: {
    properties: {
      requireTls: { type: 'boolean', default: true, description: 'Require TLS on every Ingress.' },
    },
  },
  validateResource: (args, reportViolation) => {
    if (kindOf(args.type) !== 'Ingress') {
      return;
    }
    ingressTlsViolations(args.props, args.name, args.getConfig<IngressTlsConfig>()).forEach((m) =>
      reportViolation(m),
    );
  },
};
