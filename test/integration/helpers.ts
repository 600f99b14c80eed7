/**
 * Helpers for the integration tests: they drive the real Pulumi CLI (built by scripts/toolchain) against the
 * local kwok cluster (scripts/cluster) with the environment of scripts/env.sh, and read the cluster back with
 * kubectl. Throwaway stacks keep their config in a temporary file (`--config-file`), so the repo's stack files
 * are never touched.
 */
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The repository root (where Pulumi.yaml lives). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** The result of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

let cachedEnv: NodeJS.ProcessEnv | undefined;

/** The process environment plus everything scripts/env.sh exports (PATH, PULUMI_*, KUBECONFIG, ...). */
export function toolEnv(): NodeJS.ProcessEnv {
  if (cachedEnv === undefined) {
    const out = execFileSync('bash', ['-c', 'source scripts/env.sh && env -0'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: process.env,
    });
    const env: NodeJS.ProcessEnv = {};
    for (const entry of out.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) {
        env[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
    }
    // Never let a CI setting or a terminal change how the CLI prints.
    env.PULUMI_SKIP_CONFIRMATIONS = 'true';
    env.NO_COLOR = '1';
    cachedEnv = env;
  }
  return cachedEnv;
}

/** Runs a command to completion (never throws for a non-zero exit; check `code`). */
export function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      {
        cwd: repoRoot,
        env: toolEnv(),
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 20 * 60 * 1000,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        let code = 0;
        if (error) {
          code = typeof error.code === 'number' ? error.code : 1;
        }
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) {
      child.stdin?.end(options.input);
    }
  });
}

/** Like {@link run}, but throws with the command's output when it fails. */
export async function runOk(command: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await run(command, args, timeoutMs === undefined ? {} : { timeoutMs });
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}\n--- stdout\n${tail(result.stdout)}\n--- stderr\n${tail(result.stderr)}`,
    );
  }
  return result.stdout;
}

function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Parses JSON and checks that it is an object. */
export function parseObject(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected a JSON object, got: ${text.slice(0, 200)}`);
  }
  return value as Record<string, unknown>;
}

/** `kubectl ... -o json`, parsed. */
export async function kubectlJson(args: readonly string[]): Promise<Record<string, unknown>> {
  return parseObject(await runOk('kubectl', [...args, '-o', 'json']));
}

