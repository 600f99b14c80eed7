/**
 * The local workflow runner the job tests rely on: its expression evaluator against GitHub's documented
 * semantics, and the runner on small workflows written here (step outputs, env files, conditions after a failure,
 * needs, matrix, a reusable workflow with `secrets: inherit`, an environment that needs an approval, a leaked
 * secret), so a job test's verdict means what GitHub's would.
 */
import * as fs from 'fs';
import * as path from 'path';
import { condition, evaluate, EvalContext, interpolate } from './runner/expressions';
import { sharedNpmCi } from './runner/actions';
import { hashFiles, JobRecord, LocalRunner, parseCommandFile } from './runner/runner';
import { tempDir } from './tools';

const ctx: EvalContext = {
  contexts: {
    github: { event_name: 'push', ref: 'refs/heads/main', event: { pull_request: null } },
    inputs: { image: '', profile: 'peak', flag: true },
    needs: { a: { result: 'success', outputs: { x: '1' } }, b: { result: 'skipped', outputs: {} } },
    steps: { s: { outcome: 'failure', outputs: { 'exit-code': '4' } } },
    matrix: { stack: 'production' },
    secrets: { K: 'prod-secret', S: 'staging-secret' },
  },
};

describe('expressions', () => {
  it.each([
    ["inputs.image || 'default'", 'default'],
    ["inputs.profile || 'peak'", 'peak'],
    ["matrix.stack == 'production' && secrets.K || secrets.S", 'prod-secret'],
    ["matrix.stack == 'staging' && secrets.K || secrets.S", 'staging-secret'],
    ["github.ref == 'REFS/HEADS/MAIN'", true], // strings compare case-insensitively
    ["steps.s.outputs.exit-code == '4'", true],
    ['steps.s.outputs.exit-code == 4', true], // loose: '4' == 4
    ["steps.missing.outcome == 'success'", false],
    ['needs.*.result', ['success', 'skipped']],
    ["contains(needs.*.result, 'skipped')", true],
    ["startsWith(github.ref, 'refs/heads/')", true],
    ["format('{0}-{1}', 'a', matrix.stack)", 'a-production'],
    ['!inputs.image', true],
    ['inputs.flag', true],
    ['github.event.pull_request.head.repo.full_name', null],
    ["fromJSON('[1,2]')[1]", 2],
    ['1 < 2 && 2 <= 2', true],
  ])('%s -> %j', (expr, value) => {
    expect(evaluate(expr, ctx)).toEqual(value);
  });

  it('writes values into text the way the runner does', () => {
    expect(interpolate('x=${{ inputs.image }}|${{ inputs.flag }}|${{ toJSON(needs.*.result) }}', ctx)).toBe(
      'x=|true|[\n  "success",\n  "skipped"\n]',
    );
  });

  it('refuses what is not in the grammar instead of guessing', () => {
    expect(() => evaluate('inputs.image ==', ctx)).toThrow(/unexpected end/);
    expect(() => evaluate('nosuch.x', ctx)).toThrow(/unknown context/);
    expect(() => evaluate('eval(1)', ctx)).toThrow(/unknown function/);
  });

  it('adds an implicit success() to a condition without a status function', () => {
    const failed: EvalContext = { ...ctx, jobStatus: 'failure' };
    expect(condition("inputs.profile != 'none'", ctx)).toBe(true);
    expect(condition("inputs.profile != 'none'", failed)).toBe(false);
    expect(condition("failure() && steps.s.outcome == 'failure'", failed)).toBe(true);
    expect(condition("${{ always() && steps.s.outcome != 'skipped' }}", failed)).toBe(true);
    expect(condition(undefined, failed)).toBe(false);
    // A job's condition looks at the jobs it needs.
    expect(condition(undefined, { ...ctx, needsResults: ['success', 'failure'] })).toBe(false);
    expect(condition('always()', { ...ctx, needsResults: ['failure'] })).toBe(true);
  });
});

