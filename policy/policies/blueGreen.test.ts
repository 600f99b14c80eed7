import { FakeResource, validateStack, messages } from '../test/fakes';
import { blueGreenPolicy } from './blueGreen';

function deployment(
  app: string,
  slot: string,
  podLabels: Record<string, string> = { app, slot },
): FakeResource {
  return {
    type: 'kubernetes:apps/v1:Deployment',
    name: `${app}-${slot}`,
    props: {
      metadata: { name: `${app}-${slot}`, namespace: 'apps', labels: { app, slot } },
      spec: {
        selector: { matchLabels: { app, slot } },
        template: { metadata: { labels: podLabels }, spec: {} },
      },
    },
  };
}
function service(name: string, selector: Record<string, string>): FakeResource {
  return {
    type: 'kubernetes:core/v1:Service',
    name,
    props: { metadata: { name, namespace: 'apps' }, spec: { selector } },
  };
}

describe('blue-green-slots', () => {
  it('passes twin slots whose Services select a slot', async () => {
    const resources = [
      deployment('web', 'blue'),
      deployment('web', 'green'),
      service('web', { app: 'web', slot: 'blue' }),
      service('web-preview', { app: 'web', slot: 'green' }),
      service('other', { app: 'grafana' }),
    ];
    expect(await validateStack(blueGreenPolicy, resources)).toEqual([]);
  });

  it.each(['blue', 'green'])('flags a %s Deployment without its twin', async (slot) => {
    expect(messages(await validateStack(blueGreenPolicy, [deployment('web', slot)]))).toEqual([
      expect.stringContaining(`has a ${slot} Deployment but no`),
    ]);
  });

  it('flags twins of different apps, and a Service that selects both slots', async () => {
    const resources = [deployment('web', 'blue'), deployment('api', 'green'), service('web', { app: 'web' })];
    expect((await validateStack(blueGreenPolicy, resources)).map((v) => v.message)).toEqual([
      'App apps/web has a blue Deployment but no green twin.',
      'App apps/api has a green Deployment but no blue twin.',
      'Service apps/web selects app=web without a slot: it would send traffic to both slots.',
    ]);
  });

  it('flags pods not labelled with their slot', async () => {
    const resources = [deployment('web', 'blue'), deployment('web', 'green', { app: 'web' })];
    expect(messages(await validateStack(blueGreenPolicy, resources))).toEqual([
      'Deployment apps/web-green does not label its pods app=web and slot=green.',
    ]);
  });
});
