/**
 * Proves that a change of the program replaces and deletes nothing running, with the real engine on the local
 * cluster: for each stack, `pulumi up` of the program as it was at a base revision, then `pulumi preview` and
 * `pulumi up` of this working tree on the same state, then `pulumi preview --expect-no-changes`.
 *
 *   scripts/upgrade-check <base revision> [staging] [production]
 *
 * Each stack runs in its own throwaway copy of both trees with a file backend of its own (the repository's stacks,
 * state and stack files are never touched), one stack after the other (two stacks' node agents would compete for
 * the same host ports), and is destroyed afterwards. It prints every operation of the preview and of the update,
 * and fails when any is a replacement, a deletion or a creation (of anything but a provider), or when the last
 * preview is not empty.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..');
/** What makes up the program; node_modules is linked, not copied. */
const PROGRAM = [
  'Pulumi.yaml',
  'package.json',
  'tsconfig.json',
  'tsconfig.pulumi.json',
  'infra',
  'components',
  'stacks',
];
/** Operations that would disturb something running. */
const DISTURBING = new Set([
  'create',
  'replace',
  'create-replacement',
  'delete-replaced',
  'delete',
  'discard',
]);

function toolEnv(): NodeJS.ProcessEnv {
  const out = execFileSync('bash', ['-c', 'source scripts/env.sh >/dev/null && env -0'], { cwd: REPO });
  const env: NodeJS.ProcessEnv = {};
  for (const entry of out.toString('utf8').split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) {
      env[entry.slice(0, i)] = entry.slice(i + 1);
    }
  }
  return { ...env, PULUMI_SKIP_CONFIRMATIONS: 'true', NO_COLOR: '1' };
}

