#!/usr/bin/env node
// The `pavemaster` command (package.json "bin"): runs release/cli.ts through ts-node, transpiled by SWC without
// type checking (as the program runs: tsconfig.pulumi.json), so the command and `npm run release --` are the same
// code. Type checking is not skipped: `npm test` runs `tsc --noEmit` over release/ too. SWC instead of the
// TypeScript transpiler saves the command more than a second of start (`npm run bench`: `pavemaster --help`).
// commandLine() also makes the command's children die with it and stops it at a safe point on SIGTERM
// (release/interrupt.ts).
'use strict';
const path = require('path');

require('ts-node').register({
  transpileOnly: true,
  swc: true,
  project: path.join(__dirname, '..', '..', 'tsconfig.json'),
});
require('../cli').commandLine(process.argv.slice(2));
