/**
 * The workflow scripts of .github/scripts, run for real: the pull-request comment against a local stand-in of
 * GitHub's REST API (the exact requests it sends, one comment per pull request edited in place, the 65,536-
 * character limit, the traffic line), the staging-to-production hand-off of the promoted digest, the Slack
 * message through the stack's own webhook secret to a local HTTPS sink, and the small checks (image pinning,
 * the image reference, the required check, the private kubeconfig file).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BOT, Comment, GitHubApi, startGitHubApi } from './support/githubApi';
import { startSlackSink } from './support/slackSink';
import { linkNodeModules, REPO, run, tempDir } from './tools';

// Real tools on a two-core machine that may be busy with other suites: generous bounds.
jest.setTimeout(60_000);

// Derived at run time: a literal installation-token shape in a committed file is what the history scan must find.
const TOKEN = ['ghs', 'localTestTokenForThePrCommentStandIn'].join('_');
const REPOSITORY = 'acme/pavemaster';
const MARKER = '<!-- pavemaster:release-preview -->';
const DIGEST = `sha256:${'c'.repeat(64)}`;
const TOOLCHAIN_BIN = path.join(
  process.env.PAVEMASTER_CACHE ?? path.join(os.homedir(), '.cache', 'pavemaster'),
  'toolchain',
  'bin',
);

/** The reports .github/scripts/preview.sh writes, as the comment job downloads them (one folder per stack). */
function writeReports(
  dir: string,
  reports: { stack: string; md: string; policy?: 'passed' | 'failed'; violations?: string }[],
) {
  for (const r of reports) {
    const d = path.join(dir, `preview-${r.stack}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `${r.stack}.md`), r.md);
    const policy = r.policy ?? 'passed';
    fs.writeFileSync(
      path.join(d, `${r.stack}.json`),
      JSON.stringify({ stack: r.stack, policy, exitCode: policy === 'passed' ? 0 : 255, reportExitCode: 0 }),
    );
    if (r.violations !== undefined) {
      fs.writeFileSync(path.join(d, `${r.stack}.violations.txt`), r.violations);
    }
  }
}

const STAGING_MD = [
  '### Pulumi preview of `staging`',
  '',
  '**traffic: blue -> green**',
  '- Service `pavemaster`: selector slot blue -> green',
  '',
  'update: 2 · same: 120',
  '',
  '| op | resource | type | changes |',
  '| --- | --- | --- | --- |',
  '| update | `pavemaster` | `kubernetes:core/v1:Service` | `spec.selector.slot`: `"blue"` → `"green"` |',
  '',
].join('\n');
const PRODUCTION_MD = '### Pulumi preview of `production`\n\nsame: 129\n\nNo changes.\n';

describe('.github/scripts/pr-comment.js against a local GitHub API', () => {
  let api: GitHubApi;
  const tmp = tempDir('pr-comment');
  beforeEach(async () => {
    api = await startGitHubApi({ repo: REPOSITORY, token: TOKEN });
  });
  afterEach(() => api.close());
  afterAll(() => tmp.remove());

  function post(dir: string, pr = '42') {
    return run('node', ['.github/scripts/pr-comment.js', pr, dir], {
      env: {
        ...process.env,
        GITHUB_TOKEN: TOKEN,
        GITHUB_REPOSITORY: REPOSITORY,
        GITHUB_API_URL: api.url,
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_RUN_ID: '777',
      },
    });
  }

  it('creates one marked comment with both stacks and the traffic line, sending exactly these requests', async () => {
    const dir = path.join(tmp.dir, 'first');
    writeReports(dir, [
      { stack: 'production', md: PRODUCTION_MD },
      { stack: 'staging', md: STAGING_MD },
    ]);
    const r = await post(dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /repos/${REPOSITORY}/issues/42/comments?per_page=100`,
      `POST /repos/${REPOSITORY}/issues/42/comments`,
    ]);
    for (const q of api.requests) {
      expect(q.authorization).toBe(`Bearer ${TOKEN}`);
      expect(q.accept).toBe('application/vnd.github+json');
      expect(q.apiVersion).toBe('2022-11-28');
    }
    const body = (api.requests[1].body as { body: string }).body;
    expect(body.startsWith(`${MARKER}\n## PaveMaster release preview\n`)).toBe(true);
    expect(body).toContain('| `staging` | passed | traffic moves: blue -> green |');
    expect(body).toContain('| `production` | passed | traffic does not move |');
    expect(body.indexOf('of `staging`')).toBeLessThan(body.indexOf('of `production`'));
    expect(body).toContain('**traffic: blue -> green**');
    expect(body).toContain('https://github.com/acme/pavemaster/actions/runs/777');
    expect(api.comments.get(42)).toHaveLength(1);
  });

  it('edits the marked comment in place on a later push, leaving other comments alone', async () => {
    api.comments.set(42, [
      { id: 1, body: 'LGTM', user: { login: 'alice', type: 'User' } },
      // A person quoting the marker is not the bot's comment.
      { id: 2, body: `${MARKER}\nquoted by a person`, user: { login: 'bob', type: 'User' } },
      { id: 3, body: `${MARKER}\nold report`, user: BOT },
    ]);
    const dir = path.join(tmp.dir, 'second');
    writeReports(dir, [{ stack: 'staging', md: STAGING_MD }]);
    const r = await post(dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pr-comment: updated comment 3 on #42 \(\d+ characters, staging\)$/m);
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /repos/${REPOSITORY}/issues/42/comments?per_page=100`,
      `PATCH /repos/${REPOSITORY}/issues/comments/3`,
    ]);
    expect(api.comments.get(42)?.map((c) => c.id)).toEqual([1, 2, 3]);
    expect(api.comments.get(42)?.[2].body).toContain('traffic moves: blue -> green');
    // The same report again changes nothing (no notification noise on a re-run).
    api.requests.length = 0;
    const again = await post(dir);
    expect(again.stdout).toContain('unchanged comment 3');
    expect(api.requests.map((q) => q.method)).toEqual(['GET']);
  });

  it('finds its comment on a later page, and deletes a duplicate a raced run left', async () => {
    const many: Comment[] = Array.from({ length: 130 }, (_, i) => ({
      id: i + 1,
      body: `comment ${i}`,
      user: { login: 'alice', type: 'User' },
    }));
    many[20] = { id: 21, body: `${MARKER}\nolder duplicate`, user: BOT };
    many[120] = { id: 121, body: `${MARKER}\nnewest`, user: BOT };
    api.comments.set(42, many);
    const dir = path.join(tmp.dir, 'third');
    writeReports(dir, [{ stack: 'staging', md: STAGING_MD }]);
    const r = await post(dir);
    expect(r.code).toBe(0);
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      `GET /repos/${REPOSITORY}/issues/42/comments?per_page=100`,
      `GET /repos/${REPOSITORY}/issues/42/comments?per_page=100&page=2`,
      `DELETE /repos/${REPOSITORY}/issues/comments/21`,
      `PATCH /repos/${REPOSITORY}/issues/comments/121`,
    ]);
    expect(api.comments.get(42)?.filter((c) => c.body.startsWith(MARKER))).toHaveLength(1);
  });

  it('cuts an oversized report to GitHub’s 65,536-character limit, keeping the summary and traffic lines', async () => {
    const rows = Array.from(
      { length: 3000 },
      (_, i) =>
        `| update | \`configmap-${i}\` | \`kubernetes:core/v1:ConfigMap\` | \`data.x\`: \`"${'a'.repeat(20)}"\` → \`"b"\` |`,
    );
    const dir = path.join(tmp.dir, 'big');
    writeReports(dir, [
      { stack: 'staging', md: `${STAGING_MD}${rows.join('\n')}\n` },
      { stack: 'production', md: `${PRODUCTION_MD}${rows.join('\n')}\n` },
    ]);
    const full = fs.readFileSync(path.join(dir, 'preview-staging', 'staging.md'), 'utf8').length;
    expect(full).toBeGreaterThan(65536);
    const r = await post(dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const body = (api.requests[1].body as { body: string }).body;
    expect(body.length).toBeLessThanOrEqual(65536);
    expect(body).toContain('| `staging` | passed | traffic moves: blue -> green |');
    expect(body).toContain('**traffic: blue -> green**');
    expect(body).toMatch(/more line\(s\) cut to fit GitHub's comment limit/);
    expect(body).toContain('of `production`');
  });

  it('shows a failed policy pack with its violations', async () => {
    const dir = path.join(tmp.dir, 'policy');
    writeReports(dir, [
      {
        stack: 'production',
        md: PRODUCTION_MD,
        policy: 'failed',
        violations:
          'Policies:\n    pavemaster (local: policy)\n        - [mandatory]  image-pinning  (kubernetes:apps/v1:Deployment: pavemaster-blue)\n',
      },
    ]);
    const r = await post(dir);
    expect(r.code).toBe(0);
    const body = (api.requests[1].body as { body: string }).body;
    expect(body).toContain('| `production` | **FAILED** (exit 255) | traffic does not move |');
    expect(body).toContain('[mandatory]  image-pinning');
  });

  it('fails with GitHub’s answer when the token is refused, and refuses bad arguments before any request', async () => {
    const dir = path.join(tmp.dir, 'refused');
    writeReports(dir, [{ stack: 'staging', md: STAGING_MD }]);
    const r = await run('node', ['.github/scripts/pr-comment.js', '42', dir], {
      env: { ...process.env, GITHUB_TOKEN: 'wrong', GITHUB_REPOSITORY: REPOSITORY, GITHUB_API_URL: api.url },
    });
    expect(r.stderr).toContain(`GET /repos/${REPOSITORY}/issues/42/comments answered 401: Bad credentials`);
    expect(r.code).toBe(1);
    api.requests.length = 0;
    const bad = await run('node', ['.github/scripts/pr-comment.js', '42; rm -rf /', dir], {
      env: { ...process.env, GITHUB_TOKEN: TOKEN, GITHUB_REPOSITORY: REPOSITORY, GITHUB_API_URL: api.url },
    });
    expect(bad.code).toBe(64);
    expect(api.requests).toEqual([]);
  });
});

