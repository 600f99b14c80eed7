/**
 * How the operator runs the release command, so every "run this to fix it" line names a command that exists:
 * `pavemaster` (the package's bin, on PATH after `npm install -g .` or `npm link`), `npx pavemaster` when started
 * through npx in the project, or `npm run release --` when started through `npm run release`.
 * `PAVEMASTER_RELEASE_PROG` overrides it (a wrapper script names itself).
 */
export function prog(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PAVEMASTER_RELEASE_PROG) {
    return env.PAVEMASTER_RELEASE_PROG;
  }
  if (env.npm_lifecycle_event === 'release') {
    return 'npm run release --';
  }
  return env.npm_lifecycle_event === 'npx' ? 'npx pavemaster' : 'pavemaster';
}
