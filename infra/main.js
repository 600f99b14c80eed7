// The Pulumi program's entry (Pulumi.yaml `main`; the language host runs it as JavaScript: `typescript: false`).
//
// It runs the precompiled program in dist/program (scripts/build-cli.js buildProgram(), run by `npm ci`'s
// `prepare` and `npm run build`) while every source that build compiled has the content it had then
// (dist/program/manifest.json: a SHA-256 per file), and otherwise transpiles the TypeScript as the language host
// did before: ts-node with SWC and tsconfig.pulumi.json, no type checking (`npm test` type-checks). So an edited
// checkout runs its edits, never stale JavaScript, and both paths are the same transpiler with the same settings.
//
// Why (issue 15): with the TypeScript path, every preview and up first loads ts-node and SWC's native binding and
// then transpiles each of the program's 74 modules; the build skips that (about 20 MiB of resident memory before the
// program's first module; `npm run bench -- --variant src:PAVEMASTER_PROGRAM_FROM_SOURCE=1` measures the time).
// TypeScript itself is loaded either way: @pulumi/pulumi's closure serializer imports it.
//
// Stack traces read the same both ways: the build's modules carry inline source maps and get the source-map
// support ts-node installs (its own copy), so an error and the source position the engine records for each resource
// name the TypeScript file, line and column, as before (test/unit/app/programBuild.test.ts compares them).
// PAVEMASTER_PROGRAM_FROM_SOURCE=1 forces the TypeScript path; PAVEMASTER_PROGRAM_BUILD names another build.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');

/** The build's folder when every source it compiled is unchanged, else undefined. */
function currentBuild() {
  if (process.env.PAVEMASTER_PROGRAM_FROM_SOURCE === '1') {
    return undefined;
  }
  const dir = process.env.PAVEMASTER_PROGRAM_BUILD || path.join(ROOT, 'dist', 'program');
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return undefined;
  }
  for (const [file, hash] of Object.entries(manifest.sources)) {
    let text;
    try {
      text = fs.readFileSync(path.join(ROOT, file));
    } catch {
      return undefined;
    }
    if (crypto.createHash('sha256').update(text).digest('hex') !== hash) {
      return undefined;
    }
  }
  // No walk for files added since the build: a new module runs only if a listed one imports it, and that edit
  // changes the listed module's hash.
  return dir;
}

const build = currentBuild();
if (build !== undefined) {
  // The source-map support ts-node installs (its own copy and options). ts-node answers look-ups of its in-memory
  // outputs first; here the outputs are files, which the library's default look-up reads, as it does for every
  // other file under both paths.
  require(require.resolve('@cspotcode/source-map-support', { paths: [require.resolve('ts-node')] })).install({
    environment: 'node',
  });
  module.exports = require(path.join(build, 'infra', 'index.js'));
} else {
  require('ts-node').register({
    transpileOnly: true,
    project: path.join(ROOT, 'tsconfig.pulumi.json'),
  });
  module.exports = require('./index.ts');
}
