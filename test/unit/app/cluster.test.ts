/**
 * Which cluster: the stack's `pavemaster:kubernetes` checked against a kubeconfig before anything is registered
 * (infra/cluster.ts), with the real kubeconfig reader on files, and production's requirement (stacks/).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import { checkClusterTarget, KubeconfigView, readKubeconfig } from '../../../infra/cluster';
import { record, recordStack } from '../../support/harness';
import { stackConfig } from '../../support/stackConfig';
import { ConfigError, Problems } from '../../../stacks/problems';
import { loadSettings } from '../../../stacks/settings';

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

function check(kubernetes: { context?: string; cluster?: string }, view: KubeconfigView | undefined) {
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
