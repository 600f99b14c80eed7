#!/usr/bin/env node
// Compiles the release command (release/, and the stacks/ and components/ modules it reads the settings with) to
// JavaScript in dist/cli/ (git-ignored), so `pavemaster` starts without ts-node and SWC compiling TypeScript on
// every start. Run by `npm run build` and npm's `prepare` (after `npm ci`/`npm install`). The same transpiler and
// settings as the command's own fallback (SWC, tsconfig.json's target and CommonJS, no type checking: `npm test`
// runs `tsc --noEmit`). dist/cli/manifest.json lists every source with its size and modification time:
// release/bin/pavemaster.js uses the build only while every listed source is unchanged, and otherwise runs the
// TypeScript through ts-node as before, so an edited checkout never runs stale JavaScript.
// Never fails the install: without @swc/core's binary it says so and leaves the command on its fallback.
// It also precompiles the Pulumi program into dist/program (buildProgram below; `--program-only` builds just that).
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
// `--out DIR` builds elsewhere (a test's own folder; inside the repository, so the modules find node_modules).
const outAt = process.argv.indexOf('--out');
const OUT = outAt > 0 ? path.resolve(process.argv[outAt + 1]) : path.join(ROOT, 'dist', 'cli');
const DIRS = ['release', 'stacks', 'components'];

/** Every TypeScript source under `dir` (relative to the repository), tests and declarations left out. */
function sources(dir) {
  const out = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') {
        out.push(...sources(rel));
      }
    } else if (
      entry.name.endsWith('.ts') &&
      !entry.name.endsWith('.d.ts') &&
      !entry.name.endsWith('.test.ts')
    ) {
      out.push(rel);
    }
  }
  return out;
}

/**
 * Compiles one TypeScript source (relative to the repository) into `out` with the settings both builds share: the
 * same transpiler and settings as the runtime fallbacks (tsconfig.json's target, CommonJS, class fields defined),
 * plus `extra` (source maps).
 */
function compile(swc, file, out, text, extra) {
  const src = path.join(ROOT, file);
  const dst = path.join(out, file.replace(/\.ts$/, '.js'));
  const { code } = swc.transformSync(text, {
    filename: src,
    swcrc: false,
    configFile: false,
    module: { type: 'commonjs', strictMode: true, noInterop: false },
    jsc: {
      parser: { syntax: 'typescript', tsx: false },
      target: 'es2022',
      transform: { useDefineForClassFields: true },
      keepClassNames: true,
    },
    ...(typeof extra === 'function' ? extra(src, dst) : extra),
  });
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.writeFileSync(dst, code);
}

function build() {
  const swc = require('@swc/core');
  const started = Date.now();
  fs.rmSync(OUT, { recursive: true, force: true });
  const manifest = { swc: swc.version, sources: {} };
  const files = DIRS.flatMap(sources).sort();
  for (const file of files) {
    const stat = fs.statSync(path.join(ROOT, file));
    compile(swc, file, OUT, fs.readFileSync(path.join(ROOT, file), 'utf8'), { sourceMaps: false });
    manifest.sources[file] = [stat.mtimeMs, stat.size];
  }
  // What the modules find next to themselves at run time: the guard wrappers (release/interrupt.ts, GUARD_DIR)
  // and the JSON schema of --json.
  fs.symlinkSync(path.join(ROOT, 'release', 'bin'), path.join(OUT, 'release', 'bin'), 'dir');
  const bundled = bundle();
  fs.writeFileSync(path.join(OUT, 'manifest.json'), JSON.stringify({ ...manifest, bundle: bundled }));
  process.stdout.write(
    `build-cli: ${files.length} modules -> ${path.relative(ROOT, OUT)}` +
      `${bundled === undefined ? '' : ` and ${bundled}`} in ${Date.now() - started} ms\n`,
  );
}

