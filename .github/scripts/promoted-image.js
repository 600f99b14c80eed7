#!/usr/bin/env node
/*
 * Prints the image a stack's ACTIVE slot runs, read from its committed stack file (Pulumi.<stack>.yaml): the
 * image that passed that stack's gates, load test and post-promotion check. Production deploys exactly this
 * staging image instead of rebuilding. Refuses an image that is not pinned by digest.
 *
 *   node .github/scripts/promoted-image.js Pulumi.staging.yaml
 *
 * The slot contract and the image-reference grammar are the program's own (see contract.js).
 */
'use strict';
const fs = require('fs');
const { parse } = require('yaml');
const { DEFAULT_SLOT, isSlot, parseImageReference, SLOTS } = require('./contract');

function promotedImage(text) {
  const doc = parse(text) || {};
  const config = doc.config || {};
  const slot = config['pavemaster:activeSlot'] || DEFAULT_SLOT;
  if (!isSlot(slot)) {
    throw new Error(`pavemaster:activeSlot is "${slot}", not ${SLOTS.join(' or ')}`);
  }
  const image = config[`pavemaster:${slot}Image`];
  if (typeof image !== 'string' || image === '') {
    throw new Error(`pavemaster:${slot}Image is not set`);
  }
  const ref = parseImageReference(image);
  if (ref === undefined || ref.digest === undefined) {
    throw new Error(
      `the ${slot} slot runs "${image}", which is not pinned by digest: production takes only digests`,
    );
  }
  return image;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file || process.argv.length !== 3) {
    process.stderr.write('usage: promoted-image.js <Pulumi.<stack>.yaml>\n');
    process.exit(64);
  }
  try {
    process.stdout.write(`${promotedImage(fs.readFileSync(file, 'utf8'))}\n`);
  } catch (e) {
    process.stderr.write(`promoted-image: ${file}: ${e.message}\n`);
    process.exit(1);
  }
}

module.exports = { promotedImage };
