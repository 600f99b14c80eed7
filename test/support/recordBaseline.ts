/**
 * Records the render baseline of a git revision: exports that revision's tree to a scratch directory, renders
 * every case of test/support/render.ts through its own `infra/index.ts` under mocks, and writes the result as the
 * fixture that test/unit/render/baseline.test.ts compares the working tree against.
 *
 *   npx ts-node --transpile-only test/support/recordBaseline.ts <revision> [output.json]
 *
 * The revision is what the comparison is about (the tree before a refactoring); the output defaults to
 * test/unit/render/fixtures/baseline.json. The same revision gives the same file, byte for byte.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { renderTree } from './render';

const REPO = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const [rev, outArg] = process.argv.slice(2);
  if (rev === undefined) {
    process.stderr.write('usage: recordBaseline.ts <revision> [output.json]\n');
    process.exit(64);
  }
  const commit = execFileSync('git', ['rev-parse', `${rev}^{commit}`], { cwd: REPO })
    .toString()
    .trim();
  const out = path.resolve(outArg ?? path.join(REPO, 'test', 'unit', 'render', 'fixtures', 'baseline.json'));
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-baseline-'));
  try {
    const archive = execFileSync('git', ['archive', '--format=tar', commit], {
      cwd: REPO,
      maxBuffer: 512 * 2 ** 20,
    });
    execFileSync('tar', ['-x', '-C', tree], { input: archive });
    // The old tree runs on this checkout's packages (the lock file is what both trees share).
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(tree, 'node_modules'), 'dir');
    const cases = await renderTree(tree);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify({ commit, cases }, null, 1)}\n`);
    const counts = Object.entries(cases).map(([id, r]) => `${id} ${r.resources.length}`);
    process.stdout.write(`recorded ${commit.slice(0, 12)}: ${counts.join(', ')} resources -> ${out}\n`);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
