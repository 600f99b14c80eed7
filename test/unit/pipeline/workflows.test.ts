/**
 * The GitHub workflows, checked here although GitHub Actions cannot run here: actionlint (with shellcheck on
 * every `run:` step) on each workflow, a deliberately broken workflow that actionlint must reject, and the
 * project's own rules read from the parsed YAML: pinned actions, least-privilege permissions, one deploy at a
 * time per stack, secrets only from `secrets.*`, the release steps in order, and only commands the project has.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO, run, tempDir, tool } from './tools';

// Real tools on a two-core machine that may be busy with other suites: generous bounds.
jest.setTimeout(60_000);

type Doc = Record<string, unknown>;

const WORKFLOW_DIR = path.join(REPO, '.github', 'workflows');
const WORKFLOW_FILES = fs
  .readdirSync(WORKFLOW_DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort();

function obj(value: unknown, what: string): Doc {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not a mapping`);
  }
  return value as Doc;
}

function load(file: string): { text: string; doc: Doc } {
  const text = fs.readFileSync(path.join(WORKFLOW_DIR, file), 'utf8');
  return { text, doc: obj(parse(text), file) };
}

function jobs(doc: Doc): Record<string, Doc> {
  const out: Record<string, Doc> = {};
  for (const [id, job] of Object.entries(obj(doc.jobs, 'jobs'))) {
    out[id] = obj(job, `job ${id}`);
  }
  return out;
}

/** A YAML scalar as text ('' for anything else). */
function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function steps(job: Doc): Doc[] {
  return Array.isArray(job.steps) ? job.steps.map((s, i) => obj(s, `step ${i}`)) : [];
}

