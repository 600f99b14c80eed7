/**
 * The delivery workflows' jobs, run step by step from the real workflow files by the local runner
 * (test/unit/pipeline/runner) against the local cluster and a local file backend:
 *
 *   - pull request: both stacks' policy-gated previews (each with its own policy/config/<stack>.json) and the
 *     one Markdown comment, posted to a local stand-in of GitHub's REST API, created once and edited in place on
 *     the next push, with the traffic line; and the defect that was fixed: the pack's defaults (no
 *     --policy-pack-config, as the workflow ran before) refuse staging's tag-pinned image;
 *   - staging (deploy-staging.yml, a manual run without load test): the reference app built by the local image
 *     builder (standing in for docker/build-push-action) and pushed to the local registry, its digest deployed to
 *     the idle slot, gates, promote, the post-promotion check, the promotion record, the stack file pushed back
 *     to develop, Slack, and the release command's step log uploaded as an artifact; then two releases
 *     (release.yml as deploy-staging.yml calls it) that go wrong after the switch: the release command's own
 *     post-promotion check breaches (exit 4) and flips back, so the rollback step only confirms; and the
 *     workflow's post-promotion check step fails after a good promote, so the rollback step runs
 *     `release rollback`. Both times the job fails, traffic ends on the old slot and Slack hears each event once;
 *   - production (deploy-production.yml on a push to main): nothing runs until a reviewer of the `production`
 *     environment approves; then it deploys exactly the digest staging recorded, promotes, and checks.
 *
 * What is GitHub's own stays outside (see each stand-in in test/unit/pipeline/runner/actions.ts): the checkout is
 * a clone of a local bare repository, the pull-request comment API is a local server on 127.0.0.1, Slack is a
 * local HTTPS sink. The pods here are kwok's (simulated, no container answers): the post-deployment smoke is off
 * (SMOKE_PATHS empty) except where its failure is the point, and the load test step is not run (profile none);
 * .github/scripts/load-test.sh is run against servers on 127.0.0.1 by test/unit/pipeline/loadtest.test.ts.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { parseDocument } from 'yaml';
import { startStubPrometheus, StubPrometheus } from '../../release/testing/stubPrometheus';
import {
  artifacts,
  boundary,
  BoundaryLog,
  buildPush,
  checkout,
  pulumiCli,
  setupNode,
  sharedNpmCi,
} from '../unit/pipeline/runner/actions';
import { Origin } from '../unit/pipeline/runner/origin';
import { JobRecord, LocalRunner, RunnerConfig } from '../unit/pipeline/runner/runner';
import { GitHubApi, startGitHubApi } from '../unit/pipeline/support/githubApi';
import { SlackSink, startSlackSink } from '../unit/pipeline/support/slackSink';
import { linkNodeModules } from '../unit/pipeline/tools';
import { repoRoot, run, runOk, toolEnv } from './helpers';

jest.setTimeout(30 * 60 * 1000);

const REPOSITORY = 'acme/pavemaster';
const TOKEN = 'ghs_workflowJobTestsLocalToken';
const PASSPHRASE = 'pavemaster-local-only';
const DIGEST1 = `sha256:${'1'.repeat(64)}`;
const DIGEST3 = `sha256:${'3'.repeat(64)}`;
const DIGEST4 = `sha256:${'4'.repeat(64)}`;
const DIGEST5 = `sha256:${'5'.repeat(64)}`;
const image = (tag: string, digest: string) => `ghcr.io/acme/pavemaster/web:${tag}@${digest}`;

let root: string;
let origin: Origin;
let backend: string;
let slack: SlackSink;
let prometheus: StubPrometheus;
/** The image the staging job built and promoted (what production must deploy). */
let promoted = '';
const log: string[] = [];

/** What a runner on this machine starts from: PATH without the toolchain (pulumi/actions adds it). */
function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = toolEnv();
  const toolchainBin = path.join(env.PAVEMASTER_TOOLCHAIN ?? '', 'bin');
  return {
    PATH: (env.PATH ?? '')
      .split(':')
      .filter((p) => p !== toolchainBin)
      .join(':'),
    HOME: os.homedir(),
    // The runner image's plugin cache (on GitHub the engine downloads the plugins itself).
    PULUMI_HOME: env.PULUMI_HOME ?? '',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    NO_COLOR: '1',
    NODE_EXTRA_CA_CERTS: slack.caFile,
    PAVEMASTER_CACHE: env.PAVEMASTER_CACHE ?? '',
    ...extra,
  };
}

