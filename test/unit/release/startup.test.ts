/**
 * The release command's start (issue 15: a promote as its own process within 2x a raw `kubectl patch`): the bin
 * runs the build from scripts/build-cli.js while it is current and the TypeScript otherwise, and neither loads a
 * Pulumi SDK module (or undici) before a command runs. Real processes: the bin with a preload that writes down
 * every module the process loaded. The build goes to a folder of this test's own (PAVEMASTER_CLI_BUILD), so the
 * other tests' runs of the bin never see it half-written.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO } from '../../support/stackConfig';

jest.setTimeout(120_000);

const BIN = path.join(REPO, 'release', 'bin', 'pavemaster.js');
const BUILD = path.join(REPO, 'dist', `cli-test-${process.pid}`);
let scratch: string;

/** Runs the bin; returns its output and every module file it loaded (relative to the repository). */
function run(
  args: string[],
  env: Record<string, string>,
): { stdout: string; status: number | null; modules: string[] } {
  const list = path.join(scratch, `modules-${Math.random().toString(36).slice(2)}.json`);
  const preload = path.join(scratch, 'preload.js');
  const r = spawnSync(process.execPath, ['--require', preload, BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env, STARTUP_TEST_MODULES: list },
  });
  const modules = (JSON.parse(fs.readFileSync(list, 'utf8')) as string[]).map((m) => path.relative(REPO, m));
  return { stdout: r.stdout, status: r.status, modules };
}

const sdk = (modules: string[]): string[] =>
  modules.filter((m) => /node_modules\/(@pulumi\/(pulumi|kubernetes|random|docker)|undici)\//.test(m));

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-startup-'));
  fs.writeFileSync(
    path.join(scratch, 'preload.js'),
    "process.on('exit', () => require('fs').writeFileSync(process.env.STARTUP_TEST_MODULES, JSON.stringify(Object.keys(require.cache))));\n",
  );
  execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build-cli.js'), '--out', BUILD], {
    stdio: 'pipe',
  });
});

afterAll(() => {
  fs.rmSync(BUILD, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('pavemaster start', () => {
  it('runs the current build, loads no Pulumi SDK module, and prints what the TypeScript prints', () => {
    const built = run(['--help'], { PAVEMASTER_CLI_BUILD: BUILD });
    const source = run(['--help'], { PAVEMASTER_CLI_FROM_SOURCE: '1' });
    expect([built.status, source.status]).toEqual([0, 0]);
    // One file: the bundle (scripts/build-cli.js bundle()), with `yaml` inside it, none of the separate modules.
    const fromBuild = built.modules.filter((m) => m.startsWith(path.relative(REPO, BUILD) + path.sep));
    expect(fromBuild).toEqual([path.relative(REPO, path.join(BUILD, 'pavemaster.js'))]);
    expect(built.modules.filter((m) => m.includes('node_modules/yaml/'))).toEqual([]);
    expect(source.modules.some((m) => m.includes('node_modules/yaml/'))).toBe(true);
    expect(built.modules.filter((m) => m.startsWith('release/') && m.endsWith('.ts'))).toEqual([]);
    // release/interrupt.ts finds the guarded pulumi and kubectl at <the module's folder>/bin/guard: in the bundle
    // that folder is the build's own.
    for (const tool of ['pulumi', 'kubectl']) {
      expect(fs.statSync(path.join(BUILD, 'bin', 'guard', tool)).mode & 0o111).not.toBe(0);
    }
    expect(source.modules).toContain('release/cli.ts');
    expect(built.stdout).toBe(source.stdout);
    expect(built.stdout).toContain('promote');
    // commands/index.ts imports every command: what --help loads is what promote, rollback and status load
    // before they run.
    expect(sdk(built.modules)).toEqual([]);
    expect(sdk(source.modules)).toEqual([]);
  });

  it('falls back to the TypeScript when a compiled source changed since the build, or without a build', () => {
    const manifestFile = path.join(BUILD, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as {
      sources: Record<string, [number, number]>;
    };
    expect(Object.keys(manifest.sources)).toEqual(
      expect.arrayContaining(['release/cli.ts', 'stacks/settings.ts']),
    );
    // A source whose size or time differs from the build's record: as after an edit.
    const edited = {
      ...manifest,
      sources: { ...manifest.sources, 'stacks/settings.ts': [manifest.sources['stacks/settings.ts'][0], 1] },
    };
    fs.writeFileSync(manifestFile, JSON.stringify(edited));
    try {
      const stale = run(['--help'], { PAVEMASTER_CLI_BUILD: BUILD });
      expect(stale.status).toBe(0);
      expect(stale.modules).toContain('release/cli.ts');
      expect(stale.modules.some((m) => m.startsWith(path.relative(REPO, BUILD)))).toBe(false);
    } finally {
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    }
    const none = run(['--help'], { PAVEMASTER_CLI_BUILD: path.join(scratch, 'no-build') });
    expect(none.status).toBe(0);
    expect(none.modules).toContain('release/cli.ts');
  });
});
