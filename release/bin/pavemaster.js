#!/usr/bin/env node
// The `pavemaster` command (package.json "bin"): runs release/cli.ts through ts-node (transpile only, the
// project's own TypeScript), so the command and `npm run release --` are the same code.
'use strict';
const path = require('path');

require('ts-node').register({
  transpileOnly: true,
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