/**
 * A repository and a file backend of their own for a group of tests (their stacks share the names staging and
 * production, and their branches would conflict).
 */
function freshRepository(): void {
  const dir = fs.mkdtempSync(path.join(root, 'repo-'));
  origin = Origin.create(repoRoot, dir);
  fs.mkdirSync(path.join(dir, 'state'));
  backend = `file://${path.join(dir, 'state')}`;
}

function kubeconfig(): string {
  return fs.readFileSync(toolEnv().KUBECONFIG ?? '', 'utf8');
}

/** Runs the Pulumi CLI on a clone of the stand-in repository with the tests' backend. */
function pulumiIn(dir: string, args: string[], timeoutMs = 15 * 60 * 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    try {
      resolve(
        execFileSync('pulumi', [...args, '--non-interactive'], {
          cwd: dir,
          env: { ...toolEnv(), PULUMI_BACKEND_URL: backend, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE },
          encoding: 'utf8',
          timeout: timeoutMs,
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
    } catch (e) {
      reject(new Error(`pulumi ${args.join(' ')}: ${String((e as { stderr?: string }).stderr ?? e)}`));
    }
  });
}

/** A clone of a branch of the stand-in repository, to prepare what the workflows will find there. */
function clone(branch: string): string {
  const dir = fs.mkdtempSync(path.join(root, `clone-${branch}-`));
  execFileSync('git', ['clone', '-q', '--branch', branch, origin.dir, dir]);
  execFileSync('git', ['config', 'user.name', 'test'], { cwd: dir });
  execFileSync('git', ['config', 'user.email', 'test@pavemaster.invalid'], { cwd: dir });
  linkNodeModules(dir);
  return dir;
}

/** Commits a clone's changes and pushes them; `force` for a pull request's branch, rewritten by its author. */
function push(dir: string, branch: string, message: string, force = false): void {
  // node_modules is a folder of links here, ignored by .gitignore.
  execFileSync('git', ['add', '-A'], { cwd: dir });
  execFileSync('git', ['commit', '-q', '--allow-empty', '-m', message], { cwd: dir });
  execFileSync('git', ['push', '-q', ...(force ? ['--force'] : []), 'origin', `HEAD:${branch}`], {
    cwd: dir,
  });
}

/** Sets config keys (without the `pavemaster:` prefix; undefined removes) in a clone's stack file. */
function editStack(dir: string, stack: string, values: Record<string, unknown>): void {
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  const doc = parseDocument(fs.readFileSync(file, 'utf8'));
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) {
      doc.deleteIn(['config', `pavemaster:${k}`]);
    } else {
      doc.setIn(['config', `pavemaster:${k}`], doc.createNode(v));
    }
  }
  fs.writeFileSync(file, doc.toString());
}

/** The stand-in actions; the artifacts a run uploads land in `artifactDir` (one folder per artifact name). */
function defaultActions(
  artifactDir = fs.mkdtempSync(path.join(root, 'artifacts-')),
): RunnerConfig['actions'] {
  const store = artifacts(artifactDir);
  return {
    'actions/checkout': checkout(origin.dir),
    'actions/setup-node': setupNode,
    'pulumi/actions': pulumiCli(path.join(toolEnv().PAVEMASTER_TOOLCHAIN ?? '', 'bin')),
    'actions/upload-artifact': store.upload,
    'actions/download-artifact': store.download,
  };
}

function runner(
  event: RunnerConfig['event'],
  extra: Partial<RunnerConfig> = {},
  env: Record<string, string> = {},
) {
  return new LocalRunner(repoRoot, {
    // One install for every job's `npm ci` (the lockfile is this checkout's): minutes per job otherwise.
    standIn: sharedNpmCi(repoRoot),
    repository: REPOSITORY,
    root: fs.mkdtempSync(path.join(root, 'run-')),
    event,
    secrets: {
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_ACCESS_TOKEN: '',
      KUBECONFIG_STAGING: kubeconfig(),
      KUBECONFIG_PRODUCTION: kubeconfig(),
      GITHUB_TOKEN: TOKEN,
    },
    vars: { PULUMI_BACKEND_URL: backend },
    actions: defaultActions(),
    baseEnv: baseEnv(env),
    log: (line) => log.push(line),
    ...extra,
  });
}

function byKey(jobs: JobRecord[]): Record<string, JobRecord> {
  return Object.fromEntries(jobs.map((j) => [j.key, j]));
}

