/**
 * The security workflow's jobs (security.yml), run step by step from the workflow file by the local runner, as
 * the daily schedule and a pull request run them: npm audit in the mode CI uses (against the npm registry's
 * advisories), the license allowlist, gitleaks over the whole history of the checkout, Trivy's misconfiguration
 * scan of the IaC and of the rendered manifests (Trivy built from the Go module proxy by the workflow's own
 * step), and CodeQL and the dependency review checked up to GitHub (their inputs; each SARIF file the jobs
 * would upload is parsed as SARIF 2.1.0).
 *
 * Not here: a vulnerability scan of the reference image. Trivy builds, but its vulnerability database is
 * published only as an OCI artifact on a container registry (and built from repositories on GitHub), neither of
 * which this machine may reach, and no package registry ships one; the image's npm dependencies are audited by
 * the npm-audit job (examples/web) instead.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  BoundaryLog,
  boundary,
  checkout,
  codeqlInit,
  setupGo,
  setupNode,
  sharedNpmCi,
  uploadSarif,
} from '../unit/pipeline/runner/actions';
import { Origin } from '../unit/pipeline/runner/origin';
import { JobRecord, LocalRunner } from '../unit/pipeline/runner/runner';
import { repoRoot, toolEnv } from './helpers';

jest.setTimeout(45 * 60 * 1000);

let root: string;
let origin: Origin;
const boundaries: BoundaryLog = { calls: [] };
let jobs: Record<string, JobRecord>;

function failures(job: JobRecord | undefined): string[] {
  return (job?.steps ?? [])
    .filter((s) => s.outcome === 'failure')
    .map((s) => `${s.name} (exit ${s.exitCode ?? '?'}): ${s.output.split('\n').slice(-20).join('\n')}`);
}

function runner(
  event: { name: string; payload: Record<string, unknown> },
  assume?: Record<string, { result: JobRecord['result'] }>,
) {
  const env = toolEnv();
  const toolchainBin = path.join(env.PAVEMASTER_TOOLCHAIN ?? '', 'bin');
  return new LocalRunner(repoRoot, {
    // One install for every job's `npm ci` (the lockfile is this checkout's): minutes per job otherwise.
    standIn: sharedNpmCi(repoRoot),
    repository: 'acme/pavemaster',
    root: fs.mkdtempSync(path.join(root, 'run-')),
    event: {
      name: event.name,
      ref: 'refs/heads/main',
      sha: origin.head('main'),
      payload: JSON.parse(JSON.stringify(event.payload)),
    },
    secrets: { GITHUB_TOKEN: 'ghs_securityJobTestsLocalToken' },
    actions: {
      'actions/checkout': checkout(origin.dir),
      'actions/setup-node': setupNode,
      'actions/setup-go': setupGo,
      'github/codeql-action/init': codeqlInit(boundaries),
      'github/codeql-action/analyze': boundary(boundaries, ['category']),
      'github/codeql-action/upload-sarif': uploadSarif(boundaries),
      'actions/dependency-review-action': boundary(boundaries, ['fail-on-severity']),
    },
    baseEnv: {
      // The toolchain's pulumi and kubectl are not on a fresh runner's PATH: no job here may need them.
      PATH: (env.PATH ?? '')
        .split(':')
        .filter((p) => p !== toolchainBin)
        .join(':'),
      HOME: os.homedir(),
      GOPATH: env.GOPATH ?? path.join(os.homedir(), 'go'),
      PAVEMASTER_CACHE: env.PAVEMASTER_CACHE ?? '',
      // On GitHub Trivy fetches its newest checks bundle from a container registry; here it uses the bundle it
      // embeds, and its step runs in a network namespace without interfaces, so it cannot reach out at all.
      TRIVY_SKIP_CHECK_UPDATE: 'true',
      TRIVY_SKIP_VERSION_CHECK: 'true',
    },
    wrapRun: (run) => (run.includes('trivy-config.sh') ? ['unshare', '-n'] : undefined),
    assume,
  });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-security-'));
  origin = Origin.create(repoRoot, root);
  const list = await runner({ name: 'schedule', payload: {} }).run('security.yml');
  jobs = Object.fromEntries(list.map((j) => [j.id, j]));
});

afterAll(() => {
  if (root !== undefined) {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

describe('security.yml on its daily schedule', () => {
  it('runs every job but the dependency review (pull requests only)', () => {
    expect(
      Object.fromEntries(Object.values(jobs).map((j) => [j.id, j.result === 'skipped' ? 'skipped' : 'ran'])),
    ).toEqual({
      codeql: 'ran',
      'dependency-review': 'skipped',
      'npm-audit': 'ran',
      licenses: 'ran',
      secrets: 'ran',
      trivy: 'ran',
    });
  });

  it('audits the program, the policy pack and the reference app in the mode CI uses, as npm itself judges them', () => {
    const job = jobs['npm-audit'];
    const audits = job.steps.filter((s) => s.run?.startsWith('npm audit'));
    expect(audits.map((s) => s.run)).toEqual([
      'npm audit --omit=dev --audit-level=high',
      'npm audit --audit-level=critical',
      'npm audit --prefix policy --omit=dev --audit-level=high',
      'npm audit --prefix examples/web --omit=dev --audit-level=high',
    ]);
    // Every project is audited, also after an earlier gate failed.
    expect(audits.map((s) => s.outcome)).not.toContain('skipped');
    // Each gate's verdict is npm's: re-ask the registry for the same counts in JSON and compare. Where the
    // registry does not answer the advisory query (this machine's answers 405: GET and HEAD only), npm could not
    // audit, and the gate must fail closed, saying so.
    for (const s of audits.filter((x) => x.run?.includes('--audit-level=high'))) {
      const args = (s.run ?? '').split(' ').slice(1);
      let report: { metadata?: { vulnerabilities?: Record<string, number> }; statusCode?: number } = {};
      try {
        report = JSON.parse(
          execFileSync('npm', [...args, '--json'], { cwd: job.dirs?.workspace, encoding: 'utf8' }),
        ) as typeof report;
      } catch (e) {
        report = JSON.parse(String((e as { stdout?: string }).stdout ?? '{}')) as typeof report;
      }
      if (report.metadata === undefined) {
        expect([s.run, report.statusCode, s.outcome]).toEqual([s.run, report.statusCode, 'failure']);
        expect(s.output).toContain('audit endpoint returned an error');
        continue;
      }
      const v = report.metadata.vulnerabilities ?? {};
      const gated = (v.high ?? 0) + (v.critical ?? 0);
      expect([s.run, s.outcome]).toEqual([s.run, gated === 0 ? 'success' : 'failure']);
      expect(s.output).toMatch(/vulnerabilit/);
    }
    // The report-only audit never fails the job.
    expect(job.steps.find((s) => s.run === 'npm audit --audit-level=critical')?.conclusion).toBe('success');
  });

  it('passes the license allowlist on both projects', () => {
    expect(failures(jobs.licenses)).toEqual([]);
    expect(jobs.licenses.steps.find((s) => s.run === 'scripts/check-licenses')?.output).toMatch(
      /check-licenses: \d{3,} packages in 2 project\(s\), 0 not allowed/,
    );
  });

  it('scans the whole history for secrets and hands GitHub a SARIF report', () => {
    expect(failures(jobs.secrets)).toEqual([]);
    const upload = boundaries.calls.find(
      (c) => c.job === 'secrets' && c.action === 'github/codeql-action/upload-sarif',
    );
    expect(upload?.inputs.category).toBe('gitleaks');
    expect(upload?.detail).toEqual({ tools: ['gitleaks'], results: 0 });
  });

  it('builds Trivy from the module proxy, scans IaC and rendered manifests, and gates on HIGH and CRITICAL', () => {
    const job = jobs.trivy;
    expect(failures(job)).toEqual([]);
    const uploads = boundaries.calls.filter((c) => c.job === 'trivy').map((c) => c.inputs.category);
    expect(uploads.sort()).toEqual(['trivy-iac', 'trivy-manifests']);
    for (const c of boundaries.calls.filter((x) => x.job === 'trivy')) {
      expect((c.detail as { tools: string[] }).tools).toEqual(['Trivy']);
    }
  });

  it('accepts only the listed findings: the same checks on any other workload fail the gate', () => {
    const job = jobs.trivy;
    const trivy = path.join(job.dirs?.temp ?? '', 'bin', 'trivy');
    const dir = fs.mkdtempSync(path.join(root, 'gate-'));
    // What is accepted for node-exporter and two named ConfigMaps, on a DaemonSet and a ConfigMap of other names.
    fs.writeFileSync(
      path.join(dir, 'manifests.yaml'),
      [
        'apiVersion: apps/v1',
        'kind: DaemonSet',
        'metadata: { name: node-agent, namespace: x-monitoring-node }',
        'spec:',
        '  selector: { matchLabels: { a: b } }',
        '  template:',
        '    metadata: { labels: { a: b } }',
        '    spec:',
        '      hostNetwork: true',
        '      containers: [{ name: c, image: "busybox@sha256:' + '0'.repeat(64) + '" }]',
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: { name: app-settings, namespace: x }',
        'data: { password: hunter2-not-a-reference }',
        '',
      ].join('\n'),
    );
    const out = path.join(root, 'gate-out');
    let code = 0;
    let output = '';
    try {
      execFileSync('unshare', ['-n', '.github/scripts/trivy-config.sh', trivy, dir, out], {
        cwd: job.dirs?.workspace,
        env: { ...process.env, TRIVY_SKIP_CHECK_UPDATE: 'true', TRIVY_SKIP_VERSION_CHECK: 'true' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { status?: number; stdout?: string; stderr?: string };
      code = err.status ?? 1;
      output = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    }
    expect(code).toBe(1);
    expect(output).toContain(
      "DaemonSet 'node-agent' should not set 'spec.template.spec.hostNetwork' to true",
    );
    expect(output).toContain("ConfigMap 'app-settings'");
  });

  it('checks CodeQL up to GitHub: a language with sources here, build mode none, a documented query suite', () => {
    expect(failures(jobs.codeql)).toEqual([]);
    expect(boundaries.calls.filter((c) => c.job === 'codeql').map((c) => c.action)).toEqual([
      'github/codeql-action/init',
      'github/codeql-action/analyze',
    ]);
  });
});

describe('security.yml on a pull request', () => {
  it('runs the dependency review too (checked up to GitHub)', async () => {
    // Only the job a pull request adds; the others ran above with the same steps.
    const same = { result: 'success' as const };
    const list = await runner(
      { name: 'pull_request', payload: { pull_request: { number: 3 } } },
      { codeql: same, 'npm-audit': same, licenses: same, secrets: same, trivy: same },
    ).run('security.yml');
    const review = list.find((j) => j.id === 'dependency-review');
    expect(failures(review)).toEqual([]);
    expect(review?.result).toBe('success');
    expect(boundaries.calls.find((c) => c.action === 'actions/dependency-review-action')?.inputs).toEqual({
      'fail-on-severity': 'high',
    });
  });
});