/** A Pulumi project in a temporary folder with its own file backend: a real stack the scripts can read. */
async function scratchStack(stackFile: string, secrets: Record<string, string> = {}) {
  const tmp = tempDir('stack');
  const state = path.join(tmp.dir, '.state');
  fs.mkdirSync(state);
  fs.writeFileSync(path.join(tmp.dir, 'Pulumi.yaml'), 'name: pavemaster\nruntime: nodejs\n');
  const env = {
    ...process.env,
    PATH: `${TOOLCHAIN_BIN}:${process.env.PATH ?? ''}`,
    PULUMI_BACKEND_URL: `file://${state}`,
    PULUMI_CONFIG_PASSPHRASE: 'scratch-only',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_HOME: path.join(tmp.dir, '.pulumi-home'),
  };
  const pulumi = async (...args: string[]) => {
    const r = await run('pulumi', [...args, '--non-interactive'], { cwd: tmp.dir, env });
    if (r.code !== 0) {
      throw new Error(`pulumi ${args.join(' ')}: ${r.stderr}`);
    }
  };
  await pulumi('stack', 'init', 'staging');
  const salt = fs.readFileSync(path.join(tmp.dir, 'Pulumi.staging.yaml'), 'utf8');
  fs.writeFileSync(path.join(tmp.dir, 'Pulumi.staging.yaml'), `${salt.trim()}\n${stackFile}`);
  for (const [k, v] of Object.entries(secrets)) {
    await pulumi('config', 'set', '--secret', k, v, '--stack', 'staging');
  }
  fs.cpSync(path.join(REPO, '.github', 'scripts'), path.join(tmp.dir, '.github', 'scripts'), {
    recursive: true,
  });
  linkNodeModules(tmp.dir);
  // The scripts read slots and image references from the program's contract (.github/scripts/contract.js).
  fs.symlinkSync(path.join(REPO, 'components'), path.join(tmp.dir, 'components'));
  return { dir: tmp.dir, env, remove: tmp.remove };
}