describe('actionlint', () => {
  it('finds shellcheck, so run: steps are checked too', async () => {
    const result = await run('shellcheck', ['--version']);
    expect(result.code).toBe(0);
  });

  it.each(WORKFLOW_FILES)('accepts %s', async (file) => {
    const result = await run(tool('actionlint'), ['-color=false', path.join('.github', 'workflows', file)]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('rejects a broken workflow: bad expression, unknown context, shell bug, unpinned permissions key', async () => {
    const tmp = tempDir('actionlint');
    try {
      fs.mkdirSync(path.join(tmp.dir, '.github', 'workflows'), { recursive: true });
      fs.writeFileSync(
        path.join(tmp.dir, '.github', 'workflows', 'broken.yml'),
        [
          'name: broken',
          'on: push',
          'permissions:',
          '  contents: readd',
          'jobs:',
          '  build:',
          '    runs-on: ubuntu-24.04',
          '    steps:',
          '      - run: echo ${{ github.event.nosuchthing.title }} $UNQUOTED_VAR',
          '      - run: echo "${{ secrets }}"',
          '      - if: ${{ steps.missing.outputs.x == }}',
          '        run: rm -rf $DIR/*',
          '',
        ].join('\n'),
      );
      const result = await run(
        tool('actionlint'),
        ['-color=false', path.join('.github', 'workflows', 'broken.yml')],
        {
          cwd: tmp.dir,
        },
      );
      const out = result.stdout;
      expect(result.code).toBe(1);
      expect(out).toMatch(/permission/i); // "readd" is not a permission level
      expect(out).toMatch(/shellcheck/); // SC2086 and friends from the run: scripts
      expect(out).toMatch(/expression|parse/i); // the cut-off `==` expression
    } finally {
      tmp.remove();
    }
  });
});

const SHA_PIN = /^([\w.-]+\/[\w./-]+)@([0-9a-f]{40})$/;
/**
 * Actions without a verified commit SHA, pinned to an exact release tag instead (listed in docs/operations.md).
 * None today; an entry here is the only way a tag pin passes.
 */
const TAG_PINNED: Record<string, string> = {};

describe('pinned actions', () => {
  const uses: { file: string; line: string; uses: string }[] = [];
  for (const file of WORKFLOW_FILES) {
    for (const line of load(file).text.split('\n')) {
      const match = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
      if (match) {
        uses.push({ file, line: line.trim(), uses: match[1] });
      }
    }
  }

  it('finds the actions', () => {
    expect(uses.length).toBeGreaterThan(20);
  });

  it('pins every external action by full commit SHA with a version comment, or by an exact listed tag', () => {
    const bad: string[] = [];
    for (const u of uses) {
      if (u.uses.startsWith('./')) {
        continue; // a workflow of this repository
      }
      const [name, ref] = u.uses.split('@');
      if (TAG_PINNED[name] !== undefined) {
        if (ref !== TAG_PINNED[name]) {
          bad.push(`${u.file}: ${u.line}`);
        }
        continue;
      }
      if (!SHA_PIN.test(u.uses) || !/#\s*v\d+\.\d+\.\d+\s*$/.test(u.line)) {
        bad.push(`${u.file}: ${u.line}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('uses one SHA per action everywhere', () => {
    const byAction = new Map<string, Set<string>>();
    for (const u of uses.filter((x) => !x.uses.startsWith('./'))) {
      const [name, ref] = u.uses.split('@');
      const repo = name.split('/').slice(0, 2).join('/');
      byAction.set(repo, (byAction.get(repo) ?? new Set()).add(ref));
    }
    for (const [repo, refs] of byAction) {
      expect([repo, refs.size]).toEqual([repo, 1]);
    }
  });
});

describe('permissions', () => {
  it.each(WORKFLOW_FILES)('%s grants nothing at the top and declares each job’s own permissions', (file) => {
    const { doc } = load(file);
    expect(doc.permissions).toEqual({});
    for (const [id, job] of Object.entries(jobs(doc))) {
      expect([id, job.permissions === undefined]).toEqual([id, false]);
      const granted = obj(job.permissions, `${id}.permissions`);
      for (const [scope, level] of Object.entries(granted)) {
        expect(['read', 'write']).toContain(level);
        if (level === 'write') {
          // Every write grant is one of the few the pipeline needs.
          expect(['contents', 'packages', 'pull-requests', 'security-events']).toContain(scope);
        }
      }
    }
  });

  it('writes contents only in the release job (the stack-file commit)', () => {
    for (const file of WORKFLOW_FILES) {
      for (const [id, job] of Object.entries(jobs(load(file).doc))) {
        const perms = obj(job.permissions, id);
        if (perms.contents === 'write') {
          expect([file, id]).toEqual(file === 'release.yml' ? ['release.yml', 'release'] : [file, 'release']);
        }
      }
    }
  });
});

describe('secrets', () => {
  it.each(WORKFLOW_FILES)('%s takes secrets only from secrets.* and never echoes one', (file) => {
    const { text } = load(file);
    // No literal credentials: the usual shapes of tokens and passwords in plain text.
    expect(text).not.toMatch(/(ghp_|github_pat_|AKIA)[A-Za-z0-9]{8,}/);
    expect(text).not.toMatch(/(password|passphrase|token)\s*:\s*['"]?[A-Za-z0-9+/]{12,}/i);
    // A secret is only ever assigned to an env var or an action input, not interpolated into a script.
    for (const line of text.split('\n')) {
      if (line.includes('secrets.')) {
        expect(line).toMatch(/^\s*[\w-]+:\s*\$\{\{.*secrets\.[A-Z_]+.*\}\}\s*$/);
      }
      expect(line).not.toMatch(/echo\s+.*\$\{\{\s*secrets/);
    }
  });

  it('names only the documented secrets', () => {
    const names = new Set<string>();
    for (const file of WORKFLOW_FILES) {
      for (const m of load(file).text.matchAll(/secrets\.([A-Z_]+)/g)) {
        names.add(m[1]);
      }
    }
    expect([...names].sort()).toEqual(
      [
        'GITHUB_TOKEN',
        'KUBECONFIG_PRODUCTION',
        'KUBECONFIG_STAGING',
        'PULUMI_ACCESS_TOKEN',
        'PULUMI_CONFIG_PASSPHRASE',
        'SLACK_WEBHOOK_URL',
      ].sort(),
    );
    const ops = fs.readFileSync(path.join(REPO, 'docs', 'operations.md'), 'utf8');
    for (const name of names) {
      expect([name, ops.includes(name)]).toEqual([name, true]);
    }
  });
});

describe('pull requests', () => {
  const { doc } = load('pull-request.yml');
  const all = jobs(doc);

  it('runs lint, type check, tests and the policy pack', () => {
    const runs = Object.values(all)
      .flatMap(steps)
      .map((s) => str(s.run));
    expect(runs).toContain('npm run lint');
    expect(runs).toContain('npm run typecheck');
    expect(runs).toContain('npm test');
    expect(runs).toContain('npm ci --no-audit --no-fund --prefix policy');
    expect(runs.some((r) => /^pulumi preview --stack staging --policy-pack policy\b/.test(r))).toBe(true);
  });

  it('previews both stacks with the official action commenting on the pull request, and posts the release report', () => {
    const preview = all.preview;
    expect(obj(obj(preview.strategy, 'strategy').matrix, 'matrix').stack).toEqual(['staging', 'production']);
    const action = steps(preview).find((s) => str(s.uses).startsWith('pulumi/actions@'));
    expect(obj(action?.with, 'with')).toMatchObject({
      command: 'preview',
      'stack-name': '${{ matrix.stack }}',
      'comment-on-pr': true,
    });
    const runs = steps(preview).map((s) => str(s.run));
    expect(
      runs.some((r) => r.includes('npm run --silent release -- preview "${{ matrix.stack }}" --markdown')),
    ).toBe(true);
    expect(runs.some((r) => r.startsWith('.github/scripts/pr-comment.sh'))).toBe(true);
    expect(obj(preview.permissions, 'permissions')['pull-requests']).toBe('write');
  });

  it('has one job to require, which fails unless every other job passed', () => {
    const ready = all.ready;
    expect(ready.name).toBe('ready');
    expect(ready.if).toBe('always()');
    expect([...(ready.needs as string[])].sort()).toEqual(
      Object.keys(all)
        .filter((j) => j !== 'ready')
        .sort(),
    );
  });
});

describe('releases', () => {
  const release = jobs(load('release.yml').doc).release;
  const names = steps(release).map((s) => str(s.id) || str(s.name) || str(s.uses));
  const byId = (id: string) => steps(release).find((s) => s.id === id) ?? {};

  it('never runs two releases of one stack at once, and never cancels one', () => {
    expect(release.concurrency).toEqual({ group: 'deploy-${{ inputs.stack }}', 'cancel-in-progress': false });
    expect(obj(release.environment, 'environment').name).toBe('${{ inputs.environment }}');
  });

  it('deploys, load-tests the preview Service, promotes, checks, in that order', () => {
    const order = ['deploy', 'loadtest', 'promote', 'check'].map((id) => names.indexOf(id));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(byId('deploy').run).toBe('npm run release -- deploy "$STACK" "$IMAGE" --commit');
    expect(byId('loadtest').run).toBe('.github/scripts/load-test.sh "$STACK" "$LOAD_PROFILE"');
    expect(byId('promote').run).toBe('npm run release -- promote "$STACK" --commit');
    expect(byId('check').run).toBe('npm run release -- status "$STACK"');
  });

  it('rolls back only a failure after a successful switch', () => {
    const rollback = steps(release).find((s) => s.name === 'Roll back') ?? {};
    expect(rollback.if).toBe("failure() && steps.promote.outcome == 'success'");
    expect(rollback.run).toBe('npm run release -- rollback "$STACK" --commit');
    expect(names.indexOf('Roll back')).toBeGreaterThan(names.indexOf('check'));
  });

  it('staging builds and pushes, then releases the pushed digest with the peak load test by default', () => {
    const all = jobs(load('deploy-staging.yml').doc);
    expect(load('deploy-staging.yml').doc.on).toMatchObject({ push: { branches: ['develop'] } });
    const build = steps(all.image).find((s) => str(s.uses).startsWith('docker/build-push-action@'));
    expect(obj(build?.with, 'with')).toMatchObject({ push: true, platforms: 'linux/amd64' });
    expect(all.release.uses).toBe('./.github/workflows/release.yml');
    expect(all.release.with).toEqual({
      stack: 'staging',
      environment: 'staging',
      image: '${{ inputs.image || needs.image.outputs.image }}',
      'load-profile': "${{ inputs.load-profile || 'peak' }}",
      branch: 'develop',
    });
  });

  it('production releases behind the production environment, without a load test', () => {
    const { doc } = load('deploy-production.yml');
    expect(doc.on).toMatchObject({ push: { branches: ['main'] } });
    const all = jobs(doc);
    expect(all.release.with).toEqual({
      stack: 'production',
      environment: 'production',
      image: '${{ needs.image.outputs.image }}',
      'load-profile': 'none',
      branch: 'main',
    });
    const pick = steps(all.image).find((s) => s.id === 'pick');
    expect(str(pick?.run)).toContain('node .github/scripts/promoted-image.js Pulumi.staging.yaml');
  });
});

describe('security', () => {
  const { doc } = load('security.yml');
  const all = jobs(doc);

  it('runs daily and on demand', () => {
    const on = obj(doc.on, 'on');
    expect(on.schedule).toEqual([{ cron: '17 4 * * *' }]);
    expect(on).toHaveProperty('workflow_dispatch');
  });

  it('has CodeQL, dependency review, npm audit, licenses, gitleaks and Trivy on IaC and rendered manifests', () => {
    expect(Object.keys(all).sort()).toEqual(
      ['codeql', 'dependency-review', 'licenses', 'npm-audit', 'secrets', 'trivy'].sort(),
    );
    const runs = Object.values(all)
      .flatMap(steps)
      .map((s) => str(s.run));
    expect(runs).toContain('scripts/check-licenses');
    expect(runs.some((r) => r.includes('scripts/render-manifests --out'))).toBe(true);
    expect(runs.filter((r) => r.includes('trivy" config')).length).toBeGreaterThanOrEqual(2);
    expect(runs.some((r) => r.includes('gitleaks" git') && r.includes('--config .gitleaks.toml'))).toBe(true);
  });

  it('uploads SARIF from every tool that writes it', () => {
    const uploads = Object.values(all)
      .flatMap(steps)
      .filter((s) => str(s.uses).startsWith('github/codeql-action/upload-sarif@'))
      .map((s) => obj(s.with, 'with').category);
    expect(uploads.sort()).toEqual(['gitleaks', 'trivy-iac', 'trivy-manifests']);
  });
});

describe('commands', () => {
  const texts = WORKFLOW_FILES.map((f) => load(f).text);

  it('uses only release sub-commands the release command has', () => {
    const cli = fs.readFileSync(path.join(REPO, 'release', 'cli.ts'), 'utf8');
    const used = new Set<string>();
    for (const text of texts) {
      for (const m of text.matchAll(/npm run (?:--silent )?release -- (\w+)/g)) {
        used.add(m[1]);
      }
    }
    expect([...used].sort()).toEqual(['deploy', 'preview', 'promote', 'rollback', 'status']);
    for (const command of used) {
      expect(cli).toContain(`case '${command}':`);
    }
  });

  it('runs only scripts that exist and are executable', () => {
    const scripts = new Set<string>();
    for (const text of texts) {
      for (const m of text.matchAll(/(?:^|\s)((?:\.github\/)?scripts\/[\w./-]+)/gm)) {
        scripts.add(m[1]);
      }
    }
    expect(scripts.size).toBeGreaterThan(4);
    for (const script of scripts) {
      const full = path.join(REPO, script);
      expect([script, fs.existsSync(full)]).toEqual([script, true]);
      if (!script.endsWith('.js')) {
        expect([script, (fs.statSync(full).mode & 0o111) !== 0 || script.endsWith('.sh')]).toEqual([
          script,
          true,
        ]);
      }
    }
  });

  it('shellcheck accepts the workflow scripts', async () => {
    const files = fs
      .readdirSync(path.join(REPO, '.github', 'scripts'))
      .filter((f) => f.endsWith('.sh'))
      .map((f) => path.join('.github', 'scripts', f));
    const result = await run('shellcheck', [
      ...files,
      'scripts/setup/workflow-tools.sh',
      'scripts/check-licenses',
    ]);
    expect(result.stdout).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('run steps, executed with bash', () => {
  const digest = `sha256:${'e'.repeat(64)}`;

  function stepScript(file: string, job: string, match: (s: Doc) => boolean): string {
    const step = steps(jobs(load(file).doc)[job]).find(match);
    if (step === undefined || typeof step.run !== 'string') {
      throw new Error(`no such step in ${file} ${job}`);
    }
    return step.run;
  }

  it.each([
    [`ghcr.io/acme/pavemaster/web:git-0123456789ab@${digest}`, 0],
    [`registry.example.com:5000/web@${digest}`, 0],
    ['ghcr.io/acme/pavemaster/web:git-0123456789ab', 1],
    ['ghcr.io/acme/web:latest', 1],
    [`ghcr.io/acme/web@sha256:${'e'.repeat(63)}`, 1],
    [`x; curl evil@${digest}`, 1],
  ])('the release refuses an image that is not pinned by digest: %s -> %i', async (image, code) => {
    const script = stepScript('release.yml', 'release', (s) => s.name === 'The image is pinned by digest');
    const result = await run('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, IMAGE: image },
    });
    expect(result.code).toBe(code);
  });

  it('production takes a requested digest, else staging’s promoted image, and never an unpinned one', async () => {
    const script = stepScript('deploy-production.yml', 'image', (s) => s.id === 'pick');
    const tmp = tempDir('gh-output');
    try {
      const output = path.join(tmp.dir, 'out');
      const requested = `ghcr.io/acme/web:git-1@${digest}`;
      const ok = await run('bash', ['-euo', 'pipefail', '-c', script], {
        env: { ...process.env, REQUESTED: requested, GITHUB_OUTPUT: output },
      });
      expect(ok.code).toBe(0);
      expect(fs.readFileSync(output, 'utf8')).toBe(`image=${requested}\n`);
      // The committed staging stack runs an unpinned image today: production refuses it.
      const refused = await run('bash', ['-euo', 'pipefail', '-c', script], {
        env: { ...process.env, REQUESTED: '', GITHUB_OUTPUT: output },
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('not pinned by digest');
    } finally {
      tmp.remove();
    }
  });
});
