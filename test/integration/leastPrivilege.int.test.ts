/**
 * Least privilege of the deploying identity (issue 17), on the real API server (it authorizes with RBAC:
 * `--authorization-mode=Node,RBAC`) with the real engine: the namespaced profile (`createNamespace`,
 * `monitoring.enabled` and `logging.enabled` false, plus the dashboards for a cluster's own Grafana) is previewed
 * and deployed by a ServiceAccount bound to exactly the Role of docs/rbac/deployer-namespaced.yaml, through a
 * kubeconfig holding only that ServiceAccount's token. With one rule taken out of the Role (NetworkPolicies),
 * the next update that changes a NetworkPolicy fails, naming the resource, the verb and the identity.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { RunResult, ThrowawayStack, dig, kubectlJson, repoRoot, run, runOk, toolEnv } from './helpers';

jest.setTimeout(20 * 60 * 1000);

const NS = 'pm-least';
const SA = 'deployer';
const IDENTITY = `system:serviceaccount:${NS}:${SA}`;
const ROLE_FILE = path.join(repoRoot, 'docs', 'rbac', 'deployer-namespaced.yaml');

interface Role {
  metadata: { name: string };
  rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
}

/** `kubectl apply -n NS` of one object. */
async function apply(obj: unknown): Promise<void> {
  const r = await run('kubectl', ['apply', '-n', NS, '-f', '-'], { input: JSON.stringify(obj) });
  if (r.code !== 0) {
    throw new Error(`kubectl apply failed: ${r.stderr}`);
  }
}

describe('the namespaced profile deployed by an identity with only the documented Role', () => {
  let stack: ThrowawayStack;
  let dir: string;
  let kubeconfig: string;
  const role = parse(fs.readFileSync(ROLE_FILE, 'utf8')) as Role;

  /** `pulumi <args>` of the stack as the ServiceAccount (its kubeconfig, nothing else changed). */
  const asDeployer = (args: readonly string[]): Promise<RunResult> =>
    new Promise((resolve) => {
      execFile(
        'pulumi',
        [...args, '--stack', stack.name, '--config-file', stack.configFile, '--non-interactive'],
        {
          cwd: repoRoot,
          env: { ...toolEnv(), KUBECONFIG: kubeconfig },
          maxBuffer: 64 * 1024 * 1024,
          timeout: 10 * 60 * 1000,
          encoding: 'utf8',
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    await runOk('kubectl', [
      'delete',
      'namespace',
      NS,
      '--ignore-not-found',
      '--wait=true',
      '--timeout=120s',
    ]);
    // The cluster's admins: the namespace, the ServiceAccount, the Role and its binding.
    await runOk('kubectl', ['create', 'namespace', NS]);
    await runOk('kubectl', ['create', 'serviceaccount', SA, '-n', NS]);
    await apply(role);
    await runOk('kubectl', [
      'create',
      'rolebinding',
      'pavemaster-deployer',
      '-n',
      NS,
      '--role',
      role.metadata.name,
      '--serviceaccount',
      `${NS}:${SA}`,
    ]);
    // A kubeconfig with the cluster's server and CA and only the ServiceAccount's token.
    const current = await kubectlJson(['config', 'view', '--raw', '--minify']);
    const cluster = (dig(current, 'clusters') as { cluster: Record<string, unknown> }[])[0].cluster;
    const token = (await runOk('kubectl', ['create', 'token', SA, '-n', NS, '--duration=1h'])).trim();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-least-'));
    kubeconfig = path.join(dir, 'kubeconfig.yaml');
    fs.writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster }],
        users: [{ name: SA, user: { token } }],
        contexts: [{ name: 'deployer', context: { cluster: 'local', user: SA, namespace: NS } }],
        'current-context': 'deployer',
      }),
      { mode: 0o600 },
    );
    stack = await ThrowawayStack.create('least', 'staging', { namespace: NS });
    for (const [key, value] of [
      ['createNamespace', 'false'],
      ['monitoring.enabled', 'false'],
      ['logging.enabled', 'false'],
      ['monitoring.dashboards.configMaps.enabled', 'true'],
    ]) {
      await stack.pulumi(['config', 'set', '--path', `pavemaster:${key}`, value]);
    }
  });

  afterAll(async () => {
    // The admin's kubeconfig removes what is left, whatever the Role allowed.
    await stack?.remove();
    await run('kubectl', ['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
    if (dir !== undefined) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is an identity with namespaced rights only', async () => {
    const can = async (...args: string[]) =>
      (await run('kubectl', ['auth', 'can-i', ...args, `--as=${IDENTITY}`])).stdout.trim();
    expect(await can('create', 'deployments', '-n', NS)).toBe('yes');
    expect(await can('create', 'namespaces')).toBe('no');
    expect(await can('create', 'clusterroles')).toBe('no');
    expect(await can('create', 'deployments', '-n', 'default')).toBe('no');
    expect(await can('create', 'daemonsets', '-n', NS)).toBe('no');
  });

  it('previews and deploys the stack as that identity', async () => {
    const preview = await asDeployer(['preview']);
    expect({ code: preview.code, err: preview.stderr.slice(-2000) }).toEqual({
      code: 0,
      err: expect.any(String),
    });
    const up = await asDeployer(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: (up.stdout + up.stderr).slice(-3000) }).toEqual({
      code: 0,
      out: expect.any(String),
    });
    const types = (await stack.resources()).map((r) => r.type);
    expect(types).toContain('pavemaster:app:BlueGreenApp');
    expect(types).toContain('pavemaster:monitoring:GrafanaSidecarObjects');
    expect(types).not.toContain('kubernetes:core/v1:Namespace');
    expect(types.filter((t) => t.includes('ClusterRole'))).toEqual([]);
    const deployment = await kubectlJson(['get', 'deployment', 'pavemaster-blue', '-n', NS]);
    expect(dig(deployment, 'metadata', 'name')).toBe('pavemaster-blue');
  });

  it('fails clearly, naming resource, verb and identity, when the Role lacks a rule the update needs', async () => {
    const reduced = {
      ...role,
      rules: role.rules.filter((r) => !r.resources.includes('networkpolicies')),
    };
    expect(reduced.rules.length).toBe(role.rules.length - 1);
    await apply(reduced);
    try {
      // A new ingress source changes the app's NetworkPolicy.
      await stack.pulumi(['config', 'set', '--path', 'pavemaster:ingressFrom[0].namespace', 'ingress-nginx']);
      const up = await asDeployer(['up', '--yes', '--skip-preview']);
      const out = up.stdout + up.stderr;
      expect(up.code).not.toBe(0);
      expect(out).toMatch(/networkpolicies\.networking\.k8s\.io "[^"]+" is forbidden/);
      expect(out).toContain(`User "${IDENTITY}" cannot`);
    } finally {
      await apply(role);
    }
    // With the rule back, the same update goes through.
    const again = await asDeployer(['up', '--yes', '--skip-preview']);
    expect({ code: again.code, out: (again.stdout + again.stderr).slice(-3000) }).toEqual({
      code: 0,
      out: expect.any(String),
    });
  });
});
