/**
 * The bench's throwaway projects: copies of the program (release/testing/sandbox.ts) with a stack and a file
 * backend of their own, and the empty program that gives the engine's floor. Each copy runs the program with the
 * bench's preload (bench/preload.ts, through `runtime.options.nodeargs`) so every run reports its own marks.
 *
 * Interrupted runs: every copy the bench makes is listed in `<repo>/.local/bench/active.json` with the bench's
 * pid. The next run finds copies whose bench no longer runs and removes what they left: the stack's resources
 * (destroy, then the namespaces and cluster-wide RBAC objects named after the copy's namespace, for what the
 * killed update created but never recorded), the backend and the copy. Without that, a rerun's server-side applies
 * conflict with the objects a killed run left behind.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { createSandbox, REPO, Sandbox } from '../release/testing/sandbox';

const STATE_DIR = path.join(REPO, '.local', 'bench');
const ACTIVE = path.join(STATE_DIR, 'active.json');

interface ActiveFile {
  pid: number;
  started: string;
  dirs: string[];
}

/** A project copy the bench runs the CLI in. */
export interface BenchProject {
  dir: string;
  stackName: string;
  /** The app's namespace (`pavemaster:namespace`); other namespaces of the stack start with it. */
  namespace: string;
  /** Environment for the CLI: this copy's backend. */
  env: Record<string, string>;
  sandbox?: Sandbox;
  cleanup(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readActive(): ActiveFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(ACTIVE, 'utf8')) as ActiveFile;
  } catch {
    return undefined;
  }
}

function register(dir: string): void {
  const a = readActive() ?? { pid: process.pid, started: new Date().toISOString(), dirs: [] };
  a.dirs = [...new Set([...a.dirs, dir])];
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(ACTIVE, JSON.stringify(a, null, 2));
}

function unregister(dir: string): void {
  const a = readActive();
  if (a) {
    a.dirs = a.dirs.filter((d) => d !== dir);
    fs.writeFileSync(ACTIVE, JSON.stringify(a, null, 2));
  }
}

/** The bench's preload, transpiled to JavaScript once per run (Node.js loads `--require` modules before ts-node). */
let preloadJs: string | undefined;
function preload(): string {
  if (preloadJs === undefined) {
    const source = fs.readFileSync(path.join(REPO, 'bench', 'preload.ts'), 'utf8');
    const out = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    fs.mkdirSync(STATE_DIR, { recursive: true });
    preloadJs = path.join(STATE_DIR, 'preload.js');
    fs.writeFileSync(preloadJs, out.outputText);
  }
  return preloadJs;
}

/** Adds the preload to a project file's runtime options (the committed file already has an `options:` block). */
export function withPreload(projectYaml: string): string {
  if (!/^ {2}options:\n/m.test(projectYaml)) {
    throw new Error('Pulumi.yaml has no runtime.options block: update bench/project.ts');
  }
  return projectYaml.replace(/^ {2}options:\n/m, `  options:\n    nodeargs: --require ${preload()}\n`);
}

/**
 * A real `node_modules` folder whose packages are symlinks into the repository's: Node.js and the language host
 * resolve through them, and an `npm` run in the copy (npm tidies "extraneous" packages, and would do so through a
 * symlinked folder) can only remove the links.
 */
function linkNodeModules(dir: string): void {
  const src = path.join(REPO, 'node_modules');
  const dst = path.join(dir, 'node_modules');
  fs.mkdirSync(dst);
  for (const entry of fs.readdirSync(src)) {
    if (entry.startsWith('.')) {
      continue;
    }
    if (entry.startsWith('@')) {
      fs.mkdirSync(path.join(dst, entry));
      for (const pkg of fs.readdirSync(path.join(src, entry))) {
        fs.symlinkSync(path.join(src, entry, pkg), path.join(dst, entry, pkg), 'dir');
      }
    } else {
      fs.symlinkSync(path.join(src, entry), path.join(dst, entry), 'dir');
    }
  }
}

