/**
 * Which image references each committed stack runs, and how they are pulled: staging names by tag the images the
 * local registry builds and serves (scripts/images), so the local cluster runs them for real; production pins
 * every one it can by digest. Every container is pulled `Always`, digest or tag (components/shared/image.ts).
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { IMAGE_PULL_POLICY, parseImageReference } from '../../../components/shared/image';
import { restrictedContainer } from '../../../components/shared/workload';
import { MONITORING_IMAGES } from '../../../components/versions';
import { loadSettings } from '../../../stacks/settings';
import { REPO, stackConfig } from '../../support/stackConfig';

/** Every image reference `scripts/images --list` builds (the second column on of each line). */
function locallyBuilt(): Set<string> {
  const text = execFileSync(path.join(REPO, 'scripts', 'images'), ['--list'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return new Set(
    text
      .split('\n')
      .flatMap((line) => line.trim().split(/\s+/).slice(1))
      .filter((ref) => ref !== ''),
  );
}

const RUN_FOR_REAL = ['prometheus', 'alertmanager', 'nodeExporter', 'blackboxExporter'] as const;
const SIMULATED = ['grafana', 'kubeStateMetrics'] as const;

describe('per-environment image references', () => {
  const staging = loadSettings('staging', stackConfig('staging'));
  const production = loadSettings('production', stackConfig('production'));
  const built = locallyBuilt();

  it('staging names by tag exactly the monitoring and smoke images the local registry builds', () => {
    const refs = [...RUN_FOR_REAL.map((k) => staging.monitoring.images[k]), staging.release.smoke.image];
    expect(refs).toEqual([
      'prom/prometheus:v3.13.1',
      'prom/alertmanager:v0.33.1',
      'prom/node-exporter:v1.12.1',
      'prom/blackbox-exporter:v0.28.0',
      'pavemaster/curl:7.88.1',
    ]);
    expect(refs.filter((r) => !built.has(r))).toEqual([]);
    // The app images the committed staging file deploys are served too.
    expect(
      [staging.app.slots.blue.image, staging.app.slots.green.image].filter((r) => !built.has(r)),
    ).toEqual([]);
  });

  it('staging keeps the digests of what has no build source here (it stays simulated)', () => {
    for (const k of SIMULATED) {
      expect(staging.monitoring.images[k]).toBe(MONITORING_IMAGES[k]);
      expect(parseImageReference(staging.monitoring.images[k])?.digest).toMatch(/^sha256:/);
    }
  });

  it('production pins every monitoring image by digest, and keeps the upstream smoke image', () => {
    for (const [k, ref] of Object.entries(production.monitoring.images)) {
      expect(`${k}: ${parseImageReference(ref)?.digest ?? 'no digest'}`).toMatch(/: sha256:[0-9a-f]{64}$/);
    }
    expect(production.monitoring.images).toEqual(MONITORING_IMAGES);
    expect(production.release.smoke.image).toBe('curlimages/curl:8.11.1');
  });
});

describe('pull policy', () => {
  it('is Always for every restricted container, whether its image is pinned by digest or by tag only', () => {
    expect(IMAGE_PULL_POLICY).toBe('Always');
    const c = (image: string) =>
      restrictedContainer({
        name: 'c',
        image,
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
      }).imagePullPolicy;
    expect(c('prom/prometheus:v3.13.1')).toBe('Always');
    expect(c(MONITORING_IMAGES.alertmanager)).toBe('Always');
    expect(c('pavemaster/web:1.0.0@sha256:' + 'a'.repeat(64))).toBe('Always');
    expect(c('busybox')).toBe('Always');
  });
});
