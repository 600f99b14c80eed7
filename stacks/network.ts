/**
 * The app's NetworkPolicy settings: who may reach it (`pavemaster:ingressFrom`, the ingress controller) and what
 * it may reach (`pavemaster:egress`, its database). Each entry is a NetworkPeer (components/shared/network.ts);
 * the component's own check (checkBlueGreenAppOptions) judges the values, reported under these keys.
 */
import type { EgressPeer } from '../components/BlueGreenApp';
import type { NetworkPeer } from '../components/shared/network';
import { Fields } from './fields';

/** Reads a label map, keeping whatever was given (the component checks keys and values). */
function labels(f: Fields, name: string): Record<string, string> | undefined {
  return f.has(name) ? f.stringMap(name) : undefined;
}

function readPeer(f: Fields): NetworkPeer {
  const peer: NetworkPeer = {
    ...(f.has('namespace') ? { namespace: f.string('namespace', '') } : {}),
    ...(f.has('namespaceLabels') ? { namespaceLabels: labels(f, 'namespaceLabels') } : {}),
    ...(f.has('podLabels') ? { podLabels: labels(f, 'podLabels') } : {}),
    ...(f.has('cidr') ? { cidr: f.string('cidr', '') } : {}),
  };
  return f.has('except') ? { ...peer, except: f.stringList('except', []) } : peer;
}

/** `pavemaster:ingressFrom`: the sources besides the app's namespace and monitoring. */
export function readIngressFrom(root: Fields, def: readonly NetworkPeer[]): NetworkPeer[] {
  if (!root.has('ingressFrom')) {
    return [...def];
  }
  return root.objectList('ingressFrom').map((f) => {
    const peer = readPeer(f);
    f.finish();
    return peer;
  });
}

/** `pavemaster:egress`: the destinations besides cluster DNS. */
export function readEgress(root: Fields, def: readonly EgressPeer[]): EgressPeer[] {
  if (!root.has('egress')) {
    return [...def];
  }
  return root.objectList('egress').map((f) => {
    const peer: EgressPeer = {
      ...readPeer(f),
      ports: f.intList('ports', [], { min: 1, max: 65535, what: 'ports', item: 'a port' }),
      protocol: f.string<'TCP' | 'UDP'>('protocol', 'TCP', { oneOf: ['TCP', 'UDP'] }),
    };
    f.finish();
    return peer;
  });
}
