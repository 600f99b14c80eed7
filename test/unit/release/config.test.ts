import { loadSettings } from '../../../stacks/settings';
import { releaseAnnotations } from '../../../components/shared/release';
import { DEFAULT_ALERTS_QUERY } from '../../../stacks/release';
import { stackConfig } from '../../support/stackConfig';
import { parseReleaseFor } from './support';

describe('pavemaster:release', () => {
  it('defaults to a readiness gate, a smoke test and a short post-promotion window', () => {
    const r = parseReleaseFor({});
    expect(r.problems.list).toEqual([]);
    expect(r).toMatchObject({
      prometheusUrl: undefined,
      readyTimeoutSeconds: 600,
      scaleDownDelaySeconds: 30,
      backup: { command: [] },
      migration: { command: [] },
      // Staging's smoke image is the one the local registry builds and serves (stacks/profiles.ts).
      smoke: { enabled: true, image: 'pavemaster/curl:7.88.1', paths: undefined },
      jobs: { backoffLimit: 0, ttlSecondsAfterFinished: 86400, runAsUser: 10001 },
      postPromotion: {
        windowSeconds: 60,
        intervalSeconds: 15,
        maxErrorRatio: 0.01,
        maxP95Seconds: 1,
        requireCheck: false,
      },
    });
    expect(r.postPromotion.alertsQuery).toBe(DEFAULT_ALERTS_QUERY);
    expect(parseReleaseFor({}, { production: true }).postPromotion.windowSeconds).toBe(300);
    expect(parseReleaseFor({}, { production: true }).smoke.image).toBe('curlimages/curl:8.11.1');
  });

  it('reads every field and each slot release id and time', () => {
    const r = parseReleaseFor({
      release: {
        prometheusUrl: 'http://127.0.0.1:9090',
        migration: { command: ['./migrate'], timeoutSeconds: 120 },
        jobs: { podAnnotations: { 'sidecar.istio.io/inject': 'false' } },
        postPromotion: { windowSeconds: 30, intervalSeconds: 5, maxErrorRatio: 0.05, requireCheck: true },
      },
      greenReleaseId: 'r20260105-090000',
      greenReleasedAt: '2026-01-05T09:00:00Z',
    });
    expect(r.problems.list).toEqual([]);
    expect(r.migration).toEqual({
      command: ['./migrate'],
      image: undefined,
      timeoutSeconds: 120,
      podAnnotations: {},
    });
    expect(r.jobs.podAnnotations).toEqual({ 'sidecar.istio.io/inject': 'false' });
    expect(r.postPromotion).toMatchObject({
      windowSeconds: 30,
      intervalSeconds: 5,
      maxErrorRatio: 0.05,
      requireCheck: true,
    });
    expect(releaseAnnotations(r.slots.green)).toEqual({
      'pavemaster.io/release-id': 'r20260105-090000',
      'pavemaster.io/released-at': '2026-01-05T09:00:00Z',
    });
    expect(releaseAnnotations(r.slots.blue)).toEqual({});
  });

  it('scaleDownDelaySeconds: 30 by default (Argo Rollouts), 0 allowed in staging, at least 30 in production', () => {
    expect(parseReleaseFor({}, { production: true }).scaleDownDelaySeconds).toBe(30);
    const staging = parseReleaseFor({ release: { scaleDownDelaySeconds: 0 } });
    expect(staging.problems.list).toEqual([]);
    expect(staging.scaleDownDelaySeconds).toBe(0);
    const production = parseReleaseFor({ release: { scaleDownDelaySeconds: 5 } }, { production: true });
    expect(production.problems.list).toEqual([
      expect.objectContaining({
        key: 'pavemaster:release.scaleDownDelaySeconds',
        value: 5,
        allowed: expect.stringContaining('from 30 to 3600 (production keeps the old slot until kube-proxy'),
      }),
    ]);
    const bad = parseReleaseFor({ release: { scaleDownDelaySeconds: 'soon' } });
    expect(bad.problems.list.map((p) => p.key)).toEqual(['pavemaster:release.scaleDownDelaySeconds']);
  });

  it("reads back a release time that a hand-edited file left unquoted (Pulumi passes Go's time format)", () => {
    const r = parseReleaseFor({ blueReleasedAt: '2026-11-26 13:11:39 +0000 UTC' });
    expect(r.problems.list).toEqual([]);
    expect(r.slots.blue.releasedAt).toBe('2026-11-26T13:11:39Z');
  });

  it('reports every bad value with its key, and unknown keys', () => {
    const r = parseReleaseFor({
      release: {
        prometheusUrl: 'ftp://x',
        postPromotion: { maxErrorRatio: 2, windowSeconds: 10, intervalSeconds: 30, p95Query: 'x{foo}' },
        smok: {},
      },
      blueReleaseId: 'Not_An_Id',
      blueReleasedAt: 'yesterday',
    });
    expect(r.problems.list.map((p) => p.key)).toEqual([
      'pavemaster:release.prometheusUrl',
      'pavemaster:release.postPromotion.maxErrorRatio',
      'pavemaster:release.postPromotion.p95Query',
      'pavemaster:release.postPromotion.intervalSeconds',
      'pavemaster:release.smok',
      'pavemaster:blueReleaseId',
      'pavemaster:blueReleasedAt',
    ]);
    expect(r.problems.list.find((p) => p.key.endsWith('smok'))?.allowed).toContain(
      'did you mean "pavemaster:release.smoke"',
    );
  });

  it('the committed stacks load (the program side, once the release section is wired into settings)', () => {
    for (const stack of ['staging', 'production']) {
      expect(() => loadSettings(stack, stackConfig(stack))).not.toThrow();
    }
  });
});
