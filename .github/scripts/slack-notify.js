#!/usr/bin/env node
/*
 * Posts a release event to Slack through the stack's own incoming-webhook secret, `pavemaster:slackWebhookUrl`
 * (the one the monitoring stack gives Alertmanager), read with `pulumi config get` (so the workflow needs only
 * the stack's secrets provider: PULUMI_CONFIG_PASSPHRASE or Pulumi Cloud). Without that key it posts nothing and
 * says so. The webhook URL is never printed.
 *
 *   node .github/scripts/slack-notify.js --stack <stack> --event <event> [--reason TEXT] [--image REF]
 *
 * Events: promote:0 (promoted), promote:4 (flipped back automatically by the post-promotion check), rollback:0
 * (rolled back by the workflow or by hand), failed (the release job failed). The message names the stack, what
 * happened, the slot and image now taking traffic (from the stack file), the reason, and the workflow run.
 * Exits 1 when Slack does not accept the message.
 */
'use strict';
const { execFileSync } = require('child_process');
const https = require('https');
const { activeSlot, slotImage, stackConfig } = require('./stack-file');

const EVENTS = {
  'promote:0': { icon: ':rocket:', text: 'promoted' },
  'promote:4': { icon: ':rewind:', text: 'flipped back automatically after the post-promotion check failed' },
  'rollback:0': { icon: ':leftwards_arrow_with_hook:', text: 'rolled back' },
  failed: { icon: ':x:', text: 'release failed' },
};

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    if (!['--stack', '--event', '--reason', '--image'].includes(name) || argv[i + 1] === undefined) {
      throw new Error(
        `usage: slack-notify.js --stack S --event E [--reason TEXT] [--image REF] (at ${name})`,
      );
    }
    args[name.slice(2)] = argv[i + 1];
  }
  if (!args.stack || !args.event) {
    throw new Error('--stack and --event are required');
  }
  if (!(args.event in EVENTS)) {
    throw new Error(`unknown event ${args.event} (${Object.keys(EVENTS).join(', ')})`);
  }
  return args;
}

/** The Slack message for an event (pure: the tests compare it with what the sink received). */
function message({ stack, event, reason, image, slot, runUrl }) {
  const e = EVENTS[event];
  const lines = [`${e.icon} *PaveMaster ${stack}*: ${e.text}`];
  if (slot !== undefined) {
    lines.push(`traffic: ${slot} slot, ${image === undefined ? 'image unknown' : `\`${image}\``}`);
  }
  if (reason) {
    lines.push(`reason: ${reason}`);
  }
  if (runUrl) {
    lines.push(`run: ${runUrl}`);
  }
  return { text: lines.join('\n') };
}

function webhookUrl(stack) {
  try {
    // Unset, the key reads as Pulumi.yaml's placeholder default "" (stacks/schema.ts): no webhook.
    const url = execFileSync(
      'pulumi',
      ['config', 'get', 'pavemaster:slackWebhookUrl', '--stack', stack, '--non-interactive'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();
    return url === '' ? undefined : url;
  } catch (e) {
    const text = String(e.stderr || e.message);
    if (/not found|configuration key/i.test(text)) {
      return undefined;
    }
    throw new Error(`pulumi config get pavemaster:slackWebhookUrl --stack ${stack} failed: ${text.trim()}`);
  }
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== 'https:') {
      reject(new Error('the webhook URL is not https://'));
      return;
    }
    const data = JSON.stringify(body);
    const req = https.request(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        timeout: 10000,
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          res.statusCode >= 200 && res.statusCode < 300
            ? resolve(text)
            : reject(new Error(`Slack answered ${res.statusCode}: ${text.slice(0, 200)}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('Slack did not answer within 10 s')));
    req.on('error', reject);
    req.end(data);
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const url = webhookUrl(args.stack);
  if (url === undefined) {
    process.stdout.write(
      `slack-notify: pavemaster:slackWebhookUrl is not set for ${args.stack}: no notification\n`,
    );
    return;
  }
  let slot;
  let image = args.image;
  try {
    const config = stackConfig(args.stack);
    slot = activeSlot(config);
    image = image ?? slotImage(config, slot);
  } catch {
    // The message still goes out without the traffic line.
  }
  const env = process.env;
  const runUrl =
    env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY
      ? `${env.GITHUB_SERVER_URL || 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
      : undefined;
  await post(
    url,
    message({ stack: args.stack, event: args.event, reason: args.reason, image, slot, runUrl }),
  );
  process.stdout.write(`slack-notify: posted "${EVENTS[args.event].text}" for ${args.stack}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`slack-notify: ${e.message}\n`);
    process.exit(1);
  });
}

module.exports = { message, EVENTS };
