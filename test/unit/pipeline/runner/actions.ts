/**
 * Local stand-ins for the third-party actions the workflows use. Each does on this machine what the action does
 * on GitHub where that can be done here (clone, the toolchain versions, artifacts, caches keyed as written), and
 * otherwise checks the step's inputs and records the call at GitHub's boundary (CodeQL's analysis, the SARIF
 * upload, the dependency review, the registry login). A stand-in never pretends: what it does not do is in its
 * comment, and the job tests say what they prove.
 */
import * as fs from 'fs';
import * as path from 'path';
import { toText } from './expressions';
import { ActionCall, ActionImpl, ActionResult, execCommand, RunnerConfig } from './runner';

/** What the boundary stand-ins saw, for the tests to assert. */
export interface BoundaryLog {
  calls: { action: string; inputs: Record<string, string>; job: string; detail?: unknown }[];
}

/**
 * actions/checkout: clones the stand-in repository (`origin`, a local bare repository) into the workspace at
 * `ref` (default: the event's commit), `fetch-depth` commits deep (0: everything). With
 * `persist-credentials: false` no push can succeed later, as on GitHub, where the token is then not kept.
 */
export function checkout(origin: string): ActionImpl {
  return async (c: ActionCall): Promise<ActionResult> => {
    const depth = c.inputs['fetch-depth'] === undefined ? 1 : Number(c.inputs['fetch-depth']);
    const ref = c.inputs.ref !== undefined && c.inputs.ref !== '' ? c.inputs.ref : undefined;
    const url = `file://${origin}`;
    const git = async (...args: string[]) => {
      const r = await c.exec('git', args, { cwd: c.workspace });
      if (r.code !== 0) {
        throw new Error(`git ${args.join(' ')}: ${r.output}`);
      }
      return r.output.trim();
    };
    await git('init', '-q');
    await git('remote', 'add', 'origin', url);
    const deep = depth === 0 ? [] : [`--depth=${depth}`];
    if (ref === undefined) {
      const eventRef = toText(c.github.ref);
      await git('fetch', '-q', ...deep, 'origin', `+${eventRef}:refs/remotes/origin/event`);
      await git('checkout', '-q', '--detach', toText(c.github.sha));
    } else {
      const branch = ref.replace(/^refs\/heads\//, '');
      await git('fetch', '-q', ...deep, 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`);
      await git('checkout', '-q', '-B', branch, `refs/remotes/origin/${branch}`);
    }
    if (c.inputs['persist-credentials'] === 'false') {
      // No token kept: pushing is refused (the push URL leads nowhere).
      await git('config', 'remote.origin.pushurl', 'file:///nonexistent/no-credentials-persisted');
    }
    c.log(
      `checked out ${await git('rev-parse', 'HEAD')} (${ref ?? toText(c.github.ref)}, depth ${depth || 'all'})`,
    );
    return {};
  };
}

function localVersion(c: ActionCall, command: string, args: string[]): Promise<string> {
  return c.exec(command, args).then((r) => r.output.trim());
}

/**
 * actions/setup-node: GitHub installs the requested Node.js; here the machine's must be that version (a major
 * version or an exact one: the workflows pin scripts/nodejs's exact version). With
 * `cache: npm` the action needs a package-lock.json at the root (it fails without one).
 */
export const setupNode: ActionImpl = async (c) => {
  const wanted = c.inputs['node-version'];
  const have = await localVersion(c, 'node', ['--version']);
  if (have !== `v${wanted}` && !have.startsWith(`v${wanted}.`)) {
    return { failed: `node-version ${wanted} requested, this machine runs ${have}` };
  }
  if (c.inputs.cache === 'npm' && !fs.existsSync(path.join(c.workspace, 'package-lock.json'))) {
    return { failed: 'cache: npm needs a package-lock.json in the repository root' };
  }
  c.log(`node ${have}`);
  return { outputs: { 'node-version': have } };
};

/**
 * actions/setup-go: GitHub installs the requested Go and puts it first on PATH; here the machine's Go must be
 * that version, so a job that asks for another Go fails here exactly where it would build with the wrong one.
 */
export const setupGo: ActionImpl = async (c) => {
  const wanted = c.inputs['go-version'];
  const have = await localVersion(c, 'go', ['env', 'GOVERSION']);
  if (have !== `go${wanted}` && !have.startsWith(`go${wanted}.`)) {
    return {
      failed: `go-version ${wanted} requested, but the toolchain is built with ${have} (see go.mod files)`,
    };
  }
  c.log(`go ${have}`);
  return { outputs: { 'go-version': have.replace(/^go/, ''), 'cache-hit': 'false' } };
};

/** A local store of caches (key -> saved paths) shared by the runs of one test, in `dir`. */
export interface CacheStore {
  dir: string;
  /** Keys saved, in order. */
  saved: string[];
  /** Every lookup: key, restore-keys, which key matched. */
  lookups: { key: string; restoreKeys: string[]; paths: string[]; matched?: string; job: string }[];
}

export function cacheStore(dir: string): CacheStore {
  fs.mkdirSync(dir, { recursive: true });
  return { dir, saved: [], lookups: [] };
}

/**
 * actions/cache: looks the key up (exact, then each restore-key as a prefix, newest first) in the local store and
 * reports `cache-hit`; saves at the end of a successful job when the key was not an exact hit. The paths are not
 * copied: the job tests run on this machine's warm caches, and copying gigabytes of toolchain would prove
 * nothing the key does not. The keys themselves are computed from the workflow's own `hashFiles()`.
 */
export function cache(store: CacheStore): ActionImpl {
  return (c) => {
    const key = c.inputs.key;
    if (key === undefined || key === '') {
      return { failed: 'actions/cache needs a key' };
    }
    if (key.length > 512) {
      return { failed: `cache key longer than 512 characters: ${key}` };
    }
    const paths = (c.inputs.path ?? '')
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    if (paths.length === 0) {
      return { failed: 'actions/cache needs a path' };
    }
    const restoreKeys = (c.inputs['restore-keys'] ?? '')
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    const keys = fs.readdirSync(store.dir).map((f) => decodeURIComponent(f));
    let matched: string | undefined = keys.includes(key) ? key : undefined;
    for (const prefix of restoreKeys) {
      if (matched === undefined) {
        matched = keys
          .filter((k) => k.startsWith(prefix))
          .sort()
          .pop();
      }
    }
    store.lookups.push({ key, restoreKeys, paths, matched, job: c.job.key });
    c.log(matched === undefined ? `cache miss: ${key}` : `cache restored from ${matched}`);
    return {
      outputs: {
        'cache-hit': String(matched === key),
        'cache-primary-key': key,
        'cache-matched-key': matched ?? '',
      },
      post: (result) => {
        if (result === 'success' && matched !== key) {
          fs.writeFileSync(path.join(store.dir, encodeURIComponent(key)), JSON.stringify(paths));
          store.saved.push(key);
        }
        return Promise.resolve();
      },
    };
  };
}

/** actions/upload-artifact and actions/download-artifact on a local artifact store of one workflow run. */
export function artifacts(dir: string): { upload: ActionImpl; download: ActionImpl } {
  fs.mkdirSync(dir, { recursive: true });
  const upload: ActionImpl = (c) => {
    const name = c.inputs.name ?? 'artifact';
    const files = (c.inputs.path ?? '')
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    const target = path.join(dir, name);
    if (fs.existsSync(target)) {
      return { failed: `an artifact named ${name} exists already in this run` };
    }
    const present = files.filter((f) => fs.existsSync(path.resolve(c.workspace, f)));
    if (present.length === 0) {
      const mode = c.inputs['if-no-files-found'] ?? 'warn';
      c.log(`no files found for artifact ${name} (${mode})`);
      return mode === 'error' ? { failed: `no files for artifact ${name}` } : {};
    }
    fs.mkdirSync(target, { recursive: true });
    for (const f of present) {
      const src = path.resolve(c.workspace, f);
      fs.cpSync(src, path.join(target, path.basename(src)), { recursive: true });
    }
    c.log(`uploaded ${present.length} path(s) as ${name}`);
    return { outputs: { 'artifact-id': name } };
  };
  const download: ActionImpl = (c) => {
    const pattern = c.inputs.pattern;
    const names = fs
      .readdirSync(dir)
      .filter((n) =>
        c.inputs.name
          ? n === c.inputs.name
          : pattern
            ? new RegExp(`^${pattern.replace(/\*/g, '.*')}$`).test(n)
            : true,
      );
    if (c.inputs.name && names.length === 0) {
      return { failed: `no artifact named ${c.inputs.name}` };
    }
    const into = path.resolve(c.workspace, c.inputs.path ?? '.');
    const merge = c.inputs['merge-multiple'] === 'true' || c.inputs.name !== undefined;
    for (const n of names) {
      const target = merge ? into : path.join(into, n);
      fs.mkdirSync(target, { recursive: true });
      fs.cpSync(path.join(dir, n), target, { recursive: true });
    }
    c.log(`downloaded ${names.join(', ') || 'nothing'} into ${into}`);
    return { outputs: { 'download-path': into } };
  };
  return { upload, download };
}

/**
 * pulumi/actions without a command: on GitHub it installs the requested Pulumi CLI. Here the toolchain's CLI must
 * be that version; it is put on PATH (the folder given).
 */
export function pulumiCli(toolchainBin: string): ActionImpl {
  return async (c) => {
    if (c.inputs.command !== undefined) {
      return {
        failed: 'pulumi/actions with a command is not used by these workflows (run the CLI in a script)',
      };
    }
    const wanted = c.inputs['pulumi-version'];
    const r = await c.exec(path.join(toolchainBin, 'pulumi'), ['version']);
    if (r.output.trim() !== `v${wanted}`) {
      return { failed: `pulumi-version ${wanted} requested, the toolchain builds ${r.output.trim()}` };
    }
    return { path: [toolchainBin], outputs: { 'pulumi-version': wanted } };
  };
}

/**
 * The `npm ci --no-audit --no-fund [--prefix <dir>]` steps of every job from one install: when the workspace's
 * package-lock.json is byte for byte the one this checkout (`repo`) installed its tree from (npm's own record of
 * that install, node_modules/.package-lock.json, is newer than the lockfile), that tree is hard-linked into the
 * workspace (about 2 s) instead of installed again (1-2 min per job on a 2-core machine, 14 jobs in the job
 * tests). The install itself is proven where it runs for real: `npm ci` of the clean clone in .ci/run, and any
 * job whose lockfile differs (it runs as written). Every other step runs as written.
 */
export function sharedNpmCi(repo: string): NonNullable<RunnerConfig['standIn']> {
  return async (run, cwd) => {
    const m = /^npm ci --no-audit --no-fund(?: --prefix ([A-Za-z0-9._/-]+))?\s*$/.exec(run.trim());
    if (m === null) {
      return undefined;
    }
    const prefix = m[1] ?? '.';
    const lock = (dir: string) => path.join(dir, prefix, 'package-lock.json');
    const installed = path.join(repo, prefix, 'node_modules');
    const record = path.join(installed, '.package-lock.json');
    if (
      !fs.existsSync(lock(cwd)) ||
      !fs.existsSync(record) ||
      fs.statSync(record).mtimeMs < fs.statSync(lock(repo)).mtimeMs ||
      !fs.readFileSync(lock(cwd)).equals(fs.readFileSync(lock(repo)))
    ) {
      return undefined;
    }
    const to = path.join(cwd, prefix, 'node_modules');
    fs.rmSync(to, { recursive: true, force: true });
    const r = await execCommand('cp', ['-al', installed, to], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      timeoutMs: 120_000,
    });
    if (r.code !== 0) {
      return { code: r.code, output: `shared npm ci: cp -al ${prefix}/node_modules failed: ${r.output}` };
    }
    return {
      code: 0,
      output: `${run.trim()}: ${prefix}/package-lock.json is the one the suite's checkout installed; its tree hard-linked (shared install)`,
    };
  };
}

/** An action whose work happens at GitHub (or a registry): checks the named inputs and records the call. */
export function boundary(
  log: BoundaryLog,
  required: string[],
  check?: (c: ActionCall) => string | undefined,
): ActionImpl {
  return (c) => {
    const missing = required.filter((k) => (c.inputs[k] ?? '') === '');
    if (missing.length > 0) {
      return { failed: `${c.uses.split('@')[0]}: missing input(s) ${missing.join(', ')}` };
    }
    const problem = check?.(c);
    if (problem !== undefined) {
      return { failed: problem };
    }
    log.calls.push({ action: c.uses.split('@')[0], inputs: c.inputs, job: c.job.key });
    return {};
  };
}

/** The languages CodeQL analyses (its documented `languages` values) and its build modes. */
const CODEQL_LANGUAGES = new Set([
  'actions',
  'c-cpp',
  'csharp',
  'go',
  'java-kotlin',
  'javascript-typescript',
  'python',
  'ruby',
  'swift',
]);

/**
 * github/codeql-action/init: the analysis itself runs at GitHub; checks that each language is one CodeQL knows
 * and that the repository has sources of it, that `build-mode: none` is used only where CodeQL supports it,
 * and that the query suite is a documented one.
 */
export function codeqlInit(log: BoundaryLog): ActionImpl {
  return boundary(log, ['languages'], (c) => {
    const langs = c.inputs.languages.split(',').map((l) => l.trim());
    const unknown = langs.filter((l) => !CODEQL_LANGUAGES.has(l));
    if (unknown.length > 0) {
      return `CodeQL does not know the language(s) ${unknown.join(', ')}`;
    }
    if (langs.includes('javascript-typescript') && !hasFile(c.workspace, /\.(ts|js|mjs)$/)) {
      return 'no JavaScript or TypeScript source in the checkout';
    }
    const mode = c.inputs['build-mode'];
    if (mode !== undefined && !['none', 'autobuild', 'manual'].includes(mode)) {
      return `unknown build-mode ${mode}`;
    }
    const queries = c.inputs.queries;
    if (queries !== undefined && !['security-extended', 'security-and-quality'].includes(queries)) {
      return `unknown query suite ${queries}`;
    }
    return undefined;
  });
}

function hasFile(dir: string, pattern: RegExp, depth = 0): boolean {
  if (depth > 4) {
    return false;
  }
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === '.git') {
      continue;
    }
    if (e.isFile() && pattern.test(e.name)) {
      return true;
    }
    if (e.isDirectory() && hasFile(path.join(dir, e.name), pattern, depth + 1)) {
      return true;
    }
  }
  return false;
}