/** Reads `obj.a.b.c`, or undefined. */
export function dig(obj: unknown, ...keys: string[]): unknown {
  let cur: unknown = obj;
  for (const key of keys) {
    if (typeof cur !== 'object' || cur === null) {
      return undefined;
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** The `items` of a Kubernetes list. */
export function items(list: Record<string, unknown>): Record<string, unknown>[] {
  const value = list.items;
  return Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
}

/** A string-to-string map (labels, selectors), or {}. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string') {
        out[k] = v;
      }
    }
  }
  return out;
}

/** True if every key of `selector` has the same value in `labels`. */
export function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 120_000,
  intervalMs = 2_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) {
        return value;
      }
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A throwaway stack whose config lives in a temporary file. */
export class ThrowawayStack {
  readonly configFile: string;

  private constructor(
    readonly name: string,
    private readonly dir: string,
  ) {
    this.configFile = path.join(dir, `Pulumi.${name}.yaml`);
  }

  /**
   * Creates (or recreates) stack `name` with the config of `Pulumi.<from>.yaml`, plus `overrides`
   * (keys without the `pavemaster:` prefix).
   */
  static async create(
    name: string,
    from: string,
    overrides: Record<string, string>,
  ): Promise<ThrowawayStack> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${name}-`));
    const stack = new ThrowawayStack(name, dir);
    await stack.remove();
    // `stack init` writes the new stack's encryption salt into Pulumi.<name>.yaml at the repo root: move that
    // file into the temporary folder at once, and add the config of the source stack (without its salt).
    await runOk('pulumi', ['stack', 'init', name, '--non-interactive']);
    const created = path.join(repoRoot, `Pulumi.${name}.yaml`);
    const salt = fs.existsSync(created) ? fs.readFileSync(created, 'utf8') : '';
    fs.rmSync(created, { force: true });
    const source = fs.readFileSync(path.join(repoRoot, `Pulumi.${from}.yaml`), 'utf8');
    const configOnly = source
      .split('\n')
      .filter((line) => !line.startsWith('encryptionsalt:') && !line.startsWith('secretsprovider:'))
      .join('\n');
    fs.writeFileSync(stack.configFile, `${salt.trim()}\n${configOnly}`);
    for (const [key, value] of Object.entries(overrides)) {
      await stack.pulumi(['config', 'set', `pavemaster:${key}`, value]);
    }
    return stack;
  }

  /** `pulumi <args> --stack <name> --config-file <file> --non-interactive`. */
  pulumi(args: readonly string[], timeoutMs?: number): Promise<string> {
    return runOk('pulumi', [...args, ...this.flags()], timeoutMs);
  }

  /** Like {@link pulumi} but returns the result instead of throwing. */
  pulumiResult(args: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return run('pulumi', [...args, ...this.flags()], timeoutMs === undefined ? {} : { timeoutMs });
  }

  private flags(): string[] {
    return ['--stack', this.name, '--config-file', this.configFile, '--non-interactive'];
  }

  /** The stack outputs. */
  async outputs(): Promise<Record<string, unknown>> {
    return parseObject(
      await runOk('pulumi', ['stack', 'output', '--json', '--stack', this.name, '--non-interactive']),
    );
  }

  /** `pulumi state unprotect --all`. */
  async unprotectAll(): Promise<void> {
    await runOk('pulumi', this.unprotectArgs());
  }

  private unprotectArgs(): string[] {
    return ['state', 'unprotect', '--all', '--yes', '--stack', this.name, '--non-interactive'];
  }

  /** The kinds of the stack's operations, oldest first ("update", "destroy", ...). */
  async history(): Promise<{ kind: string; result: string }[]> {
    const text = await runOk('pulumi', [
      'stack',
      'history',
      '--json',
      '--stack',
      this.name,
      '--non-interactive',
    ]);
    const value: unknown = JSON.parse(text);
    if (!Array.isArray(value)) {
      throw new Error(`unexpected stack history: ${text.slice(0, 200)}`);
    }
    return value
      .map((entry: unknown) => ({ kind: String(dig(entry, 'kind')), result: String(dig(entry, 'result')) }))
      .reverse();
  }

  /** The URNs and protect flags of the resources in the stack's state. */
  async resources(): Promise<{ urn: string; type: string; protect: boolean }[]> {
    const state = parseObject(await runOk('pulumi', ['stack', 'export', '--stack', this.name]));
    const list = dig(state, 'deployment', 'resources');
    if (!Array.isArray(list)) {
      return [];
    }
    return list.map((r: unknown) => ({
      urn: String(dig(r, 'urn')),
      type: String(dig(r, 'type')),
      protect: dig(r, 'protect') === true,
    }));
  }

  /** Deletes the stack and its state (after unprotecting and destroying what is left), and the temp files. */
  async remove(): Promise<void> {
    const exists = await run('pulumi', ['stack', 'ls', '--json']);
    if (exists.code === 0 && exists.stdout.includes(`"name": "${this.name}"`)) {
      if (fs.existsSync(this.configFile)) {
        // Not runOk: a stack whose state is gone has nothing to unprotect, and is still removed.
        await run('pulumi', this.unprotectArgs());
        await run('pulumi', ['destroy', '--yes', '--skip-preview', ...this.flags()], {
          timeoutMs: 20 * 60 * 1000,
        });
      }
      await run('pulumi', ['stack', 'rm', this.name, '--yes', '--force', '--non-interactive']);
    }
  }

  /** Removes the stack and the temporary config folder. */
  async dispose(): Promise<void> {
    await this.remove();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
