/**
 * A throwaway copy of the project for the release command's integration tests and benchmark: the program
 * (Pulumi.yaml, infra/, components/, stacks/, tsconfig.json, package.json, node_modules linked), a stack file
 * made from a committed one with overrides, and its own file backend, so the real stacks, their state and the
 * committed stack files are never touched.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalWorkspace, Stack } from '@pulumi/pulumi/automation';
import { parse, stringify } from 'yaml';
import { run } from '../kube';
import { hasSecure } from '../stackfiles';

/** The repository root (this file lives in release/testing/). */
export const REPO = path.resolve(__dirname, '..', '..');

/** The environment `scripts/env.sh` sets (PATH, PULUMI_HOME, KUBECONFIG, ...), read by sourcing it. */
export function envFromScript(repo: string = REPO): Record<string, string> {
  const out = execFileSync('bash', ['-c', 'source scripts/env.sh >/dev/null && env -0'], { cwd: repo });
  const env: Record<string, string> = {};
  for (const entry of out.toString('utf8').split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) {
      env[entry.slice(0, i)] = entry.slice(i + 1);
    }
  }
  return env;
}

/** Starts the local cluster (idempotent) and fails with its output when it cannot. */
export async function ensureCluster(repo: string = REPO): Promise<void> {
  const r = await run('bash', ['scripts/cluster', 'start'], { cwd: repo, timeoutMs: 300000 });
  if (r.code !== 0) {
    throw new Error(`scripts/cluster start failed:\n${r.stdout}\n${r.stderr}`);
  }
}

export interface Sandbox {
  /** The project copy: the release command's --work-dir. */
  dir: string;
  stackName: string;
  stack: Stack;
  namespace: string;
  /** The stack file path in the copy. */
  stackFile: string;
  /** Destroys the stack's resources, removes the stack and the copy. */
  cleanup(): Promise<void>;
}

const COPIED = [
  'Pulumi.yaml',
  'package.json',
  'tsconfig.json',
  'tsconfig.pulumi.json',
  'infra',
  'components',
  'stacks',
  // The precompiled program infra/main.js runs while it is current (content hashes, so a copy keeps it valid).
  'dist/program',
];

/**
 * Creates a project copy with stack `stackName` whose config is the `fromStack` file's (without its encrypted
 * values), with `overrides` (keys without the `pavemaster:` prefix; `undefined` removes a key), and a file backend
 * of its own.
 */
export async function createSandbox(opts: {
  stackName: string;
  fromStack: string;
  overrides: Record<string, unknown>;
  env: Record<string, string>;
}): Promise<Sandbox> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${opts.stackName}-`));
  for (const item of COPIED) {
    if (fs.existsSync(path.join(REPO, item))) {
      fs.cpSync(path.join(REPO, item), path.join(dir, item), { recursive: true });
    }
  }
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  fs.mkdirSync(path.join(dir, '.pulumi-state'), { recursive: true });
  const backend = `file://${path.join(dir, '.pulumi-state')}`;
  process.env.PULUMI_BACKEND_URL = backend;

  const doc = parse(fs.readFileSync(path.join(REPO, `Pulumi.${opts.fromStack}.yaml`), 'utf8')) as {
    config: Record<string, unknown>;
  } & Record<string, unknown>;
  // The working stack file may hold what a local `pulumi config set --secret` wrote: values encrypted under the
  // source stack's key and that key's salt. The copy has a stack (and key) of its own, so it could decrypt
  // neither: every command of it would fail ("failed to decrypt configuration key"). Such values are left out.
  for (const key of ['encryptionsalt', 'encryptedkey', 'secretsprovider']) {
    delete doc[key];
  }
  for (const [k, v] of Object.entries(doc.config)) {
    if (hasSecure(v)) {
      delete doc.config[k];
    }
  }
  for (const [k, v] of Object.entries(opts.overrides)) {
    if (v === undefined) {
      delete doc.config[`pavemaster:${k}`];
    } else {
      doc.config[`pavemaster:${k}`] = v;
    }
  }
  const stackFile = path.join(dir, `Pulumi.${opts.stackName}.yaml`);
  fs.writeFileSync(stackFile, stringify(doc));
  const envVars = { ...opts.env, PULUMI_BACKEND_URL: backend };
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: opts.stackName, workDir: dir },
    { workDir: dir, envVars },
  );
  const namespace = String(doc.config['pavemaster:namespace']);
  return {
    dir,
    stackName: opts.stackName,
    stack,
    namespace,
    stackFile,
    async cleanup() {
      try {
        await stack.destroy({ onOutput: () => undefined });
        await stack.workspace.removeStack(opts.stackName);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
