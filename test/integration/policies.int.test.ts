/**
 * Every policy of the pack, through the real engine: a real `pulumi preview --policy-pack policy
 * --policy-pack-config policy/config/<stack>.json` of a stack that violates it fails with that policy's name and
 * message, and only that policy fires. The violating stacks are
 *
 * - the fixture program test/fixtures/policy (one case per policy, selected by `fixture:case`, and a compliant
 *   case the pack passes), run from a temporary copy with its own file backend; it renders YAML instead of
 *   talking to a cluster, so the policy pack sees exactly what the engine registers;
 * - the PaveMaster program itself, where a stack's config alone can break a rule: staging's settings checked
 *   against production's policy config (tag-pinned images, unprotected stateful data), and a production stack
 *   that asks for a LoadBalancer Service.
 *
 * The list of policies comes from the pack (policy/policies/all.ts): a policy added without a case here fails
 * the first test.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ALL_POLICIES } from '../../policy/policies/all';
import { linkNodeModules } from './faults/project';
import { repoRoot, RunResult, ThrowawayStack, toolEnv } from './helpers';

jest.setTimeout(30 * 60 * 1000);

/** What each policy's case must print (whitespace-insensitive). */
const EXPECTED: Record<string, RegExp> = {
  'pod-security-restricted': /Deployment fixture\/web-blue container "web": privileged is true\./,
  'container-resources': /Deployment fixture\/web-blue container "web" sets no [^.]*limits/,
  'image-pinning':
    /Deployment fixture\/web-blue container "web": "example\/web:latest" uses the tag latest\./,
  'no-plaintext-secrets':
    /Deployment fixture\/web-blue container "web": env DB_PASSWORD looks like a secret but has a plain value/,
  'no-external-services': /Service fixture\/web is of type LoadBalancer/,
  'rbac-no-wildcards': /Role fixture\/reader rule 0: verbs contains a wildcard \(\*\)/,
  'namespace-default-deny': /Namespace fixture has no default-deny NetworkPolicy/,
  'stateful-resources-protected': /StatefulSet fixture\/db has volumeClaimTemplates but is not protected/,
  'blue-green-slots': /App fixture\/web has a blue Deployment but no green twin\./,
  'long-running-probes': /Deployment fixture\/web-blue container "web" has no livenessProbe:/,
  'pod-disruption-budget':
    /Deployment fixture\/web-blue runs 2 replicas but no PodDisruptionBudget selects its pods/,
  'ingress-tls': /Ingress fixture\/web has no tls section: it would serve plain HTTP\./,
};

function policyFlags(config: 'staging' | 'production'): string[] {
  return [
    '--policy-pack',
    path.join(repoRoot, 'policy'),
    '--policy-pack-config',
    path.join(repoRoot, 'policy', 'config', `${config}.json`),
  ];
}

/** The output with runs of whitespace collapsed (the CLI indents and may wrap messages). */
function flat(r: RunResult): string {
  return `${r.stdout}\n${r.stderr}`.replace(/\s+/g, ' ');
}

/** The policies the preview reports at `level`, by name. */
function reported(r: RunResult, level: 'mandatory' | 'advisory'): string[] {
  const names = new Set<string>();
  // "- [mandatory] [severity: critical]  pod-security-restricted  (kubernetes:apps/v1:Deployment: web-blue)"
  for (const m of flat(r).matchAll(
    new RegExp(`\\[${level}\\] (?:\\[severity: [a-z]+\\] )?([a-z0-9-]+)`, 'g'),
  )) {
    names.add(m[1]);
  }
  return [...names].sort();
}

