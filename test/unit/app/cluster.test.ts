/**
 * Which cluster: the stack's `pavemaster:kubernetes` checked against a kubeconfig before anything is registered
 * (infra/cluster.ts), with the real kubeconfig reader on files, and production's requirement (stacks/).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import { checkClusterTarget, KubeconfigView, readKubeconfig } from '../../../infra/cluster';
import { record, recordStack } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';
import { ConfigError, Problems } from '../../../stacks/problems';
import { KubernetesSettings } from '../../../stacks/kubernetes';
import { loadSettings } from '../../../stacks/settings';
import { selfSigned } from '../../support/selfSigned';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-kubeconfig-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, current: string, contexts: Record<string, string>): string {
  const file = path.join(dir, name);
  const entries = Object.entries(contexts)
    .map(([ctx, cluster]) => `  - name: ${ctx}\n    context: {cluster: ${cluster}, user: u}`)
    .join('\n');
  fs.writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: ${current}\ncontexts:\n${entries}\n`,
  );
  return file;
}

const two = (current = 'staging') =>
  readKubeconfig({
    KUBECONFIG: kubeconfig(`two-${current}.yaml`, current, { staging: 'eks-staging', prod: 'eks-prod' }),
  });

function check(kubernetes: KubernetesSettings, view: KubeconfigView | undefined) {
  const problems = new Problems();
  const target = checkClusterTarget({ kubernetes }, view, problems);
  return {
    target,
    problems: problems.list.map((p) => `${p.key} = ${JSON.stringify(p.value)}: ${p.allowed}`),
  };
}

describe('the cluster check', () => {
  test('production through its own context, current and pointing at its cluster, passes', () => {
    expect(check({ context: 'prod', cluster: 'eks-prod' }, two('prod'))).toEqual({
      target: { context: 'prod', cluster: 'eks-prod' },
      problems: [],
    });
  });

  test('production while the current context is staging is refused, with the fix', () => {
    expect(check({ context: 'prod', cluster: 'eks-prod' }, two('staging')).problems).toEqual([
      expect.stringMatching(
        /^pavemaster:kubernetes\.context = "prod": the current context of the kubeconfig \(.*two-staging\.yaml\), which is "staging": refusing .* Fix: `kubectl config use-context prod`/,
      ),
    ]);
  });

  test('a context that points at another cluster is refused, naming the key, the value, the cluster and the fix', () => {
    // The production context re-pointed at the staging cluster (a copied kubeconfig entry, a renamed context).
    const view = readKubeconfig({
      KUBECONFIG: kubeconfig('repointed.yaml', 'prod', { prod: 'eks-staging', other: 'eks-prod' }),
    });
    expect(check({ context: 'prod', cluster: 'eks-prod' }, view).problems).toEqual([
      expect.stringMatching(
        /^pavemaster:kubernetes\.cluster = "eks-prod": the cluster of context "prod", which in the kubeconfig \(.*repointed\.yaml\) is "eks-staging": refusing .* context of cluster "eks-prod" \(in this kubeconfig: "other"\)/,
      ),
    ]);
  });

  test('an unknown context is refused with the contexts the kubeconfig has', () => {
    expect(check({ context: 'production', cluster: 'eks-prod' }, two()).problems).toEqual([
      expect.stringMatching(
        /^pavemaster:kubernetes\.context = "production": a context of the kubeconfig .*, which has "staging", "prod"\. Fix: /,
      ),
    ]);
  });

  test('staging without settings deploys through the current context, unchecked', () => {
    expect(check({}, two())).toEqual({
      target: { context: 'staging', cluster: 'eks-staging' },
      problems: [],
    });
    expect(check({}, two('prod'))).toEqual({
      target: { context: 'prod', cluster: 'eks-prod' },
      problems: [],
    });
  });

  test('a named cluster alone is checked against the current context', () => {
    expect(check({ cluster: 'eks-prod' }, two()).problems).toEqual([
      expect.stringContaining('pavemaster:kubernetes.cluster = "eks-prod": the cluster of context "staging"'),
    ]);
  });

  test('KUBECONFIG path lists: the first file that sets a value wins, missing files are skipped', () => {
    const a = kubeconfig('a.yaml', 'a', { a: 'cluster-a' });
    const b = kubeconfig('b.yaml', 'b', { a: 'cluster-b', b: 'cluster-b' });
    const view = readKubeconfig({ KUBECONFIG: [path.join(dir, 'missing.yaml'), a, b].join(path.delimiter) });
    expect(view).toEqual({
      files: [a, b],
      currentContext: 'a',
      contexts: { a: 'cluster-a', b: 'cluster-b' },
      clusters: {},
    });
    expect(readKubeconfig({ KUBECONFIG: path.join(dir, 'missing.yaml') })).toBeUndefined();
  });

  test('no kubeconfig at all: a named context is refused; an unnamed one is left to the provider', () => {
    expect(check({ context: 'prod', cluster: 'eks-prod' }, undefined).problems).toEqual([
      expect.stringContaining(
        'pavemaster:kubernetes.context = "prod": a context (cluster) of the kubeconfig, but there is no kubeconfig',
      ),
    ]);
    expect(check({}, undefined)).toEqual({ target: {}, problems: [] });
  });
});

/** A self-signed CA made by openssl, and its SHA-256 fingerprint as `openssl x509 -fingerprint` prints it. */
function ca(name: string): { pem: string; fingerprint: string } {
  const { certFile: crt, pem } = selfSigned(dir, name, { cn: name });
  const out = execFileSync('openssl', ['x509', '-in', crt, '-noout', '-fingerprint', '-sha256']).toString();
  return { pem, fingerprint: out.trim().replace(/^.*=/, '') };
}

