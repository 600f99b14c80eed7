/**
 * Checkouts of the project for the fault tests: each is a copy of the tracked files of this repository (what a
 * `git clone` holds) with node_modules linked, and any number of them share one file backend, as two operators'
 * clones share a team's state backend. A stack created in one is usable from the others once they have its stack
 * file (a clone gets it from git). Nothing here touches the repository's own stacks, stack files or state.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { descendants } from '../../../release/processTree';
import { parseObject, repoRoot, RunResult, toolEnv } from '../helpers';

/**
 * Gives a copy of the project the packages of `from` as one link per package (and per `.bin` entry) in a folder
 * of its own: an npm command run in the copy can then change only the copy's links, never the repository's
 * node_modules (a link of the whole folder would let it prune the repository's packages).
 */
export function linkNodeModules(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from)) {
    const source = path.join(from, entry);
    if (entry.startsWith('@') || entry === '.bin') {
      fs.mkdirSync(path.join(to, entry), { recursive: true });
      for (const inner of fs.readdirSync(source)) {
        const target = path.join(source, inner);
        if (fs.existsSync(target)) {
          fs.symlinkSync(fs.realpathSync(target), path.join(to, entry, inner));
        }
      }
    } else if (!entry.startsWith('.')) {
      fs.symlinkSync(source, path.join(to, entry));
    }
  }
}

/** A shared state backend (a folder), and the checkouts using it. */
export class Backend {
  readonly dir: string;

  constructor(label: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${label}-state-`));
  }

  get url(): string {
    return `file://${this.dir}`;
  }