describe('the policy pack through the engine: the fixture program', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-policy-fixture-'));
  const stack = 'fixture';
  // No KUBECONFIG: the fixture's provider renders YAML, which the provider refuses together with a kubeconfig.
  const env: NodeJS.ProcessEnv = { ...toolEnv(), PULUMI_BACKEND_URL: `file://${path.join(dir, '.state')}` };
  delete env.KUBECONFIG;

  function pulumi(args: string[]): Promise<RunResult> {
    return runIn(dir, env, 'pulumi', [...args, '--stack', stack, '--non-interactive']);
  }

  beforeAll(async () => {
    const source = path.join(repoRoot, 'test', 'fixtures', 'policy');
    for (const f of ['Pulumi.yaml', 'package.json', 'index.ts', 'tsconfig.json']) {
      fs.copyFileSync(path.join(source, f), path.join(dir, f));
    }
    linkNodeModules(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    fs.mkdirSync(path.join(dir, '.state'));
    const init = await runIn(dir, env, 'pulumi', ['stack', 'init', stack, '--non-interactive']);
    expect(init.code).toBe(0);
    const set = await pulumi(['config', 'set', 'fixture:renderDir', path.join(dir, 'rendered')]);
    expect(set.code).toBe(0);
  });

  afterAll(async () => {
    await pulumi(['stack', 'rm', '--yes', '--force']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function preview(which: string, config: 'staging' | 'production'): Promise<RunResult> {
    const set = await pulumi(['config', 'set', 'fixture:case', which]);
    expect(set.code).toBe(0);
    return pulumi(['preview', ...policyFlags(config)]);
  }

  it('has a case for every policy of the pack', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(ALL_POLICIES.map((p) => p.name).sort());
  });

  it('passes the compliant case with every policy run', async () => {
    const r = await preview('compliant', 'production');
    expect(reported(r, 'mandatory')).toEqual([]);
    expect(reported(r, 'advisory')).toEqual([]);
    expect(r.code).toBe(0);
    expect(flat(r)).toMatch(/Policies: ✅ pavemaster@v[\d.]+ \(local: /);
  });

  it.each(Object.keys(EXPECTED))('a violation of %s fails the preview with its message', async (policy) => {
    const r = await preview(policy, 'production');
    expect(r.code).not.toBe(0);
    expect(reported(r, 'mandatory')).toEqual([policy]);
    expect(flat(r)).toMatch(EXPECTED[policy]);
  });

  it("staging's policy config reports unprotected stateful data as advisory only, and does not block", async () => {
    const r = await preview('stateful-resources-protected', 'staging');
    expect(reported(r, 'advisory')).toEqual(['stateful-resources-protected']);
    expect(reported(r, 'mandatory')).toEqual([]);
    expect(flat(r)).toMatch(EXPECTED['stateful-resources-protected']);
    expect(r.code).toBe(0);
  });
});

describe('the policy pack through the engine: the PaveMaster program', () => {
  const stacks: ThrowawayStack[] = [];

  afterAll(async () => {
    for (const s of stacks) {
      await s.dispose();
    }
  });

  it("refuses staging's settings under production's policy config: tag-pinned images, unprotected data, no TLS", async () => {
    const s = await ThrowawayStack.create('policy-stg-as-prod', 'staging', { namespace: 'pm-policy-stg' });
    stacks.push(s);
    const passes = await s.pulumiResult(['preview', ...policyFlags('staging')]);
    expect(reported(passes, 'mandatory')).toEqual([]);
    expect(passes.code).toBe(0);

    const r = await s.pulumiResult(['preview', ...policyFlags('production')]);
    expect(r.code).not.toBe(0);
    expect(reported(r, 'mandatory')).toEqual([
      'image-pinning',
      'ingress-tls',
      'stateful-resources-protected',
    ]);
    expect(flat(r)).toMatch(
      /Deployment pm-policy-stg\/pavemaster-blue container "[a-z-]+": "pavemaster\/web:1\.0\.0" is not pinned by digest/,
    );
    expect(flat(r)).toMatch(/StatefulSet pm-policy-stg-\S+ has volumeClaimTemplates but is not protected/);
    expect(flat(r)).toMatch(/Ingress pm-policy-stg\/\S+ has no tls section/);
  });

  it('refuses a production stack that asks for a LoadBalancer Service', async () => {
    const s = await ThrowawayStack.create('policy-prod-lb', 'production', {
      namespace: 'pm-policy-lb',
      allowExternalServices: 'true',
      serviceType: 'LoadBalancer',
    });
    stacks.push(s);
    const r = await s.pulumiResult(['preview', ...policyFlags('production')]);
    expect(r.code).not.toBe(0);
    expect(reported(r, 'mandatory')).toEqual(['no-external-services']);
    expect(flat(r)).toMatch(/Service pm-policy-lb\/pavemaster is of type LoadBalancer/);
  });
});

/** Runs a command in `cwd` with `env` (never throws for a non-zero exit). */
function runIn(cwd: string, env: NodeJS.ProcessEnv, cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