describe('command files and hashFiles', () => {
  it('reads k=v lines and heredocs', () => {
    expect(parseCommandFile('a=1\nb<<EOF\nline 1\nline 2\nEOF\nc=x=y\n')).toEqual({
      a: '1',
      b: 'line 1\nline 2',
      c: 'x=y',
    });
    expect(() => parseCommandFile('b<<EOF\nnever closed\n')).toThrow(/unterminated/);
  });

  it('hashes the matching files, sorted, and changes when one of them changes', () => {
    const tmp = tempDir('hashfiles');
    try {
      fs.mkdirSync(path.join(tmp.dir, 'toolchain', 'a'), { recursive: true });
      fs.writeFileSync(path.join(tmp.dir, 'toolchain', 'a', 'go.mod'), 'module a\n');
      fs.writeFileSync(path.join(tmp.dir, 'other.txt'), 'x');
      const before = hashFiles(tmp.dir, ['toolchain/**']);
      expect(before).toMatch(/^[0-9a-f]{64}$/);
      fs.writeFileSync(path.join(tmp.dir, 'other.txt'), 'y');
      expect(hashFiles(tmp.dir, ['toolchain/**'])).toBe(before);
      fs.writeFileSync(path.join(tmp.dir, 'toolchain', 'a', 'go.mod'), 'module a\n\ngo 1.26\n');
      expect(hashFiles(tmp.dir, ['toolchain/**'])).not.toBe(before);
      expect(hashFiles(tmp.dir, ['nothing/**'])).toBe('');
    } finally {
      tmp.remove();
    }
  });
});