const STAGING_FILE = (image: string, slot = 'green') =>
  [
    'config:',
    `  pavemaster:activeSlot: ${slot}`,
    `  pavemaster:blueImage: ghcr.io/acme/pavemaster/web:git-000000000001@sha256:${'a'.repeat(64)}`,
    `  pavemaster:greenImage: ${image}`,
    '',
  ].join('\n');

describe('.github/scripts/slack-notify.js', () => {
  it('posts a release event to the stack’s own webhook secret, over HTTPS, without printing the URL', async () => {
    const image = `ghcr.io/acme/pavemaster/web:git-0123456789ab@${DIGEST}`;
    const certDir = tempDir('slack');
    const sink = await startSlackSink(certDir.dir);
    const stack = await scratchStack(STAGING_FILE(image), { 'pavemaster:slackWebhookUrl': sink.url });
    try {
      const r = await run(
        'node',
        [
          '.github/scripts/slack-notify.js',
          '--stack',
          'staging',
          '--event',
          'promote:4',
          '--reason',
          'error ratio 0.2 > 0.05',
        ],
        {
          cwd: stack.dir,
          env: {
            ...stack.env,
            NODE_EXTRA_CA_CERTS: sink.caFile,
            GITHUB_REPOSITORY: REPOSITORY,
            GITHUB_RUN_ID: '99',
          },
        },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(sink.url);
      expect(sink.messages).toEqual([
        {
          path: new URL(sink.url).pathname,
          body: {
            text: [
              ':rewind: *PaveMaster staging*: flipped back automatically after the post-promotion check failed',
              `traffic: green slot, \`${image}\``,
              'reason: error ratio 0.2 > 0.05',
              'run: https://github.com/acme/pavemaster/actions/runs/99',
            ].join('\n'),
          },
        },
      ]);
    } finally {
      await sink.close();
      stack.remove();
      certDir.remove();
    }
  });

  it('posts nothing, and says so, when the stack has no webhook', async () => {
    const stack = await scratchStack(STAGING_FILE(`x/web:1@${DIGEST}`));
    try {
      const r = await run(
        'node',
        ['.github/scripts/slack-notify.js', '--stack', 'staging', '--event', 'promote:0'],
        {
          cwd: stack.dir,
          env: stack.env,
        },
      );
      expect(r.stdout).toContain('pavemaster:slackWebhookUrl is not set for staging: no notification');
      expect(r.code).toBe(0);
    } finally {
      stack.remove();
    }
  });
});

describe('.github/scripts/promotion.js: the digest staging promoted, for production', () => {
  const image = `ghcr.io/acme/pavemaster/web:git-0123456789ab@${DIGEST}`;

  async function inRepo(stackFile: string) {
    const tmp = tempDir('promotion');
    await run('git', ['init', '-q'], { cwd: tmp.dir });
    fs.writeFileSync(path.join(tmp.dir, 'Pulumi.staging.yaml'), stackFile);
    fs.cpSync(path.join(REPO, '.github', 'scripts'), path.join(tmp.dir, '.github', 'scripts'), {
      recursive: true,
    });
    linkNodeModules(tmp.dir);
    fs.symlinkSync(path.join(REPO, 'components'), path.join(tmp.dir, 'components'));
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.invalid',
      GITHUB_SHA: 'f'.repeat(40),
      GITHUB_REPOSITORY: REPOSITORY,
      GITHUB_RUN_ID: '5',
    };
    return { ...tmp, env };
  }

  it('records the promoted image and commits it; production picks exactly that digest', async () => {
    const repo = await inRepo(STAGING_FILE(image));
    try {
      const rec = await run('node', ['.github/scripts/promotion.js', 'record', 'staging', image], {
        cwd: repo.dir,
        env: repo.env,
      });
      expect(rec.stderr).toBe('');
      expect(rec.code).toBe(0);
      const record = JSON.parse(
        fs.readFileSync(path.join(repo.dir, '.github', 'promoted', 'staging.json'), 'utf8'),
      ) as Record<string, string>;
      expect(record).toMatchObject({
        stack: 'staging',
        image,
        digest: DIGEST,
        slot: 'green',
        commit: 'f'.repeat(40),
      });
      const log = await run('git', ['log', '--format=%s', '--', '.github/promoted/staging.json'], {
        cwd: repo.dir,
      });
      expect(log.stdout.trim()).toBe(`promotion: staging promoted ${image}`);
      const out = path.join(repo.dir, 'gh-output');
      const picked = await run('node', ['.github/scripts/promotion.js', 'pick', 'staging'], {
        cwd: repo.dir,
        env: { ...repo.env, REQUESTED: '', GITHUB_OUTPUT: out },
      });
      expect(picked.code).toBe(0);
      expect(picked.stdout).toBe(`${image}\n`);
      expect(fs.readFileSync(out, 'utf8')).toBe(`image=${image}\n`);
    } finally {
      repo.remove();
    }
  });

  it('never records a tag-only image or one the active slot does not run (a flipped-back release)', async () => {
    const repo = await inRepo(STAGING_FILE(image, 'blue'));
    try {
      const flipped = await run('node', ['.github/scripts/promotion.js', 'record', 'staging', image], {
        cwd: repo.dir,
        env: repo.env,
      });
      expect(flipped.stderr).toContain('nothing promoted to record');
      expect(flipped.code).toBe(1);
      const tagOnly = await run(
        'node',
        ['.github/scripts/promotion.js', 'record', 'staging', 'pavemaster/web:1.0.0'],
        {
          cwd: repo.dir,
          env: repo.env,
        },
      );
      expect(tagOnly.stderr).toContain('not pinned by digest');
      expect(tagOnly.code).toBe(1);
      expect(fs.existsSync(path.join(repo.dir, '.github', 'promoted', 'staging.json'))).toBe(false);
      // Nothing recorded: production refuses to guess.
      const picked = await run('node', ['.github/scripts/promotion.js', 'pick', 'staging'], {
        cwd: repo.dir,
        env: { ...repo.env, REQUESTED: '' },
      });
      expect(picked.stderr).toContain('staging has promoted no image yet');
      expect(picked.code).toBe(1);
      // A manual run may name a digest; never a tag.
      const manual = await run('node', ['.github/scripts/promotion.js', 'pick', 'staging'], {
        cwd: repo.dir,
        env: { ...repo.env, REQUESTED: 'ghcr.io/acme/pavemaster/web:hotfix' },
      });
      expect(manual.stderr).toContain('not pinned by digest');
      expect(manual.code).toBe(1);
    } finally {
      repo.remove();
    }
  });
});

