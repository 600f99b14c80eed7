/**
 * The Pulumi program's entry (infra/main.js, Pulumi.yaml `main`, issue 15): it runs the precompiled program while
 * the build is current and the TypeScript otherwise, the build path loads neither ts-node nor SWC, and both paths report the same TypeScript positions. Real processes: Node.js runs the entry as the
 * language host does (a plain `require` of a JavaScript main), outside the engine, where the program stops at its
 * first check (no stack config: a ConfigError thrown from stacks/problems.ts), with a preload that writes down
 * every module the process loaded. The build goes to a folder of this test's own (PAVEMASTER_PROGRAM_BUILD).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { REPO } from '../../support/stackConfig';

jest.setTimeout(120_000);

const ENTRY = path.join(REPO, 'infra', 'main.js');
const BUILD = path.join(REPO, 'dist', `program-test-${process.pid}`);
let scratch: string;

interface Run {
  status: number | null;
  stderr: string;
  modules: string[];
}

function run(env: Record<string, string>): Run {
  const list = path.join(scratch, `modules-${Math.random().toString(36).slice(2)}.json`);
  const r = spawnSync(process.execPath, ['--require', path.join(scratch, 'preload.js'), ENTRY], {
    encoding: 'utf8',
    cwd: path.join(REPO, 'infra'),
    env: { ...process.env, PAVEMASTER_PROGRAM_FROM_SOURCE: '', ...env, STARTUP_TEST_MODULES: list },
  });
  const modules = (JSON.parse(fs.readFileSync(list, 'utf8')) as string[]).map((m) => path.relative(REPO, m));
  return { status: r.status, stderr: r.stderr, modules };
}

/** The stack frames of the program's own files: `<file>.ts:<line>:<column>`. */
const programFrames = (stderr: string): string[] =>
  [...stderr.matchAll(/\((?:[^()]*\/)?((?:infra|stacks|components)\/[^():]+\.[jt]s:\d+:\d+)\)/g)].map(
    (m) => m[1],
  );

const loaded = (r: Run, pattern: RegExp): string[] => r.modules.filter((m) => pattern.test(m));

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-program-'));
  fs.writeFileSync(
    path.join(scratch, 'preload.js'),
    "process.on('exit', () => require('fs').writeFileSync(process.env.STARTUP_TEST_MODULES, JSON.stringify(Object.keys(require.cache))));\n",
  );
  execFileSync(
    process.execPath,
    [path.join(REPO, 'scripts', 'build-cli.js'), '--program-only', '--program-out', BUILD],
    { stdio: 'pipe' },
  );
});

afterAll(() => {
  fs.rmSync(BUILD, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the program entry', () => {
  it('is what Pulumi runs, as JavaScript', () => {
    const project = parse(fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8')) as {
      main: string;
      runtime: { options: Record<string, unknown> };
    };
    expect(project.main).toBe('infra/main.js');
    // The language host would otherwise load TypeScript and register ts-node before the entry runs.
    expect(project.runtime.options.typescript).toBe(false);
  });

  it('runs the current build without ts-node or SWC, and reports the same positions as the source', () => {
    const built = run({ PAVEMASTER_PROGRAM_BUILD: BUILD });
    const source = run({ PAVEMASTER_PROGRAM_FROM_SOURCE: '1' });
    for (const r of [built, source]) {
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('ConfigError');
    }
    // (A module whose load threw, infra/index here, leaves Node's module cache: its first import stays.)
    expect(built.modules).toContain(path.relative(REPO, path.join(BUILD, 'infra', 'stackTraces.js')));
    expect(loaded(built, /\.ts$/)).toEqual([]);
    // TypeScript itself is loaded either way: @pulumi/pulumi's closure serializer imports it (typescript-shim.js).
    expect(loaded(built, /node_modules\/(ts-node|@swc)\//)).toEqual([]);
    expect(source.modules).toContain('infra/stackTraces.ts');
    expect(loaded(source, /node_modules\/ts-node\//).length).toBeGreaterThan(0);

    const frames = programFrames(built.stderr);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.every((f) => /\.ts:\d+:\d+$/.test(f))).toBe(true);
    expect(frames).toEqual(programFrames(source.stderr));
  });

  it('runs the TypeScript when a compiled source changed or is gone since the build, or without a build', () => {
    const manifestFile = path.join(BUILD, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { sources: Record<string, string> };
    expect(Object.keys(manifest.sources)).toEqual(
      expect.arrayContaining(['infra/index.ts', 'stacks/settings.ts', 'components/BlueGreenApp.ts']),
    );
    // A source whose content hash differs from the build's record: as after an edit.
    fs.writeFileSync(
      manifestFile,
      JSON.stringify({ ...manifest, sources: { ...manifest.sources, 'stacks/settings.ts': '0'.repeat(64) } }),
    );
    try {
      const stale = run({ PAVEMASTER_PROGRAM_BUILD: BUILD });
      expect(stale.modules).toContain('infra/stackTraces.ts');
      expect(stale.modules.some((m) => m.startsWith(path.relative(REPO, BUILD)))).toBe(false);
    } finally {
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    }
    // A source the build compiled that is gone (deleted or renamed since).
    fs.writeFileSync(
      manifestFile,
      JSON.stringify({ ...manifest, sources: { ...manifest.sources, 'components/gone.ts': '0'.repeat(64) } }),
    );
    try {
      expect(run({ PAVEMASTER_PROGRAM_BUILD: BUILD }).modules).toContain('infra/stackTraces.ts');
    } finally {
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    }
    expect(run({ PAVEMASTER_PROGRAM_BUILD: path.join(scratch, 'no-build') }).modules).toContain(
      'infra/stackTraces.ts',
    );
  });
});
