/**
 * The app's NetworkPolicy settings (`pavemaster:ingressFrom`, `pavemaster:egress`): what they render into the
 * app's two policies, and every bad value named by its key, all at once. Enforcement on real pods is in
 * test/integration/networkpolicies.int.test.ts.
 */
import {
  egressPolicyArgs,
  ingressPolicyArgs,
  resolveBlueGreenAppArgs,
} from '../../../components/BlueGreenApp';
import { checkCidr, cidrWithin, parseCidr } from '../../../components/shared/checks';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { stackConfig } from '../../support/stackConfig';

function problemsOf(overrides: Record<string, unknown>): string[] {
  try {
    loadSettings('staging', stackConfig('staging', overrides));
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems.map((p) => `${p.key} = ${JSON.stringify(p.value)}: ${p.allowed}`);
    }
    throw e;
  }
  return [];
}

const INGRESS_NGINX = {
  namespace: 'ingress-nginx',
  podLabels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' },
};

describe('CIDR blocks', () => {
  it('accepts IPv4 and IPv6 blocks and refuses anything else', () => {
    for (const good of [
      '10.0.0.0/8',
      '192.168.1.7/32',
      '0.0.0.0/0',
      'fd00::/64',
      '::/0',
      '2001:db8::1/128',
    ]) {
      expect([good, checkCidr(good)]).toEqual([good, undefined]);
    }
    for (const bad of [
      '10.0.0.0',
      '10.0.0.256/8',
      '10.0.0.0/33',
      '010.0.0.0/8',
      'fd00::/129',
      '1:2:3/64',
      'x/8',
      '10.0.0.0/08',
    ]) {
      expect([bad, checkCidr(bad)]).toEqual([bad, expect.stringContaining('CIDR')]);
    }
  });

  it('knows which block lies in another', () => {
    const c = (t: string) => parseCidr(t)!;
    expect(cidrWithin(c('10.20.5.0/24'), c('10.20.0.0/16'))).toBe(true);
    expect(cidrWithin(c('10.21.5.0/24'), c('10.20.0.0/16'))).toBe(false);
    expect(cidrWithin(c('10.0.0.0/8'), c('10.20.0.0/16'))).toBe(false);
    expect(cidrWithin(c('fd00::1/128'), c('fd00::/64'))).toBe(true);
    expect(cidrWithin(c('fd00::1/128'), c('10.0.0.0/8'))).toBe(false);
  });
});

