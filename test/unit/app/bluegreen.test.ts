/**
 * BlueGreenApp's behaviour under Pulumi's mocks: switching traffic changes only the Services' selectors,
 * deploying to the idle slot changes nothing that serves traffic, and every pod is secure and bounded.
 */
import * as pulumi from '@pulumi/pulumi';
import {
  BlueGreenApp,
  ENV_CHECKSUM_ANNOTATION,
  envSecretChecksum,
  resolveBlueGreenAppArgs,
} from '../../../components/BlueGreenApp';
import { at, find, isSecret, ofType, record, recordStack, Registered, unsecret } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const DEPLOYMENT = 'kubernetes:apps/v1:Deployment';
const SERVICE = 'kubernetes:core/v1:Service';

/** Every input that differs between two runs, as "type::name path: before -> after". */
function diff(before: readonly Registered[], after: readonly Registered[]): string[] {
  const out: string[] = [];
  const walk = (key: string, path: string, a: unknown, b: unknown): void => {
    if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) {
        walk(
          key,
          path ? `${path}.${k}` : k,
          (a as Record<string, unknown>)[k],
          (b as Record<string, unknown>)[k],
        );
      }
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push(`${key} ${path}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`);
    }
  };
  const index = (rs: readonly Registered[]) => new Map(rs.map((r) => [`${r.type}::${r.name}`, r]));
  const a = index(before);
  const b = index(after);
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    walk(key, '', a.get(key)?.inputs ?? null, b.get(key)?.inputs ?? null);
  }
  return out.sort();
}

function containersOf(r: Registered): Record<string, unknown>[] {
  const spec = r.type.endsWith(':Pod') ? r.inputs.spec : at(r.inputs, 'spec.template.spec');
  return [
    ...((at(spec, 'initContainers') as Record<string, unknown>[]) ?? []),
    ...((at(spec, 'containers') as Record<string, unknown>[]) ?? []),
  ];
}

describe('traffic switching', () => {
  test.each(['staging', 'production'])(
    '%s: switching blue -> green changes only the two Service selectors',
    async (stack) => {
      const blue = await recordStack(
        stack,
        stackConfig(stack, { activeSlot: 'blue', greenImage: stackConfig(stack).blueImage }),
      );
      const green = await recordStack(
        stack,
        stackConfig(stack, { activeSlot: 'green', greenImage: stackConfig(stack).blueImage }),
      );
      expect(diff(blue.resources, green.resources)).toEqual([
        `${SERVICE}::pavemaster-active spec.selector.slot: "blue" -> "green"`,
        `${SERVICE}::pavemaster-preview spec.selector.slot: "green" -> "blue"`,
      ]);
    },
  );

  test('the active Service selects the active slot and the preview Service the idle one', async () => {
    const { resources } = await recordStack('staging', stackConfig('staging', { activeSlot: 'green' }));
    expect(at(find(resources, SERVICE, 'pavemaster-active').inputs, 'spec.selector')).toEqual({
      app: 'pavemaster',
      slot: 'green',
    });
    expect(at(find(resources, SERVICE, 'pavemaster-preview').inputs, 'spec.selector')).toEqual({
      app: 'pavemaster',
      slot: 'blue',
    });
    const ingress = find(resources, 'kubernetes:networking.k8s.io/v1:Ingress', 'pavemaster-ingress');
    expect(at(ingress.inputs, 'spec.rules')).toEqual([
      {
        host: 'staging.pavemaster.localtest.me',
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: 'pavemaster', port: { name: 'http' } } },
            },
          ],
        },
      },
    ]);
  });

  test('deploying a new image to the idle slot changes nothing that serves traffic', async () => {
    const before = await recordStack('staging', stackConfig('staging'));
    const after = await recordStack(
      'staging',
      stackConfig('staging', { greenImage: 'pavemaster/web:2.0.0' }),
    );
    const changes = diff(before.resources, after.resources);
    expect(changes.length).toBeGreaterThan(0);
    // Every change is on the green Deployment or its PodDisruptionBudget; the blue slot, the Services, the Ingress
    // and the policies are untouched.
    for (const change of changes) {
      expect(change).toMatch(
        /^kubernetes:(apps\/v1:Deployment::pavemaster-green|policy\/v1:PodDisruptionBudget::pavemaster-green-pdb) /,
      );
    }
    expect(changes).toContain(
      `${DEPLOYMENT}::pavemaster-green spec.template.spec.containers.0.image: "pavemaster/web:1.0.0" -> "pavemaster/web:2.0.0"`,
    );
    expect(changes).toContain(
      `${DEPLOYMENT}::pavemaster-green spec.template.metadata.labels.version: "1.0.0" -> "2.0.0"`,
    );
  });

  test('the idle slot runs idleReplicas; the active slot runs replicas', async () => {
    const { resources } = await recordStack('production', stackConfig('production', { idleReplicas: 1 }));
    expect(at(find(resources, DEPLOYMENT, 'pavemaster-blue').inputs, 'spec.replicas')).toBe(3);
    expect(at(find(resources, DEPLOYMENT, 'pavemaster-green').inputs, 'spec.replicas')).toBe(1);
  });

  test('Services move only after both slots have rolled out', async () => {
    // dependsOn is not visible in the mock's inputs; assert it on the component's own objects instead.
    const seen: string[] = [];
    await record(() => {
      const app = new BlueGreenApp('web', {
        namespace: 'ns',
        activeSlot: 'blue',
        slots: { blue: { image: 'web:1', version: '1' }, green: { image: 'web:2', version: '2' } },
      });
      pulumi.all([app.activeServiceName, app.previewServiceName]).apply(([a, p]) => seen.push(a, p));
    });
    expect(seen).toEqual(['web', 'web-preview']);
  });
});

