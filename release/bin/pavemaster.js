#!/usr/bin/env node
// The `pavemaster` command (package.json "bin"). It runs the JavaScript that `npm run build` (and npm's `prepare`
// after `npm ci`) compiles into dist/cli (scripts/build-cli.js), while every source that build compiled is
// unchanged (dist/cli/manifest.json: size and modification time of each). Otherwise, or without a build, it runs
// release/cli.ts through ts-node, transpiled by SWC without type checking (as the program runs:
// tsconfig.pulumi.json), so an edited checkout runs its edits and `npm run release --` is the same code. Both are
// the same transpiler and settings; type checking is not skipped: `npm test` runs `tsc --noEmit` over release/
// too. `npm run bench` (promote) times the command's start both ways. PAVEMASTER_CLI_FROM_SOURCE=1 forces the
// TypeScript path; PAVEMASTER_CLI_BUILD names another build folder (a test's). commandLine() also makes the command's children die with it and stops it at a safe point on
// SIGTERM (release/interrupt.ts).
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');

/** The compiled entry when the build in dist/cli is current, else undefined. */
function compiledEntry() {
  if (process.env.PAVEMASTER_CLI_FROM_SOURCE === '1') {
    return undefined;
  }
  const dir = process.env.PAVEMASTER_CLI_BUILD || path.join(ROOT, 'dist', 'cli');
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return undefined;
  }
  for (const [file, [mtimeMs, size]] of Object.entries(manifest.sources)) {
    const stat = fs.statSync(path.join(ROOT, file), { throwIfNoEntry: false });
    if (stat === undefined || stat.mtimeMs !== mtimeMs || stat.size !== size) {
      return undefined;
    }
  }
  // The one-file bundle when the build made one (scripts/build-cli.js, bundle()): the same modules, one read.
  return path.join(dir, typeof manifest.bundle === 'string' ? manifest.bundle : path.join('release', 'cli.js'));
}

// V8's code cache for the modules loaded from here on (Node.js 22.1+; in os.tmpdir()/node-compile-cache unless
// NODE_COMPILE_CACHE names another folder): a start then skips compiling the bundle. Node checks each entry against
// the source's hash, so an edit is never run from a stale cache. Measured with the bundle, `--help` 15 interleaved
// runs each under load: median 507 ms (separate modules) -> 389 ms (bundle) -> 314 ms (bundle and this cache).
require('module').enableCompileCache?.();

const entry = compiledEntry();
if (entry !== undefined) {
  require(entry).commandLine(process.argv.slice(2));
} else {
  require('ts-node').register({
    transpileOnly: true,
    swc: true,
    project: path.join(ROOT, 'tsconfig.json'),
  });
  require('../cli').commandLine(process.argv.slice(2));
}
