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

  it('names only the documented secrets and variables', () => {
    const names = new Set<string>();
    const vars = new Set<string>();
    for (const file of WORKFLOW_FILES) {
      for (const m of load(file).text.matchAll(/secrets\.([A-Z_]+)/g)) {
        names.add(m[1]);
      }
      for (const m of load(file).text.matchAll(/vars\.([A-Z_]+)/g)) {
        vars.add(m[1]);
      }
    }
    expect([...names].sort()).toEqual(
      [
        'GITHUB_TOKEN',
        'KUBECONFIG_PRODUCTION',
        'KUBECONFIG_STAGING',
        'PULUMI_ACCESS_TOKEN',
        'PULUMI_CONFIG_PASSPHRASE',
      ].sort(),
    );
    expect([...vars]).toEqual(['PULUMI_BACKEND_URL']);
    const ops = fs.readFileSync(path.join(REPO, 'docs', 'operations.md'), 'utf8');
    for (const name of [...names, ...vars]) {
      expect([name, ops.includes(name)]).toEqual([name, true]);
    }
  });
});

/** Every `run:` step of every job, with where it is. */
function allRunSteps(): { file: string; job: string; run: string }[] {
  return WORKFLOW_FILES.flatMap((file) =>
    Object.entries(jobs(load(file).doc)).flatMap(([job, j]) =>
      steps(j)
        .filter((s) => typeof s.run === 'string')
        .map((s) => ({ file, job, run: str(s.run).trim() })),
    ),
  );
}

