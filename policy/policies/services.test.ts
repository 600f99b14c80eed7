import { validateResource, messages } from '../test/fakes';
import { servicesPolicy } from './services';

function service(type: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    type: 'kubernetes:core/v1:Service',
    name: 'web',
    props: { metadata: { name: 'web', namespace: 'apps' }, spec: { type, ports: [{ port: 80 }], ...extra } },
  };
}

describe('no-external-services', () => {
  it.each([undefined, 'ClusterIP'])('passes a Service of type %s', async (type) => {
    expect(await validateResource(servicesPolicy, service(type))).toEqual([]);
  });

  it.each(['LoadBalancer', 'NodePort'])('refuses %s unless the config allows it', async (type) => {
    expect(messages(await validateResource(servicesPolicy, service(type)))).toEqual([
      expect.stringContaining(`is of type ${type}`),
    ]);
    expect(
      await validateResource(servicesPolicy, service(type), { allowExternalServices: false }),
    ).toHaveLength(1);
    expect(await validateResource(servicesPolicy, service(type), { allowExternalServices: true })).toEqual(
      [],
    );
  });

  it('refuses externalIPs', async () => {
    const violations = await validateResource(
      servicesPolicy,
      service('ClusterIP', { externalIPs: ['192.0.2.1'] }),
    );
    expect(messages(violations)).toEqual([expect.stringContaining('externalIPs')]);
  });
});
