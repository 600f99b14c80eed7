/**
 * Proves that a change of the program replaces and deletes nothing running, with the real engine on the local
 * cluster: for each stack, `pulumi up` of the program as it was at a base revision, then `pulumi preview` and
 * `pulumi up` of the newer program on the same state, then `pulumi preview --expect-no-changes`.
 *
 *   scripts/upgrade-check <base revision> [--to <revision>] [staging] [production]
 *
 * The newer program is this working tree, or with `--to` the program at that revision (so a range of history can
 * be checked on its own, say a refactoring between two commits). Each stack runs in its own throwaway copy of both
 * trees with a file backend of its own (the repository's stacks, state and stack files are never touched), one
 * stack after the other (two stacks' node agents would compete for the same host ports), and is destroyed
 * afterwards. Both trees get the base revision's stack file, so every setting an operator already had stays as it
 * was; a top-level key only the newer stack file has (a setting the newer program requires, such as production's
 * `pavemaster:kubernetes`) is added for the newer tree and named in the output.
 *
 * It prints every operation of the preview and of the update, and for each replacement the properties the provider
 * named as forcing it, and fails when any is a replacement, a deletion or a creation (of anything but a provider),
 * or when the last preview is not empty. A replaced Job is listed apart as a re-run (see isJob).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DISTURBING,
  isJob,
  objectUids,
  parseArgs,
  previewOps,
  StateResource,
  upgradedStackFile,
} from './upgrade-check-steps';

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

/** A stack file's text at a revision, or in the working tree when `rev` is undefined. */
function stackFileAt(rev: string | undefined, stack: string): string {
  return rev === undefined
    ? fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), 'utf8')
    : execFileSync('git', ['show', `${rev}:Pulumi.${stack}.yaml`], { cwd: REPO, encoding: 'utf8' });
}

function exportedResources(e: NodeJS.ProcessEnv, dir: string, stack: string): StateResource[] {
  const doc = JSON.parse(pulumi(e, dir, ['stack', 'export', '--stack', stack])) as {
    deployment: { resources?: StateResource[] };
  };
  return doc.deployment.resources ?? [];
}

function checkStack(rev: string, to: string | undefined, stack: string, env: NodeJS.ProcessEnv): boolean {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-upgrade-${stack}-`));
  const oldDir = path.join(work, 'old');
  const newDir = path.join(work, 'new');
  const state = path.join(work, 'state');
  const newer = to ?? 'this working tree';
  let ok = false;
  try {
    exportRevision(rev, oldDir);
    if (to === undefined) {
      copyWorkingTree(newDir);
    } else {
      exportRevision(to, newDir);
    }
    const baseStackFile = stackFileAt(rev, stack);
    const upgraded = upgradedStackFile(baseStackFile, stackFileAt(to, stack));
    for (const [dir, text] of [
      [oldDir, baseStackFile],
      [newDir, upgraded.text],
    ] as const) {
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), text);
    }
    if (upgraded.added.length > 0) {
      console.log(
        `${stack}: the stack file of ${newer} adds ${upgraded.added.join(', ')} (taken as it has them)`,
      );
    }
    fs.mkdirSync(state);
    const e = { ...env, PULUMI_BACKEND_URL: `file://${state}` };
    pulumi(e, oldDir, ['stack', 'init', stack]);
    const started = Date.now();
    pulumi(e, oldDir, ['up', '--yes', '--skip-preview', '--stack', stack]);
    const before = exportedResources(e, oldDir, stack);
    const uidsBefore = objectUids(before);
    const protectedBefore = [...uidsBefore.values()].filter((o) => o.protect).length;
    console.log(
      `${stack}: the base ${rev} deployed ${before.length} resources, ${uidsBefore.size} Kubernetes objects, ` +
        `${protectedBefore} of them protected (${Math.round((Date.now() - started) / 1000)} s)`,
    );

    const preview = previewOps(pulumi(e, newDir, ['preview', '--json', '--stack', stack]));
    const planned =
      Object.keys(preview.counts).length > 0 ? JSON.stringify(preview.counts) : 'every resource same';
    console.log(`${stack}: preview of ${newer}: ${planned}`);
    for (const urn of preview.newProviders) {
      console.log(`${stack}: new provider ${urn}`);
    }
    for (const r of preview.replacements) {
      const kind = isJob(r.urn) ? 'Job re-run (a Job spec is immutable)' : 'REPLACEMENT';
      console.log(`${stack}: ${kind} ${r.urn}, forced by ${r.reasons.join(', ') || '(no property named)'}`);
    }
    for (const line of preview.protectedDeletions) {
      console.log(`${stack}: PROTECTED ${line}`);
    }
    pulumi(e, newDir, ['up', '--yes', '--skip-preview', '--stack', stack]);
    const history = JSON.parse(pulumi(e, newDir, ['stack', 'history', '--json', '--stack', stack])) as {
      resourceChanges?: Record<string, number>;
    }[];
    const changes = history[0]?.resourceChanges ?? {};
    console.log(`${stack}: update with ${newer}: ${JSON.stringify(changes)}`);

    // What the API server says, independent of the engine's words: an object whose uid changed was recreated.
    const uidsAfter = objectUids(exportedResources(e, newDir, stack));
    const recreated: string[] = [];
    const gone: string[] = [];
    for (const [key, o] of uidsBefore) {
      const after = uidsAfter.get(key);
      if (after === undefined) {
        gone.push(`${key}${o.protect ? ' (protected)' : ''}`);
      } else if (after.uid !== o.uid) {
        recreated.push(`${key}${o.protect ? ' (protected)' : ''}`);
      }
    }
    const kept = uidsBefore.size - recreated.length - gone.length;
    console.log(
      `${stack}: objects of the base: ${kept} kept their uid, ${recreated.length} recreated, ${gone.length} gone`,
    );
    for (const key of recreated) {
      console.log(`${stack}: recreated ${key}`);
    }
    for (const key of gone) {
      console.log(`${stack}: gone ${key}`);
    }
    const protectedLost = [...recreated, ...gone].filter((k) => k.endsWith('(protected)')).length;
    console.log(`${stack}: protected objects recreated or gone: ${protectedLost} of ${protectedBefore}`);

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
    const rerunIds = new Set(preview.reruns.map((urn) => urn.slice(urn.lastIndexOf('::') + 2)));
    const recreatedNotJobs = recreated.filter((k) => !k.startsWith('kubernetes:batch/v1:Job '));
    ok =
      preview.disturbing.length === 0 &&
      disturbingChanges.length === 0 &&
      recreatedNotJobs.length === 0 &&
      gone.length === 0 &&
      protectedLost === 0 &&
      noChanges;
    for (const line of preview.disturbing) {
      console.log(`${stack}: DISTURBING ${line}`);
    }
    const reran = rerunIds.size > 0 ? ` (${rerunIds.size} Jobs re-run)` : '';
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
  const args = parseArgs(process.argv.slice(2));
  if (args === undefined) {
    console.error('usage: scripts/upgrade-check <base revision> [--to <revision>] [staging] [production]');
    process.exit(64);
  }
  const env = toolEnv();
  // The simulated nodes suffice: what is checked is the engine's plan and state, not running containers.
  execFileSync('bash', ['scripts/cluster', 'start', '--no-real-node'], { cwd: REPO, env, stdio: 'inherit' });
  const results = args.stacks.map((stack) => checkStack(args.rev, args.to, stack, env));
  process.exit(results.every(Boolean) ? 0 : 1);
}

main();