function step(job: JobRecord | undefined, name: string) {
  const s = job?.steps.find((x) => x.id === name || x.name === name);
  if (s === undefined) {
    throw new Error(
      `no step ${name} in ${job?.key ?? '(no job)'}: ${job?.steps.map((x) => x.name).join(', ')}`,
    );
  }
  return s;
}

/** A job's failed steps with the end of their output, for failure messages that say why. */
function failures(job: JobRecord | undefined): string[] {
  return (job?.steps ?? [])
    .filter((s) => s.outcome === 'failure')
    .map((s) => `${s.name} (exit ${s.exitCode ?? '?'}): ${s.output.split('\n').slice(-25).join('\n')}`);
}

/** The release command's step log as a run uploaded it (one JSON record a line). */
function stepLog(dir: string, artifact: string, stack: string): Record<string, unknown>[] {
  const file = path.join(dir, artifact, `${stack}.jsonl`);
  expect([artifact, fs.existsSync(file)]).toEqual([artifact, true]);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A loopback port nothing listens on now (for a port-forward of this test). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function selector(namespace: string, service: string): Promise<string> {
  return (
    await runOk('kubectl', [
      '-n',
      namespace,
      'get',
      'service',
      service,
      '-o',
      'jsonpath={.spec.selector.slot}',
    ])
  ).trim();
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-workflows-'));
  slack = await startSlackSink(root);
  prometheus = await startStubPrometheus();
});

