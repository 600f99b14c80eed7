import { FakeResource, validateStack } from '../test/fakes';
import { statefulPolicy } from './stateful';

const pvc = (protect: boolean): FakeResource => ({
  type: 'kubernetes:core/v1:PersistentVolumeClaim',
  name: 'data',
  protect,
  props: { metadata: { name: 'data', namespace: 'db' }, spec: {} },
});
const sts = (protect: boolean, spec: Record<string, unknown>): FakeResource => ({
  type: 'kubernetes:apps/v1:StatefulSet',
  name: 'es',
  protect,
  props: { metadata: { name: 'es', namespace: 'logging' }, spec },
});
const CLAIMS = { volumeClaimTemplates: [{ metadata: { name: 'data' } }] };

describe('stateful-resources-protected', () => {
  it('passes protected stateful resources and ignores stateless ones', async () => {
    const resources = [
      pvc(true),
      sts(true, CLAIMS),
      sts(false, {}),
      {
        type: 'kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch',
        name: 'es',
        protect: true,
        props: {},
      },
      {
        type: 'kubernetes:monitoring.coreos.com/v1:Prometheus',
        name: 'p',
        protect: false,
        props: { spec: {} },
      },
    ];
    expect(await validateStack(statefulPolicy, resources, { requireProtect: true })).toEqual([]);
  });

  it('flags unprotected data, and claims deleted with their StatefulSet', async () => {
    const resources = [
      pvc(false),
      sts(false, CLAIMS),
      sts(true, { ...CLAIMS, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete' } }),
      { type: 'kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch', name: 'es', props: {} },
      { type: 'kubernetes:monitoring.coreos.com/v1:Prometheus', name: 'p', props: { spec: { storage: {} } } },
    ];
    expect((await validateStack(statefulPolicy, resources)).map((v) => v.message)).toEqual([
      'PersistentVolumeClaim db/data holds data but is not protected (resource option protect: true).',
      'StatefulSet logging/es has volumeClaimTemplates but is not protected (resource option protect: true).',
      'StatefulSet logging/es deletes its PersistentVolumeClaims when deleted (whenDeleted: Delete).',
      'Elasticsearch default/es is an Elasticsearch cluster but is not protected (resource option protect: true).',
      'Prometheus default/p is a Prometheus with storage but is not protected (resource option protect: true).',
    ]);
  });

  it('is off when requireProtect is false', async () => {
    expect(await validateStack(statefulPolicy, [pvc(false)], { requireProtect: false })).toEqual([]);
  });
});