describe('each slot', () => {
  let resources: Registered[];
  beforeAll(async () => {
    ({ resources } = await recordStack(
      'production',
      stackConfig('production', { greenImage: `pavemaster/web:2.0.0@sha256:${'e'.repeat(64)}` }),
    ));
  });

  test('runs its own image and version, labelled app, slot, version and app.kubernetes.io/*', () => {
    for (const [slot, version] of [
      ['blue', '1.0.0'],
      ['green', '2.0.0'],
    ]) {
      const d = find(resources, DEPLOYMENT, `pavemaster-${slot}`);
      expect(at(d.inputs, 'metadata.name')).toBe(`pavemaster-${slot}`);
      expect(at(d.inputs, 'spec.selector.matchLabels')).toEqual({ app: 'pavemaster', slot });
      const labels = at(d.inputs, 'spec.template.metadata.labels') as Record<string, string>;
      expect(labels).toMatchObject({
        app: 'pavemaster',
        slot,
        version,
        'app.kubernetes.io/name': 'pavemaster',
        'app.kubernetes.io/version': version,
        'app.kubernetes.io/managed-by': 'pulumi',
      });
    }
  });

  test('has readiness, liveness and startup probes and Prometheus scrape annotations', () => {
    const d = find(resources, DEPLOYMENT, 'pavemaster-blue');
    const [c] = containersOf(d);
    expect(at(c, 'readinessProbe.httpGet')).toEqual({ path: '/readyz', port: 'http' });
    expect(at(c, 'livenessProbe.httpGet')).toEqual({ path: '/healthz', port: 'http' });
    expect(at(c, 'startupProbe.httpGet')).toEqual({ path: '/healthz', port: 'http' });
    expect(at(d.inputs, 'spec.template.metadata.annotations')).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
      'prometheus.io/path': '/metrics',
    });
  });

  test('has a PodDisruptionBudget that keeps capacity during drains', () => {
    for (const slot of ['blue', 'green']) {
      const pdb = find(resources, 'kubernetes:policy/v1:PodDisruptionBudget', `pavemaster-${slot}-pdb`);
      expect(at(pdb.inputs, 'spec')).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: { app: 'pavemaster', slot } },
      });
    }
  });

  test('spreads over nodes in production and rolls without surging past the nodes', () => {
    const d = find(resources, DEPLOYMENT, 'pavemaster-green');
    expect(
      at(
        d.inputs,
        'spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution',
      ),
    ).toEqual([
      {
        labelSelector: { matchLabels: { app: 'pavemaster', slot: 'green' } },
        topologyKey: 'kubernetes.io/hostname',
      },
    ]);
    expect(at(d.inputs, 'spec.strategy.rollingUpdate')).toEqual({ maxSurge: 0, maxUnavailable: 1 });
  });

  test('uses a ServiceAccount without a mounted token', () => {
    const sa = find(resources, 'kubernetes:core/v1:ServiceAccount', 'pavemaster-sa');
    expect(sa.inputs.automountServiceAccountToken).toBe(false);
    const d = find(resources, DEPLOYMENT, 'pavemaster-blue');
    expect(at(d.inputs, 'spec.template.spec.serviceAccountName')).toBe('pavemaster');
    expect(at(d.inputs, 'spec.template.spec.automountServiceAccountToken')).toBe(false);
  });
});

