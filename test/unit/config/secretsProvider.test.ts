/**
 * The committed stack files carry no secrets-provider state (issue 17): no `encryptionsalt`, `encryptedkey` or
 * `secretsprovider`, so a team on Pulumi Cloud, a KMS key or its own passphrase inherits none of this repository's.
 * A stack's provider lives in its state: the real Pulumi CLI, with scripts/env.sh's environment, takes it from there
 * when the stack file has none (and without that setting makes a new salt that cannot decrypt the stack's secrets);
 * the clean filter scripts/env.sh sets up and the release command's `--commit` keep the lines the CLI writes back
 * into the working stack file out of git.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { commitStackFile, STACK_FILE_CLEAN } from '../../../release/git';
import { Session } from '../../../release/session';

const repo = path.resolve(__dirname, '..', '..', '..');
const PROVIDER_KEYS = ['encryptionsalt', 'encryptedkey', 'secretsprovider'];
const SALT = 'encryptionsalt: v1:ii3G1VGbDtA=:v1:tC8hv1+dW8+YjNfx:1KtwOSijHUT/2IR/RqEvqQDBhA8VTQ==';

function git(cwd: string, args: readonly string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' });
}

/** The environment `source scripts/env.sh` gives (in the checkout that holds `root`). */
function envOf(root: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out = execFileSync('bash', ['-c', 'source scripts/env.sh && env -0'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...extra },
  });
  return Object.fromEntries(
    out
      .split('\0')
      .filter((e) => e.includes('='))
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
}

/** A scratch git repository with the project's .gitattributes (and scripts/env.sh when asked). */
function scratchRepo(withEnv: boolean): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-salt-'));
  git(dir, ['init', '-q']);
  git(dir, ['config', 'user.email', 'test@example.invalid']);
  git(dir, ['config', 'user.name', 'test']);
  fs.copyFileSync(path.join(repo, '.gitattributes'), path.join(dir, '.gitattributes'));
  if (withEnv) {
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(repo, 'scripts', 'env.sh'), path.join(dir, 'scripts', 'env.sh'));
  }
  fs.writeFileSync(path.join(dir, 'Pulumi.s.yaml'), 'config:\n  pavemaster:activeSlot: blue\n');
  git(dir, ['add', '.']);
  git(dir, ['commit', '-q', '-m', 'init']);
  return dir;
}

describe('committed stack files', () => {
  const files = git(repo, ['ls-files', 'Pulumi.*.yaml']).trim().split('\n').filter(Boolean);

  test('are the staging and production ones', () => {
    expect(files).toEqual(expect.arrayContaining(['Pulumi.production.yaml', 'Pulumi.staging.yaml']));
  });

  test.each(files)('%s (as git holds it) carries no secrets-provider state', (file) => {
    // The index: what is committed, or about to be (the working copy may hold the local stack's salt).
    const text = git(repo, ['show', `:${file}`]);
    const doc = (parse(text) ?? {}) as Record<string, unknown>;
    expect(PROVIDER_KEYS.filter((k) => k in doc)).toEqual([]);
    expect(text).not.toMatch(/^(encryptionsalt|encryptedkey|secretsprovider):/m);
  });

  test('.gitattributes gives every stack file the clean filter', () => {
    expect(
      git(repo, ['check-attr', 'filter', '--', 'Pulumi.staging.yaml', 'Pulumi.x.yaml', 'Pulumi.yaml']),
    ).toBe(
      'Pulumi.staging.yaml: filter: pulumi-stack\nPulumi.x.yaml: filter: pulumi-stack\nPulumi.yaml: filter: unspecified\n',
    );
  });

  test('scripts/env.sh and the own-cluster steps of the README set up the same filter as the release command', () => {
    expect(fs.readFileSync(path.join(repo, 'scripts', 'env.sh'), 'utf8')).toContain(`"${STACK_FILE_CLEAN}"`);
    expect(fs.readFileSync(path.join(repo, 'README.md'), 'utf8')).toContain(
      `git config filter.pulumi-stack.clean "${STACK_FILE_CLEAN}"`,
    );
  });
});

