/**
 * The independent scanners agree that what we deploy is clean: checkov and kube-score (real binaries, from
 * scripts/setup/scanners.sh) run on both stacks' rendered manifests and report no failed check beyond the ones
 * turned off in policy/scanners/ (each with its reason); a deliberately weakened manifest makes both fail, and
 * the policy pack refuse it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { podSecurityViolations } from '../../../policy/policies/podSecurity';
import { workload } from '../../../policy/lib/kubernetes';
import {
  acceptances,
  covers,
  describeFinding,
  Finding,
  Manifest,
  readManifests,
  renderWithCli,
  runCheckov,
  runKubeScore,
  Scanner,
  ScanResult,
  STACKS,
} from './scanners';

jest.setTimeout(600_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-scan-'));
const files = new Map<string, string>();
const manifests = new Map<string, Manifest[]>();
const results = new Map<string, Record<Scanner, ScanResult>>();

beforeAll(() => {
  const rendered = renderWithCli(dir);
  expect(rendered.status).toBe(0);
  for (const stack of STACKS) {
    const file = path.join(dir, stack, 'manifests.yaml');
    files.set(stack, file);
    manifests.set(stack, readManifests(file));
  }
  for (const stack of STACKS) {
    const file = files.get(stack) ?? '';
    results.set(stack, { checkov: runCheckov(file, stack), 'kube-score': runKubeScore(file) });
  }
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function unaccepted(scanner: Scanner, failed: Finding[]): string[] {
  const accepted = acceptances(scanner);
  return failed.filter((f) => !accepted.some((a) => covers(a, f))).map(describeFinding);
}

describe.each(STACKS)('the %s stack', (stack) => {
  it.each(['checkov', 'kube-score'] as const)('passes %s with zero unaccepted failures', (scanner) => {
    const result = results.get(stack)?.[scanner];
    expect(result).toBeDefined();
    if (!result) {
      return;
    }
    // The scanner really looked at the workloads: it passed checks on them.
    expect(result.passed).toBeGreaterThan(100);
    for (const w of result.warnings) {
      console.log(`${stack}: warning: ${describeFinding(w)}`);
    }
    expect(unaccepted(scanner, result.failed)).toEqual([]);
  });
});

it('accepts no finding that no longer occurs (accepted.yaml stays minimal)', () => {
  for (const scanner of ['checkov', 'kube-score'] as const) {
    const all = STACKS.flatMap((stack) => results.get(stack)?.[scanner].failed ?? []);
    const stale = acceptances(scanner).filter((a) => !all.some((f) => covers(a, f)));
    expect(stale.map((a) => `${scanner} ${a.check} ${a.kind} ${a.namespace}/${a.name}`)).toEqual([]);
  }
});

describe('a deliberately weakened manifest', () => {
  function privileged(): Manifest {
    const app = manifests
      .get('production')
      ?.find((m) => m.kind === 'Deployment' && m.metadata.name === 'pavemaster-blue');
    if (!app) {
      throw new Error('the production app Deployment was not rendered');
    }
    const copy = JSON.parse(JSON.stringify(app)) as Manifest & {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    const container = copy.spec.template.spec.containers[0];
    container.securityContext = {
      ...(container.securityContext as object),
      privileged: true,
      allowPrivilegeEscalation: true,
    };
    return copy;
  }

  it('is refused by the policy pack', () => {
    const m = privileged();
    const w = workload('kubernetes:apps/v1:Deployment', m, 'weakened');
    expect(w).toBeDefined();
    expect(podSecurityViolations(w!)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('privileged is true'),
        expect.stringContaining('allowPrivilegeEscalation must be set to false'),
      ]),
    );
  });

  it('fails checkov and kube-score', () => {
    const file = path.join(dir, 'weakened.yaml');
    fs.writeFileSync(file, stringify(privileged()));
    const checkov = runCheckov(file, 'production').failed.map((f) => f.check);
    expect(checkov).toEqual(expect.arrayContaining(['CKV_K8S_16', 'CKV_K8S_20']));
    const kubeScore = runKubeScore(file).failed.map((f) => f.check);
    expect(kubeScore).toContain('container-security-context-privileged');
  });
});