  /** The stack's lock files (the file backend writes one per running update). */
  lockFiles(project: string, stack: string): string[] {
    const out: string[] = [];
    for (const dir of [
      path.join(this.dir, '.pulumi', 'locks', 'organization', project, stack),
      path.join(this.dir, '.pulumi', 'locks', stack),
    ]) {
      if (fs.existsSync(dir)) {
        // `<uuid>.json`, each with a `.json.attrs` file of the blob store beside it.
        out.push(
          ...fs
            .readdirSync(dir)
            .filter((f) => f.endsWith('.json'))
            .map((f) => path.join(dir, f)),
        );
      }
    }
    return out;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One command's result plus how long it took. */
export interface Timed extends RunResult {
  ms: number;
}

/** A copy of the project (the tracked files), using `backend`. */
export class Checkout {
  readonly dir: string;

  private constructor(
    readonly label: string,
    readonly backend: Backend,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${label}-`));
  }

  /** Copies the tracked files of the repository (as a clone has them) and links node_modules. */
  static create(label: string, backend: Backend): Checkout {
    const c = new Checkout(label, backend);
    const files = execFileSync('git', ['ls-files', '-z', '--cached'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '' && !f.startsWith('test/') && !f.startsWith('docs/'));
    for (const file of files) {
      const from = path.join(repoRoot, file);
      if (!fs.existsSync(from)) {
        continue; // deleted in the working tree
      }
      const to = path.join(c.dir, file);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
    }
    linkNodeModules(path.join(repoRoot, 'node_modules'), path.join(c.dir, 'node_modules'));
    if (fs.existsSync(path.join(repoRoot, 'policy', 'node_modules'))) {
      linkNodeModules(
        path.join(repoRoot, 'policy', 'node_modules'),
        path.join(c.dir, 'policy', 'node_modules'),
      );
    }
    return c;
  }

  /**
   * The environment of scripts/env.sh with this checkout's backend. PULUMI_DEBUG_COMMANDS turns on the CLI's
   * `--event-log` flag (the engine events, as the Automation API reads them).
   */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...toolEnv(), PULUMI_BACKEND_URL: this.backend.url, PULUMI_DEBUG_COMMANDS: 'true', ...extra };
  }

  stackFile(stack: string): string {
    return path.join(this.dir, `Pulumi.${stack}.yaml`);
  }

  /**
   * Creates stack `stack` with the config of the committed `Pulumi.<from>.yaml` plus `overrides` (keys without
   * the `pavemaster:` prefix; objects are written as YAML mappings).
   */
  async initStack(stack: string, from: string, overrides: Record<string, unknown>): Promise<void> {
    const r = await this.pulumi(['stack', 'init', stack]);
    if (r.code !== 0) {
      throw new Error(`pulumi stack init ${stack} failed:\n${r.stderr}`);
    }
    // stack init wrote the stack's encryption salt into Pulumi.<stack>.yaml: keep it, add the config.
    const created = fs.existsSync(this.stackFile(stack))
      ? (parse(fs.readFileSync(this.stackFile(stack), 'utf8')) as Record<string, unknown> | null)
      : null;
    const source = parse(fs.readFileSync(path.join(repoRoot, `Pulumi.${from}.yaml`), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const config = { ...source.config };
    for (const [k, v] of Object.entries(overrides)) {
      if (v === undefined) {
        delete config[`pavemaster:${k}`];
      } else {
        config[`pavemaster:${k}`] = v;
      }
    }
    const doc: Record<string, unknown> = { ...(created ?? {}), config };
    fs.writeFileSync(this.stackFile(stack), stringify(doc));
  }

  /** Edits one config key of the stack file (undefined removes it). */
  setConfig(stack: string, key: string, value: unknown): void {
    const doc = parse(fs.readFileSync(this.stackFile(stack), 'utf8')) as { config: Record<string, unknown> };
    if (value === undefined) {
      delete doc.config[`pavemaster:${key}`];
    } else {
      doc.config[`pavemaster:${key}`] = value;
    }
    fs.writeFileSync(this.stackFile(stack), stringify(doc));
  }

  /** Gives another checkout this checkout's stack file (as a `git pull` would). */
  shareStackFile(stack: string, other: Checkout): void {
    fs.copyFileSync(this.stackFile(stack), other.stackFile(stack));
  }

  /** Runs a command in the checkout to completion (never throws for a non-zero exit). */
  exec(command: string, args: readonly string[], timeoutMs = 20 * 60_000): Promise<Timed> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: this.dir,
        env: this.env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({
          code: code ?? 1,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          ms: Date.now() - started,
        });
      });
    });
  }

  /** `pulumi <args> --non-interactive` in the checkout. */
  pulumi(args: readonly string[], timeoutMs?: number): Promise<Timed> {
    return this.exec('pulumi', [...args, '--non-interactive'], timeoutMs);
  }

  /**
   * The release command as an operator runs it from this checkout: its own `release/bin/pavemaster.js` (the
   * package's bin), which in a clone without `npm run build` runs release/cli.ts through ts-node with SWC. Not
   * `ts-node --transpile-only` (TypeScript's transpiler): the same code, but 2-3 s more per start here (issue 15).
   */
  release(args: readonly string[], timeoutMs?: number): Promise<Timed> {
    return this.exec(
      process.execPath,
      [path.join(this.dir, 'release', 'bin', 'pavemaster.js'), ...args, '--work-dir', this.dir],
      timeoutMs,
    );
  }

  /**
   * Starts `pulumi up` in its own process group (so the test can stop or kill the engine with its language
   * host and plugins), writing engine events to `eventLog`.
   */
  startUp(stack: string, eventLog: string): Running {
    const child = spawn(
      'pulumi',
      ['up', '--yes', '--skip-preview', '--non-interactive', '--stack', stack, '--event-log', eventLog],
      { cwd: this.dir, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    return new Running(child, eventLog);
  }

  /** The stack's state as `pulumi stack export` prints it. */
  async exportState(stack: string): Promise<Record<string, unknown>> {
    const r = await this.pulumi(['stack', 'export', '--stack', stack]);
    if (r.code !== 0) {
      throw new Error(`pulumi stack export failed:\n${r.stderr}`);
    }
    return parseObject(r.stdout);
  }

  /** Removes the copy. */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One engine event from `--event-log` (only the fields the tests read). */
export interface EngineEvent {
  resourcePreEvent?: { metadata?: { op?: string; urn?: string; type?: string } };
  resOutputsEvent?: { metadata?: { op?: string; urn?: string; type?: string } };
  resOpFailedEvent?: { metadata?: { op?: string; urn?: string } };
  diagnosticEvent?: { message?: string; severity?: string; urn?: string };
  summaryEvent?: { resourceChanges?: Record<string, number> };
}

/** Reads an event log written so far (a last, partly written line is skipped). */
export function readEvents(file: string): EngineEvent[] {
  if (!fs.existsSync(file)) {
    return [];
  }
  const out: EngineEvent[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    try {
      out.push(JSON.parse(line) as EngineEvent);
    } catch {
      // the line being written
    }
  }
  return out;
}

/** The operations the engine started, by kind ("create", "update", "replace", "delete", ...). */
export function stepOps(events: readonly EngineEvent[]): { op: string; urn: string }[] {
  return events
    .map((e) => e.resourcePreEvent?.metadata)
    .filter((m): m is { op?: string; urn?: string } => m !== undefined)
    .map((m) => ({ op: String(m.op), urn: String(m.urn) }))
    .filter((s) => s.op !== 'same' && s.op !== 'read');
}

/** A `pulumi up` that runs in the background. */
export class Running {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly child: ChildProcess,
    readonly eventLog: string,
  ) {
    child.stdout?.on('data', (c: Buffer) => this.out.push(c));
    child.stderr?.on('data', (c: Buffer) => this.err.push(c));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }

  get stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }

  events(): EngineEvent[] {
    return readEvents(this.eventLog);
  }

  /** Waits until `check` holds for the events so far (or the process exits, which fails the wait). */
  async waitFor(
    what: string,
    check: (events: EngineEvent[]) => boolean,
    timeoutMs = 10 * 60_000,
  ): Promise<void> {
    let done = false;
    void this.exited.then(() => {
      done = true;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (check(this.events())) {
        return;
      }
      if (done) {
        throw new Error(
          `pulumi up exited before ${what}:\n${this.stdout.slice(-3000)}\n${this.stderr.slice(-3000)}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Signals the engine and every process below it (language host, plugins: the engine starts plugins in process
   * groups of their own, so the group alone would leave them running).
   */
  signal(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) {
      return;
    }
    for (const pid of [this.child.pid, ...descendants(this.child.pid).map((p) => p.pid)]) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** True while the engine runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}
