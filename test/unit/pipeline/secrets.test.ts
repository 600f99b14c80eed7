/**
 * The secret scan, with the real gitleaks (pinned by scripts/setup/workflow-tools.sh): the repository's whole git
 * history is clean under .gitleaks.toml; a secret committed to a scratch repository is found; and the allowlist
 * lets only its documented false positives through. The fake secrets are derived at run time from seeds, so none is
 * ever committed.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPO, run, tempDir, tool } from './tools';

// Real tools on a two-core machine that may be busy with other suites: generous bounds.
jest.setTimeout(60_000);

const CONFIG = path.join(REPO, '.gitleaks.toml');

/**
 * A key-like value derived from a seed: the same on every run (the gitleaks version is pinned, so whether its rules
 * fire is deterministic), yet no such value is written in this file for the history scan to find.
 */
function derivedKey(seed: string, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) {
    out += createHash('sha256')
      .update(`${seed}:${i}`)
      .digest('base64')
      .replace(/[^A-Za-z0-9]/g, '');
  }
  return out.slice(0, length);
}

async function git(cwd: string, ...args: string[]): Promise<void> {
  const result = await run('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
    cwd,
  });
  if (result.code !== 0) {
    throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  }
}

async function scratchRepo(files: Record<string, string>): Promise<{ dir: string; remove: () => void }> {
  const tmp = tempDir('gitleaks');
  await git(tmp.dir, 'init', '-q');
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(tmp.dir, name), text);
  }
  await git(tmp.dir, 'add', '.');
  await git(tmp.dir, 'commit', '-q', '-m', 'fixture');
  return tmp;
}

function scan(dir: string): Promise<{ code: number; findings: { RuleID: string; File: string }[] }> {
  const report = path.join(dir, '..', `${path.basename(dir)}-report.json`);
  return run(
    tool('gitleaks'),
    [
      'git',
      '--no-banner',
      '--redact',
      '--config',
      CONFIG,
      '--report-format',
      'json',
      '--report-path',
      report,
      dir,
    ],
    { timeoutMs: 120_000 },
  ).then((result) => {
    const findings = JSON.parse(fs.readFileSync(report, 'utf8')) as { RuleID: string; File: string }[];
    fs.rmSync(report, { force: true });
    return { code: result.code, findings };
  });
}

describe('gitleaks', () => {
  it('finds no secret in the repository’s history', async () => {
    const commits = await run('git', ['rev-list', '--count', 'HEAD']);
    expect(Number(commits.stdout.trim())).toBeGreaterThan(1);
    const result = await scan(REPO);
    expect(result.findings.map((f) => `${f.RuleID} ${f.File}`)).toEqual([]);
    expect(result.code).toBe(0);
  }, 150_000);

  it('finds a token committed to a repository', async () => {
    const token = `ghp_${derivedKey('pavemaster-gitleaks-token', 36)}`;
    const repo = await scratchRepo({ 'deploy.sh': `export GITHUB_TOKEN=${token}\n` });
    try {
      const result = await scan(repo.dir);
      expect(result.code).toBe(1);
      expect(result.findings.map((f) => f.RuleID)).toContain('github-pat');
    } finally {
      repo.remove();
    }
  }, 60_000);

  it('lets through only the documented Pulumi secret markers, not look-alikes next to them', async () => {
    const lookAlike = derivedKey('pavemaster-gitleaks-look-alike', 32);
    const repo = await scratchRepo({
      'markers.ts': [
        "const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';",
        "const SIG_KEY = '4dabf18193072939515e22adb298388d';",
        '',
      ].join('\n'),
      'other.ts': `const API_SECRET_KEY = '${lookAlike}';\n`,
    });
    try {
      const result = await scan(repo.dir);
      expect(result.findings.map((f) => f.File)).toEqual(['other.ts']);
      expect(result.code).toBe(1);
    } finally {
      repo.remove();
    }
  }, 60_000);
});