describe('security and resources on every container of both stacks', () => {
  test.each(['staging', 'production'])('%s', async (stack) => {
    const { resources } = await recordStack(stack, stackConfig(stack));
    const workloads = resources.filter((r) =>
      /:(Deployment|StatefulSet|DaemonSet|Job|CronJob|Pod)$/.test(r.type),
    );
    expect(workloads.length).toBeGreaterThan(0);
    for (const w of workloads) {
      const podSpec = at(w.inputs, 'spec.template.spec') as Record<string, unknown>;
      const nodeAgent = String(at(w.inputs, 'metadata.namespace')).endsWith('-node');
      if (!nodeAgent) {
        expect({ w: w.name, ctx: at(podSpec, 'securityContext.runAsNonRoot') }).toEqual({
          w: w.name,
          ctx: true,
        });
        expect({ w: w.name, seccomp: at(podSpec, 'securityContext.seccompProfile.type') }).toEqual({
          w: w.name,
          seccomp: 'RuntimeDefault',
        });
      }
      for (const c of containersOf(w)) {
        const label = `${w.name}/${String(c.name)}`;
        expect({ label, limits: at(c, 'resources.limits') }).toEqual({
          label,
          limits: expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        });
        expect({ label, requests: at(c, 'resources.requests') }).toEqual({
          label,
          requests: expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        });
        if (!nodeAgent) {
          expect({ label, sc: at(c, 'securityContext') }).toEqual({
            label,
            sc: expect.objectContaining({
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
              readOnlyRootFilesystem: true,
              seccompProfile: { type: 'RuntimeDefault' },
            }),
          });
        }
      }
    }
  });
});