afterAll(async () => {
  // Every job's steps with their times, for whoever looks for where the minutes go.
  if (process.env.PAVEMASTER_WORKFLOW_LOG !== undefined) {
    fs.writeFileSync(process.env.PAVEMASTER_WORKFLOW_LOG, `${log.join('\n')}\n`);
  }
  await slack?.close();
  await prometheus?.close();
  // Every namespace these stacks made (the app's and the derived monitoring and logging ones).
  const all = await run('kubectl', ['get', 'namespaces', '-o', 'name']);
  for (const ns of all.stdout.split('\n').filter((n) => n.startsWith('namespace/wf-'))) {
    await run('kubectl', ['delete', ns, '--ignore-not-found', '--wait=false']);
  }
  if (root !== undefined) {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

describe('pull request (pull-request.yml): policy-gated previews of both stacks and one comment', () => {
  let api: GitHubApi;
  beforeAll(async () => {
    api = await startGitHubApi({ repo: REPOSITORY, token: TOKEN });
    freshRepository();
    // The stacks as deployed before the pull request, in namespaces of their own.
    const main = clone('main');
    editStack(main, 'staging', { namespace: 'wf-pr-staging' });
    editStack(main, 'production', { namespace: 'wf-pr-production' });
    await pulumiIn(main, ['stack', 'init', 'staging']);
    await pulumiIn(main, ['stack', 'init', 'production']);
    await pulumiIn(main, ['up', '--yes', '--skip-preview', '--stack', 'staging']);
    push(main, 'main', 'test set-up: the stacks in namespaces of their own');
  });
  afterAll(() => api?.close());

  async function pullRequest(
    change: Record<string, unknown>,
    message: string,
  ): Promise<Record<string, JobRecord>> {
    const feature = clone('main');
    editStack(feature, 'staging', change);
    push(feature, 'feature', message, true);
    const merge = origin.pullRequest(42, 'feature', 'main');
    const r = runner(
      {
        name: 'pull_request',
        ref: 'refs/pull/42/merge',
        sha: merge,
        payload: { number: 42, pull_request: { number: 42, head: { repo: { full_name: REPOSITORY } } } },
      },
      {
        apiUrl: api.url,
        // lint, type check and the tests are `npm test`, which is running this test.
        assume: {
          lint: { result: 'success' },
          typecheck: { result: 'success' },
          test: { result: 'success' },
        },
      },
    );
    return byKey(await r.run('pull-request.yml'));
  }

  it('previews each stack with its own policy config, and posts one comment with the traffic line', async () => {
    const jobs = await pullRequest(
      { activeSlot: 'green', greenImage: 'pavemaster/web:1.1.0' },
      'release 1.1.0 on green',
    );
    for (const stack of ['staging', 'production']) {
      const job = jobs[`preview (${stack})`];
      expect([stack, failures(job)]).toEqual([stack, []]);
      expect(job.result).toBe('success');
      const preview = step(job, 'Policy-gated preview and release report').output;
      expect(preview).toContain(
        `pulumi preview --stack ${stack} --policy-pack policy --policy-pack-config policy/config/${stack}.json`,
      );
      expect(job.leaks).toEqual([]);
      // Both installs came from the suite's one install (same lockfiles), not a fresh `npm ci` each.
      expect(job.steps.filter((s) => s.run?.startsWith('npm ci')).map((s) => s.standIn)).toEqual([
        true,
        true,
      ]);
    }
    expect(failures(jobs.comment)).toEqual([]);
    expect(failures(jobs.ready)).toEqual([]);
    expect(jobs.ready.result).toBe('success');
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /repos/${REPOSITORY}/issues/42/comments?per_page=100`,
      `POST /repos/${REPOSITORY}/issues/42/comments`,
    ]);
    const comments = api.comments.get(42) ?? [];
    expect(comments).toHaveLength(1);
    const body = comments[0].body;
    expect(body.length).toBeLessThanOrEqual(65536);
    expect(body.startsWith('<!-- pavemaster:release-preview -->\n')).toBe(true);
    expect(body).toContain('| `staging` | passed | traffic moves: blue -> green |');
    expect(body).toContain('| `production` | passed | traffic does not move |');
    expect(body).toContain('- Service `pavemaster`: selector slot blue -> green');
  });

  it('needs the per-stack config: the pack’s defaults (how the workflow ran before) refuse staging’s tag-pinned image', async () => {
    // The pull request's branch as the preview job checked it out, with the policy pack's packages.
    const feature = clone('feature');
    const from = path.join(repoRoot, 'policy', 'node_modules');
    fs.mkdirSync(path.join(feature, 'policy', 'node_modules'), { recursive: true });
    for (const entry of fs.readdirSync(from)) {
      fs.symlinkSync(path.join(from, entry), path.join(feature, 'policy', 'node_modules', entry));
    }
    const preview = (extra: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        try {
          const out = execFileSync(
            'pulumi',
            ['preview', '--stack', 'staging', '--policy-pack', 'policy', ...extra, '--non-interactive'],
            {
              cwd: feature,
              env: { ...toolEnv(), PULUMI_BACKEND_URL: backend, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE },
              encoding: 'utf8',
              timeout: 15 * 60 * 1000,
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          resolve({ code: 0, out });
        } catch (e) {
          const err = e as { status?: number; stdout?: string; stderr?: string };
          resolve({ code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` });
        }
      });
    // "- [mandatory] [severity: high]  image-pinning  (kubernetes:apps/v1:Deployment: ...)", wrapped by the CLI.
    const mandatory = /\[mandatory\] (?:\[severity: [a-z]+\] )?([a-z0-9-]+)/g;
    const defaults = await preview([]);
    const flat = defaults.out.replace(/\s+/g, ' ');
    expect(defaults.code).not.toBe(0);
    expect([...flat.matchAll(mandatory)].map((m) => m[1])).toContain('image-pinning');
    expect(flat).toContain('pavemaster/web:1.1.0');
    // The same tree with staging's own config passes (what the preview job runs).
    const own = await preview(['--policy-pack-config', 'policy/config/staging.json']);
    const ownFlat = own.out.replace(/\s+/g, ' ');
    expect([own.code, [...ownFlat.matchAll(mandatory)].map((m) => m[1])]).toEqual([0, []]);
  });

  it('edits the same comment on the next push', async () => {
    api.requests.length = 0;
    const jobs = await pullRequest(
      { activeSlot: 'green', greenImage: 'pavemaster/web:2.0.0' },
      'no: 2.0.0 on green',
    );
    expect(failures(jobs.comment)).toEqual([]);
    const comments = api.comments.get(42) ?? [];
    expect(comments).toHaveLength(1);
    expect(api.requests.map((q) => q.method)).toEqual(['GET', 'PATCH']);
    expect(api.requests[1].path).toBe(`/repos/${REPOSITORY}/issues/comments/${comments[0].id}`);
    expect(comments[0].body).toContain('2.0.0');
  });
});

