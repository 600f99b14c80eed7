/**
 * The check of a NetworkPolicy peer (components/shared/network.ts), without the Pulumi SDK: the stack readers
 * (stacks/) and the release command validate peers without loading it. network.ts re-exports it.
 */
import { ArgChecks } from './args';
import { checkCidr, checkDnsLabel, checkLabelKey, checkLabelValue, cidrWithin, parseCidr } from './checks';
import type { NetworkPeer } from './network';

function checkLabels(c: ArgChecks, path: string, labels: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(labels)) {
    c.check(`${path}.${k}`, k, checkLabelKey);
    c.check(`${path}.${k}`, v, (value) =>
      typeof value === 'string' ? checkLabelValue(value) : 'a Kubernetes label value (a string)',
    );
  }
}

/**
 * The problems of one peer at `path` (e.g. "ingressFrom[0]"): exactly one kind, well-formed names, labels and
 * blocks, `except` inside `cidr`. `podLabelsAlone` says whether `podLabels` alone (the own namespace) is allowed.
 */
export function checkNetworkPeer(
  c: ArgChecks,
  path: string,
  peer: NetworkPeer,
  opts: { podLabelsAlone: boolean },
): void {
  const kinds = [
    peer.namespace !== undefined ? 'namespace' : undefined,
    peer.namespaceLabels !== undefined ? 'namespaceLabels' : undefined,
    peer.cidr !== undefined ? 'cidr' : undefined,
  ].filter((k): k is string => k !== undefined);
  const allowedKinds = opts.podLabelsAlone
    ? 'exactly one of "namespace", "namespaceLabels", "cidr", or "podLabels" alone (pods of the own namespace)'
    : 'exactly one of "namespace", "namespaceLabels" or "cidr" (the own namespace is always allowed)';
  if (kinds.length > 1 || (kinds.length === 0 && !(opts.podLabelsAlone && peer.podLabels !== undefined))) {
    c.fail(path, peer, allowedKinds);
  }
  c.check(`${path}.namespace`, peer.namespace, (v) => checkDnsLabel(v));
  if (peer.namespaceLabels !== undefined) {
    if (Object.keys(peer.namespaceLabels).length === 0) {
      c.fail(
        `${path}.namespaceLabels`,
        peer.namespaceLabels,
        'at least one label (none selects every namespace)',
      );
    }
    checkLabels(c, `${path}.namespaceLabels`, peer.namespaceLabels);
  }
  if (peer.podLabels !== undefined) {
    checkLabels(c, `${path}.podLabels`, peer.podLabels);
    if (peer.cidr !== undefined) {
      c.fail(
        `${path}.podLabels`,
        peer.podLabels,
        'no pod labels with "cidr" (an IP block selects addresses, not pods)',
      );
    }
  }
  c.check(`${path}.cidr`, peer.cidr, checkCidr);
  if (peer.except !== undefined) {
    const outer = peer.cidr !== undefined ? parseCidr(peer.cidr) : undefined;
    if (peer.cidr === undefined) {
      c.fail(`${path}.except`, peer.except, 'only together with "cidr"');
    }
    peer.except.forEach((block, i) => {
      const inner = parseCidr(block);
      if (inner === undefined) {
        c.fail(`${path}.except[${i}]`, block, 'an IP block in CIDR form, e.g. "10.20.5.0/24"');
      } else if (outer !== undefined && !(cidrWithin(inner, outer) && inner.prefix > outer.prefix)) {
        c.fail(`${path}.except[${i}]`, block, `a block strictly inside ${String(peer.cidr)}`);
      }
    });
  }
}
