/**
 * `npm run bench`: how long operators wait, measured on the real engine and the local cluster, each row beside
 * its baseline from the same run, min/median/max over several runs. Not a test: it asserts nothing and prints a
 * table. Run it after the quick start (`npm run up`), which builds the toolchain and starts the cluster.
 *
 *   npm run bench -- [--runs N] [--only eval,nochange,growth,promote]
 *
 * Rows:
 * - program evaluation (Node.js start -> last resource registered, from the program's own timing hook) and the
 *   whole `pulumi preview`, for staging and production, with each TypeScript path Pulumi supports: ts-node with
 *   type checking (Pulumi's default), ts-node transpile-only, ts-node with SWC (this project's default, set in
 *   Pulumi.yaml: type checking happens in `npm test`), and precompiled JavaScript;
 * - `pulumi preview` and `pulumi up` with no changes, for a deployed staging stack;
 * - growth: preview time and the language host's peak memory with 1, 10 and 50 blue/green apps
 *   (`pavemaster:benchServices`);
 * - promote start -> EndpointSlice switch beside a raw `kubectl patch` of the selector (bench/promote.ts).
 *
 * Every stack lives in a throwaway project copy with its own file backend (release/testing/sandbox.ts): the real
 * stacks and the committed stack files are never touched.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { createSandbox, ensureCluster, envFromScript, REPO, Sandbox } from '../release/testing/sandbox';
import type { ProgramTiming } from '../infra/timing';

type Mode = 'typescript' | 'transpile-only' | 'swc' | 'javascript';

interface Row {
  name: string;
  unit: 's' | 'MiB' | 'ms' | 'x';
  values: number[];
  note?: string;
}

const rows: Row[] = [];
const quiet = { onOutput: (): void => undefined };

function stats(values: readonly number[]): { min: number; median: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { min: s[0], median: mid, max: s[s.length - 1] };
}

function add(name: string, unit: Row['unit'], values: number[], note?: string): void {
  rows.push({ name, unit, values, note });
  const { min, median, max } = stats(values);
  process.stdout.write(
    `  ${name}: median ${median.toFixed(2)} ${unit} (min ${min.toFixed(2)}, max ${max.toFixed(2)})\n`,
  );
}

function printTable(): void {
  const header = ['measurement', 'runs', 'min', 'median', 'max', 'unit', 'note'];
  const body = rows.map((r) => {
    const { min, median, max } = stats(r.values);
    const f = (x: number) => (r.unit === 'ms' ? x.toFixed(0) : x.toFixed(2));
    return [r.name, String(r.values.length), f(min), f(median), f(max), r.unit, r.note ?? ''];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const b of body) {
    process.stdout.write(`${line(b)}\n`);
  }
}

/** Points the sandbox's Pulumi.yaml at one of the TypeScript paths (and compiles for the JavaScript one). */
function useMode(sandbox: Sandbox, mode: Mode): void {
  const committed = fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8');
  // The committed project runs the program through SWC (runtime.options.tsconfig); the other paths drop that.
  const project = committed.replace(/^ {4}(# .*\n {4})*tsconfig: .*\n/m, '');
  delete process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
  if (mode === 'swc') {
    if (project === committed) {
      throw new Error('Pulumi.yaml no longer sets runtime.options.tsconfig: update bench/run.ts');
    }
    fs.writeFileSync(path.join(sandbox.dir, 'Pulumi.yaml'), committed);
  } else if (mode === 'javascript') {
    execFileSync(path.join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--outDir', 'bin'], {
      cwd: sandbox.dir,
      stdio: 'inherit',
    });
    const js = project
      .replace(/^main: infra\/$/m, 'main: bin/infra/')
      .replace(/^ {2}options:\n/m, '  options:\n    typescript: false\n');
    fs.writeFileSync(path.join(sandbox.dir, 'Pulumi.yaml'), js);
  } else {
    fs.writeFileSync(path.join(sandbox.dir, 'Pulumi.yaml'), project);
    process.env.PULUMI_NODEJS_TRANSPILE_ONLY = mode === 'transpile-only' ? 'true' : 'false';
  }
}

/** One `pulumi preview`: wall seconds and the program's own timing. */
async function timedPreview(sandbox: Sandbox): Promise<{ wall: number; timing: ProgramTiming }> {
  const file = path.join(os.tmpdir(), `pavemaster-timing-${process.pid}-${Date.now()}.jsonl`);
  process.env.PAVEMASTER_TIMING_FILE = file;
  const t0 = process.hrtime.bigint();
  try {
    await sandbox.stack.preview(quiet);
  } finally {
    delete process.env.PAVEMASTER_TIMING_FILE;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
  fs.rmSync(file, { force: true });
  if (lines.length === 0 || lines[0] === '') {
    throw new Error('the program wrote no timing: is infra/timing.ts hooked into infra/index.ts?');
  }
  return { wall, timing: JSON.parse(lines[lines.length - 1]) as ProgramTiming };
}

async function programEvaluation(runs: number): Promise<void> {
  process.stdout.write('\nprogram evaluation and preview per TypeScript path\n');
  for (const stack of ['staging', 'production']) {
    const sandbox = await createSandbox({
      stackName: `bench-eval-${stack}`,
      fromStack: stack,
      env: {},
      overrides: { namespace: `bench-eval-${stack}` },
    });
    try {
      for (const mode of ['typescript', 'transpile-only', 'swc', 'javascript'] as const) {
        useMode(sandbox, mode);
        await timedPreview(sandbox); // warm the file-system cache and the compile cache of this mode
        const evals: number[] = [];
        const walls: number[] = [];
        let resources = 0;
        for (let i = 0; i < runs; i++) {
          const { wall, timing } = await timedPreview(sandbox);
          evals.push(timing.lastRegistration);
          walls.push(wall);
          resources = timing.resources;
        }
        add(`${stack}: eval, ${mode}`, 's', evals, `${resources} resources; node start -> last registration`);
        add(`${stack}: preview, ${mode}`, 's', walls, mode === 'typescript' ? 'baseline' : undefined);
      }
    } finally {
      await sandbox.cleanup();
    }
  }
}

async function noChange(runs: number): Promise<void> {
  process.stdout.write('\nno-change preview and up (staging, deployed)\n');
  const sandbox = await createSandbox({
    stackName: 'bench-nochange',
    fromStack: 'staging',
    env: {},
    overrides: { namespace: 'bench-nochange' },
  });
  try {
    useMode(sandbox, 'swc');
    await sandbox.stack.up(quiet);
    const previews: number[] = [];
    const ups: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = process.hrtime.bigint();
      const p = await sandbox.stack.preview({ ...quiet, expectNoChanges: true });
      previews.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const changed = Object.entries(p.changeSummary).filter(([op, n]) => op !== 'same' && (n ?? 0) > 0);
      if (changed.length > 0) {
        throw new Error(`a no-change preview planned changes: ${JSON.stringify(p.changeSummary)}`);
      }
      t0 = process.hrtime.bigint();
      await sandbox.stack.up(quiet);
      ups.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    add('staging: preview, no changes', 's', previews, 'target < 5 s');
    add('staging: up, no changes', 's', ups);
  } finally {
    await sandbox.cleanup();
  }
}

async function growth(runs: number): Promise<void> {
  process.stdout.write('\ngrowth with the number of blue/green apps (preview of a new stack)\n');
  const perSize: Record<number, number> = {};
  for (const services of [1, 10, 50]) {
    const sandbox = await createSandbox({
      stackName: `bench-growth-${services}`,
      fromStack: 'staging',
      env: {},
      overrides: {
        namespace: `bench-growth-${services}`,
        benchServices: services,
        monitoring: { enabled: false },
        logging: { enabled: false },
      },
    });
    try {
      useMode(sandbox, 'swc');
      await timedPreview(sandbox);
      const walls: number[] = [];
      const rss: number[] = [];
      let resources = 0;
      for (let i = 0; i < runs; i++) {
        const { wall, timing } = await timedPreview(sandbox);
        walls.push(wall);
        rss.push(timing.peakRssMiB);
        resources = timing.resources;
      }
      perSize[services] = stats(walls).median;
      add(`growth: preview, ${services} app(s)`, 's', walls, `${resources} resources`);
      add(
        `growth: language host peak RSS, ${services} app(s)`,
        'MiB',
        rss,
        services === 50 ? 'target < 300 MiB' : undefined,
      );
    } finally {
      await sandbox.cleanup();
    }
  }
  const ratio = (perSize[50] - perSize[1]) / Math.max(1e-9, perSize[10] - perSize[1]);
  add('growth: (t50 - t1) / (t10 - t1)', 'x', [ratio], '5.44 = linear in apps; below = sublinear');
}

function promote(runs: number): void {
  process.stdout.write('\npromote vs raw kubectl patch (bench/promote.ts)\n');
  const r = spawnSync(
    path.join(REPO, 'node_modules', '.bin', 'ts-node'),
    ['--transpile-only', path.join(REPO, 'bench', 'promote.ts'), '--runs', String(runs)],
    {
      cwd: REPO,
      encoding: 'utf8',
      env: process.env,
    },
  );
  process.stdout.write(r.stdout);
  if (r.status !== 0) {
    throw new Error(`bench/promote.ts failed:\n${r.stderr}`);
  }
  const ms = (label: string): number[] =>
    [...r.stdout.matchAll(new RegExp(`${label} (\\d+) ms`, 'g'))].map((m) => Number(m[1]));
  const promotes = r.stdout.split('\n').flatMap((l) => {
    const m = /^run \d+: promote \S+ (\d+) ms .* kubectl patch (\d+) ms/.exec(l);
    return m ? [[Number(m[1]), Number(m[2])]] : [];
  });
  if (promotes.length === 0) {
    throw new Error(`could not read bench/promote.ts output (${ms('promote').length} values)`);
  }
  add(
    'promote start -> EndpointSlice switch',
    'ms',
    promotes.map(([p]) => p),
  );
  add(
    'kubectl patch -> EndpointSlice switch',
    'ms',
    promotes.map(([, k]) => k),
    'physical floor',
  );
  add(
    'promote / kubectl patch',
    'x',
    promotes.map(([p, k]) => p / Math.max(1, k)),
    'target < 3x',
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
  const onlyAt = args.indexOf('--only');
  const only = new Set(onlyAt >= 0 ? args[onlyAt + 1].split(',') : ['eval', 'nochange', 'growth', 'promote']);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error('--runs takes a whole number of at least 1');
  }
  Object.assign(process.env, envFromScript());
  await ensureCluster();
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`;
  process.stdout.write(
    `PaveMaster benchmarks, ${new Date().toISOString()}, ${machine}, ${runs} runs per row\n`,
  );
  if (only.has('eval')) await programEvaluation(runs);
  if (only.has('nochange')) await noChange(runs);
  if (only.has('growth')) await growth(runs);
  if (only.has('promote')) promote(Math.max(runs, 3));
  printTable();
  process.stdout.write(`\n${stringify({ machine, runs }).trim()}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
