/**
 * The operations and architecture docs: their Mermaid diagrams parse with the real Mermaid parser, every command
 * they give is one the project has, and every runbook link lands on a runbook.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO, run, tempDir } from './tools';

// Real tools on a two-core machine that may be busy with other suites: generous bounds.
jest.setTimeout(60_000);

const CACHE = process.env.PAVEMASTER_CACHE ?? path.join(os.homedir(), '.cache', 'pavemaster');
const MODULES = path.join(CACHE, 'mermaid', 'node_modules');
const read = (file: string) => fs.readFileSync(path.join(REPO, file), 'utf8');

function checkMermaid(...files: string[]) {
  if (!fs.existsSync(path.join(MODULES, 'mermaid'))) {
    throw new Error(`Mermaid is not installed under ${MODULES}: run scripts/setup/workflow-tools.sh`);
  }
  return run('node', ['.github/scripts/check-mermaid.mjs', '--modules', MODULES, ...files], {
    timeoutMs: 60_000,
  });
}

describe('diagrams', () => {
  it('parses the architecture diagrams', async () => {
    const result = await checkMermaid('docs/architecture.md');
    expect(result.stdout).toContain('check-mermaid: 3 diagram(s), 0 failed');
    expect(result.code).toBe(0);
  }, 90_000);

  it('fails a broken diagram', async () => {
    const tmp = tempDir('mermaid');
    try {
      const file = path.join(tmp.dir, 'broken.md');
      fs.writeFileSync(file, '# x\n\n```mermaid\nflowchart LR\n  a["open --> b((\n```\n');
      const result = await checkMermaid(file);
      expect(result.stdout).toContain('1 failed');
      expect(result.code).toBe(1);
    } finally {
      tmp.remove();
    }
  }, 90_000);
});

describe('docs/operations.md', () => {
  const ops = read('docs/operations.md');

  it('covers deploying, promoting, both rollbacks, recovery, secrets, environments and on-call', () => {
    for (const text of [
      'npm run release -- deploy staging',
      'npm run release -- promote staging',
      'npm run release -- rollback staging`',
      'npm run release -- rollback staging --to <version>',
      'npm run release -- recover staging',
      'pulumi cancel',
      'pulumi stack export',
      'pulumi stack import',
      '--clear-pending-creates',
      '## Rotating a secret',
      '## Adding an environment',
      '## On-call: first steps for each alert',
      '## Reading the preview comment',
    ]) {
      expect([text, ops.includes(text)]).toEqual([text, true]);
    }
  });

  it('uses only release sub-commands the release command has', () => {
    const cli = read('release/cli.ts');
    const used = new Set([...ops.matchAll(/npm run release -- (\w+)/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThanOrEqual(6);
    for (const command of used) {
      expect([command, cli.includes(`case '${command}':`)]).toEqual([command, true]);
    }
  });

  it('names only scripts that exist', () => {
    const docs = ops + read('docs/architecture.md');
    const scripts = new Set([...docs.matchAll(/`((?:\.github\/)?scripts\/[\w./-]*\w)/g)].map((m) => m[1]));
    expect(scripts.size).toBeGreaterThan(5);
    for (const script of scripts) {
      expect([script, fs.existsSync(path.join(REPO, script))]).toEqual([script, true]);
    }
  });

  it('links every alert to a runbook section that exists', () => {
    const runbooks = read('docs/runbooks.md');
    const anchors = new Set(
      [...runbooks.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
        m[1]
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    const links = [...ops.matchAll(/\]\(runbooks\.md#([\w-]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(15);
    for (const anchor of links) {
      expect([anchor, anchors.has(anchor)]).toEqual([anchor, true]);
    }
  });
});