/**
 * One file for the command's start (issue 15: `pavemaster promote` as a process is Node.js start plus loading about
 * 140 modules, 72 of them `yaml`'s): esbuild bundles the compiled modules and `yaml` into dist/cli/pavemaster.js,
 * so a start reads and compiles one file instead of resolving and reading each. What only some commands use stays
 * outside and loads on first use as before: the Pulumi SDKs (the Automation API for the recording update), undici
 * (the API server client, release/undici.ts loads it lazily), ts-node and SWC. The bundle sits in dist/cli, so
 * `__dirname` there is dist/cli: a `bin` link beside it keeps release/interrupt.ts's GUARD_DIR
 * (`<dir of the module>/bin/guard`) pointing at release/bin/guard. Without esbuild (an install without dev
 * dependencies) the separate modules are used, as before. Returns the bundle's name, or undefined.
 */
function bundle() {
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch {
    return undefined;
  }
  const name = 'pavemaster.js';
  esbuild.buildSync({
    entryPoints: [path.join(OUT, 'release', 'cli.js')],
    outfile: path.join(OUT, name),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    keepNames: true,
    logLevel: 'error',
    external: ['@pulumi/*', '@kubernetes/*', '@swc/*', 'ts-node', 'undici', 'esbuild'],
  });
  fs.symlinkSync(path.join(ROOT, 'release', 'bin'), path.join(OUT, 'bin'), 'dir');
  return name;
}

/** The folder of the program's build (infra/main.js reads it; `--program-out DIR` builds elsewhere). */
const programAt = process.argv.indexOf('--program-out');
const PROGRAM_OUT =
  programAt > 0 ? path.resolve(process.argv[programAt + 1]) : path.join(ROOT, 'dist', 'program');

/**
 * The Pulumi program precompiled (issue 15): infra/, stacks/ and components/ into dist/program with the same SWC
 * settings as above, each file with an inline source map whose source is the TypeScript file relative to the
 * JavaScript (so a copy of the project with its dist/program maps to its own files), for infra/main.js. That entry
 * runs this build while every source's content hash matches dist/program/manifest.json, so the language host no
 * longer loads ts-node and SWC and transpiles the program's modules on every preview and up; otherwise it
 * transpiles the TypeScript as before. Content hashes, not times: a project copy (the release command's sandboxes, the
 * bench's copies) keeps its build valid.
 */
function buildProgram() {
  const swc = require('@swc/core');
  const crypto = require('crypto');
  const started = Date.now();
  fs.rmSync(PROGRAM_OUT, { recursive: true, force: true });
  const manifest = { swc: swc.version, sources: {} };
  const files = ['infra', 'stacks', 'components'].flatMap(sources).sort();
  for (const file of files) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    compile(swc, file, PROGRAM_OUT, text, (src, dst) => ({
      sourceMaps: 'inline',
      inlineSourcesContent: false,
      sourceFileName: path.relative(path.dirname(dst), src),
    }));
    manifest.sources[file] = crypto.createHash('sha256').update(text).digest('hex');
  }
  fs.writeFileSync(path.join(PROGRAM_OUT, 'manifest.json'), JSON.stringify(manifest));
  process.stdout.write(
    `build-cli: the program's ${files.length} modules -> ${path.relative(ROOT, PROGRAM_OUT)} in ${Date.now() - started} ms\n`,
  );
}

// `--program-only` builds only the program; a test's `--out` build of the command alone never rebuilds the
// repository's program under a running stack.
const buildCommand = !process.argv.includes('--program-only');
const buildTheProgram = !(outAt > 0 && programAt < 0);
if (buildCommand) {
  try {
    build();
  } catch (e) {
    fs.rmSync(OUT, { recursive: true, force: true });
    process.stderr.write(
      `build-cli: not built (${e instanceof Error ? e.message : String(e)}); pavemaster compiles its TypeScript on start instead\n`,
    );
  }
}
if (buildTheProgram) {
  try {
    buildProgram();
  } catch (e) {
    fs.rmSync(PROGRAM_OUT, { recursive: true, force: true });
    process.stderr.write(
      `build-cli: the program not built (${e instanceof Error ? e.message : String(e)}); pulumi transpiles its TypeScript instead\n`,
    );
  }
}