describe('.github/scripts/preview.sh', () => {
  it('keeps each policy violation for the comment and fails the step with the engine’s exit code', async () => {
    const tmp = tempDir('preview-sh');
    try {
      // The engine's real output of a refused preview (recorded: the old workflow's staging preview without the
      // staging policy config); every other pulumi call goes to the real CLI.
      const fake = path.join(tmp.dir, 'bin');
      fs.mkdirSync(fake);
      const fixture = path.join(REPO, 'test', 'unit', 'pipeline', 'fixtures', 'policy-violation.txt');
      fs.writeFileSync(
        path.join(fake, 'pulumi'),
        `#!/usr/bin/env bash\nif [ "$1" = preview ]; then cat "${fixture}"; exit 255; fi\nexec "${TOOLCHAIN_BIN}/pulumi" "$@"\n`,
        { mode: 0o755 },
      );
      fs.mkdirSync(path.join(tmp.dir, 'state'));
      const out = path.join(tmp.dir, 'out');
      const r = await run('.github/scripts/preview.sh', ['staging', out], {
        env: {
          ...process.env,
          PATH: `${fake}:${TOOLCHAIN_BIN}:${process.env.PATH ?? ''}`,
          PULUMI_BACKEND_URL: `file://${path.join(tmp.dir, 'state')}`,
          PULUMI_CONFIG_PASSPHRASE: 'scratch-only',
          GITHUB_STEP_SUMMARY: path.join(tmp.dir, 'summary'),
        },
        timeoutMs: 90_000,
      });
      expect(r.code).toBe(255);
      expect(r.stdout).toContain(
        'preview: pulumi preview --stack staging --policy-pack policy --policy-pack-config policy/config/staging.json',
      );
      expect(JSON.parse(fs.readFileSync(path.join(out, 'staging.json'), 'utf8'))).toMatchObject({
        stack: 'staging',
        policy: 'failed',
        exitCode: 255,
      });
      const violations = fs.readFileSync(path.join(out, 'staging.violations.txt'), 'utf8').split('\n');
      expect(violations[0]).toMatch(
        /^ +pavemaster@v0\.1\.0 \[mandatory\] \[severity: high\] +image-pinning +\(kubernetes:apps\/v1:Deployment: pavemaster-green\)/,
      );
      expect(violations[1]).toContain('"pavemaster/web:1.0.0" is not pinned by digest');
      expect(violations).toContain('error: preview failed');
    } finally {
      tmp.remove();
    }
  }, 120_000);
});

