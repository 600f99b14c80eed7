import { goodContainer, goodPodSpec, messages, validateResource, workloadResource } from '../test/fakes';
import { resourcesPolicy } from './resources';

describe('container-resources', () => {
  it('passes containers and init containers with requests and limits', async () => {
    const spec = goodPodSpec({ initContainers: [goodContainer('init')] });
    expect(await validateResource(resourcesPolicy, workloadResource('StatefulSet', spec))).toEqual([]);
  });

  it('requires a sizeLimit on every emptyDir', async () => {
    const spec = goodPodSpec({
      volumes: [
        { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
        { name: 'cache', emptyDir: {} },
      ],
    });
    expect(messages(await validateResource(resourcesPolicy, workloadResource('Deployment', spec)))).toEqual([
      'Deployment apps/web emptyDir volume "cache" sets no sizeLimit.',
    ]);
  });

  it('names each missing request and limit, init containers included', async () => {
    const spec = goodPodSpec({
      initContainers: [{ ...goodContainer('init'), resources: { requests: { cpu: '10m' } } }],
      containers: [
        {
          ...goodContainer(),
          resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } },
        },
      ],
    });
    expect(
      (await validateResource(resourcesPolicy, workloadResource('CronJob', spec))).map((v) => v.message),
    ).toEqual([
      'CronJob apps/web init container "init" sets no requests.memory, limits.cpu, limits.memory.',
      'CronJob apps/web container "web" sets no limits.cpu.',
    ]);
  });
});
