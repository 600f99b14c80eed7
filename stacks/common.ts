/** Readers for shapes that several config sections share. */
import { ResourceSettings } from './context';
import { Fields } from './fields';
import { checkCpu, checkMemory, parseQuantity } from './validators';

/**
 * Reads `{ requests: { cpu, memory }, limits: { cpu, memory } }`, each quantity checked as Kubernetes would,
 * and each request at most its limit (the API server rejects a request above its limit).
 */
export function readResources(parent: Fields, name: string, def: ResourceSettings): ResourceSettings {
  const f = parent.object(name);
  const requests = f.object('requests');
  const limits = f.object('limits');
  const out: ResourceSettings = {
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
  for (const kind of ['cpu', 'memory'] as const) {
    const request = parseQuantity(out.requests[kind]) ?? 0;
    const limit = parseQuantity(out.limits[kind]) ?? 0;
    if (request > limit) {
      parent.problems.add(
        `${f.prefix}requests.${kind}`,
        out.requests[kind],
        `a request no larger than its limit (${f.prefix}limits.${kind} = "${out.limits[kind]}")`,
      );
    }
  }
  return out;
}
