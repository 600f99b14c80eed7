/**
 * The independent scanners agree that what we deploy is clean: checkov and kube-score (real binaries, from
 * scripts/setup/scanners.sh) run with ALL their default checks on both stacks' rendered manifests, and what they
 * still report is exactly the list in policy/scanners/accepted.yaml (one workload per entry, each with its
 * reason): nothing more, and no entry that no longer occurs. A deliberately weakened manifest makes both fail,
 * and the policy pack refuse it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { parseQuantity } from '../../../components/shared/checks';
import { podSecurityViolations } from '../../../policy/policies/podSecurity';
import { workload } from '../../../policy/lib/kubernetes';
import {
  acceptances,
  checkovConfig,
  covers,
  describeFinding,
  Finding,
  kubeScoreFlags,
  Manifest,
  readManifests,
  renderWithCli,
  runCheckov,
  runKubeScore,
  Scanner,
  SCANNERS_DIR,
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

it('runs every default check of both scanners (no config turns one off for all workloads)', () => {
  for (const stack of STACKS) {
    const checkov = parse(fs.readFileSync(checkovConfig(stack), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(checkov).sort()).toEqual(['compact', 'framework']);
  }
  const kubeScore = parse(fs.readFileSync(path.join(SCANNERS_DIR, 'kube-score.yaml'), 'utf8')) as {
    ignoreTests?: unknown[];
  };
  expect(kubeScore.ignoreTests ?? []).toEqual([]);
  expect(kubeScoreFlags()).not.toContain('--ignore-test');
});

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
    const left = unaccepted(scanner, result.failed);
    // The figures docs/security.md gives: failed default checks before and after the accepted list.
    const objects = new Set(result.failed.map((f) => `${f.kind}/${f.namespace}/${f.name}`)).size;
    console.log(
      `${stack}: ${scanner} with its default checks: ${result.passed} passed, ${result.failed.length} failed ` +
        `(on ${objects} workloads), ${left.length} after accepted.yaml`,
    );
    expect(left).toEqual([]);
  });
});

it('accepts no finding that no longer occurs (accepted.yaml stays minimal)', () => {
  for (const scanner of ['checkov', 'kube-score'] as const) {
    const all = STACKS.flatMap((stack) => results.get(stack)?.[scanner].failed ?? []);
    const stale = acceptances(scanner).filter((a) => !all.some((f) => covers(a, f)));
    expect(stale.map((a) => `${scanner} ${a.check} ${a.kind} ${a.namespace}/${a.name}`)).toEqual([]);
  }
});

type PodTemplate = {
  spec: {
    containers: { resources?: { limits?: Record<string, string> } }[];
    volumes?: { emptyDir?: { medium?: string; sizeLimit?: string } }[];
  };
};

function podTemplate(m: Manifest): PodTemplate | undefined {
  const spec = m.spec as
    { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } } | undefined;
  return spec?.template ?? spec?.jobTemplate?.spec.template;
}

// The kubelet evicts a pod whose disk-backed emptyDirs and container logs exceed the sum of its containers'
// ephemeral-storage limits, so those limits (components/shared/resources.ts) must leave each emptyDir its whole
// sizeLimit, plus 64Mi per container for its logs.
it.each(STACKS)("%s: every pod's ephemeral-storage limits cover its emptyDirs and logs", (stack) => {
  const short: string[] = [];
  let pods = 0;
  for (const m of manifests.get(stack) ?? []) {
    const t = podTemplate(m);
    if (!t) {
      continue;
    }
    pods++;
    const limit = t.spec.containers.reduce(
      (sum, c) => sum + (parseQuantity(c.resources?.limits?.['ephemeral-storage'] ?? '0') ?? 0),
      0,
    );
    const scratch = (t.spec.volumes ?? [])
      .filter((v) => v.emptyDir && v.emptyDir.medium !== 'Memory')
      .reduce((sum, v) => sum + (parseQuantity(v.emptyDir?.sizeLimit ?? '0') ?? 0), 0);
    const needed = scratch + t.spec.containers.length * 64 * 2 ** 20;
    if (limit < needed) {
      short.push(`${m.kind} ${m.metadata.namespace ?? ''}/${m.metadata.name ?? ''}: ${limit} < ${needed}`);
    }
  }
  expect(pods).toBeGreaterThan(10);
  expect(short).toEqual([]);
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
