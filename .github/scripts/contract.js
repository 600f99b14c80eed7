/*
 * The program's own blue/green contract and image-reference grammar (components/shared/slots.ts and image.ts),
 * for the workflow scripts, loaded through ts-node (a dev dependency, installed by `npm ci`): a script can never
 * read a slot, a default slot or an image reference differently from the program.
 */
'use strict';
const path = require('path');

// The two modules import nothing and need no project settings: transpile them as CommonJS.
require('ts-node').register({
  transpileOnly: true,
  skipProject: true,
  compilerOptions: { module: 'commonjs', target: 'ES2022' },
});

const shared = path.join(__dirname, '..', '..', 'components', 'shared');
module.exports = {
  ...require(path.join(shared, 'slots')),
  ...require(path.join(shared, 'image')),
};
