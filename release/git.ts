/**
 * The stack file in git: every command that changes a stack writes `Pulumi.<stack>.yaml`, which must be committed
 * so that a `pulumi up` from a clean checkout never undoes a release; `status` compares against the committed one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { run } from './kube';
import { Session } from './session';

/**
 * The clean filter of `Pulumi.*.yaml` (.gitattributes `filter=pulumi-stack`; scripts/env.sh sets it up for the
 * checkout): drops the top-level secrets-provider lines (`encryptionsalt`, `encryptedkey`, `secretsprovider`) the
 * CLI writes into a stack file, so git never holds them. The stack's state holds its secrets provider, and
 * `PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true` makes the CLI use that one when the stack file has none.
 */
export const STACK_FILE_CLEAN = "sed -E '/^(encryptionsalt|encryptedkey|secretsprovider):/d'";

/** Commits the changed stack file (`--commit`), or says how to. */
export async function commitStackFile(
  s: Session,
  commit: boolean | undefined,
  message: string,
): Promise<void> {
  const file = `Pulumi.${s.name}.yaml`;
  const cwd = s.opts.workDir;
  if (commit) {
    // The filter is named here too (a CI checkout never sourced scripts/env.sh, and its CLI wrote the salt into
    // the file): `git commit -- <file>` stages the working file again, so both commands get it.
    const clean = ['-c', `filter.pulumi-stack.clean=${STACK_FILE_CLEAN}`];
    const add = await run('git', [...clean, 'add', '--', file], { cwd });
    const done =
      add.code === 0 ? await run('git', [...clean, 'commit', '-m', message, '--', file], { cwd }) : add;
    if (done.code !== 0) {
      s.out(`warning: could not commit ${file}: ${(done.stderr || done.stdout).trim()}`);
      s.log.write('commit', 'warning', { detail: (done.stderr || done.stdout).trim() });
    } else {
      s.out(`committed ${file}: ${message}`);
      s.log.write('commit', 'succeeded', { detail: message });
    }
  } else {
    s.out(`${file} changed: commit it so a clean checkout deploys the same thing:`);
    s.out(`  git add ${file} && git commit -m "${message}"`);
  }
}

/** The `config` of the stack file as committed at HEAD (the working copy's outside a git checkout). */
export async function readCommittedConfig(
  workDir: string,
  stack: string,
): Promise<Record<string, unknown> | undefined> {
  const file = `Pulumi.${stack}.yaml`;
  const r = await run('git', ['show', `HEAD:./${file}`], { cwd: workDir });
  const text =
    r.code === 0
      ? r.stdout
      : fs.existsSync(path.join(workDir, file))
        ? fs.readFileSync(path.join(workDir, file), 'utf8')
        : undefined;
  if (text === undefined) {
    return undefined;
  }
  const doc = parseYaml(text) as { config?: Record<string, unknown> } | null;
  return doc?.config ?? {};
}