/** A kubeconfig with one context `prod` on cluster `eks-prod`, whose entry names `server` and a CA. */
function withCluster(
  name: string,
  entry: { server?: string; caPem?: string; caFile?: string },
): KubeconfigView | undefined {
  const file = path.join(dir, name);
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'current-context: prod',
    'contexts:',
    '  - name: prod',
    '    context: {cluster: eks-prod, user: u}',
    'clusters:',
    '  - name: eks-prod',
    '    cluster:',
    ...(entry.server !== undefined ? [`      server: ${entry.server}`] : []),
    ...(entry.caPem !== undefined
      ? [`      certificate-authority-data: ${Buffer.from(entry.caPem).toString('base64')}`]
      : []),
    ...(entry.caFile !== undefined ? [`      certificate-authority: ${entry.caFile}`] : []),
  ];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return readKubeconfig({ KUBECONFIG: file });
}

describe("the cluster entry's API server and CA", () => {
  const prodCa = ca('prod-ca');
  const otherCa = ca('other-ca');
  const server = 'https://10.0.0.1:6443';
  const names = { context: 'prod', cluster: 'eks-prod' };

  test('the named server and CA (data, or a file relative to the kubeconfig) pass; colons and case do not matter', () => {
    expect(
      check(
        { ...names, server, caFingerprint: prodCa.fingerprint },
        withCluster('ok.yaml', { server, caPem: prodCa.pem }),
      ).problems,
    ).toEqual([]);
    fs.writeFileSync(path.join(dir, 'prod-ca-copy.crt'), prodCa.pem);
    const fileView = withCluster('ok-file.yaml', { server: `${server}/`, caFile: 'prod-ca-copy.crt' });
    const bare = prodCa.fingerprint.replace(/:/g, '').toLowerCase();
    expect(check({ ...names, server, caFingerprint: bare }, fileView).problems).toEqual([]);
  });

  test('an entry with the right names but another server or another CA is refused, with what it has and the fix', () => {
    const view = withCluster('moved.yaml', { server: 'https://10.9.9.9:6443', caPem: otherCa.pem });
    expect(check({ ...names, server, caFingerprint: prodCa.fingerprint }, view).problems).toEqual([
      expect.stringMatching(
        /^pavemaster:kubernetes\.server = "https:\/\/10\.0\.0\.1:6443": the API server of cluster "eks-prod" \(context "prod"\), which in the kubeconfig \(.*moved\.yaml\) is "https:\/\/10\.9\.9\.9:6443": refusing .* Fix: /,
      ),
      expect.stringContaining(
        `pavemaster:kubernetes.caFingerprint = "${prodCa.fingerprint}": the SHA-256 fingerprint of the CA of cluster "eks-prod" (context "prod"), which in the kubeconfig`,
      ),
    ]);
    expect(check({ ...names, caFingerprint: prodCa.fingerprint }, view).problems[0]).toContain(
      otherCa.fingerprint.replace(/:/g, ''),
    );
  });

  test('an entry without a CA cannot be told from another cluster: refused when a fingerprint is named', () => {
    expect(
      check({ ...names, caFingerprint: prodCa.fingerprint }, withCluster('noca.yaml', { server })).problems,
    ).toEqual([expect.stringContaining('names no CA')]);
    expect(check({ ...names, server }, withCluster('noca.yaml', { server })).problems).toEqual([]);
  });

  test('bad values are refused by the config, naming the key', () => {
    let error: unknown;
    try {
      loadSettings('staging', {
        blueImage: 'pavemaster/web:1.0.0',
        greenImage: 'pavemaster/web:1.0.0',
        kubernetes: JSON.stringify({ server: '10.0.0.1:6443', caFingerprint: 'abc' }),
      });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems.map((p) => p.key)).toEqual([
      'pavemaster:kubernetes.server',
      'pavemaster:kubernetes.caFingerprint',
    ]);
  });
});

