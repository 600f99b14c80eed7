/**
 * The components' spec builders, called directly (the constructors only register what these return), and the
 * one place defaults are applied.
 */
import { parse } from 'yaml';
import {
  resolveBlueGreenAppArgs,
  slotDeploymentSpec,
  slotServiceArgs,
} from '../../../components/BlueGreenApp';
import {
  ELASTICSEARCH_DEFAULTS,
  elasticsearchStatefulSetSpec,
} from '../../../components/logging/Elasticsearch';
import { datasourcesFile } from '../../../components/monitoring/Grafana';
import { PROMETHEUS_DEFAULTS, prometheusStatefulSetSpec } from '../../../components/monitoring/Prometheus';
import { withDefaults } from '../../../components/shared/args';

type Doc = Record<string, unknown>;
const get = (v: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Doc)[k] : undefined), v);

const app = (extra: Doc = {}) =>
  resolveBlueGreenAppArgs('web', {
    namespace: 'ns',
    slots: { blue: { image: 'web:1', version: '1' }, green: { image: 'web:2', version: '2' } },
    replicas: 3,
    idleReplicas: 1,
    ...extra,
  });

describe('BlueGreenApp specs', () => {
  it('a slot runs its image behind its selector, the idle one with idleReplicas', () => {
    const a = app({ activeSlot: 'green' });
    const blue = slotDeploymentSpec(a, 'blue', { serviceAccountName: 'web', env: [] });
    const green = slotDeploymentSpec(a, 'green', { serviceAccountName: 'web', env: [] });
    expect([blue.replicas, green.replicas]).toEqual([1, 3]);
    expect(get(blue, 'selector.matchLabels')).toEqual({ app: 'web', slot: 'blue' });
    expect(get(green, 'template.spec.containers')).toEqual([
      expect.objectContaining({ image: 'web:2', imagePullPolicy: 'Always' }),
    ]);
  });

  it('required anti-affinity rolls one pod at a time (no surge pod could schedule)', () => {
    const spec = slotDeploymentSpec(app({ antiAffinity: 'required' }), 'blue', {
      serviceAccountName: 'web',
      env: [],
    });
    expect(get(spec, 'strategy.rollingUpdate')).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(
      get(spec, 'template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution'),
    ).toEqual([
      { labelSelector: { matchLabels: { app: 'web', slot: 'blue' } }, topologyKey: 'kubernetes.io/hostname' },
    ]);
    const preferred = slotDeploymentSpec(app(), 'blue', { serviceAccountName: 'web', env: [] });
    expect(get(preferred, 'strategy.rollingUpdate')).toEqual({ maxSurge: '25%', maxUnavailable: 0 });
  });

  it('the active and preview Services select one slot each and skip the provider’s await', () => {
    const a = app({ activeSlot: 'green' });
    expect(get(slotServiceArgs(a, 'active', 'green'), 'spec.selector')).toEqual({
      app: 'web',
      slot: 'green',
    });
    expect(get(slotServiceArgs(a, 'preview', 'blue'), 'metadata.name')).toBe('web-preview');
    expect(get(slotServiceArgs(a, 'active', 'green'), 'metadata.annotations')).toMatchObject({
      'pulumi.com/skipAwait': 'true',
    });
  });
});

describe('stateful specs', () => {
  const refs = {
    serviceAccountName: 'prometheus',
    serviceName: 'prometheus-headless',
    configMapName: 'prometheus-config',
    rulesMapName: 'prometheus-rules',
    configChecksum: 'abc',
  };
  it('keep the data of a protected stack and clean up after an unprotected one', () => {
    const o = { ...PROMETHEUS_DEFAULTS, image: 'prom/prometheus:v1', protect: true };
    expect(prometheusStatefulSetSpec(o, {}, { a: 'b' }, refs).persistentVolumeClaimRetentionPolicy).toEqual({
      whenDeleted: 'Retain',
      whenScaled: 'Retain',
    });
    expect(
      prometheusStatefulSetSpec({ ...o, protect: false }, {}, { a: 'b' }, refs)
        .persistentVolumeClaimRetentionPolicy,
    ).toEqual({ whenDeleted: 'Delete', whenScaled: 'Delete' });
  });

  it('Elasticsearch runs its heap on every node, spread as asked, with its data claim', () => {
    const spec = elasticsearchStatefulSetSpec(
      { ...ELASTICSEARCH_DEFAULTS, replicas: 3, heap: '2g', antiAffinity: 'required', protect: false },
      { configMapName: 'c', elasticSecretName: 's', configHash: 'h' },
    );
    expect(spec.replicas).toBe(3);
    expect(get(spec, 'template.spec.containers')).toEqual([
      expect.objectContaining({
        env: expect.arrayContaining([{ name: 'ES_JAVA_OPTS', value: '-Xms2g -Xmx2g' }]),
      }),
    ]);
    expect(get(spec, 'template.spec.affinity.podAntiAffinity')).toHaveProperty(
      'requiredDuringSchedulingIgnoredDuringExecution',
    );
    expect(get(spec, 'volumeClaimTemplates')).toEqual([
      expect.objectContaining({
        spec: expect.objectContaining({ resources: { requests: { storage: '10Gi' } } }),
      }),
    ]);
  });
});

test('Grafana’s datasources hold no password, only the secret file Grafana expands', () => {
  const withPassword = parse(
    datasourcesFile('http://prometheus:9090', {
      url: 'http://es:9200',
      namespace: 'logs',
      username: 'g',
      password: 'p',
    }),
  ) as { datasources: Doc[] };
  expect(withPassword.datasources[1]).toMatchObject({
    basicAuthUser: 'g',
    secureJsonData: { basicAuthPassword: '$__file{/etc/grafana/secrets/elasticsearch-password}' },
  });
  expect(JSON.stringify(withPassword)).not.toContain('"p"');
  const open = parse(datasourcesFile('http://prometheus:9090', undefined)) as { datasources: Doc[] };
  expect(open.datasources.map((d) => d.type)).toEqual(['prometheus']);
});

test('defaults are applied field by field: objects merge, arrays and named maps replace', () => {
  const defaults: {
    a: number;
    nested: { b: number; c: number };
    list: number[];
    labels: Record<string, string>;
  } = {
    a: 1,
    nested: { b: 2, c: 3 },
    list: [1, 2],
    labels: { x: 'y' },
  };
  expect(withDefaults(defaults, { nested: { c: 4 }, list: [9], labels: { z: 'w' } }, ['labels'])).toEqual({
    a: 1,
    nested: { b: 2, c: 4 },
    list: [9],
    labels: { z: 'w' },
  });
  expect(withDefaults(defaults, undefined)).toBe(defaults);
  expect(withDefaults(defaults, { a: undefined })).toEqual(defaults);
});