describe('pavemaster:ingressFrom and pavemaster:egress', () => {
  it('default to nobody besides the own namespace and monitoring, and nothing besides DNS', () => {
    const s = loadSettings('staging', stackConfig('staging'));
    expect(s.app.ingressFrom).toEqual([]);
    expect(s.app.egress).toEqual([]);
  });

  it('render the ingress controller, a namespace selector and a load balancer range into the ingress policy', () => {
    const s = loadSettings(
      'staging',
      stackConfig('staging', {
        ingressFrom: [
          INGRESS_NGINX,
          { namespaceLabels: { 'pavemaster.io/edge': 'true' } },
          { cidr: '10.40.0.0/16', except: ['10.40.9.0/24'] },
        ],
      }),
    );
    const a = resolveBlueGreenAppArgs('pavemaster', {
      ...s.app,
      namespace: 'pavemaster-staging',
      slots: { blue: s.app.slots.blue, green: s.app.slots.green },
      allowIngressFromNamespaces: ['pavemaster-staging-monitoring'],
    });
    const spec = ingressPolicyArgs(a).spec as { ingress: { from: unknown[]; ports: unknown[] }[] };
    expect(spec.ingress).toEqual([
      {
        from: [
          { podSelector: {} },
          {
            namespaceSelector: {
              matchLabels: { 'kubernetes.io/metadata.name': 'pavemaster-staging-monitoring' },
            },
          },
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
            podSelector: { matchLabels: INGRESS_NGINX.podLabels },
          },
          { namespaceSelector: { matchLabels: { 'pavemaster.io/edge': 'true' } } },
          { ipBlock: { cidr: '10.40.0.0/16', except: ['10.40.9.0/24'] } },
        ],
        ports: [{ protocol: 'TCP', port: 8080 }],
      },
    ]);
  });

  it('render each egress destination with its ports and protocol', () => {
    const s = loadSettings(
      'staging',
      stackConfig('staging', {
        egress: [
          { namespace: 'databases', podLabels: { app: 'postgres' }, ports: [5432] },
          { cidr: '10.50.0.0/24', ports: ['6379', 6380] },
          { podLabels: { app: 'cache' }, ports: [11211], protocol: 'UDP' },
        ],
      }),
    );
    const a = resolveBlueGreenAppArgs('pavemaster', {
      ...s.app,
      namespace: 'pavemaster-staging',
      slots: { blue: s.app.slots.blue, green: s.app.slots.green },
    });
    expect(egressPolicyArgs(a).spec).toEqual({
      podSelector: { matchLabels: expect.any(Object) },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'databases' } },
              podSelector: { matchLabels: { app: 'postgres' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
        {
          to: [{ ipBlock: { cidr: '10.50.0.0/24' } }],
          ports: [
            { protocol: 'TCP', port: 6379 },
            { protocol: 'TCP', port: 6380 },
          ],
        },
        {
          to: [{ podSelector: { matchLabels: { app: 'cache' } } }],
          ports: [{ protocol: 'UDP', port: 11211 }],
        },
      ],
    });
  });

  it('name every bad value with its key, all at once', () => {
    expect(
      problemsOf({
        ingressFrom: [
          { namespace: 'Ingress_Nginx' },
          { podLabels: { app: 'x' } },
          { namespace: 'a', cidr: '10.0.0.0/8' },
          { cidr: '10.0.0.0/33' },
          { cidr: '10.0.0.0/16', except: ['10.1.0.0/24', 'nope'] },
          { namespaceLabels: { 'bad key!': 'v', ok: 'bad value!' } },
          { namespace: 'b', prots: [80] },
          { namespaceLabels: {} },
        ],
        egress: [
          { namespace: 'db', ports: [] },
          { cidr: '10.0.0.0/8', ports: [0, 70000, 'x'], protocol: 'ICMP' },
          { ports: [5432] },
          { cidr: '10.0.0.0/8', podLabels: { app: 'db' }, ports: [5432] },
        ],
      }),
    ).toEqual([
      'pavemaster:ingressFrom[6].prots = [80]: no such key; known keys: pavemaster:ingressFrom[6].namespace, pavemaster:ingressFrom[6].namespaceLabels, pavemaster:ingressFrom[6].podLabels, pavemaster:ingressFrom[6].cidr, pavemaster:ingressFrom[6].except',
      'pavemaster:egress[1].ports[0] = 0: a port from 1 to 65535',
      'pavemaster:egress[1].ports[1] = 70000: a port from 1 to 65535',
      'pavemaster:egress[1].ports[2] = "x": a port from 1 to 65535',
      'pavemaster:egress[1].protocol = "ICMP": one of "TCP", "UDP"',
      'pavemaster:ingressFrom[0].namespace = "Ingress_Nginx": an RFC 1123 label: at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
      'pavemaster:ingressFrom[1] = {"podLabels":{"app":"x"}}: exactly one of "namespace", "namespaceLabels" or "cidr" (the own namespace is always allowed)',
      'pavemaster:ingressFrom[2] = {"namespace":"a","cidr":"10.0.0.0/8"}: exactly one of "namespace", "namespaceLabels" or "cidr" (the own namespace is always allowed)',
      'pavemaster:ingressFrom[3].cidr = "10.0.0.0/33": an IPv4 or IPv6 block in CIDR form, e.g. "10.20.0.0/16" or "fd00::/64"',
      'pavemaster:ingressFrom[4].except[0] = "10.1.0.0/24": a block strictly inside 10.0.0.0/16',
      'pavemaster:ingressFrom[4].except[1] = "nope": an IP block in CIDR form, e.g. "10.20.5.0/24"',
      expect.stringMatching(
        /^pavemaster:ingressFrom\[5\]\.namespaceLabels\.bad key! = "bad key!": a Kubernetes label key/,
      ),
      expect.stringMatching(
        /^pavemaster:ingressFrom\[5\]\.namespaceLabels\.ok = "bad value!": a Kubernetes label value/,
      ),
      'pavemaster:ingressFrom[7].namespaceLabels = {}: at least one label (none selects every namespace)',
      'pavemaster:egress[0].ports = []: at least one port',
      'pavemaster:egress[2] = {"ports":[5432],"protocol":"TCP"}: exactly one of "namespace", "namespaceLabels", "cidr", or "podLabels" alone (pods of the own namespace)',
      'pavemaster:egress[3].podLabels = {"app":"db"}: no pod labels with "cidr" (an IP block selects addresses, not pods)',
    ]);
  });

  it('refuse a value that is not a list of objects', () => {
    expect(problemsOf({ ingressFrom: 'ingress-nginx', egress: [5432] })).toEqual([
      'pavemaster:ingressFrom = "ingress-nginx": a list of objects (a YAML sequence of mappings)',
      'pavemaster:egress = [5432]: a list of objects (a YAML sequence of mappings)',
    ]);
  });
});
