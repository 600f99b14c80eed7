/**
 * Stateful data survives a mistaken `pulumi destroy` or a refactoring that renames a resource: in production
 * every PersistentVolumeClaim, PersistentVolume, StatefulSet with volumeClaimTemplates, Elasticsearch and
 * Prometheus with storage is `protect`ed, and no StatefulSet deletes its claims with it.
 */
import { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { at, identity, kindOf, objects, str } from '../lib/kubernetes';

/** Policy config: `requireProtect` (default true; the staging config turns it off). */
export interface StatefulConfig {
  requireProtect?: boolean;
}

/** Why a resource holds state, or undefined when it holds none. */
export function statefulReason(r: Pick<PolicyResource, 'type' | 'props'>): string | undefined {
  const kind = kindOf(r.type);
  switch (kind) {
    case 'PersistentVolumeClaim':
    case 'PersistentVolume':
      return 'holds data';
    case 'StatefulSet':
      return objects(at(r.props, 'spec.volumeClaimTemplates')).length > 0
        ? 'has volumeClaimTemplates'
        : undefined;
    case 'Elasticsearch':
      return 'is an Elasticsearch cluster';
    case 'Prometheus':
      return at(r.props, 'spec.storage') != null ? 'is a Prometheus with storage' : undefined;
    default:
      return undefined;
  }
}

/** Every stateful resource that is not protected, or deletes its claims: [message, urn]. */
export function statefulViolations(resources: readonly PolicyResource[]): [string, string][] {
  const out: [string, string][] = [];
  for (const r of resources) {
    const reason = statefulReason(r);
    if (reason === undefined) {
      continue;
    }
    const { name, namespace } = identity(r.props, r.name);
    const who = `${kindOf(r.type) ?? r.type} ${namespace}/${name}`;
    if (!r.opts.protect) {
      out.push([`${who} ${reason} but is not protected (resource option protect: true).`, r.urn]);
    }
    if (str(at(r.props, 'spec.persistentVolumeClaimRetentionPolicy.whenDeleted')) === 'Delete') {
      out.push([`${who} deletes its PersistentVolumeClaims when deleted (whenDeleted: Delete).`, r.urn]);
    }
  }
  return out;
}

export const statefulPolicy: StackValidationPolicy = {
  name: 'stateful-resources-protected',
  description:
    'With requireProtect (production), PVCs, PVs, StatefulSets with volumeClaimTemplates, Elasticsearch and ' +
    'Prometheus storage are protected and keep their claims.',
  severity: 'high',
  configSchema: {
    properties: {
      requireProtect: {
        type: 'boolean',
        default: true,
        description: 'Require protect: true on every stateful resource.',
      },
    },
  },
  validateStack: (args, reportViolation) => {
    if (args.getConfig<StatefulConfig>().requireProtect === false) {
      return;
    }
    for (const [message, urn] of statefulViolations(args.resources)) {
      reportViolation(message, urn);
    }
  },
};