describe('the clean filter keeps provider lines out of git', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  test('after source scripts/env.sh: git diff shows nothing, git add stages nothing, a commit leaves the lines out', () => {
    const dir = scratchRepo(true);
    dirs.push(dir);
    const env = envOf(dir, { HOME: dir });
    expect(env.PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER).toBe('true');
    expect(git(dir, ['config', '--get', 'filter.pulumi-stack.clean']).trim()).toBe(STACK_FILE_CLEAN);
    const file = path.join(dir, 'Pulumi.s.yaml');
    // What the CLI leaves in the working file: the salt (and a KMS provider's lines) after the config.
    const written =
      'config:\n  pavemaster:activeSlot: blue\n' +
      `${SALT}\nsecretsprovider: awskms://alias/x\nencryptedkey: AQICAHh=\n`;
    fs.writeFileSync(file, written);
    expect(git(dir, ['diff', '--', 'Pulumi.s.yaml'])).toBe('');
    // git status lists a file whose size changed until `git add` records its stat; the add stages nothing.
    git(dir, ['add', '--', 'Pulumi.s.yaml']);
    expect(git(dir, ['status', '--porcelain', '--', 'Pulumi.s.yaml'])).toBe('');
    fs.writeFileSync(file, written.replace('blue', 'green'));
    expect(git(dir, ['diff', '--', 'Pulumi.s.yaml'])).toMatch(
      /^- {2}pavemaster:activeSlot: blue\n\+ {2}pavemaster:activeSlot: green$/m,
    );
    expect(git(dir, ['diff', '--', 'Pulumi.s.yaml'])).not.toMatch(
      /encryptionsalt|secretsprovider|encryptedkey/,
    );
    git(dir, ['commit', '-q', '-am', 'switch']);
    expect(git(dir, ['show', 'HEAD:Pulumi.s.yaml'])).toBe('config:\n  pavemaster:activeSlot: green\n');
    expect(fs.readFileSync(file, 'utf8')).toBe(written.replace('blue', 'green'));
  });

  test('the release command commits the stack file without them in a checkout that never sourced env.sh', async () => {
    const dir = scratchRepo(false);
    dirs.push(dir);
    expect(spawnSync('git', ['config', '--get', 'filter.pulumi-stack.clean'], { cwd: dir }).status).toBe(1);
    fs.writeFileSync(path.join(dir, 'Pulumi.s.yaml'), `${SALT}\nconfig:\n  pavemaster:activeSlot: green\n`);
    const printed: string[] = [];
    const session = {
      name: 's',
      opts: { workDir: dir },
      out: (line: string) => printed.push(line),
      log: { write: () => undefined },
    } as unknown as Session;
    await commitStackFile(session, true, 'release: switch to green');
    expect(printed).toEqual(['committed Pulumi.s.yaml: release: switch to green']);
    expect(git(dir, ['show', 'HEAD:Pulumi.s.yaml'])).toBe('config:\n  pavemaster:activeSlot: green\n');
  });
});

describe('the real Pulumi CLI takes the secrets provider from the stack state', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const stackFile = () => path.join(dir, 'Pulumi.s.yaml');
  const pulumi = (args: readonly string[], extra: NodeJS.ProcessEnv = {}) =>
    spawnSync('pulumi', [...args, '--stack', 's', '--non-interactive'], {
      cwd: dir,
      env: { ...env, ...extra },
      encoding: 'utf8',
      timeout: 60_000,
    });
  let created = '';

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-provider-'));
    env = envOf(repo);
    fs.mkdirSync(path.join(dir, 'state'));
    env.PULUMI_BACKEND_URL = `file://${path.join(dir, 'state')}`;
    // Config commands need only the project file.
    fs.writeFileSync(path.join(dir, 'Pulumi.yaml'), 'name: provider-check\nruntime: nodejs\n');
    const init = spawnSync('pulumi', ['stack', 'init', 's', '--non-interactive'], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
    expect([init.status, init.stderr.trim()]).toEqual([0, "Created stack 's'"]);
    expect(pulumi(['config', 'set', '--secret', 'token', 'local-value']).status).toBe(0);
    created = fs.readFileSync(stackFile(), 'utf8');
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The stack file as a fresh checkout has it: config only. */
  function freshCheckout(): void {
    fs.writeFileSync(stackFile(), created.replace(/^encryptionsalt:.*\n?/m, ''));
  }

  test('the stack was created with a salt, and its state holds the same one', () => {
    const salt = /^encryptionsalt: (.*)$/m.exec(created)?.[1];
    expect(salt).toMatch(/^v1:/);
    const checkpoint = fs.readFileSync(
      path.join(dir, 'state', '.pulumi', 'stacks', 'provider-check', 's.json'),
      'utf8',
    );
    expect(checkpoint).toContain(`"secrets_providers":{"type":"passphrase","state":{"salt":"${salt}"}}`);
  });

  test("with scripts/env.sh's environment a stack file without a salt decrypts, and gets the state's salt back", () => {
    freshCheckout();
    const r = pulumi(['config', 'get', 'provider-check:token']);
    expect([r.status, r.stdout.trim()]).toEqual([0, 'local-value']);
    expect(fs.readFileSync(stackFile(), 'utf8').match(/^encryptionsalt:.*$/m)?.[0]).toBe(
      created.match(/^encryptionsalt:.*$/m)?.[0],
    );
  });

  test('without the fallback the CLI makes a new salt that cannot decrypt the secrets (why env.sh sets it)', () => {
    freshCheckout();
    const r = pulumi(['config', 'get', 'provider-check:token'], {
      PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER: 'false',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/could not decrypt configuration value/);
  });
});
