/**
 * The replicated monitoring services keep one invariant of their own, whatever stacks/ allowed: at least one
 * replica, refused through the shared argument checks (key, value, what is allowed) before any of their objects.
 */
import * as pulumi from '@pulumi/pulumi';
import { Grafana } from '../../../components/monitoring/Grafana';
import { InvalidArgsError, throwIfNoReplicas } from '../../../components/shared/args';

describe('replicas of a replicated service', () => {
  it('Grafana with none is refused with the key, the value and what is allowed', async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }),
        call: (a) => a.inputs as Record<string, unknown>,
      },
      'pavemaster',
      'unit',
    );
    expect(
      () =>
        new Grafana('g', {
          namespace: 'monitoring',
          image: 'grafana/grafana:12.1.1',
          prometheusUrl: 'http://prometheus.monitoring.svc:9090',
          prometheusPodLabels: { app: 'prometheus' },
          replicas: 0,
        }),
    ).toThrow('Grafana g: invalid arguments:\n  - replicas = 0: a whole number of at least 1');
  });

  it.each([0, -1, 1.5, Number.NaN])('%p is refused as an InvalidArgsError', (replicas) => {
    expect(() => throwIfNoReplicas('Prometheus p', replicas)).toThrow(InvalidArgsError);
  });

  it.each([1, 2, 5])('%p is accepted', (replicas) => {
    expect(() => throwIfNoReplicas('Alertmanager a', replicas)).not.toThrow();
  });
});
