/**
 * Network isolation of both stacks, checked on what the program registers (mocks harness): every Namespace is
 * default-deny for ingress and egress, and every workload's pods are selected by at least one policy that
 * allows ingress to each port its containers expose (so default-deny does not silently cut a Service off).
 */
import { isDefaultDeny } from '../../../policy/policies/defaultDeny';
import {
  at,
  containers,
  objects,
  obj,
  str,
  strings,
  stringMap,
  workload,
} from '../../../policy/lib/kubernetes';
import { recordStack, Registered } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';
import { STACKS } from './scanners';

jest.setTimeout(120_000);

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Record<string, unknown>[] };

/** True when a label selector selects a set of labels (an empty selector selects everything). */
export function selects(selector: unknown, labels: Record<string, string>): boolean {
  const s = (obj(selector) ?? {}) as Selector;
  for (const [k, v] of Object.entries(stringMap(s.matchLabels))) {
    if (labels[k] !== v) {
      return false;
    }
  }
  for (const e of objects(s.matchExpressions)) {
    const key = str(e.key) ?? '';
    const values = strings(e.values);
    const has = key in labels;
    const ok =
      e.operator === 'In'
        ? has && values.includes(labels[key])
        : e.operator === 'NotIn'
          ? !has || !values.includes(labels[key])
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) {
      return false;
    }
  }
  return true;
}

interface ExposedPort {
  container: string;
  port: number;
  name?: string;
  protocol: string;
}

/** True when one ingress rule's ports allow a container port (no ports: every port). */
function ruleCovers(rule: Record<string, unknown>, p: ExposedPort): boolean {
  const ports = objects(rule.ports);
  if (rule.ports === undefined || ports.length === 0) {
    return true;
  }
  return ports.some((rp) => {
    if ((str(rp.protocol) ?? 'TCP') !== p.protocol) {
      return false;
    }
    if (rp.port === undefined) {
      return true;
    }
    if (typeof rp.port === 'string') {
      return rp.port === p.name;
    }
    const from = Number(rp.port);
    const to = typeof rp.endPort === 'number' ? rp.endPort : from;
    return p.port >= from && p.port <= to;
  });
}

interface Gap {
  stack: string;
  what: string;
}

function analyse(stack: string, resources: Registered[]): Gap[] {
  const gaps: Gap[] = [];
  const k8s = resources.filter((r) => r.custom && r.type.startsWith('kubernetes:'));
  const policies = k8s.filter((r) => r.type === 'kubernetes:networking.k8s.io/v1:NetworkPolicy');
  const namespaceOf = (r: Registered): string => str(at(r.inputs, 'metadata.namespace')) ?? 'default';

  for (const ns of k8s.filter((r) => r.type === 'kubernetes:core/v1:Namespace')) {
    const name = str(at(ns.inputs, 'metadata.name')) ?? ns.name;
    if (!policies.some((p) => namespaceOf(p) === name && isDefaultDeny(p.inputs.spec))) {
      gaps.push({ stack, what: `Namespace ${name} has no default-deny NetworkPolicy` });
    }
  }

  for (const r of k8s) {
    const w = workload(r.type, r.inputs, r.name);
    if (w === undefined) {
      continue;
    }
    const exposed: ExposedPort[] = containers(w.podSpec).flatMap((c) =>
      objects(c.spec.ports).map((p) => ({
        container: c.name,
        port: Number(p.containerPort),
        name: str(p.name),
        protocol: str(p.protocol) ?? 'TCP',
      })),
    );
    const allowing = policies.filter(
      (p) =>
        namespaceOf(p) === w.namespace &&
        strings(at(p.inputs, 'spec.policyTypes')).includes('Ingress') &&
        selects(at(p.inputs, 'spec.podSelector'), w.podLabels),
    );
    // hostNetwork pods are not isolated by NetworkPolicies at all; their exposure is the node's.
    if (w.podSpec.hostNetwork === true) {
      continue;
    }
    for (const p of exposed) {
      const covered = allowing.some((np) =>
        objects(at(np.inputs, 'spec.ingress')).some((rule) => ruleCovers(rule, p)),
      );
      if (!covered) {
        gaps.push({
          stack,
          what:
            `${w.kind} ${w.namespace}/${w.name} container "${p.container}" exposes ` +
            `${p.protocol}/${p.port}${p.name ? ` (${p.name})` : ''} but no NetworkPolicy allows ingress to it`,
        });
      }
    }
  }
  return gaps;
}

