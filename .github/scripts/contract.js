/*
 * The program's own blue/green contract and image-reference grammar (components/shared/slots.ts and image.ts),
 * for the workflow scripts, loaded through ts-node (a dev dependency, installed by `npm ci`): a script can never
 * read a slot, a default slot or an image reference differently from the program.
 */
'use strict';
const path = require('path');

require('ts-node').register({
  transpileOnly: true,
  project: path.join(__dirname, '..', '..', 'tsconfig.json'),
});

module.exports = {
  ...require('../../components/shared/slots'),
  ...require('../../components/shared/image'),
};