/**
 * github/codeql-action/upload-sarif: the upload is GitHub's; checks that the file exists and is SARIF 2.1.0
 * with at least one run naming its tool, and records the category and the number of results.
 */
export function uploadSarif(log: BoundaryLog): ActionImpl {
  return (c) => {
    const file = c.inputs.sarif_file;
    if (file === undefined || !fs.existsSync(path.resolve(c.workspace, file))) {
      return { failed: `sarif_file ${file ?? '(none)'} does not exist` };
    }
    let doc: { version?: string; runs?: { tool?: { driver?: { name?: string } }; results?: unknown[] }[] };
    try {
      doc = JSON.parse(fs.readFileSync(path.resolve(c.workspace, file), 'utf8')) as typeof doc;
    } catch (e) {
      return { failed: `${file} is not JSON: ${String(e)}` };
    }
    if (doc.version !== '2.1.0' || !Array.isArray(doc.runs) || doc.runs.length === 0) {
      return { failed: `${file} is not SARIF 2.1.0 with at least one run` };
    }
    const tools = doc.runs.map((r) => r.tool?.driver?.name ?? '');
    if (tools.some((t) => t === '')) {
      return { failed: `${file}: a run names no tool` };
    }
    const results = doc.runs.reduce((n, r) => n + (r.results?.length ?? 0), 0);
    log.calls.push({
      action: c.uses.split('@')[0],
      inputs: c.inputs,
      job: c.job.key,
      detail: { tools, results },
    });
    c.log(`SARIF from ${tools.join(', ')}: ${results} result(s), category ${c.inputs.category ?? '(none)'}`);
    return {};
  };
}