function pulumiRun(
  env: NodeJS.ProcessEnv,
  cwd: string,
  args: string[],
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('pulumi', [...args, '--non-interactive'], {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 512 * 2 ** 20,
    timeout: 30 * 60 * 1000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function pulumi(env: NodeJS.ProcessEnv, cwd: string, args: string[]): string {
  const r = pulumiRun(env, cwd, args);
  if (r.status !== 0) {
    throw new Error(
      `pulumi ${args.join(' ')} (in ${path.basename(cwd)}) exited ${r.status}\n${r.stdout}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

/** The base revision's program, exported from git. */
function exportRevision(rev: string, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', rev, ...PROGRAM], {
    cwd: REPO,
    maxBuffer: 512 * 2 ** 20,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
}

/** This working tree's program. */
function copyWorkingTree(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const item of PROGRAM) {
    fs.cpSync(path.join(REPO, item), path.join(dir, item), { recursive: true });
  }
}

/**
 * A Job is one run, not something running: its spec is immutable, so a Job whose content changed is replaced,
 * which runs it again (the setup Jobs are idempotent: fixed ids, so a re-run overwrites). Such a replacement is
 * listed as a re-run, not as a disturbance.
 */
function isJob(urn: string): boolean {
  // The type is the URN's last type segment: after "::" at the top of the stack, after "$" below a component.
  return /(::|\$)kubernetes:batch\/v1:Job::[^:]+$/.test(urn);
}

/**
 * Counts of the operations of a `pulumi preview --json` (stack and providers left out; the providers it creates
 * are listed apart: a new provider disturbs nothing by itself, and a resource moved to it would show as replaced;
 * replaced Jobs are listed apart as re-runs).
 */
function previewOps(json: string): {
  counts: Record<string, number>;
  disturbing: string[];
  newProviders: string[];
  reruns: string[];
} {
  const doc = JSON.parse(json) as { steps?: { op: string; urn: string }[] };
  const counts: Record<string, number> = {};
  const disturbing: string[] = [];
  const newProviders: string[] = [];
  const reruns: string[] = [];
  for (const step of doc.steps ?? []) {
    if (step.urn.includes('::pulumi:providers:') && step.op === 'create') {
      newProviders.push(step.urn);
    }
    if (step.urn.includes('::pulumi:pulumi:Stack::') || step.urn.includes('::pulumi:providers:')) {
      continue;
    }
    counts[step.op] = (counts[step.op] ?? 0) + 1;
    if (step.op === 'replace' && isJob(step.urn)) {
      reruns.push(step.urn);
    } else if (DISTURBING.has(step.op) && !(isJob(step.urn) && step.op.includes('replace'))) {
      disturbing.push(`${step.op} ${step.urn}`);
    }
  }
  return { counts, disturbing, newProviders, reruns };
}

function checkStack(rev: string, stack: string, env: NodeJS.ProcessEnv): boolean {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-upgrade-${stack}-`));
  const oldDir = path.join(work, 'old');
  const newDir = path.join(work, 'new');
  const state = path.join(work, 'state');
  let ok = false;
  try {
    exportRevision(rev, oldDir);
    copyWorkingTree(newDir);
    for (const dir of [oldDir, newDir]) {
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      // One config for both trees: the stack file as the base revision had it.
      const stackFile = execFileSync('git', ['show', `${rev}:Pulumi.${stack}.yaml`], { cwd: REPO });
      fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), stackFile);
    }
    fs.mkdirSync(state);
    const e = { ...env, PULUMI_BACKEND_URL: `file://${state}` };
    pulumi(e, oldDir, ['stack', 'init', stack]);
    const started = Date.now();
    pulumi(e, oldDir, ['up', '--yes', '--skip-preview', '--stack', stack]);
    const resources = (
      JSON.parse(pulumi(e, oldDir, ['stack', 'export', '--stack', stack])) as {
        deployment: { resources?: unknown[] };
      }
    ).deployment.resources?.length;
    console.log(
      `${stack}: the base ${rev} deployed ${resources ?? '?'} resources (${Math.round((Date.now() - started) / 1000)} s)`,
    );

    const preview = previewOps(pulumi(e, newDir, ['preview', '--json', '--stack', stack]));
    const planned =
      Object.keys(preview.counts).length > 0 ? JSON.stringify(preview.counts) : 'every resource same';
    console.log(`${stack}: preview of this tree: ${planned}`);
    for (const urn of preview.newProviders) {
      console.log(`${stack}: new provider ${urn}`);
    }
    for (const urn of preview.reruns) {
      console.log(`${stack}: Job re-run (its content changed, a Job's spec is immutable) ${urn}`);
    }
    pulumi(e, newDir, ['up', '--yes', '--skip-preview', '--stack', stack]);
    const history = JSON.parse(pulumi(e, newDir, ['stack', 'history', '--json', '--stack', stack])) as {
      resourceChanges?: Record<string, number>;
    }[];
    const changes = history[0]?.resourceChanges ?? {};
    console.log(`${stack}: update with this tree: ${JSON.stringify(changes)}`);
    const after = pulumiRun(e, newDir, ['preview', '--expect-no-changes', '--stack', stack]);
    const noChanges = after.status === 0;
    if (!noChanges) {
      console.log(after.stdout, after.stderr);
    }
    console.log(`${stack}: preview after the update: ${noChanges ? 'no changes' : 'CHANGES'}`);

    // The update's counts include providers: the ones the preview created are not a disturbance.
    // The replaced Jobs are re-runs.
    const counted = {
      ...changes,
      create: (changes.create ?? 0) - preview.newProviders.length,
      replace: (changes.replace ?? 0) - preview.reruns.length,
    };
    const disturbingChanges = Object.entries(counted).filter(([op, n]) => DISTURBING.has(op) && n > 0);
    ok = preview.disturbing.length === 0 && disturbingChanges.length === 0 && noChanges;
    for (const line of preview.disturbing) {
      console.log(`${stack}: DISTURBING ${line}`);
    }
    const reran = preview.reruns.length > 0 ? ` (${preview.reruns.length} Jobs re-run)` : '';
    console.log(`${stack}: ${ok ? `OK: 0 replacements, 0 deletions, 0 creations${reran}` : 'FAILED'}`);
  } finally {
    try {
      const e = { ...env, PULUMI_BACKEND_URL: `file://${state}` };
      // Production protects its stateful resources: lift that for the throwaway copy only.
      for (const args of [
        ['state', 'unprotect', '--all', '--yes', '--stack', stack],
        ['destroy', '--yes', '--skip-preview', '--stack', stack],
      ]) {
        const r = pulumiRun(e, newDir, args);
        if (r.status !== 0) {
          console.log(
            `${stack}: cleanup \`pulumi ${args.join(' ')}\` exited ${r.status}: ${r.stderr.trim()}`,
          );
        }
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return ok;
}

function main(): void {
  const [rev, ...stacks] = process.argv.slice(2);
  if (rev === undefined) {
    console.error('usage: scripts/upgrade-check <base revision> [staging] [production]');
    process.exit(64);
  }
  const env = toolEnv();
  // The simulated nodes suffice: what is checked is the engine's plan and state, not running containers.
  execFileSync('bash', ['scripts/cluster', 'start', '--no-real-node'], { cwd: REPO, env, stdio: 'inherit' });
  const results = (stacks.length > 0 ? stacks : ['staging', 'production']).map((stack) =>
    checkStack(rev, stack, env),
  );
  process.exit(results.every(Boolean) ? 0 : 1);
}

main();
