/**
 * `pavemaster:progressDeadlineSeconds`: the slots' Deployments' `progressDeadlineSeconds` (600 unless set), checked
 * with every other problem at once, and what follows from it: `pulumi up`'s Deployment await outlasts it (so a
 * stuck rollout ends with Kubernetes' verdict, not a bare timeout) and the release command's readiness wait
 * defaults to it.
 */
import { deploymentAwaitTimeouts, resolveBlueGreenAppArgs } from '../../../components/BlueGreenApp';
import { ConfigError } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';
import { at, ofType, recordStack } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';

const DEPLOYMENT = 'kubernetes:apps/v1:Deployment';

function problemsOf(overrides: Record<string, unknown>): { key: string; value: unknown; allowed: string }[] {
  try {
    loadSettings('staging', stackConfig('staging', overrides));
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.problems.map((p) => ({ key: p.key, value: p.value, allowed: p.allowed }));
    }
    throw e;
  }
  return [];
}

async function deadlines(overrides: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { resources } = await recordStack('staging', stackConfig('staging', overrides));
  return Object.fromEntries(
    ofType(resources, DEPLOYMENT)
      .filter((r) => r.parent?.type === 'pavemaster:app:BlueGreenApp')
      .map((r) => [r.name, at(r.inputs, 'spec.progressDeadlineSeconds')]),
  );
}

describe('pavemaster:progressDeadlineSeconds', () => {
  it('defaults to 600 s on both slots, and the release waits as long', async () => {
    expect(await deadlines({})).toEqual({ 'pavemaster-blue': 600, 'pavemaster-green': 600 });
    const s = loadSettings('staging', stackConfig('staging'));
    expect([s.app.progressDeadlineSeconds, s.release.readyTimeoutSeconds]).toEqual([600, 600]);
  });

  it('sets both slots, and the release readiness wait follows unless set itself', async () => {
    expect(await deadlines({ progressDeadlineSeconds: '1200' })).toEqual({
      'pavemaster-blue': 1200,
      'pavemaster-green': 1200,
    });
    const follows = loadSettings('staging', stackConfig('staging', { progressDeadlineSeconds: '1200' }));
    expect(follows.release.readyTimeoutSeconds).toBe(1200);
    const own = loadSettings(
      'staging',
      stackConfig('staging', { progressDeadlineSeconds: '1200', release: { readyTimeoutSeconds: 300 } }),
    );
    expect([own.app.progressDeadlineSeconds, own.release.readyTimeoutSeconds]).toEqual([1200, 300]);
  });

  it('refuses what Kubernetes or a release cannot use, named with its value and what is allowed', () => {
    const allowed =
      'a whole number from 30 to 3600 (seconds a rollout may go without progress before Kubernetes marks it failed)';
    for (const value of ['29', '3601', 'ten minutes', '60.5']) {
      expect(problemsOf({ progressDeadlineSeconds: value })).toEqual([
        { key: 'pavemaster:progressDeadlineSeconds', value, allowed },
      ]);
    }
    // With every other problem, at once.
    expect(problemsOf({ progressDeadlineSeconds: '0', port: '80' }).map((p) => p.key)).toEqual(
      expect.arrayContaining(['pavemaster:progressDeadlineSeconds', 'pavemaster:port']),
    );
  });

  it('is checked by the component itself too', () => {
    expect(() =>
      resolveBlueGreenAppArgs('app', {
        namespace: 'ns',
        slots: { blue: { image: 'web:1', version: '1' }, green: { image: 'web:1', version: '1' } },
        progressDeadlineSeconds: 5,
      }),
    ).toThrow(/progressDeadlineSeconds.*5.*a whole number from 30 to 3600/s);
  });

  it("gives pulumi up's Deployment await the deadline and a minute, never less than the provider's ten minutes", () => {
    expect(deploymentAwaitTimeouts(600)).toEqual({ create: '660s', update: '660s' });
    expect(deploymentAwaitTimeouts(1800)).toEqual({ create: '1860s', update: '1860s' });
    expect(deploymentAwaitTimeouts(60)).toEqual({ create: '600s', update: '600s' });
  });
});
