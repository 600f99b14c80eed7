/**
 * Where the pipeline tests find the real tools that scripts/setup/workflow-tools.sh installs, and a small
 * promise wrapper to run them.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
const CACHE = process.env.PAVEMASTER_CACHE ?? path.join(os.homedir(), '.cache', 'pavemaster');

/** The path of a pinned tool; throws (never skips) when the setup script has not run. */
export function tool(name: 'actionlint' | 'gitleaks' | 'artillery'): string {
  const file = path.join(CACHE, 'bin', name);
  if (!fs.existsSync(file)) {
    throw new Error(`${name} is not installed at ${file}: run scripts/setup/workflow-tools.sh`);
  }
  return file;
}

/** The result of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by `timeoutMs`) and returns its exit code and output. */
export function run(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      {
        cwd: opts.cwd ?? REPO,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${prefix}-`));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Gives `dir` this repository's installed packages: a real `node_modules` folder in `dir` whose entries are
 * symlinks to this repository's. Never a symlink of the folder itself: an `npm ci` (or Pulumi installing a
 * project's dependencies) in `dir` empties its own node_modules folder, and through such a link it would empty
 * this repository's.
 */
export function linkNodeModules(dir: string): void {
  const from = path.join(REPO, 'node_modules');
  const to = path.join(dir, 'node_modules');
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from)) {
    fs.symlinkSync(path.join(from, entry), path.join(to, entry));
  }
}
