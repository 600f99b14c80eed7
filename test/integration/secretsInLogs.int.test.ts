/**
 * Secrets stay out of everything a release prints or writes: a throwaway copy of staging (monitoring on, so the
 * Alertmanager config carries the SMTP password and the Slack webhook; an app secret in the app's Secret) gets
 * known secret values (`pulumi config set --secret`), and the release command, run as an operator runs it
 * (release/cli.ts with --verbose, so the engine's own output is streamed too), goes through deploy, promote,
 * rollback, the PR comment of a preview that changes a secret (`release preview --markdown`, `promote --preview`),
 * history and status, and three failures: a config error on a secret key, a failing gate, a stale lock.
 *
 * Then none of the configured secrets, the rotated ones, or the passwords the stack generated (read back with
 * `pulumi stack export --show-secrets`) is found, in plain text or base64, in any command's stdout or stderr,
 * any step record (the release log), the Markdown, or any file the commands left in the checkout or the state
 * backend (the state holds them only as ciphertext).
 */
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { dig, parseObject } from './helpers';
import { Backend, Checkout, Timed } from './faults/project';

jest.setTimeout(40 * 60 * 1000);

const STACK = 'it-seclogs';
const NAMESPACE = 'pm-it-seclogs';
const SECRETS = {
  smtpPassword: 'it-seclogs-smtp-9b1f27c4',
  slackWebhookUrl: 'https://hooks.slack.com/services/T0SECLOG/B0SECLOG/seclogwebhook5e0a9d',
  appToken: 'it-seclogs-app-token-41c8e6',
  rotatedSmtpPassword: 'it-seclogs-rotated-smtp-7d2e90',
  badWebhook: 'http://hooks.invalid/it-seclogs-bad-webhook-a3f1c2',
};
const IMAGE_2 = 'pavemaster/web:2.0.0';
const IMAGE_3 = 'pavemaster/web:3.0.0';

let backend: Backend;
let checkout: Checkout;
let prometheus: http.Server;
/** Everything the operator saw, by what produced it. */
const seen: { what: string; text: string }[] = [];
/** The secret values to look for, by name. */
const secrets = new Map<string, string>(Object.entries(SECRETS));

function record(what: string, r: Timed): Timed {
  seen.push({ what: `${what} (stdout)`, text: r.stdout }, { what: `${what} (stderr)`, text: r.stderr });
  return r;
}

