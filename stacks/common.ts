/** Readers for shapes that several config sections share, and the bridge from component checks to config keys. */
import { ArgProblem } from '../components/shared/args';
import { checkCpu, checkMemory } from '../components/shared/checks';
import { checkRequestsWithinLimits, ContainerResources } from '../components/shared/resources';
import { Fields } from './fields';

/**
 * Reads `{ requests: { cpu, memory }, limits: { cpu, memory } }`, each quantity checked as Kubernetes would,
 * and each request at most its limit.
 */
export function readResources(parent: Fields, name: string, def: ContainerResources): ContainerResources {
  const f = parent.object(name);
  const requests = f.object('requests');
  const limits = f.object('limits');
  const out: ContainerResources = {
    requests: {
      cpu: requests.string('cpu', def.requests.cpu, { check: checkCpu }),
      memory: requests.string('memory', def.requests.memory, { check: checkMemory }),
    },
    limits: {
      cpu: limits.string('cpu', def.limits.cpu, { check: checkCpu }),
      memory: limits.string('memory', def.limits.memory, { check: checkMemory }),
    },
  };
  requests.finish();
  limits.finish();
  f.finish();
  reportArgProblems(f, checkRequestsWithinLimits(out));
  return out;
}

/**
 * Reports a component's own problems (its `check*Options` on the settings read so far) under their config keys:
 * an option's path is its key below `fields`. A key that already has a problem (the value was bad, so the default
 * stands in) is not reported twice.
 */
export function reportArgProblems(fields: Fields, problems: readonly ArgProblem[]): void {
  for (const p of problems) {
    const key = fields.key(p.path);
    if (
      !fields.problems.list.some(
        (q) => q.key === key || q.key.startsWith(`${key}.`) || q.key.startsWith(`${key}[`),
      )
    ) {
      fields.problems.add(key, p.value, p.allowed);
    }
  }
}