/**
 * docker/build-push-action, with the local image builder standing in for Buildx: the step's `context`, `file`,
 * `tags` and `build-args` go to the checkout's own `scripts/images build-app`, which builds the Dockerfile
 * without a Docker engine and pushes to the local registry; the manifest digest is the step's `digest` output,
 * as the action's is. Refuses what the action would not do here (no push, another platform, several tags).
 * Provenance, SBOM and the GitHub Actions build cache are Buildx's own and are not reproduced.
 */
export function buildPush(log: BoundaryLog, env: Record<string, string> = {}): ActionImpl {
  return async (c) => {
    if (c.inputs.push !== 'true') {
      return { failed: 'only push: true is used by these workflows' };
    }
    if ((c.inputs.platforms ?? 'linux/amd64') !== 'linux/amd64') {
      return { failed: `the local builder builds linux/amd64 only, not ${c.inputs.platforms}` };
    }
    const tags = (c.inputs.tags ?? '')
      .split(/[\n,]/)
      .map((t) => t.trim())
      .filter(Boolean);
    if (tags.length !== 1) {
      return { failed: `one tag expected, got ${tags.length}` };
    }
    const context = path.resolve(c.workspace, c.inputs.context ?? '.');
    const file = path.resolve(c.workspace, c.inputs.file ?? path.join(c.inputs.context ?? '.', 'Dockerfile'));
    if (!fs.existsSync(file)) {
      return { failed: `the Dockerfile ${path.relative(c.workspace, file)} does not exist` };
    }
    const digestFile = path.join(c.runnerTemp, 'build-push-digest');
    const args = [
      'build-app',
      '--context',
      context,
      '--file',
      file,
      '--tag',
      tags[0],
      '--digest-file',
      digestFile,
    ];
    for (const a of (c.inputs['build-args'] ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)) {
      args.push('--build-arg', a);
    }
    const r = await c.exec(path.join(c.workspace, 'scripts', 'images'), args, { env });
    c.log(r.output);
    if (r.code !== 0) {
      return { failed: `scripts/images build-app exited ${r.code}` };
    }
    const digest = fs.readFileSync(digestFile, 'utf8').trim();
    log.calls.push({
      action: 'docker/build-push-action',
      inputs: c.inputs,
      job: c.job.key,
      detail: { tag: tags[0], digest },
    });
    return {
      outputs: { digest, imageid: digest, metadata: JSON.stringify({ 'containerimage.digest': digest }) },
    };
  };
}
