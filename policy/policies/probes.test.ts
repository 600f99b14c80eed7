import { goodContainer, goodPodSpec, messages, validateResource, workloadResource } from '../test/fakes';
import { probesPolicy } from './probes';

const probe = { httpGet: { path: '/healthz', port: 'http' } };
const probed = { ...goodContainer(), readinessProbe: probe, livenessProbe: { tcpSocket: { port: 8080 } } };

describe('long-running-probes', () => {
  it.each(['Deployment', 'StatefulSet', 'DaemonSet', 'Pod'] as const)('passes a probed %s', async (kind) => {
    expect(
      await validateResource(probesPolicy, workloadResource(kind, goodPodSpec({ containers: [probed] }))),
    ).toEqual([]);
  });

  it('refuses a container without either probe, naming both', async () => {
    const r = workloadResource('Deployment', goodPodSpec());
    expect(messages(await validateResource(probesPolicy, r))).toEqual([
      'Deployment apps/web container "web" has no readinessProbe and no livenessProbe: a long-running container ' +
        'must say when it is ready (readinessProbe) and when it must be restarted (livenessProbe).',
    ]);
  });

  it('refuses a missing livenessProbe, and a probe that says nothing', async () => {
    const noLiveness = { ...probed, livenessProbe: undefined };
    const empty = { ...probed, name: 'side', readinessProbe: { periodSeconds: 5 } };
    const r = workloadResource('StatefulSet', goodPodSpec({ containers: [noLiveness, empty] }));
    expect(messages(await validateResource(probesPolicy, r))).toEqual([
      expect.stringContaining('container "web" has no livenessProbe:'),
      expect.stringContaining('container "side" has no readinessProbe:'),
    ]);
  });

  it('leaves Jobs, CronJobs and init containers alone', async () => {
    for (const kind of ['Job', 'CronJob'] as const) {
      expect(await validateResource(probesPolicy, workloadResource(kind, goodPodSpec()))).toEqual([]);
    }
    const init = goodPodSpec({ initContainers: [goodContainer('init')], containers: [probed] });
    expect(await validateResource(probesPolicy, workloadResource('Deployment', init))).toEqual([]);
  });
});
