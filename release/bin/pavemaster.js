#!/usr/bin/env node
// The `pavemaster` command (package.json "bin"): runs release/cli.ts through ts-node, transpiled by SWC without
// type checking (as the program runs: tsconfig.pulumi.json), so the command and `npm run release --` are the same
// code. Type checking is not skipped: `npm test` runs `tsc --noEmit` over release/ too. SWC instead of the
// TypeScript transpiler saves the command more than a second of start (`npm run bench`: `pavemaster --help`).
'use strict';
const path = require('path');

require('ts-node').register({
  transpileOnly: true,
  swc: true,
  project: path.join(__dirname, '..', '..', 'tsconfig.json'),
});
const { main } = require('../cli');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`release: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
    process.exit(1);
  },
);