describe('staging (deploy-staging.yml, and release.yml as it calls it) on the local cluster', () => {
  const NS = 'wf-release';
  const calls: BoundaryLog = { calls: [] };
  let registry: string;
  let startedRegistry = false;
  /** Staging's pavemaster:release section in these tests (`smoke` replaced where a gate must fail). */
  const releaseSettings = (smoke: Record<string, unknown> = { timeoutSeconds: 60 }) => ({
    prometheusUrl: prometheus.url,
    readyTimeoutSeconds: 120,
    smoke,
    // The gate Jobs stay simulated (kwok decides them) when the cluster runs a real node: staging's smoke image
    // is served locally, so the placement rule would run the smoke pod for real, against app pods that are
    // simulated (this test's images are not served): a real curl to a kwok pod address times out. These tests are
    // about the workflows; real gate pods are the end-to-end release tests'.
    jobs: { podAnnotations: { 'pavemaster.local/placement': 'kwok' } },
    postPromotion: {
      windowSeconds: 3,
      intervalSeconds: 1,
      maxErrorRatio: 0.05,
      maxP95Seconds: 1,
      requireCheck: true,
    },
  });
  afterAll(async () => {
    if (startedRegistry) {
      await run('scripts/registry', ['stop']);
    }
  });
  beforeAll(async () => {
    startedRegistry = (await run('scripts/registry', ['status'])).code !== 0;
    registry = (await runOk('scripts/registry', ['start'])).trim().split('\n').pop() ?? '';
    // The staging stack of develop: both slots on the first image, blue active; Slack and a Prometheus set.
    freshRepository();
    const develop = clone('develop');
    editStack(develop, 'staging', {
      namespace: NS,
      blueImage: image('git-000000000001', DIGEST1),
      greenImage: image('git-000000000001', DIGEST1),
      host: undefined,
      monitoring: { enabled: false },
      logging: { enabled: false },
      release: releaseSettings(),
    });
    await pulumiIn(develop, ['stack', 'init', 'staging']).catch(() =>
      pulumiIn(develop, ['stack', 'select', 'staging']),
    );
    await pulumiIn(develop, [
      'config',
      'set',
      '--secret',
      'pavemaster:slackWebhookUrl',
      slack.url,
      '--stack',
      'staging',
    ]);
    await pulumiIn(develop, ['up', '--yes', '--skip-preview', '--stack', 'staging']);
    push(develop, 'develop', 'test set-up: staging on the first image, Slack and Prometheus configured');
  });

  async function release(
    img: string,
    env: Record<string, string> = { SMOKE_PATHS: '' },
    artifactDir?: string,
  ): Promise<Record<string, JobRecord>> {
    const r = runner(
      { name: 'push', ref: 'refs/heads/develop', sha: origin.head('develop'), payload: {} },
      { actions: defaultActions(artifactDir), runId: '7002' },
      // SMOKE_PATHS '': kwok runs no container, so nothing answers a smoke request here.
      env,
    );
    return byKey(
      await r.call('release.yml', {
        stack: 'staging',
        environment: 'staging',
        image: img,
        'load-profile': 'none',
        branch: 'develop',
        'record-promotion': true,
      }),
    );
  }

  it('builds the reference app, deploys the pushed digest to the idle slot, promotes, checks, records it, pushes the stack file and tells Slack', async () => {
    prometheus.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
    const before = origin.head('develop');
    const uploaded = fs.mkdtempSync(path.join(root, 'artifacts-'));
    const r = runner(
      { name: 'workflow_dispatch', ref: 'refs/heads/develop', sha: before, payload: {} },
      {
        runId: '7001',
        actions: {
          ...defaultActions(uploaded),
          'docker/setup-buildx-action': boundary(calls, []),
          'docker/login-action': boundary(calls, ['registry', 'username', 'password']),
          // This checkout's local registry (the one the cluster pulls from), not one per job workspace.
          'docker/build-push-action': buildPush(calls, {
            PAVEMASTER_REGISTRY_DIR: path.join(repoRoot, '.local', 'registry'),
            PAVEMASTER_REGISTRY_PORT: registry.split(':').pop() ?? '',
          }),
        },
      },
      // kwok runs no container: nothing answers a smoke request here.
      { SMOKE_PATHS: '' },
    );
    // A manual run without a load test: kwok's pods cannot answer one (load-test.sh is proven in loadtest.test.ts).
    const jobs = byKey(await r.run('deploy-staging.yml', { image: '', 'load-profile': 'none' }));
    expect(failures(jobs.image)).toEqual([]);
    const tag = `git-${before.slice(0, 12)}`;
    const built = calls.calls.find((c) => c.action === 'docker/build-push-action');
    const digest = (built?.detail as { digest: string }).digest;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const img = `ghcr.io/acme/pavemaster/web:${tag}@${digest}`;
    expect(jobs.image.outputs.image).toBe(img);
    expect(built?.inputs).toMatchObject({
      context: 'examples/web',
      file: 'examples/web/Dockerfile',
      'build-args': `VERSION=${tag}`,
    });
    expect(calls.calls.find((c) => c.action === 'docker/login-action')?.inputs).toMatchObject({
      registry: 'ghcr.io',
      username: 'octocat',
    });
    // The registry serves exactly that manifest under that tag.
    const res = await fetch(`http://${registry}/v2/ghcr.io/acme/pavemaster/web/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        accept:
          'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const job = jobs['release / release'];
    expect(failures(job)).toEqual([]);
    expect(job.result).toBe('success');
    expect(step(job, 'deploy').outputs).toEqual({ 'active-slot': 'blue', 'exit-code': '0' });
    expect(step(job, 'loadtest').outcome).toBe('skipped');
    expect(step(job, 'promote').outputs['exit-code']).toBe('0');
    expect(step(job, 'check').output).toContain(`running ${img}`);
    expect(step(job, 'rollback').outcome).toBe('skipped');
    expect(await selector(NS, 'pavemaster')).toBe('green');
    // What arrived on develop: the stack file after deploy and promote, and the promotion record.
    const subjects = origin.log('develop', before);
    expect(subjects).toHaveLength(3);
    expect(subjects[2]).toBe(`promotion: staging promoted ${img}`);
    const record = JSON.parse(origin.show('develop', '.github/promoted/staging.json') ?? '{}') as Record<
      string,
      string
    >;
    expect(record).toMatchObject({ stack: 'staging', image: img, digest, slot: 'green', commit: before });
    expect(origin.show('develop', 'Pulumi.staging.yaml')).toContain(`pavemaster:greenImage: ${img}`);
    expect(slack.messages.map((m) => m.body.text?.split('\n')[0])).toEqual([
      ':rocket: *PaveMaster staging*: promoted',
    ]);
    expect(slack.messages[0].body.text).toContain(`traffic: green slot, \`${img}\``);
    expect(job.leaks).toEqual([]);
    // The release command's step log, kept as an artifact of the run: this job's deploy and promote, step by step.
    const records = stepLog(uploaded, 'release-log-staging-7001', 'staging');
    expect(records.filter((x) => x.step === 'deploy').map((x) => x.outcome)).toEqual([
      'started',
      'succeeded',
    ]);
    expect(records.filter((x) => x.step === 'switch').map((x) => x.outcome)).toEqual([
      'started',
      'succeeded',
    ]);
    expect(records.filter((x) => x.step === 'promote').map((x) => x.outcome)).toEqual([
      'started',
      'succeeded',
    ]);
    expect(records.every((x) => x.stack === 'staging')).toBe(true);
    promoted = img;
  });

  it('the post-promotion check fails when traffic is not on the released image (release status never does)', async () => {
    const work = clone('develop');
    const env = {
      ...toolEnv(),
      PULUMI_BACKEND_URL: backend,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      SMOKE_PATHS: '',
    };
    const other = image('git-000000000009', DIGEST3);
    const check = await new Promise<{ code: number; out: string }>((resolve) => {
      try {
        const out = execFileSync('.github/scripts/post-promotion-check.sh', ['staging', other], {
          cwd: work,
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        resolve({ code: 0, out });
      } catch (e) {
        const err = e as { status?: number; stdout?: string; stderr?: string };
        resolve({ code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` });
      }
    });
    expect(check.out).toContain(
      `post-promotion check FAILED: slot green runs ${promoted}, not the released ${other}`,
    );
    expect(check.code).toBe(1);
    // What the post-promotion check step ran before: `release status`, in this same state, exits 0.
    const status = await new Promise<number>((resolve) => {
      try {
        execFileSync('.github/scripts/release.sh', ['status', 'staging'], {
          cwd: work,
          env,
          stdio: 'ignore',
        });
        resolve(0);
      } catch (e) {
        resolve((e as { status?: number }).status ?? 1);
      }
    });
    expect(status).toBe(0);
  });

  it('on a post-promotion breach the command flips back (exit 4), the rollback step fires, the job fails, Slack hears it once', async () => {
    prometheus.values = { errorRatio: 0.5, p95Seconds: 0.05, alerts: [] };
    slack.messages.length = 0;
    const before = origin.head('develop');
    const img = image('git-000000000003', DIGEST3);
    const uploaded = fs.mkdtempSync(path.join(root, 'artifacts-'));
    const jobs = await release(img, { SMOKE_PATHS: '' }, uploaded);
    const job = jobs['caller / release'];
    expect(job.result).toBe('failure');
    expect(step(job, 'deploy').outputs['active-slot']).toBe('green');
    expect(step(job, 'promote').outputs['exit-code']).toBe('4');
    expect(step(job, 'check').outcome).toBe('skipped');
    const rollback = step(job, 'rollback');
    expect(rollback.outcome).toBe('success');
    expect(rollback.output).toContain(
      'traffic is on green already (the release command flipped back by itself)',
    );
    expect(step(job, 'Record the promoted image').outcome).toBe('skipped');
    expect(step(job, 'Tell the team').outcome).toBe('skipped');
    expect(await selector(NS, 'pavemaster')).toBe('green');
    // The record still names the last good release; the stack file says green serves the previous image.
    expect(JSON.parse(origin.show('develop', '.github/promoted/staging.json') ?? '{}')).toMatchObject({
      image: promoted,
    });
    // Pushed back: the deploy's commit (blue runs the new image); the flip-back left green active.
    expect(origin.log('develop', before).length).toBeGreaterThanOrEqual(1);
    const file = origin.show('develop', 'Pulumi.staging.yaml') ?? '';
    expect(file).toContain(`pavemaster:blueImage: ${img}`);
    expect(file).toMatch(/pavemaster:activeSlot: green/);
    expect(slack.messages).toHaveLength(1);
    const text = slack.messages[0].body.text ?? '';
    expect(text.split('\n')[0]).toBe(
      ':rewind: *PaveMaster staging*: flipped back automatically after the post-promotion check failed',
    );
    expect(text).toMatch(/^reason: release .* rolled back to green: /m);
    // The failed job keeps its step log too: the breach and the flip-back are in it.
    const records = stepLog(uploaded, 'release-log-staging-7002', 'staging');
    expect(records.some((x) => x.step === 'post-promotion' && x.outcome === 'failed')).toBe(true);
    expect(records.some((x) => x.step === 'promote' && x.outcome === 'rolled-back')).toBe(true);
  });

  it('when the post-promotion check step fails after a good promote, the rollback step runs `release rollback`: traffic back, job failed, Slack told', async () => {
    // The release command's own check passes (Prometheus is healthy), so promote exits 0 and traffic moves to
    // blue. Then the workflow's post-promotion check smokes the active Service: on kwok no container answers,
    // exactly as a release whose pods are Ready but do not serve, so the step fails and the rollback must fire.
    prometheus.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
    slack.messages.length = 0;
    const img = image('git-000000000004', DIGEST4);
    const jobs = await release(img, { SMOKE_PATHS: '/healthz', SMOKE_PORT: String(await freePort()) });
    const job = jobs['caller / release'];
    expect(job.result).toBe('failure');
    expect(step(job, 'deploy').outputs['active-slot']).toBe('green');
    expect(step(job, 'promote').outputs['exit-code']).toBe('0');
    const check = step(job, 'check');
    expect(check.outcome).toBe('failure');
    expect(check.output).toContain(`running ${img}`);
    expect(check.output).toContain(
      'post-promotion check FAILED: smoke: GET /healthz through Service pavemaster',
    );
    const rollback = step(job, 'rollback');
    expect(rollback.outcome).toBe('success');
    expect(rollback.output).toContain('roll-back: traffic is on blue; rolling back to green');
    expect(step(job, 'Record the promoted image').outcome).toBe('skipped');
    expect(step(job, 'Tell the team').outcome).toBe('skipped');
    expect(await selector(NS, 'pavemaster')).toBe('green');
    // The stack file on develop names green active again; the record still names the last good release.
    expect(origin.show('develop', 'Pulumi.staging.yaml')).toMatch(/pavemaster:activeSlot: green/);
    expect(JSON.parse(origin.show('develop', '.github/promoted/staging.json') ?? '{}')).toMatchObject({
      image: promoted,
    });
    expect(slack.messages.map((m) => m.body.text?.split('\n')[0])).toEqual([
      ':rocket: *PaveMaster staging*: promoted',
      ':leftwards_arrow_with_hook: *PaveMaster staging*: rolled back',
    ]);
  });

  it('when a gate fails (promote exit 2) traffic never moves and the abort step ends the release: lock freed, the idle slot back on its image, job failed', async () => {
    // The smoke gate's Job fails (kwok's Stage ends an annotated gate pod Failed), committed to develop.
    const work = clone('develop');
    editStack(work, 'staging', {
      release: releaseSettings({
        timeoutSeconds: 60,
        podAnnotations: { 'pavemaster.io/kwok-result': 'fail' },
      }),
    });
    push(work, 'develop', 'test: the smoke gate fails');
    slack.messages.length = 0;
    const idleBefore = image('git-000000000004', DIGEST4);
    const img = image('git-000000000005', DIGEST5);
    const jobs = await release(img);
    const job = jobs['caller / release'];
    expect(job.result).toBe('failure');
    expect(step(job, 'deploy').outputs['active-slot']).toBe('green');
    expect(step(job, 'promote').outputs['exit-code']).toBe('2');
    expect(step(job, 'check').outcome).toBe('skipped');
    expect(step(job, 'rollback').outcome).toBe('skipped');
    const abort = step(job, 'abort');
    expect([abort.outcome, abort.exitCode]).toEqual(['success', 0]);
    expect(await selector(NS, 'pavemaster')).toBe('green');
    // The release lock is gone and the idle slot runs what it ran before this release.
    const lease = await run('kubectl', ['-n', NS, 'get', 'lease', 'pavemaster-release', '-o', 'name']);
    expect([lease.code, lease.stderr]).toEqual([1, expect.stringContaining('NotFound')]);
    const idle = (
      await runOk('kubectl', [
        '-n',
        NS,
        'get',
        'deployment',
        'pavemaster-blue',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ])
    ).trim();
    expect(idle).toBe(idleBefore);
    const file = origin.show('develop', 'Pulumi.staging.yaml') ?? '';
    expect(file).toContain(`pavemaster:blueImage: ${idleBefore}`);
    expect(file).toMatch(/pavemaster:activeSlot: green/);
    expect(slack.messages.map((m) => m.body.text?.split('\n')[0])).toEqual([
      ':x: *PaveMaster staging*: release failed',
    ]);
  });
});

describe('production (deploy-production.yml on a push to main)', () => {
  const NS = 'wf-production';
  let main: string;
  beforeAll(async () => {
    // develop (with staging's promotion record) is merged into main; production in a namespace of its own.
    origin.merge('develop', 'main');
    const work = clone('main');
    editStack(work, 'production', {
      namespace: NS,
      blueImage: image('git-000000000001', DIGEST1),
      greenImage: image('git-000000000001', DIGEST1),
      monitoring: { enabled: false },
      logging: { enabled: false },
      release: {
        // Production requires its post-promotion check: the local Prometheus stand-in answers it.
        prometheusUrl: prometheus.url,
        readyTimeoutSeconds: 180,
        smoke: { timeoutSeconds: 60 },
        jobs: { podAnnotations: { 'pavemaster.local/placement': 'kwok' } },
        postPromotion: { windowSeconds: 3, intervalSeconds: 1 },
      },
    });
    await pulumiIn(work, ['stack', 'select', 'production']).catch(() =>
      pulumiIn(work, ['stack', 'init', 'production']),
    );
    await pulumiIn(work, [
      'config',
      'set',
      '--secret',
      'pavemaster:slackWebhookUrl',
      slack.url,
      '--stack',
      'production',
    ]);
    await pulumiIn(work, ['up', '--yes', '--skip-preview', '--stack', 'production']);
    push(work, 'main', 'test set-up: production in its own namespace');
    main = origin.head('main');
  });

  function production(approvedBy?: string) {
    return runner(
      { name: 'push', ref: 'refs/heads/main', sha: main, payload: {} },
      { environments: { production: { reviewers: ['release-manager'], approvedBy } } },
      { SMOKE_PATHS: '' },
    ).run('deploy-production.yml');
  }

  it('waits for the production environment’s reviewer: nothing is deployed without the approval', async () => {
    const jobs = byKey(await production());
    expect(failures(jobs.image)).toEqual([]);
    expect(jobs.image.outputs.image).toBe(promoted);
    expect(jobs['release / release'].result).toBe('waiting');
    expect(jobs['release / release'].steps).toEqual([]);
    expect(await selector(NS, 'pavemaster')).toBe('blue');
  });

  it('after the approval deploys exactly the digest staging promoted, pinned, and promotes it', async () => {
    prometheus.values = { errorRatio: 0, p95Seconds: 0.05, alerts: [] };
    slack.messages.length = 0;
    const jobs = byKey(await production('release-manager'));
    const job = jobs['release / release'];
    expect(failures(job)).toEqual([]);
    expect(job.result).toBe('success');
    expect(job.approvedBy).toBe('release-manager');
    expect(step(job, 'check').output).toContain(`running ${promoted}`);
    expect(await selector(NS, 'pavemaster')).toBe('green');
    const live = (
      await runOk('kubectl', [
        '-n',
        NS,
        'get',
        'deployment',
        'pavemaster-green',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].image}',
      ])
    ).trim();
    expect(live).toBe(promoted);
    expect(origin.show('main', 'Pulumi.production.yaml')).toContain(`pavemaster:greenImage: ${promoted}`);
    expect(slack.messages.map((m) => m.body.text?.split('\n')[0])).toEqual([
      ':rocket: *PaveMaster production*: promoted',
    ]);
  });
});