describe('thin wrappers', () => {
  // A step is one command of this repository (or npm's), so the test suite can run exactly what a job runs.
  const COMMAND =
    /^(?:[A-Z_]+=\S+ )*(?:\.github\/scripts\/[\w.-]+\.sh|node \.github\/scripts\/[\w.-]+\.js|(?:bash )?scripts\/[\w./-]+|npm (?:ci|run|audit|test)\b)/;

  it('runs one repository command per step, never an inline script', () => {
    const bad = allRunSteps().filter((s) => s.run.includes('\n') || !COMMAND.test(s.run));
    expect(bad).toEqual([]);
  });

  it('checks the repository out before any step that runs one of its commands (a job starts with an empty workspace)', () => {
    const missing: string[] = [];
    for (const file of WORKFLOW_FILES) {
      for (const [id, job] of Object.entries(jobs(load(file).doc))) {
        if (job.uses !== undefined) {
          continue; // a reusable workflow checks out itself
        }
        let checkedOut = false;
        for (const s of steps(job)) {
          if (str(s.uses).startsWith('actions/checkout@')) {
            checkedOut = true;
          }
          const command = str(s.run);
          if (
            !checkedOut &&
            /(?:^|\s)(?:node |bash )?(?:\.github\/scripts|scripts)\/|npm (?:ci|run|test)\b/.test(command)
          ) {
            missing.push(`${file} ${id}: ${command}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('calls the release command from one place only (.github/scripts/release.sh)', () => {
    const direct: string[] = [];
    for (const file of WORKFLOW_FILES) {
      if (/npm run (?:--silent )?release\b/.test(load(file).text)) {
        direct.push(file);
      }
    }
    for (const script of fs.readdirSync(path.join(REPO, '.github', 'scripts'))) {
      const text = fs.readFileSync(path.join(REPO, '.github', 'scripts', script), 'utf8');
      if (/npm run (?:--silent )?release\b/.test(text) && script !== 'release.sh') {
        direct.push(script);
      }
    }
    expect(direct).toEqual([]);
    const cli = fs.readFileSync(path.join(REPO, 'release', 'cli.ts'), 'utf8');
    const used = new Set<string>();
    for (const dir of ['workflows', 'scripts']) {
      for (const f of fs.readdirSync(path.join(REPO, '.github', dir))) {
        const text = fs.readFileSync(path.join(REPO, '.github', dir, f), 'utf8');
        for (const m of text.matchAll(/release\.sh"? (\w+)/g)) {
          used.add(m[1]);
        }
      }
    }
    expect([...used].sort()).toEqual(['abort', 'deploy', 'preview', 'promote', 'rollback', 'status']);
    for (const command of used) {
      expect(cli).toContain(`case '${command}':`);
    }
  });
});

describe('pull requests', () => {
  const { doc } = load('pull-request.yml');
  const all = jobs(doc);

  it('runs lint, type check and the tests', () => {
    const runs = Object.values(all)
      .flatMap(steps)
      .map((s) => str(s.run));
    expect(runs).toContain('npm run lint');
    expect(runs).toContain('npm run typecheck');
    expect(runs).toContain('.github/scripts/ci-test.sh');
  });

  it('previews both stacks through the policy pack, then posts one comment for both', () => {
    const preview = all.preview;
    expect(obj(obj(preview.strategy, 'strategy').matrix, 'matrix').stack).toEqual(['staging', 'production']);
    expect(steps(preview).map((s) => str(s.run))).toContain(
      '.github/scripts/preview.sh "$STACK" "$RUNNER_TEMP/preview"',
    );
    expect(obj(preview.env, 'env').STACK).toBe('${{ matrix.stack }}');
    // No other comment writer: the one comment job holds the only pull-requests: write.
    for (const [id, job] of Object.entries(all)) {
      expect([id, obj(job.permissions, id)['pull-requests']]).toEqual([
        id,
        id === 'comment' ? 'write' : undefined,
      ]);
    }
    expect(all.comment.needs).toBe('preview');
    expect(all.comment.if).toMatch(/^always\(\) && /);
    expect(steps(all.comment).map((s) => str(s.run))).toContain(
      'node .github/scripts/pr-comment.js "$PR_NUMBER" "$RUNNER_TEMP/previews"',
    );
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

  it('deploys, load-tests the preview Service, promotes, checks, rolls back or aborts, records, pushes, in that order', () => {
    const order = [
      'deploy',
      'loadtest',
      'promote',
      'check',
      'rollback',
      'abort',
      'Record the promoted image',
      'Commit the stack file back',
    ].map((id) => names.indexOf(id));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(byId('deploy').run).toBe('.github/scripts/release.sh deploy "$STACK" "$IMAGE" --commit');
    expect(byId('loadtest').run).toBe('.github/scripts/load-test.sh "$STACK" "$LOAD_PROFILE"');
    expect(byId('promote').run).toBe('.github/scripts/release.sh promote "$STACK" --commit');
    expect(byId('check').run).toBe('.github/scripts/post-promotion-check.sh "$STACK" "$IMAGE"');
    // An open release (the lock deploy took) is ended when its gates failed or promote never ran.
    expect(byId('abort').run).toBe('.github/scripts/release.sh abort "$STACK" --commit');
    expect(str(byId('abort').if)).toContain("steps.promote.outputs.exit-code == '2'");
  });

  it('staging builds the reference app and releases the pushed digest with the peak load test by default', () => {
    const all = jobs(load('deploy-staging.yml').doc);
    expect(load('deploy-staging.yml').doc.on).toMatchObject({ push: { branches: ['develop'] } });
    const build = steps(all.image).find((s) => str(s.uses).startsWith('docker/build-push-action@'));
    expect(obj(build?.with, 'with')).toMatchObject({
      push: true,
      platforms: 'linux/amd64',
      context: 'examples/web',
      file: 'examples/web/Dockerfile',
      'build-args': 'VERSION=${{ steps.name.outputs.tag }}',
    });
    expect(all.release.uses).toBe('./.github/workflows/release.yml');
    expect(all.release.with).toEqual({
      stack: 'staging',
      environment: 'staging',
      image: '${{ inputs.image || needs.image.outputs.image }}',
      'load-profile': "${{ inputs.load-profile || 'peak' }}",
      branch: 'develop',
      'record-promotion': true,
    });
  });

  it('production releases behind the production environment, without a load test, the digest staging recorded', () => {
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
    expect(str(pick?.run)).toBe('node .github/scripts/promotion.js pick staging');
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
    expect(runs).toContain(
      '.github/scripts/trivy-config.sh "$RUNNER_TEMP/bin/trivy" "$RUNNER_TEMP/rendered" "$RUNNER_TEMP"',
    );
    expect(runs).toContain('.github/scripts/secret-scan.sh "$RUNNER_TEMP/gitleaks.sarif"');
    expect(runs).toContain('npm audit --prefix examples/web --omit=dev --audit-level=high');
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
  it('runs only scripts that exist and are executable', () => {
    const scripts = new Set<string>();
    for (const { run: text } of allRunSteps()) {
      for (const m of text.matchAll(/(?:^|\s)((?:\.github\/)?scripts\/[\w./-]+)/gm)) {
        scripts.add(m[1]);
      }
    }
    expect(scripts.size).toBeGreaterThan(10);
    for (const script of scripts) {
      const full = path.join(REPO, script);
      expect([script, fs.existsSync(full)]).toEqual([script, true]);
      if (!script.endsWith('.js')) {
        expect([script, (fs.statSync(full).mode & 0o111) !== 0]).toEqual([script, true]);
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