describe('the program refuses the wrong cluster before anything is registered', () => {
  const wrong = () =>
    kubeconfig('wrong.yaml', 'kwok-pavemaster', { 'kwok-pavemaster': 'kwok-other', 'kind-x': 'kind-x' });

  afterEach(() => {
    process.env.KUBECONFIG = unitKubeconfig;
  });
  const unitKubeconfig = process.env.KUBECONFIG;

  test("production's committed config through a context re-pointed elsewhere: one error with the config's other problems, no resource", async () => {
    process.env.KUBECONFIG = wrong();
    let error: unknown;
    const registered = await record(() => {
      jest.isolateModules(() => {
        pulumi.runtime.setAllConfig(
          Object.fromEntries(
            Object.entries(stackConfig('production', { replicas: 0 })).map(([k, v]) => [
              `pavemaster:${k}`,
              v,
            ]),
          ),
        );
        try {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          require('../../../infra/index');
        } catch (e) {
          error = e;
        }
      });
    });
    expect(registered.filter((r) => r.type !== 'pulumi:pulumi:Stack')).toEqual([]);
    // The program's own module copy (isolateModules): its ConfigError class, not this file's.
    expect((error as Error).name).toBe('ConfigError');
    const lines = (error as ConfigError).problems.map((p) => `${p.key} = ${JSON.stringify(p.value)}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'pavemaster:replicas = "0"',
        'pavemaster:kubernetes.cluster = "kwok-pavemaster"',
      ]),
    );
    expect((error as ConfigError).message).toMatch(/no resource was registered/);
  });

  test('a server the kubeconfig entry does not name: refused the same way, no resource', async () => {
    let error: unknown;
    const registered = await record(() => {
      jest.isolateModules(() => {
        pulumi.runtime.setAllConfig(
          Object.fromEntries(
            Object.entries(
              stackConfig('production', {
                kubernetes: {
                  context: 'kwok-pavemaster',
                  cluster: 'kwok-pavemaster',
                  server: 'https://10.0.0.1:6443',
                },
              }),
            ).map(([k, v]) => [`pavemaster:${k}`, v]),
          ),
        );
        try {
          // The unit kubeconfig names server https://127.0.0.1:1 for kwok-pavemaster.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          require('../../../infra/index');
        } catch (e) {
          error = e;
        }
      });
    });
    expect(registered.filter((r) => r.type !== 'pulumi:pulumi:Stack')).toEqual([]);
    expect((error as ConfigError).problems.map((p) => `${p.key} = ${JSON.stringify(p.value)}`)).toEqual([
      'pavemaster:kubernetes.server = "https://10.0.0.1:6443"',
    ]);
  });

  test('the same config through the right kubeconfig registers every object through one explicit provider', async () => {
    const { resources } = await recordStack('production', stackConfig('production'));
    const providers = resources.filter((r) => r.type === 'pulumi:providers:kubernetes');
    expect(providers.map((p) => [p.name, p.inputs.context])).toEqual([['kubernetes', 'kwok-pavemaster']]);
    expect(resources.filter((r) => r.type.startsWith('kubernetes:')).length).toBeGreaterThan(50);
  });
});

describe('production must name its cluster', () => {
  const base = {
    blueImage: 'pavemaster/web:1.0.0@sha256:' + 'a'.repeat(64),
    greenImage: 'pavemaster/web:1.0.0@sha256:' + 'a'.repeat(64),
  };

  test('without pavemaster:kubernetes production is refused, both keys listed at once', () => {
    let error: unknown;
    try {
      loadSettings('production', { ...base, replicas: '3' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).problems.map((p) => p.key);
    expect(keys).toEqual(
      expect.arrayContaining(['pavemaster:kubernetes.context', 'pavemaster:kubernetes.cluster']),
    );
  });

  test('staging needs neither', () => {
    expect(
      loadSettings('staging', { blueImage: 'pavemaster/web:1.0.0', greenImage: 'pavemaster/web:1.0.0' })
        .kubernetes,
    ).toEqual({
      context: undefined,
      cluster: undefined,
    });
  });
});