/** Deletes what one copy left in the cluster and on disk. */
function removeLeftover(dir: string, log: (l: string) => void): void {
  const stackFile = fs.existsSync(dir)
    ? fs.readdirSync(dir).find((f) => /^Pulumi\..+\.yaml$/.test(f) && f !== 'Pulumi.yaml')
    : undefined;
  if (stackFile) {
    const stack = stackFile.slice('Pulumi.'.length, -'.yaml'.length);
    const doc = parse(fs.readFileSync(path.join(dir, stackFile), 'utf8')) as {
      config?: Record<string, unknown>;
    };
    const namespace = doc.config?.['pavemaster:namespace'];
    const backend = `file://${path.join(dir, '.pulumi-state')}`;
    fs.rmSync(path.join(dir, '.pulumi-state', '.pulumi', 'locks'), { recursive: true, force: true });
    log(`  removing what an interrupted bench left: stack ${stack} in ${dir}`);
    spawnSync('pulumi', ['destroy', '--yes', '--skip-preview', '--non-interactive', '--stack', stack], {
      cwd: dir,
      env: { ...process.env, PULUMI_BACKEND_URL: backend },
      stdio: 'ignore',
      timeout: 300_000,
    });
    if (typeof namespace === 'string' && namespace.startsWith('bench-')) {
      sweepCluster(namespace, log);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deletes the namespaces starting with `prefix` and the cluster-wide RBAC objects named after them. */
export function sweepCluster(prefix: string, log: (l: string) => void): void {
  const names = (kind: string): string[] =>
    execFileSync('kubectl', ['get', kind, '-o', 'name'], { encoding: 'utf8' })
      .split('\n')
      .filter((n) => n.split('/')[1]?.startsWith(prefix));
  const rbac = [...names('clusterroles'), ...names('clusterrolebindings')];
  const namespaces = names('namespaces');
  if (rbac.length + namespaces.length === 0) {
    return;
  }
  log(
    `  deleting ${namespaces.length} namespace(s) and ${rbac.length} cluster RBAC object(s) named ${prefix}*`,
  );
  if (rbac.length > 0) {
    execFileSync('kubectl', ['delete', '--ignore-not-found', ...rbac], { stdio: 'ignore' });
  }
  if (namespaces.length > 0) {
    execFileSync(
      'kubectl',
      ['delete', '--ignore-not-found', '--wait=true', '--timeout=300s', ...namespaces],
      {
        stdio: 'ignore',
      },
    );
  }
}

/**
 * Cleans up after an interrupted bench (see the file comment) and registers this run. Refuses to start while
 * another bench of this checkout runs: they would share the cluster and each other's namespaces.
 */
export function claimBench(log: (l: string) => void): void {
  const a = readActive();
  if (a && a.pid !== process.pid && alive(a.pid)) {
    throw new Error(`another bench (pid ${a.pid}, since ${a.started}) runs in this checkout: wait for it`);
  }
  for (const dir of a?.dirs ?? []) {
    removeLeftover(dir, log);
  }
  // Copies whose registration was lost (killed between mkdtemp and register) and namespaces with no copy left.
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (entry.startsWith('pavemaster-bench-')) {
      removeLeftover(path.join(os.tmpdir(), entry), log);
    }
  }
  sweepCluster('bench-', log);
  fs.mkdirSync(STATE_DIR, { recursive: true });
  fs.writeFileSync(ACTIVE, JSON.stringify({ pid: process.pid, started: new Date().toISOString(), dirs: [] }));
}

/** Ends this run's claim (every copy removed). */
export function releaseBench(): void {
  const a = readActive();
  if (a?.pid === process.pid) {
    fs.rmSync(ACTIVE, { force: true });
  }
}

/** A copy of the program with a stack made from `fromStack` plus `overrides`, run with the bench's preload. */
export async function programCopy(
  stackName: string,
  fromStack: string,
  overrides: Record<string, unknown>,
): Promise<BenchProject> {
  if (!stackName.startsWith('bench-')) {
    throw new Error(`bench stacks are named bench-*: ${stackName}`);
  }
  const sandbox = await createSandbox({ stackName, fromStack, overrides, env: {} });
  register(sandbox.dir);
  fs.writeFileSync(
    path.join(sandbox.dir, 'Pulumi.yaml'),
    withPreload(fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8')),
  );
  const env = {
    PULUMI_BACKEND_URL: `file://${path.join(sandbox.dir, '.pulumi-state')}`,
    PAVEMASTER_BENCH_ENTRY: path.join(sandbox.dir, 'infra'),
  };
  return {
    dir: sandbox.dir,
    stackName,
    namespace: sandbox.namespace,
    env,
    sandbox,
    async cleanup() {
      try {
        await sandbox.cleanup();
      } finally {
        sweepCluster(sandbox.namespace, () => undefined);
        unregister(sandbox.dir);
      }
    },
  };
}

/**
 * The engine's floor: a project with the same runtime settings (a JavaScript entry, the same package.json and
 * node_modules, the same passphrase secrets) whose program registers nothing.
 */
export function emptyProgram(stackName: string): BenchProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${stackName}-`));
  register(dir);
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.pulumi.json']) {
    fs.copyFileSync(path.join(REPO, f), path.join(dir, f));
  }
  linkNodeModules(dir);
  fs.mkdirSync(path.join(dir, 'infra'));
  // Pulumi.yaml's entry, infra/main.js, as JavaScript (runtime.options.typescript: false), as the program's is when
  // its build is current: the floor loads what the language host loads, and no program.
  fs.writeFileSync(
    path.join(dir, 'infra', 'main.js'),
    "// The empty program: the floor of every preview.\n'use strict';\n",
  );
  const project = withPreload(fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8'))
    .replace(/^name: .*$/m, 'name: pavemaster-floor')
    .replace(/^config:\n(?:[ #].*\n|\n)*/m, '');
  fs.writeFileSync(path.join(dir, 'Pulumi.yaml'), project);
  fs.mkdirSync(path.join(dir, '.pulumi-state'));
  const env = {
    PULUMI_BACKEND_URL: `file://${path.join(dir, '.pulumi-state')}`,
    PAVEMASTER_BENCH_ENTRY: path.join(dir, 'infra'),
  };
  execFileSync('pulumi', ['stack', 'init', stackName, '--non-interactive'], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  return {
    dir,
    stackName,
    namespace: '',
    env,
    cleanup() {
      spawnSync('pulumi', ['destroy', '--yes', '--skip-preview', '--non-interactive', '--stack', stackName], {
        cwd: dir,
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      fs.rmSync(dir, { recursive: true, force: true });
      unregister(dir);
      return Promise.resolve();
    },
  };
}
