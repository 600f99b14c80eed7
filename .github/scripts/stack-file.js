#!/usr/bin/env node
/*
 * Reads release facts from a committed stack file (Pulumi.<stack>.yaml), for the workflow scripts:
 *
 *   node .github/scripts/stack-file.js active-slot <stack>     the slot that takes traffic (the contract's default when unset)
 *   node .github/scripts/stack-file.js image <stack> [slot]    a slot's image (default: the active slot's)
 *
 * Run from the repository root (the workflows' working directory).
 */
'use strict';
const fs = require('fs');
const { parse } = require('yaml');
const { DEFAULT_SLOT, isSlot, SLOTS } = require('./contract');

/** The stack file's `pavemaster:*` config of a stack. */
function stackConfig(stack, dir = process.cwd()) {
  if (!/^[A-Za-z0-9._-]+$/.test(stack)) {
    throw new Error(`not a stack name: ${stack}`);
  }
  const file = `${dir}/Pulumi.${stack}.yaml`;
  if (!fs.existsSync(file)) {
    throw new Error(`no stack file Pulumi.${stack}.yaml`);
  }
  const doc = parse(fs.readFileSync(file, 'utf8')) || {};
  return doc.config || {};
}

function activeSlot(config) {
  const slot = config['pavemaster:activeSlot'] || DEFAULT_SLOT;
  if (!isSlot(slot)) {
    throw new Error(`pavemaster:activeSlot is "${slot}", not ${SLOTS.join(' or ')}`);
  }
  return slot;
}

function slotImage(config, slot) {
  const image = config[`pavemaster:${slot}Image`];
  if (typeof image !== 'string' || image === '') {
    throw new Error(`pavemaster:${slot}Image is not set`);
  }
  return image;
}

if (require.main === module) {
  const [what, stack, slotArg] = process.argv.slice(2);
  try {
    if (!stack || (what !== 'active-slot' && what !== 'image')) {
      process.stderr.write('usage: stack-file.js active-slot|image <stack> [slot]\n');
      process.exit(64);
    }
    const config = stackConfig(stack);
    const slot = slotArg || activeSlot(config);
    if (!isSlot(slot)) {
      throw new Error(`not a slot: ${slot}`);
    }
    process.stdout.write(`${what === 'active-slot' ? activeSlot(config) : slotImage(config, slot)}\n`);
  } catch (e) {
    process.stderr.write(`stack-file: ${e.message}\n`);
    process.exit(1);
  }
}

module.exports = { stackConfig, activeSlot, slotImage };
