/**
 * The release command's command line, as an operator meets it: every subcommand's --help, one-line errors for
 * bad usage, and the expected failures of a real run (unknown stack, no backend login, missing passphrase, no
 * cluster, production without confirmation) with the real `pulumi` CLI and the real `pavemaster` bin. Nothing
 * here needs a cluster: the "no cluster" case points KUBECONFIG at a closed loopback port.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv from 'ajv';
import { CliIO, main, parseCommandLine } from '../../../release/cli';
import { compareSources, findLockFiles, newReleaseId } from '../../../release/commands';
import { explain } from '../../../release/errors';
import { EXIT, ReleaseError } from '../../../release/session';
import { COMMANDS, completionScript, optionsOf } from '../../../release/spec';
import { envFromScript, REPO } from '../../../release/testing/sandbox';
import { checkReleaseId } from '../../../stacks/release';
import { ConfigError } from '../../../stacks/problems';

jest.setTimeout(120000);

const BIN = path.join(REPO, 'release', 'bin', 'pavemaster.js');
const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'release', 'schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);

/** Runs main() in this process with captured streams. */
async function runMain(argv: string[], extra: Partial<CliIO> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    stderrTTY: false,
    env: { ...process.env, PAVEMASTER_RELEASE_PROG: 'pavemaster' },
    ...extra,
  });
  return { code, stdout, stderr };
}

describe('every subcommand has its own --help', () => {
  it.each(COMMANDS.map((c) => c.name))(
    '%s --help lists its arguments and every option it accepts',
    async (name) => {
      const spec = COMMANDS.find((c) => c.name === name);
      const r = await runMain([name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(
        new RegExp(`^usage: pavemaster ${name} ${spec?.args.map((a) => `<${a}>`).join(' ')} \\[options\\]`),
      );
      for (const option of Object.keys(optionsOf(spec as (typeof COMMANDS)[number]))) {
        expect(r.stdout).toContain(`--${option}`);
      }
      // The help of one command is not the overview.
      expect(r.stdout).not.toContain('commands:');
    },
  );

  it('the overview lists every command and the exit codes; `help <command>` is the command help', async () => {
    const r = await runMain(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) {
      expect(r.stdout).toContain(`  ${c.name} `);
    }
    expect(r.stdout).toMatch(/ 4 {2}rolled back automatically after promotion/);
    expect((await runMain(['help', 'promote'])).stdout).toMatch(/^usage: pavemaster promote <stack>/);
    expect((await runMain([])).stdout).toMatch(/^usage: pavemaster <command>/);
  });

  it('the installed bin (package.json) runs the same command line', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin.pavemaster).toBe('release/bin/pavemaster.js');
    // As run from a shell (npx, which runs this test, would name itself in the help).
    const env = { ...process.env };
    delete env.npm_lifecycle_event;
    const r = spawnSync(BIN, ['rollback', '--help'], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: pavemaster rollback <stack> \[options\]/);
    expect(r.stdout).toContain('--to N');
  });
});