describe('.github/scripts/release.sh', () => {
  it('passes the release command’s exit code on, as a step output too, with both streams intact', async () => {
    const tmp = tempDir('release-sh');
    try {
      const out = path.join(tmp.dir, 'out');
      fs.mkdirSync(path.join(tmp.dir, 'state'));
      const r = await run('.github/scripts/release.sh', ['status', 'no-such-stack'], {
        env: {
          ...process.env,
          PATH: `${TOOLCHAIN_BIN}:${process.env.PATH ?? ''}`,
          PULUMI_BACKEND_URL: `file://${path.join(tmp.dir, 'state')}`,
          PULUMI_CONFIG_PASSPHRASE: 'scratch-only',
          PULUMI_SKIP_UPDATE_CHECK: 'true',
          GITHUB_OUTPUT: out,
        },
        timeoutMs: 90_000,
      });
      // An unknown stack is a usage error (64) with one line naming the fix (issue 19), not the raw API error.
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(
        /^release: stack "no-such-stack" does not exist in file:\S+: list the stacks with `pulumi stack ls`/m,
      );
      expect(r.stderr).not.toContain('StackNotFoundError');
      expect(r.stdout).not.toMatch(/^release: /m);
      expect(fs.readFileSync(out, 'utf8')).toBe('exit-code=64\n');
    } finally {
      tmp.remove();
    }
  }, 120_000);

  it('refuses a call without a subcommand and a stack', async () => {
    expect((await run('.github/scripts/release.sh', ['status'])).code).toBe(64);
  });
});

