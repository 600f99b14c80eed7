#!/usr/bin/env node
/*
 * The hand-off from staging to production: the image staging PROMOTED, pinned by digest, recorded in the
 * repository where the production job reads it.
 *
 *   node .github/scripts/promotion.js record <stack> <image>   after the whole staging release passed
 *   node .github/scripts/promotion.js pick <stack>             the production job: the recorded image
 *
 * `record` writes .github/promoted/<stack>.json ({stack, image, digest, slot, commit, promotedAt, run}) and
 * commits it; the release job pushes it back with the stack file, and a merge of develop into main carries it
 * to the production run. It refuses an image that is not pinned by digest, or that is not what the stack file's
 * active slot now runs (a flipped-back release is never recorded). `pick` prints the recorded image (or
 * $REQUESTED, a digest-pinned image a person names in a manual run) and writes `image=` to $GITHUB_OUTPUT.
 * Production never rebuilds: what it deploys is byte for byte what passed staging.
 */
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { promotedImage } = require('./promoted-image');
const { activeSlot, stackConfig } = require('./stack-file');
const { parseImageReference } = require('./contract');

function recordFile(stack, dir = process.cwd()) {
  return path.join(dir, '.github', 'promoted', `${stack}.json`);
}

function digestOf(image) {
  const digest = parseImageReference(image)?.digest;
  if (digest === undefined) {
    throw new Error(`"${image}" is not pinned by digest (repository:tag@sha256:...)`);
  }
  return digest;
}

/** The record for `image` promoted on `stack` (checked against the stack file). */
function makeRecord(stack, image, env = process.env, dir = process.cwd()) {
  const digest = digestOf(image);
  const slot = activeSlot(stackConfig(stack, dir));
  // The active slot's image as the stack file names it, refused unless pinned by digest.
  const running = promotedImage(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), 'utf8'));
  if (running !== image) {
    throw new Error(
      `the ${stack} stack file's active slot ${slot} runs ${running}, not ${image}: nothing promoted to record`,
    );
  }
  return {
    stack,
    image,
    digest,
    slot,
    commit: env.GITHUB_SHA || undefined,
    promotedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    run:
      env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY
        ? `${env.GITHUB_SERVER_URL || 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
        : undefined,
  };
}

/** The image a production run takes: $REQUESTED if set, else the record; always digest-pinned. */
function pick(stack, requested, dir = process.cwd()) {
  if (requested) {
    digestOf(requested);
    return { image: requested, source: 'requested by the manual run' };
  }
  const file = recordFile(stack, dir);
  if (!fs.existsSync(file)) {
    throw new Error(
      `${path.relative(dir, file)} does not exist: ${stack} has promoted no image yet (run the ${stack} deploy workflow, then merge)`,
    );
  }
  const record = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (typeof record.image !== 'string') {
    throw new Error(`${path.relative(dir, file)} names no image`);
  }
  if (digestOf(record.image) !== record.digest) {
    throw new Error(
      `${path.relative(dir, file)}: the image's digest is not the recorded digest ${record.digest}`,
    );
  }
  return {
    image: record.image,
    source: `promoted on ${stack} at ${record.promotedAt} (${record.run || 'by hand'})`,
  };
}

function main(argv) {
  const [command, stack, image] = argv;
  if (command === 'record' && stack && image && argv.length === 3) {
    const record = makeRecord(stack, image);
    const file = recordFile(stack);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    execFileSync('git', ['add', '--', file]);
    execFileSync('git', ['commit', '--quiet', '-m', `promotion: ${stack} promoted ${image}`, '--', file]);
    process.stdout.write(
      `promotion: recorded ${image} as promoted on ${stack} (${path.relative(process.cwd(), file)})\n`,
    );
    return;
  }
  if (command === 'pick' && stack && argv.length === 2) {
    const { image: picked, source } = pick(stack, process.env.REQUESTED);
    if (process.env.GITHUB_OUTPUT) {
      fs.appendFileSync(process.env.GITHUB_OUTPUT, `image=${picked}\n`);
    }
    process.stdout.write(`${picked}\n`);
    process.stderr.write(`promotion: ${picked}, ${source}\n`);
    return;
  }
  process.stderr.write('usage: promotion.js record <stack> <image> | promotion.js pick <stack>\n');
  process.exit(64);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`promotion: ${e.message}\n`);
    process.exit(1);
  }
}

module.exports = { makeRecord, pick, recordFile, digestOf };