function ok(what: string, r: Timed): Timed {
  record(what, r);
  if (r.code !== 0) {
    throw new Error(`${what} exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
  return r;
}

/** A Prometheus stand-in on loopback for the post-promotion check: a healthy slot, no alerts. */
async function startPrometheus(): Promise<string> {
  prometheus = http.createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('query') ?? '';
    const now = Date.now() / 1000;
    const result = q.startsWith('ALERTS')
      ? []
      : [{ metric: {}, value: [now, q.includes('histogram_quantile') ? '0.05' : '0'] }];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  await new Promise<void>((resolve) => prometheus.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
}

/** Every file below `dir` (not following links: node_modules is a link), with its text. */
function filesBelow(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...filesBelow(full));
    } else if (entry.isFile()) {
      out.push({ file: full, text: fs.readFileSync(full).toString('latin1') });
    }
  }
  return out;
}

/** The places a secret value shows up in `text`: plain, base64, or JSON-escaped. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const [name, value] of secrets) {
    const forms = [value, Buffer.from(value).toString('base64'), JSON.stringify(value).slice(1, -1)];
    if (forms.some((f) => text.includes(f))) {
      found.push(name);
    }
  }
  return found;
}

beforeAll(async () => {
  const prometheusUrl = await startPrometheus();
  backend = new Backend('seclogs');
  checkout = Checkout.create('seclogs', backend);
  await checkout.initStack(STACK, 'staging', {
    namespace: NAMESPACE,
    replicas: 1,
    host: undefined,
    logging: { enabled: false },
    monitoring: {
      alerting: {
        email: {
          enabled: true,
          to: ['oncall@example.com'],
          from: 'alerts@example.com',
          smarthost: 'smtp.example.com:587',
          username: 'alerts',
        },
      },
    },
    release: {
      prometheusUrl,
      readyTimeoutSeconds: 120,
      migration: { command: ['./bin/migrate', 'up'], timeoutSeconds: 120 },
      smoke: { timeoutSeconds: 120 },
      jobs: { podAnnotations: { 'pavemaster.local/placement': 'kwok' } },
      postPromotion: { windowSeconds: 3, intervalSeconds: 1, maxErrorRatio: 0.05, maxP95Seconds: 1 },
    },
  });
  const set = async (key: string, value: string, pathFlag = false) =>
    ok(
      `config set ${key}`,
      await checkout.pulumi([
        'config',
        'set',
        '--secret',
        ...(pathFlag ? ['--path'] : []),
        key,
        value,
        '--stack',
        STACK,
      ]),
    );
  await set('pavemaster:smtpPassword', SECRETS.smtpPassword);
  await set('pavemaster:slackWebhookUrl', SECRETS.slackWebhookUrl);
  await set('pavemaster:appSecrets.API_TOKEN', SECRETS.appToken, true);
  ok('pulumi up', await checkout.pulumi(['up', '--yes', '--skip-preview', '--stack', STACK], 30 * 60_000));
  // The passwords the stack generated itself (RandomPassword) are secrets too.
  const revealed = parseObject(
    ok(
      'stack export --show-secrets',
      await checkout.pulumi(['stack', 'export', '--show-secrets', '--stack', STACK]),
    ).stdout,
  );
  seen.pop(); // the revealed export itself is not something the release prints
  seen.pop();
  const resources = dig(revealed, 'deployment', 'resources');
  for (const r of Array.isArray(resources) ? resources : []) {
    if (dig(r, 'type') === 'random:index/randomPassword:RandomPassword') {
      const plaintext = dig(r, 'outputs', 'result', 'plaintext');
      if (typeof plaintext === 'string') {
        secrets.set(`generated ${String(dig(r, 'urn')).split('::').pop()}`, JSON.parse(plaintext) as string);
      }
    }
  }
});

afterAll(async () => {
  try {
    if (checkout !== undefined) {
      await checkout.pulumi(['destroy', '--yes', '--skip-preview', '--stack', STACK], 30 * 60_000);
      await checkout.pulumi(['stack', 'rm', STACK, '--yes', '--force']);
    }
  } finally {
    checkout?.remove();
    backend?.remove();
    await new Promise<void>((resolve) => (prometheus ? prometheus.close(() => resolve()) : resolve()));
  }
});

describe('secrets in what a release prints and writes', () => {
  it('the stack generated passwords, so there is more to look for than what was configured', () => {
    const generated = [...secrets.keys()].filter((k) => k.startsWith('generated '));
    console.log(`looking for ${secrets.size} secret values: ${[...secrets.keys()].join(', ')}`);
    expect(generated.length).toBeGreaterThan(0);
  });

  it('deploy, promote and rollback succeed with secrets set (engine output streamed)', async () => {
    ok('release deploy', await checkout.release(['deploy', STACK, IMAGE_2, '--verbose']));
    const promoted = ok('release promote', await checkout.release(['promote', STACK, '--verbose']));
    expect(promoted.stderr).toContain('post-promotion');
    ok('release rollback', await checkout.release(['rollback', STACK, '--verbose']));
    ok('release history', await checkout.release(['history', STACK]));
    ok('release status', await checkout.release(['status', STACK]));
  });

  it('the PR comments of a change that rotates a secret show the change, not the values', async () => {
    ok(
      'config set rotated smtpPassword',
      await checkout.pulumi([
        'config',
        'set',
        '--secret',
        'pavemaster:smtpPassword',
        SECRETS.rotatedSmtpPassword,
        '--stack',
        STACK,
      ]),
    );
    const md = ok('release preview --markdown', await checkout.release(['preview', STACK, '--markdown']));
    // The comment does show that the Alertmanager config Secret changes.
    expect(md.stdout).toMatch(/kubernetes:core\/v1:Secret/);
    ok('release promote --preview', await checkout.release(['promote', STACK, '--preview']));
  });

  it('the error messages of failures do not carry secrets', async () => {
    // A config error on a secret key names the key, not the value.
    ok(
      'config set bad webhook',
      await checkout.pulumi([
        'config',
        'set',
        '--secret',
        'pavemaster:slackWebhookUrl',
        SECRETS.badWebhook,
        '--stack',
        STACK,
      ]),
    );
    const fileBefore = fs.readFileSync(checkout.stackFile(STACK), 'utf8');
    const bad = record(
      'release deploy with a bad secret',
      await checkout.release(['deploy', STACK, IMAGE_3]),
    );
    // Refused before anything changed: the stack file still names the deployed images.
    expect(bad.code).not.toBe(0);
    expect(fs.readFileSync(checkout.stackFile(STACK), 'utf8')).toBe(fileBefore);
    ok(
      'config set webhook back',
      await checkout.pulumi([
        'config',
        'set',
        '--secret',
        'pavemaster:slackWebhookUrl',
        SECRETS.slackWebhookUrl,
        '--stack',
        STACK,
      ]),
    );

    // A failing gate: the error carries the Job's logs.
    ok('release deploy v3', await checkout.release(['deploy', STACK, IMAGE_3, '--verbose']));
    const file = checkout.stackFile(STACK);
    const doc = parse(fs.readFileSync(file, 'utf8')) as { config: Record<string, { smoke: object }> };
    doc.config['pavemaster:release'].smoke = {
      timeoutSeconds: 120,
      podAnnotations: { 'pavemaster.io/kwok-result': 'fail' },
    };
    fs.writeFileSync(file, stringify(doc));
    const gate = record(
      'release promote with a failing gate',
      await checkout.release(['promote', STACK, '--verbose']),
    );
    expect(gate.code).toBe(2);
    expect(gate.stderr).toContain('gate smoke failed');
  });

  it('no secret is in any output, step record, PR comment, error message or file left behind', () => {
    const found: string[] = [];
    for (const { what, text } of seen) {
      for (const name of leaks(text)) {
        found.push(`${name} in ${what}`);
      }
    }
    const files = [...filesBelow(checkout.dir), ...filesBelow(backend.dir)];
    const releaseLogs = files.filter((f) => f.file.endsWith(`${STACK}.jsonl`));
    expect(releaseLogs.length).toBeGreaterThan(0);
    expect(releaseLogs.map((f) => f.text).join('')).toMatch(/"step":"post-promotion:sample"/);
    for (const { file, text } of files) {
      for (const name of leaks(text)) {
        found.push(`${name} in ${path.relative(path.dirname(checkout.dir), file)}`);
      }
    }
    console.log(
      `searched ${seen.length} outputs and ${files.length} files (${releaseLogs.length} release logs) for ${secrets.size} secrets`,
    );
    expect(found).toEqual([]);
  });
});