describe('conventions', () => {
  test('components use pavemaster:<module>:<Name> tokens and every child has a parent', async () => {
    const { resources } = await recordStack('production', stackConfig('production'));
    const components = resources.filter((r) => !r.custom && r.type !== 'pulumi:pulumi:Stack');
    expect(components.length).toBeGreaterThan(0);
    for (const c of components) {
      expect(c.type).toMatch(/^pavemaster:[a-z]+:[A-Z][A-Za-z]+$/);
    }
    for (const r of resources.filter((x) => x.custom && x.type.startsWith('kubernetes:'))) {
      expect({ name: r.name, parent: r.parent?.type.startsWith('pavemaster:') }).toEqual({
        name: r.name,
        parent: true,
      });
      expect(r.name.startsWith(r.parent?.name ?? '')).toBe(true);
    }
  });

  test('the app creates its namespace, which enforces the restricted Pod Security Standard and denies by default', async () => {
    const { resources } = await recordStack('staging', stackConfig('staging'));
    const ns = find(resources, 'kubernetes:core/v1:Namespace', 'pavemaster-namespace');
    expect(find(resources, 'pavemaster:platform:Namespace', 'pavemaster-namespace').parent).toEqual({
      type: 'pavemaster:app:BlueGreenApp',
      name: 'pavemaster',
    });
    expect(at(ns.inputs, 'metadata.labels')).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    const deny = find(
      resources,
      'kubernetes:networking.k8s.io/v1:NetworkPolicy',
      'pavemaster-namespace-default-deny',
    );
    expect(at(deny.inputs, 'spec')).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  test('secret values from config reach a Secret and never a plain input', async () => {
    const raw = stackConfig('staging', { appSecrets: { SESSION_KEY: 'unit-secret-value-1234' } });
    const { resources } = await recordStack('staging', raw);
    const secret = find(resources, 'kubernetes:core/v1:Secret', 'pavemaster-env');
    expect(isSecret(secret.inputs.stringData)).toBe(true);
    expect(unsecret(secret.inputs.stringData)).toEqual({ SESSION_KEY: 'unit-secret-value-1234' });
    const elsewhere = resources.filter(
      (r) => r !== secret && JSON.stringify(r.inputs).includes('unit-secret-value-1234'),
    );
    expect(elsewhere.map((r) => r.name)).toEqual([]);
    const [c] = containersOf(find(resources, DEPLOYMENT, 'pavemaster-blue'));
    expect(c.env).toContainEqual({
      name: 'SESSION_KEY',
      valueFrom: { secretKeyRef: { name: 'pavemaster-env', key: 'SESSION_KEY' } },
    });
  });

  test('a changed secret value rolls both slots in place: same objects, a new pod-template checksum', async () => {
    const withValue = (v: string) => stackConfig('staging', { appSecrets: { SESSION_KEY: v } });
    const before = (await recordStack('staging', withValue('unit-secret-value-1234'))).resources;
    const after = (await recordStack('staging', withValue('unit-secret-value-5678'))).resources;
    // The Deployments name the Secret by its known name and only dependsOn it: a replaced Secret (the provider
    // replaces one whose data changes) makes none of their inputs unknown, so they are updated, never replaced.
    const changed = diff(before, after).map((line) => line.replace(/: .*/, ''));
    expect(changed).toEqual([
      `${DEPLOYMENT}::pavemaster-blue spec.template.metadata.annotations.${ENV_CHECKSUM_ANNOTATION}`,
      `${DEPLOYMENT}::pavemaster-green spec.template.metadata.annotations.${ENV_CHECKSUM_ANNOTATION}`,
      'kubernetes:core/v1:Secret::pavemaster-env stringData.value.SESSION_KEY',
    ]);
    for (const slot of ['blue', 'green']) {
      const d = find(after, DEPLOYMENT, `pavemaster-${slot}`);
      const annotations = at(d.inputs, 'spec.template.metadata.annotations') as Record<string, unknown>;
      const sum = annotations[ENV_CHECKSUM_ANNOTATION];
      // Plain, so the Deployment's spec stays readable in previews; keyed, so it tells nothing of the value.
      expect(isSecret(at(d.inputs, 'spec'))).toBe(false);
      expect(sum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  test('the env checksum is keyed: no plain hash of a value, stable in any key order', async () => {
    const { createHash } = await import('crypto');
    const value = (o: pulumi.Output<string>) => new Promise<string>((resolve) => o.apply(resolve));
    const a = await value(envSecretChecksum('key-1', { A: 'x', B: 'y' }));
    expect(await value(envSecretChecksum('key-1', { B: 'y', A: 'x' }))).toBe(a);
    expect(await value(envSecretChecksum('key-2', { A: 'x', B: 'y' }))).not.toBe(a);
    expect(await value(envSecretChecksum('key-1', { A: 'x', B: 'z' }))).not.toBe(a);
    const plain = [
      JSON.stringify([
        ['A', 'x'],
        ['B', 'y'],
      ]),
      'x',
      'y',
    ].map((t) => createHash('sha256').update(t).digest('hex'));
    expect(plain).not.toContain(a);
  });

  test('a component refuses bad arguments with every problem listed', () => {
    expect(() =>
      resolveBlueGreenAppArgs('web', {
        namespace: 'ns',
        activeSlot: 'blue',
        slots: { blue: { image: 'web:1', version: 'not a label!' }, green: { image: 'web:2', version: '2' } },
        replicas: 0,
        port: 80,
      }),
    ).toThrow(
      /BlueGreenApp web: invalid arguments:(?=[\s\S]*replicas = 0: a whole number of at least 1)(?=[\s\S]*port = 80: an unprivileged port)(?=[\s\S]*slots\.blue\.version = "not a label!")/,
    );
  });

  test('bench-only benchServices deploys that many independent blue/green apps', async () => {
    const { resources } = await recordStack('staging', stackConfig('staging', { benchServices: 3 }));
    expect(
      ofType(resources, DEPLOYMENT)
        .filter((d) => String(at(d.inputs, 'metadata.name')).startsWith('pavemaster'))
        .map((d) => at(d.inputs, 'metadata.name')),
    ).toEqual(
      expect.arrayContaining([
        'pavemaster-blue',
        'pavemaster-green',
        'pavemaster-1-blue',
        'pavemaster-2-green',
      ]),
    );
  });
});