describe('.github/scripts/promoted-image.js', () => {
  it('refuses a stack file whose active slot is not pinned by digest (the committed staging stack)', async () => {
    const r = await run('node', [
      '.github/scripts/promoted-image.js',
      path.join(REPO, 'Pulumi.staging.yaml'),
    ]);
    expect(r.stderr).toContain('not pinned by digest');
    expect(r.code).toBe(1);
  });
});

describe('small checks', () => {
  it.each([
    [`ghcr.io/acme/pavemaster/web:git-0123456789ab@${DIGEST}`, 0],
    [`registry.example.com:5000/web@${DIGEST}`, 0],
    ['ghcr.io/acme/pavemaster/web:git-0123456789ab', 1],
    ['ghcr.io/acme/web:latest', 1],
    [`ghcr.io/acme/web@sha256:${'e'.repeat(63)}`, 1],
    [`x; curl evil@${DIGEST}`, 1],
  ])('check-image.sh %s -> %i', async (image, code) => {
    expect((await run('.github/scripts/check-image.sh', [image])).code).toBe(code);
  });

  it('image-name.sh and image-ref.sh name the pushed image by commit and pin it by digest', async () => {
    const tmp = tempDir('image-ref');
    try {
      const out = path.join(tmp.dir, 'out');
      const env = {
        ...process.env,
        GITHUB_REPOSITORY: 'Acme/PaveMaster',
        GITHUB_SHA: '0123456789abcdef'.repeat(2) + '01234567',
        GITHUB_OUTPUT: out,
      };
      expect((await run('.github/scripts/image-name.sh', [], { env })).code).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toBe(
        'repository=ghcr.io/acme/pavemaster/web\ntag=git-0123456789ab\n',
      );
      fs.writeFileSync(out, '');
      const ok = await run('.github/scripts/image-ref.sh', [], {
        env: { ...env, REPOSITORY: 'ghcr.io/acme/pavemaster/web', TAG: 'git-0123456789ab', DIGEST },
      });
      expect(ok.code).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toBe(
        `image=ghcr.io/acme/pavemaster/web:git-0123456789ab@${DIGEST}\n`,
      );
      const none = await run('.github/scripts/image-ref.sh', [], {
        env: { ...env, REPOSITORY: 'r', TAG: 't', DIGEST: '' },
      });
      expect(none.stderr).toContain('the build returned no sha256 digest');
      expect(none.code).toBe(1);
    } finally {
      tmp.remove();
    }
  });

  it.each([
    ['["success","success","skipped"]', 0],
    ['["success","failure"]', 1],
    ['["cancelled"]', 1],
    ['not json', 64],
  ])('ready.sh %s -> %i', async (results, code) => {
    expect((await run('.github/scripts/ready.sh', [results])).code).toBe(code);
  });
});

describe('.github/scripts/write-kubeconfig.sh', () => {
  it('writes the secret to a private file, exports its path and never prints it', async () => {
    const tmp = tempDir('kube');
    try {
      const secret = 'apiVersion: v1\nclusters: []\nusers: [{name: ci, user: {token: not-a-real-token}}]';
      const env = {
        ...process.env,
        KUBECONFIG_DATA: secret,
        RUNNER_TEMP: tmp.dir,
        GITHUB_ENV: path.join(tmp.dir, 'env'),
      };
      const r = await run('.github/scripts/write-kubeconfig.sh', [], { env });
      expect(r.code).toBe(0);
      const file = path.join(tmp.dir, 'kube', 'config');
      expect(fs.readFileSync(file, 'utf8')).toBe(`${secret}\n`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(tmp.dir, 'env'), 'utf8')).toBe(`KUBECONFIG=${file}\n`);
      expect(r.stdout + r.stderr).not.toContain('not-a-real-token');
    } finally {
      tmp.remove();
    }
  });

  it('fails when the secret is missing', async () => {
    const r = await run('.github/scripts/write-kubeconfig.sh', [], {
      env: { ...process.env, KUBECONFIG_DATA: '', RUNNER_TEMP: '/nonexistent', GITHUB_ENV: '/dev/null' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('empty or not set');
  });
});