describe('usage errors: one line naming the fix, exit 64', () => {
  it.each([
    [
      ['promote', 'staging', '--force'],
      /^release: unknown option --force for promote: its options are --preview, .* \(see: pavemaster promote --help\)\n$/,
    ],
    [
      ['nosuch', 'staging'],
      /^release: unknown command "nosuch": the commands are deploy, .* \(see: pavemaster --help\)\n$/,
    ],
    [
      ['deploy', 'staging'],
      /^release: deploy takes <stack> <image>, got "staging": pavemaster deploy <stack> <image> \(see: pavemaster deploy --help\)\n$/,
    ],
    [['rollback', 'staging', '--to'], /^release: --to needs a value: pavemaster rollback --help shows it\n$/],
    [
      ['completion', 'fish'],
      /^release: completion supports bash and zsh, got "fish": pavemaster completion bash\n$/,
    ],
  ])('%j', async (argv, message) => {
    const r = await runMain(argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('parses options anywhere, in both forms', () => {
    expect(
      parseCommandLine(['deploy', 'staging', '--version=v2', 'pavemaster/web:2.0.0', '--commit']),
    ).toEqual({
      command: 'deploy',
      positionals: ['staging', 'pavemaster/web:2.0.0'],
      values: { version: 'v2', commit: true },
    });
    expect(parseCommandLine(['rollback', '-y', 'staging', '--to', '7'])).toMatchObject({
      values: { to: '7', yes: true },
    });
  });

  it('makes release ids that are valid and sortable', () => {
    const id = newReleaseId(new Date('2026-01-05T09:08:07.123Z'));
    expect(id).toBe('r20260105-090807');
    expect(checkReleaseId(id)).toBeUndefined();
  });
});

describe('explained failures', () => {
  it('a config error lists its problems (not the stack name ConfigError keeps in `stack`)', () => {
    const e = new ConfigError('it-x', [
      { key: 'pavemaster:replicas', value: '0', allowed: 'an integer from 1 to 100' },
    ]);
    const { message, exitCode } = explain(e, { stack: 'it-x' });
    expect(exitCode).toBe(EXIT.usage);
    expect(message).toContain("Stack 'it-x' has 1 invalid configuration value");
    expect(message).toContain('pavemaster:replicas = "0": an integer from 1 to 100');
  });

  it('an unknown failure keeps its error lines, never a stack trace or the CLI invocation', () => {
    const e = new Error(
      'code: 255\n stdout: \n stderr: error: update failed\n    at Object.createCommandError (x.js:1:1)',
    );
    const { message } = explain(e, { command: 'deploy', logFile: '.pulumi-state/releases/s.jsonl' });
    expect(message).toBe(
      "deploy failed: update failed (re-run with --verbose for the engine's output; the release log .pulumi-state/releases/s.jsonl has every step)",
    );
    expect(explain(new ReleaseError('gate smoke failed', EXIT.gate)).exitCode).toBe(EXIT.gate);
  });
});

describe('real runs that cannot succeed say why and how to fix it', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const PASS = 'pavemaster-local-only';

  function pavemaster(args: string[], extra: NodeJS.ProcessEnv = {}, input?: string) {
    const merged: NodeJS.ProcessEnv = { ...env, ...extra };
    for (const [k, v] of Object.entries(merged)) {
      if (v === undefined) {
        delete merged[k];
      }
    }
    const r = spawnSync(BIN, [...args, '--work-dir', dir], {
      encoding: 'utf8',
      env: merged,
      input,
      timeout: 60000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  beforeAll(() => {
    const base = envFromScript();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-cli-'));
    fs.mkdirSync(path.join(dir, 'state'));
    fs.mkdirSync(path.join(dir, 'home'));
    fs.copyFileSync(path.join(REPO, 'Pulumi.yaml'), path.join(dir, 'Pulumi.yaml'));
    fs.copyFileSync(path.join(REPO, 'Pulumi.staging.yaml'), path.join(dir, 'Pulumi.staging.yaml'));
    fs.copyFileSync(path.join(REPO, 'Pulumi.production.yaml'), path.join(dir, 'Pulumi.production.yaml'));
    // A kubeconfig whose API server is a closed loopback port: no cluster reachable.
    fs.writeFileSync(
      path.join(dir, 'kubeconfig.yaml'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]',
        'contexts: [{name: c, context: {cluster: c, user: u}}]',
        'current-context: c',
        'users: [{name: u, user: {token: none}}]',
        '',
      ].join('\n'),
    );
    env = {
      PATH: base.PATH,
      HOME: process.env.HOME,
      PULUMI_HOME: path.join(dir, 'home'),
      PULUMI_BACKEND_URL: `file://${path.join(dir, 'state')}`,
      PULUMI_CONFIG_PASSPHRASE: PASS,
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      KUBECONFIG: path.join(dir, 'kubeconfig.yaml'),
    };
    for (const stack of ['staging', 'production', 'secretive']) {
      execFileSync('pulumi', ['stack', 'init', stack, '--non-interactive'], { cwd: dir, env, stdio: 'pipe' });
    }
    execFileSync(
      'pulumi',
      ['config', 'set', '--secret', '--stack', 'secretive', 'pavemaster:slackWebhookUrl', 'x'],
      {
        cwd: dir,
        env,
        stdio: 'pipe',
      },
    );
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an unknown stack names the backend and `pulumi stack ls` / `pulumi stack init`', () => {
    const r = pavemaster(['promote', 'nosuchstack']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe(
      `release: stack "nosuchstack" does not exist in ${env.PULUMI_BACKEND_URL}: list the stacks with \`pulumi stack ls\`, or create it with \`pulumi stack init nosuchstack\`\n`,
    );
    expect(r.stderr).not.toMatch(/StackNotFoundError|at Object\.|code: -?\d/);
  });

  it('no backend login says to log in', () => {
    // A backend on a closed loopback port, with a fresh PULUMI_HOME: no credentials for it.
    const r = pavemaster(['status', 'staging'], { PULUMI_BACKEND_URL: 'https://127.0.0.1:9' });
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toBe(
      'release: not logged in to a Pulumi backend: run `pulumi login <backend URL>` (or set PULUMI_BACKEND_URL; locally `source scripts/env.sh`)\n',
    );
  });

  it('a missing passphrase names the variables to set', () => {
    const r = pavemaster(['status', 'secretive'], { PULUMI_CONFIG_PASSPHRASE: undefined });
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toMatch(
      /^release: stack secretive encrypts its secrets with a passphrase and none is set: export PULUMI_CONFIG_PASSPHRASE_FILE=<file> \(or PULUMI_CONFIG_PASSPHRASE\)/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('no reachable cluster names the API server and `scripts/cluster start`; --json says the same in its schema', () => {
    const r = pavemaster(['status', 'staging', '--json']);
    expect(r.code).toBe(EXIT.failed);
    const line = `no Kubernetes cluster reachable at 127.0.0.1:9 (KUBECONFIG=${env.KUBECONFIG}): start it with \`scripts/cluster start\`, or point KUBECONFIG at the cluster of stack staging`;
    expect(r.stderr).toBe(`release: ${line}\n`);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(validate(doc)).toBe(true);
    expect(doc).toEqual({
      schema: 'pavemaster.release/v1',
      command: 'status',
      stack: 'staging',
      ok: false,
      exitCode: 1,
      error: { message: line },
    });
  });

  it('production rollback without a terminal needs --yes, and nothing is changed', () => {
    const before = fs.readFileSync(path.join(dir, 'Pulumi.production.yaml'), 'utf8');
    const r = pavemaster(['rollback', 'production']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(
      'release: rollback on production stack production needs confirmation and there is no terminal to ask on: re-run with --yes (`pavemaster rollback production --yes`)',
    );
    expect(fs.readFileSync(path.join(dir, 'Pulumi.production.yaml'), 'utf8')).toBe(before);
    // With --yes there is no question: the command goes on (and meets the closed cluster).
    const yes = pavemaster(['rollback', 'production', '--yes']);
    expect(yes.stderr).not.toContain('confirmation');
    expect(yes.stderr).toContain('no Kubernetes cluster reachable');
  });

  it('production rollback on a terminal shows the change and asks; "n" changes nothing', () => {
    // A pseudo-terminal through script(1); the answer comes on its standard input.
    const cmd = [BIN, 'rollback', 'production', '--work-dir', dir].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      encoding: 'utf8',
      env,
      input: 'n\n',
      timeout: 60000,
    });
    const out = r.stdout.replace(/\r/g, '');
    expect(r.status).toBe(EXIT.failed);
    expect(out).toContain('rollback on production stack production will change:');
    expect(out).toMatch(
      / {2}traffic: blue \(1\.0\.0, pavemaster\/web:1\.0\.0@sha256:[0-9a-f]{64}\) -> green \(/,
    );
    expect(out).toContain('rollback production? [y/N]');
    expect(out).toContain(
      'release: rollback on production stack production not confirmed: nothing was changed',
    );
  });

  it('staging never asks', () => {
    const r = pavemaster(['rollback', 'staging']);
    expect(r.stderr).not.toContain('confirm');
    expect(r.stderr).toContain('no Kubernetes cluster reachable');
  });
});

describe('shell completion', () => {
  function complete(words: string[], cwd: string): string[] {
    const script = completionScript('pavemaster', 'bash');
    const line = words.map((w) => `'${w}'`).join(' ');
    const out = execFileSync(
      'bash',
      [
        '-c',
        `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _pavemaster_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { cwd, encoding: 'utf8' },
    );
    return out.split('\n').filter((l) => l !== '');
  }

  it('completes subcommands, their options and the stacks of the project (real bash)', () => {
    expect(complete(['pavemaster', 'pro'], REPO)).toEqual(['promote']);
    expect(complete(['pavemaster', 'promote', '--p'], REPO).sort()).toEqual([
      '--preview',
      '--prometheus-url',
    ]);
    expect(complete(['pavemaster', 'rollback', ''], REPO).sort()).toEqual(['production', 'staging']);
    expect(complete(['pavemaster', 'completion', ''], REPO)).toEqual(['bash', 'zsh']);
  });

  it('is printed by `completion bash` and `completion zsh`', async () => {
    expect((await runMain(['completion', 'bash'])).stdout).toContain(
      'complete -F _pavemaster_complete pavemaster',
    );
    expect((await runMain(['completion', 'zsh'])).stdout).toMatch(
      /^autoload -U \+X bashcompinit && bashcompinit\n/,
    );
  });
});

describe('status drift', () => {
  const last = {
    version: 5,
    kind: 'update',
    result: 'succeeded',
    startTime: '',
    activeSlot: 'green' as const,
    images: { blue: 'web:1', green: 'web:2' },
    versions: { blue: '1', green: '2' },
    releaseIds: { blue: undefined, green: undefined },
  };
  it('is empty when the cluster, the last update and the committed file agree', () => {
    expect(
      compareSources({ activeSlot: 'green', images: { blue: 'web:1', green: 'web:2' } }, last, {
        activeSlot: 'green',
        images: { blue: 'web:1', green: 'web:2' },
      }),
    ).toEqual([]);
  });

  it('names each difference and its source', () => {
    expect(
      compareSources({ activeSlot: 'blue', images: { blue: 'web:1', green: 'web:2' } }, last, {
        activeSlot: 'blue',
        images: { blue: 'web:1', green: 'web:3' },
      }),
    ).toEqual([
      'active slot: live blue, last update (v5) green',
      'green image: live web:2, the committed stack file web:3',
    ]);
  });
});

describe('recover: lock files of a file backend', () => {
  it('finds the lock files of one stack only, project-scoped or not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'locks-'));
    try {
      const scoped = path.join(dir, '.pulumi', 'locks', 'organization', 'pavemaster', 'staging');
      const other = path.join(dir, '.pulumi', 'locks', 'organization', 'pavemaster', 'production');
      fs.mkdirSync(scoped, { recursive: true });
      fs.mkdirSync(other, { recursive: true });
      fs.writeFileSync(path.join(scoped, 'a.json'), '{}');
      fs.writeFileSync(path.join(scoped, 'notes.txt'), '');
      fs.writeFileSync(path.join(other, 'b.json'), '{}');
      expect(findLockFiles(dir, 'pavemaster', 'staging')).toEqual([path.join(scoped, 'a.json')]);
      expect(findLockFiles(dir, 'pavemaster', 'qa')).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