describe('the analysis', () => {
  it('matches selectors like the API server', () => {
    expect(selects({}, { app: 'x' })).toBe(true);
    expect(selects({ matchLabels: { app: 'x' } }, { app: 'x', slot: 'blue' })).toBe(true);
    expect(selects({ matchLabels: { app: 'y' } }, { app: 'x' })).toBe(false);
    expect(
      selects({ matchExpressions: [{ key: 'slot', operator: 'In', values: ['blue'] }] }, { slot: 'blue' }),
    ).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'slot', operator: 'Exists' }] }, {})).toBe(false);
  });

  it('finds a namespace without default-deny and an exposed port without an allow rule', () => {
    const resources: Registered[] = [
      {
        type: 'kubernetes:core/v1:Namespace',
        name: 'a',
        custom: true,
        protect: false,
        inputs: { metadata: { name: 'a' } },
      },
      {
        type: 'kubernetes:apps/v1:Deployment',
        name: 'web',
        custom: true,
        protect: false,
        inputs: {
          metadata: { name: 'web', namespace: 'a' },
          spec: {
            template: {
              metadata: { labels: { app: 'web' } },
              spec: { containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }] },
            },
          },
        },
      },
    ];
    expect(analyse('t', resources).map((g) => g.what)).toEqual([
      'Namespace a has no default-deny NetworkPolicy',
      'Deployment a/web container "web" exposes TCP/8080 (http) but no NetworkPolicy allows ingress to it',
    ]);
    const allow: Registered = {
      type: 'kubernetes:networking.k8s.io/v1:NetworkPolicy',
      name: 'allow',
      custom: true,
      protect: false,
      inputs: {
        metadata: { name: 'allow', namespace: 'a' },
        spec: {
          podSelector: { matchLabels: { app: 'web' } },
          policyTypes: ['Ingress'],
          ingress: [{ ports: [{ port: 'http' }] }],
        },
      },
    };
    expect(analyse('t', [...resources, allow]).map((g) => g.what)).toEqual([
      'Namespace a has no default-deny NetworkPolicy',
    ]);
  });
});

describe.each(STACKS)('the %s stack', (stack) => {
  it("isolates every namespace and allows ingress to every exposed port but Grafana's, closed by default", async () => {
    const { resources } = await recordStack(stack, stackConfig(stack));
    const namespaces = resources.filter((r) => r.type === 'kubernetes:core/v1:Namespace');
    expect(namespaces.length).toBeGreaterThanOrEqual(3);
    // Grafana admits only monitoring.grafana.ingressFrom, empty by default: operators use a port-forward,
    // which no NetworkPolicy filters.
    expect(analyse(stack, resources).map((g) => g.what)).toEqual([
      `Deployment pavemaster-${stack}-monitoring/grafana container "grafana" exposes TCP/3000 (http) but no NetworkPolicy allows ingress to it`,
    ]);
  });

  it('lets the configured sources reach Grafana and Kibana, and only them', async () => {
    const source = { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
    const { resources } = await recordStack(
      stack,
      stackConfig(stack, {
        monitoring: { grafana: { ingressFrom: [source] } },
        logging: { kibana: { ingressFrom: [source, { cidr: '10.20.0.0/16' }] } },
      }),
    );
    expect(analyse(stack, resources).map((g) => g.what)).toEqual([]);
    const ingressOf = (name: string) =>
      at(
        resources.find(
          (r) =>
            r.type === 'kubernetes:networking.k8s.io/v1:NetworkPolicy' &&
            at(r.inputs, 'metadata.name') === name,
        )?.inputs,
        'spec.ingress',
      );
    const controller = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
    };
    expect(ingressOf('grafana')).toEqual([{ from: [controller], ports: [{ protocol: 'TCP', port: 3000 }] }]);
    expect(ingressOf('kibana')).toEqual([
      {
        from: [
          controller,
          { ipBlock: { cidr: '10.20.0.0/16' } },
          expect.objectContaining({ podSelector: expect.anything() as unknown }),
        ],
        ports: [{ protocol: 'TCP', port: 5601 }],
      },
    ]);
  });
});