describe('LocalRunner', () => {
  const tmp = tempDir('runner');
  const repo = path.join(tmp.dir, 'repo');
  fs.mkdirSync(path.join(repo, '.github', 'workflows'), { recursive: true });
  const write = (name: string, text: string) =>
    fs.writeFileSync(path.join(repo, '.github', 'workflows', name), text);
  afterAll(() => tmp.remove());

  write(
    'main.yml',
    `
name: main
on: { workflow_dispatch: { inputs: { fail: { type: string, default: 'no' } } } }
env: { TOP: top }
jobs:
  first:
    runs-on: ubuntu-24.04
    outputs: { value: "\${{ steps.out.outputs.value }}" }
    env: { JOB: job }
    steps:
      - id: out
        run: |
          echo "value=$TOP-$JOB-\${{ inputs.fail }}" >> "$GITHUB_OUTPUT"
          echo "LATER=from-env-file" >> "$GITHUB_ENV"
      - id: later
        run: test "$LATER" = from-env-file
      - id: maybe
        run: test "\${{ inputs.fail }}" = no
      - name: only after a failure
        if: failure()
        run: echo cleaning up
      - name: skipped after a failure
        run: echo never
  second:
    needs: first
    runs-on: ubuntu-24.04
    strategy: { matrix: { stack: [a, b] } }
    steps:
      - run: echo "\${{ needs.first.outputs.value }} \${{ matrix.stack }}"
  call:
    needs: first
    uses: ./.github/workflows/called.yml
    with: { stack: production }
    secrets: inherit
`,
  );
  write(
    'called.yml',
    `
name: called
on: { workflow_call: { inputs: { stack: { type: string, required: true } } } }
jobs:
  deploy:
    runs-on: ubuntu-24.04
    environment: { name: "\${{ inputs.stack }}" }
    steps:
      - env: { TOKEN: "\${{ secrets.DEPLOY_TOKEN }}" }
        run: echo "deploying \${{ inputs.stack }} with $TOKEN"
`,
  );

  async function runMain(fail: string, approvedBy?: string): Promise<Record<string, JobRecord>> {
    const runner = new LocalRunner(repo, {
      repository: 'acme/app',
      root: fs.mkdtempSync(path.join(tmp.dir, 'run-')),
      event: { name: 'workflow_dispatch', ref: 'refs/heads/main', sha: 'a'.repeat(40), payload: {} },
      secrets: { DEPLOY_TOKEN: 'repo-level-token' },
      environments: {
        production: { reviewers: ['alice'], approvedBy, secrets: { DEPLOY_TOKEN: 'production-token-123' } },
      },
      actions: {},
      baseEnv: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    const jobs = await runner.run('main.yml', { fail });
    return Object.fromEntries(jobs.map((j) => [j.key, j]));
  }

  it('passes outputs and env files between steps and jobs, and expands the matrix', async () => {
    const jobs = await runMain('no', 'alice');
    expect(jobs.first.result).toBe('success');
    expect(jobs.first.outputs.value).toBe('top-job-no');
    expect(jobs.first.steps.map((s) => s.outcome)).toEqual([
      'success',
      'success',
      'success',
      'skipped',
      'success',
    ]);
    expect(jobs['second (a)'].steps[0].output.trim()).toBe('top-job-no a');
    expect(jobs['second (b)'].steps[0].output.trim()).toBe('top-job-no b');
  });

  it('after a failed step runs only what asks for failure(), and fails the job', async () => {
    const jobs = await runMain('yes', 'alice');
    expect(jobs.first.result).toBe('failure');
    expect(jobs.first.steps.map((s) => s.outcome)).toEqual([
      'success',
      'success',
      'failure',
      'success',
      'skipped',
    ]);
    expect(jobs['second (a)'].result).toBe('skipped');
    expect(jobs.call.result).toBe('skipped');
  });

  it('holds a job of a protected environment until a reviewer approves, then gives it the environment’s secrets', async () => {
    const waiting = await runMain('no');
    expect(waiting['call / deploy'].result).toBe('waiting');
    expect(waiting['call / deploy'].steps).toEqual([]);
    const approved = await runMain('no', 'alice');
    const deploy = approved['call / deploy'];
    expect(deploy.result).toBe('success');
    expect(deploy.approvedBy).toBe('alice');
    expect(deploy.steps[0].output).toContain('deploying production with production-token-123');
    // A step that prints a secret is recorded as a leak.
    expect(deploy.leaks).toEqual([
      'step "Run echo "deploying production with $TOKEN"" printed a secret value',
    ]);
    const notAReviewer = await runMain('no', 'mallory');
    expect(notAReviewer['call / deploy'].result).toBe('waiting');
  });
});

describe('sharedNpmCi (one install for every job of the job tests)', () => {
  const tmp = tempDir('shared-npm-ci');
  afterAll(() => tmp.remove());
  // A "repository" installed from its lockfile (npm's record newer than the lockfile), and a job's workspace.
  const repo = path.join(tmp.dir, 'repo');
  const lock = '{"lockfileVersion":3,"packages":{}}\n';
  fs.mkdirSync(path.join(repo, 'node_modules', 'left-pad'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'package-lock.json'), lock);
  fs.writeFileSync(path.join(repo, 'node_modules', 'left-pad', 'index.js'), 'module.exports = 1;\n');
  fs.writeFileSync(path.join(repo, 'node_modules', '.package-lock.json'), lock);
  const workspace = (lockText: string) => {
    const dir = fs.mkdtempSync(path.join(tmp.dir, 'ws-'));
    fs.writeFileSync(path.join(dir, 'package-lock.json'), lockText);
    return dir;
  };
  const shared = sharedNpmCi(repo);

  it('links the installed tree into a workspace with the same lockfile: real files, the same bytes', async () => {
    const ws = workspace(lock);
    const r = await shared('npm ci --no-audit --no-fund\n', ws);
    expect(r?.code).toBe(0);
    expect(r?.output).toContain('hard-linked (shared install)');
    const file = path.join(ws, 'node_modules', 'left-pad', 'index.js');
    expect(fs.lstatSync(path.join(ws, 'node_modules')).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe('module.exports = 1;\n');
  });

  it('runs the step as written for another lockfile, another command, or a stale install', async () => {
    expect(await shared('npm ci --no-audit --no-fund', workspace('{"other":true}\n'))).toBeUndefined();
    expect(await shared('npm ci --no-audit --no-fund && npm run build', workspace(lock))).toBeUndefined();
    expect(await shared('npm install', workspace(lock))).toBeUndefined();
    // The lockfile changed after the install (newer than npm's record): the tree may not match it.
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(repo, 'package-lock.json'), later, later);
    expect(await shared('npm ci --no-audit --no-fund', workspace(lock))).toBeUndefined();
  });
});
