/**
 * The manifests the release command applies itself (gate Jobs, the smoke test's egress NetworkPolicy) pass the
 * project's independent scanners (kube-score and checkov, installed by scripts/setup/scanners.sh) with the
 * project's own flags and acceptances, like the program's rendered manifests do.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { jobManifest, smokeCommand, smokeEgressPolicy } from '../../../release/gates';
import {
  acceptances,
  covers,
  describeFinding,
  runCheckov,
  runKubeScore,
  ScanResult,
} from '../security/scanners';
import { parseReleaseFor } from './support';

jest.setTimeout(300_000);

function unaccepted(result: ScanResult, scanner: 'kube-score' | 'checkov'): string[] {
  const accepted = acceptances(scanner);
  return result.failed.filter((f) => !accepted.some((a) => covers(a, f))).map(describeFinding);
}

describe('release gate manifests under the scanners', () => {
  let dir: string;
  let file: string;
  beforeAll(() => {
    const jobs = parseReleaseFor({}).jobs;
    const base = {
      app: 'pavemaster',
      namespace: 'pavemaster-staging',
      releaseId: 'r20260105-090000',
      slot: 'green' as const,
      jobs,
    };
    const docs = [
      jobManifest({
        ...base,
        gate: 'migration',
        image: 'pavemaster/web:2.0.0',
        command: ['./bin/migrate', 'up'],
        timeoutSeconds: 900,
      }),
      jobManifest({
        ...base,
        gate: 'smoke',
        image: 'curlimages/curl:8.11.1',
        command: smokeCommand('http://pavemaster-preview.pavemaster-staging.svc', ['/healthz'], 5),
        timeoutSeconds: 300,
      }),
      smokeEgressPolicy('pavemaster', 'pavemaster-staging', 8080),
      // The app's own ingress policy (BlueGreenApp's `<app>-allow-ingress`) selects every pod with `app`, the gate
      // pods included; with the namespace's default deny it is what the scanners look for.
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'pavemaster-allow-ingress', namespace: 'pavemaster-staging' },
        spec: {
          podSelector: { matchLabels: { app: 'pavemaster' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
        },
      },
    ];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'release-scan-'));
    file = path.join(dir, 'release-manifests.yaml');
    fs.writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('kube-score finds nothing unaccepted', () => {
    const result = runKubeScore(file);
    expect(result.passed).toBeGreaterThan(0);
    expect(unaccepted(result, 'kube-score')).toEqual([]);
  });

  it('checkov finds nothing unaccepted', () => {
    const result = runCheckov(file, 'staging');
    expect(result.passed).toBeGreaterThan(0);
    // Staging's gate Jobs run the release candidate by tag, as staging's app does (accepted.yaml accepts
    // CKV_K8S_43 for the app's Deployments in pavemaster-staging only); every other default check must pass.
    const byTag = result.failed.filter((f) => f.check === 'CKV_K8S_43' && f.kind === 'Job');
    expect(byTag.map((f) => f.name).sort()).toEqual([
      'pavemaster-migration-r20260105-090000',
      'pavemaster-smoke-r20260105-090000',
    ]);
    expect(
      unaccepted({ ...result, failed: result.failed.filter((f) => !byTag.includes(f)) }, 'checkov'),
    ).toEqual([]);
  });
});
