/**
 * `npm run bench`: how long operators wait, measured on the real engine and the local cluster, each figure beside
 * its baseline from the same run (min/median/max over the runs), with its target and the ratio, in one table.
 * Not a test: it asserts nothing but that the measured commands did what they claim (a no-change preview changes
 * nothing). Run it after the quick start (`npm run up`): it runs beside a deployed staging.
 *
 *   npm run bench -- [--runs N] [--only floor,nochange,growth,promote,eval] [--variant NAME:KEY=VALUE,...]...
 *
 * Sections (default: all but eval):
 * - floor: the empty program (same runtime settings, same node_modules, same secrets provider): no-change
 *   `pulumi preview` and `pulumi up`, the floor of engine, plugin and language-host start;
 * - nochange: no-change `pulumi preview` and `pulumi up` of a deployed copy of staging (its node exporter left
 *   out: it needs host port 9100 on every node, which the deployed staging holds);
 * - growth: preview of a new stack with 1, 10 and 50 blue/green apps (`pavemaster:benchServices`), the program's
 *   peak memory and the time per added resource;
 * - promote: promote and rollback beside a raw `kubectl patch` of the selector (bench/promote.ts);
 * - eval: program evaluation and preview for each TypeScript path Pulumi supports (ts-node with type checking,
 *   transpile-only, SWC as this project runs it, precompiled JavaScript).
 *
 * Each figure comes from plain runs; each breakdown from instrumented runs of the same command (OpenTelemetry
 * spans of the engine and the program's own marks, bench/trace.ts), interleaved with the plain ones. Every copy
 * is a throwaway project with its own backend (bench/project.ts), cleaned up at the end, on Ctrl-C, and by the
 * next run after a kill.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { ensureCluster, envFromScript, REPO } from '../release/testing/sandbox';
import { CliRun, timedPulumi } from './cli';
import { BenchProject, claimBench, emptyProgram, programCopy, releaseBench, withPreload } from './project';
import { benchPromote } from './promote';
import { growthRatio, median, Row, stats, Stats, Table, Target } from './table';
import { EnginePhases, Phases } from './trace';

const table = new Table();
const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const active = new Set<BenchProject>();

/** Machine load (1-minute average), sampled before each measured run of a section. */
let loadSamples: number[] = [];
const sampleLoad = (): void => {
  loadSamples.push(os.loadavg()[0]);
};
function loadRow(section: string): void {
  table.add({
    name: `${section}: machine load (1-min average) during the runs`,
    unit: 'load',
    values: loadSamples,
  });
  loadSamples = [];
}

async function withProject<T>(p: Promise<BenchProject> | BenchProject, fn: (p: BenchProject) => Promise<T>) {
  const project = await p;
  active.add(project);
  try {
    return await fn(project);
  } finally {
    active.delete(project);
    await project.cleanup();
  }
}

/** The headline row (plain runs), its consecutive phases (plain runs) and what only tracing shows (traced runs). */
function addMeasured(
  name: string,
  plain: CliRun[],
  traced: CliRun[],
  targets?: Target[],
  note?: string,
): Row {
  const row = table.add({ name, unit: 's', values: plain.map((r) => r.wallMs / 1000), targets, note });
  const sec = (runs: CliRun[], f: (r: CliRun) => number): number[] => runs.map((r) => f(r) / 1000);
  const ph = (r: CliRun): Phases => r.phases as Phases;
  const en = (r: CliRun): EnginePhases => r.engine as EnginePhases;
  const sub = (label: string, values: number[], depth = 1, note?: string): void => {
    table.add({ name: label, unit: 's', values, depth, note });
  };
  sub(
    'CLI and engine start, to the Node.js program',
    sec(plain, (r) => ph(r).toNode),
  );
  sub(
    'CLI process start, to its first span',
    sec(traced, (r) => en(r).cliStart),
    2,
    'traced',
  );
  sub(
    'project, stack, secrets, state, language host',
    sec(traced, (r) => en(r).engineStart),
    2,
    'traced',
  );
  sub(
    'Run call to the Node.js process',
    sec(traced, (r) => ph(r).toNode - en(r).cliStart - en(r).engineStart),
    2,
    'traced',
  );
  sub(
    'Node.js and SDK start, to the program entry',
    sec(plain, (r) => ph(r).nodeStart),
  );
  sub(
    'program load: its modules, to the first resource',
    sec(plain, (r) => ph(r).programLoad),
  );
  sub(
    'program evaluation, to the last resource',
    sec(plain, (r) => ph(r).programEval),
  );
  sub(
    'engine steps after the last resource, to the program exit',
    sec(plain, (r) => ph(r).engineTail),
  );
  sub(
    'engine shutdown, to the CLI exit',
    sec(plain, (r) => ph(r).shutdown),
  );
  const concurrent: [string, (e: EnginePhases) => number, ((e: EnginePhases) => number)?][] = [
    ['(concurrent) resource plugin start', (e) => e.pluginStart],
    ['(concurrent) provider Configure (cluster discovery)', (e) => e.providerConfigure],
    [
      '(concurrent) provider calls (Check, Diff, Read, Create, Update, Delete)',
      (e) => e.providerCalls,
      (e) => e.providerCallCount,
    ],
    [
      '(concurrent) provider Create/Update/Delete (dry-run applies in a preview)',
      (e) => e.applies,
      (e) => e.applyCount,
    ],
  ];
  for (const [label, f, count] of concurrent) {
    const values = sec(traced, (r) => f(en(r)));
    if (values.some((v) => v > 0)) {
      sub(label, values, 1, `traced${count ? `; ${count(en(traced[0]))} calls` : ''}`);
    }
  }
  sub(
    'traced runs: total',
    sec(traced, (r) => r.wallMs),
    1,
    'the same command with tracing on; the difference to the headline is the cost of tracing',
  );
  return row;
}

/**
 * Variants to compare in the same run (`--variant NAME:KEY=VALUE,KEY=VALUE`): the same commands with more
 * environment (`$PATH` in a value is this process's PATH, so a variant can put another toolchain first). The first
 * is the baseline: no extra environment.
 */
const variants: { name: string; env: Record<string, string> }[] = [{ name: '', env: {} }];
const label = (variant: string, name: string): string => (variant ? `[${variant}] ${name}` : name);

type Measured = Record<string, Record<string, { plain: CliRun[]; traced: CliRun[] }>>;

/** `runs` plain and `runs` traced runs of each command in each variant, interleaved. */
async function measure(
  project: BenchProject,
  commands: Record<string, string[]>,
  runs: number,
  check?: (name: string, run: CliRun) => void,
): Promise<Measured> {
  const out: Measured = {};
  for (const v of variants) {
    out[v.name] = {};
    for (const name of Object.keys(commands)) {
      out[v.name][name] = { plain: [], traced: [] };
    }
  }
  for (let i = 0; i < runs; i++) {
    for (const instrument of [false, true]) {
      for (const v of variants) {
        for (const [name, args] of Object.entries(commands)) {
          sampleLoad();
          const r = await timedPulumi(project, args, { instrument, env: v.env });
          check?.(name, r);
          (instrument ? out[v.name][name].traced : out[v.name][name].plain).push(r);
        }
      }
    }
  }
  return out;
}

/** The engine's floor: the empty program, no-change preview and up. */
async function floor(runs: number): Promise<number> {
  log('\nfloor: the empty program');
  return withProject(emptyProgram('bench-floor'), async (p) => {
    await timedPulumi(p, ['up', '--yes', '--skip-preview']);
    const m = await measure(p, { preview: ['preview'], up: ['up', '--yes', '--skip-preview'] }, runs);
    let floorMedian = NaN;
    for (const v of variants) {
      const mv = m[v.name];
      const row = addMeasured(
        label(v.name, 'floor: empty program, no-change `pulumi preview`'),
        mv.preview.plain,
        mv.preview.traced,
      );
      addMeasured(label(v.name, 'floor: empty program, no-change `pulumi up`'), mv.up.plain, mv.up.traced);
      if (v.name === '') {
        floorMedian = median(row.values);
      }
    }
    loadRow('floor');
    return floorMedian;
  });
}

const NO_CHANGE = /\b(\d+) unchanged\b/;
const CHANGES = /\b\d+ to (create|update|delete|replace)\b|\b\d+ (created|updated|deleted|replaced)\b/;

async function noChange(runs: number, floorSeconds: number | undefined): Promise<void> {
  log('\nno-change preview and up of a deployed staging copy');
  await withProject(
    programCopy('bench-nochange', 'staging', {
      namespace: 'bench-nochange',
      monitoring: { nodeExporter: { enabled: false } },
    }),
    async (p) => {
      await timedPulumi(p, ['up', '--yes', '--skip-preview']);
      const m = await measure(
        p,
        {
          preview: ['preview', '--expect-no-changes'],
          up: ['up', '--yes', '--skip-preview', '--expect-no-changes'],
        },
        runs,
        (name, r) => {
          if (CHANGES.test(r.output) || !NO_CHANGE.test(r.output)) {
            throw new Error(`a no-change ${name} changed something:\n${r.output.slice(-2000)}`);
          }
        },
      );
      const resources = NO_CHANGE.exec(m[''].preview.plain[0].output)?.[1] ?? '?';
      const previewTargets: Target[] = [{ limit: 3.0, text: '<= 3.0 s' }];
      if (floorSeconds !== undefined) {
        previewTargets.unshift({
          limit: 1.5 * floorSeconds,
          text: `<= 1.5x floor (${(1.5 * floorSeconds).toFixed(2)} s)`,
        });
      }
      for (const v of variants) {
        const mv = m[v.name];
        addMeasured(
          label(v.name, 'staging copy: no-change `pulumi preview`'),
          mv.preview.plain,
          mv.preview.traced,
          previewTargets,
          `${resources} resources (staging without its node exporter)`,
        );
        addMeasured(label(v.name, 'staging copy: no-change `pulumi up`'), mv.up.plain, mv.up.traced, [
          { limit: 4.0, text: '<= 4.0 s' },
        ]);
      }
      loadRow('nochange');
    },
  );
}

async function growth(runs: number): Promise<void> {
  log('\ngrowth with the number of blue/green apps (preview of a new stack)');
  const perSize: Record<string, Record<number, { t: Stats; resources: number }>> = {};
  for (const v of variants) {
    perSize[v.name] = {};
  }
  for (const services of [1, 10, 50]) {
    await withProject(
      programCopy(`bench-growth-${services}`, 'staging', {
        namespace: `bench-growth-${services}`,
        benchServices: services,
        monitoring: { enabled: false },
        logging: { enabled: false },
      }),
      async (p) => {
        await timedPulumi(p, ['preview']); // warm the file-system cache
        const m = await measure(p, { preview: ['preview'] }, runs);
        for (const v of variants) {
          const mv = m[v.name];
          const resources = mv.preview.plain[0].marks?.resources ?? 0;
          const row = addMeasured(
            label(v.name, `growth: preview of a new stack, ${services} app(s)`),
            mv.preview.plain,
            mv.preview.traced,
            undefined,
            `${resources} resources`,
          );
          perSize[v.name][services] = { t: stats(row.values), resources };
          table.add({
            name: label(v.name, `growth: Node.js program peak RSS, ${services} app(s)`),
            unit: 'MiB',
            values: mv.preview.plain.map((r) => r.marks?.peakRssMiB ?? NaN),
            targets: services === 50 ? [{ limit: 300, text: '<= 300 MiB' }] : undefined,
            note: "the language host's Node.js process",
          });
        }
      },
    );
  }
  for (const v of variants) {
    const s = perSize[v.name];
    const growth = growthRatio(s[1].t, s[10].t, s[50].t);
    table.add({
      name: label(v.name, 'growth: (t50 - t1) / (t10 - t1)'),
      unit: 'x',
      values: growth.ratio === undefined ? [] : [growth.ratio],
      targets: [{ limit: 5.44, text: '<= 5.44 (linear in apps)' }],
      note: growth.why,
    });
    table.add({
      name: label(v.name, 'growth: time per added resource, 1 -> 50 apps'),
      unit: 'ms',
      values: [((s[50].t.median - s[1].t.median) * 1000) / Math.max(1, s[50].resources - s[1].resources)],
      note: `${s[50].resources - s[1].resources} resources added`,
    });
  }
  loadRow('growth');
}

type Mode = 'typescript' | 'transpile-only' | 'swc' | 'build';

/**
 * Points a copy's Pulumi.yaml at one TypeScript path. The committed project is `build` (infra/main.js runs the
 * precompiled dist/program); `swc` is the same entry made to transpile the TypeScript (what it does when the build
 * is stale); `typescript` and `transpile-only` are the language host's own ts-node (Pulumi's default, with and
 * without type checking) on infra/index.ts.
 */
function useMode(p: BenchProject, mode: Mode): Record<string, string> {
  const committed = fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8');
  const hostTypeScript = committed
    .replace(/^main: infra\/main\.js$/m, 'main: infra/')
    .replace(/^ {4}typescript: false\n/m, '');
  if (!/^ {4}typescript: false$/m.test(committed) || hostTypeScript === committed) {
    throw new Error('Pulumi.yaml no longer runs infra/main.js as JavaScript: update bench/run.ts');
  }
  let text = committed;
  const env: Record<string, string> = {};
  if (mode === 'swc') {
    env.PAVEMASTER_PROGRAM_FROM_SOURCE = '1';
  } else if (mode !== 'build') {
    text = hostTypeScript;
    env.PULUMI_NODEJS_TRANSPILE_ONLY = mode === 'transpile-only' ? 'true' : 'false';
  }
  fs.writeFileSync(path.join(p.dir, 'Pulumi.yaml'), withPreload(text));
  return env;
}

async function programEvaluation(runs: number): Promise<void> {
  log('\nprogram evaluation and preview per TypeScript path');
  for (const stack of ['staging', 'production']) {
    await withProject(
      programCopy(`bench-eval-${stack}`, stack, {
        namespace: `bench-eval-${stack}`,
        monitoring: { nodeExporter: { enabled: false } },
      }),
      async (p) => {
        for (const mode of ['typescript', 'transpile-only', 'swc', 'build'] as const) {
          const env = useMode(p, mode);
          await timedPulumi(p, ['preview'], { env }); // warm the file-system cache and the compile cache
          const rs: CliRun[] = [];
          for (let i = 0; i < runs; i++) {
            sampleLoad();
            rs.push(await timedPulumi(p, ['preview'], { env }));
          }
          const marks = rs.map((r) => r.marks);
          table.add({
            name: `${stack}: program evaluation, ${mode}`,
            unit: 's',
            values: marks.map((m) => ((m?.lastResource ?? NaN) - (m?.processStart ?? NaN)) / 1000),
            note: `${marks[0]?.resources ?? '?'} resources; Node.js start -> last resource`,
          });
          table.add({
            name: `${stack}: preview, ${mode}`,
            unit: 's',
            values: rs.map((r) => r.wallMs / 1000),
            note:
              mode === 'typescript'
                ? "Pulumi's default"
                : mode === 'build'
                  ? "the project's default"
                  : undefined,
            depth: 1,
          });
        }
      },
    );
  }
  loadRow('eval');
}

async function main(): Promise<void> {
  Object.assign(process.env, envFromScript());
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
  const onlyAt = args.indexOf('--only');
  const only = new Set(
    onlyAt >= 0 ? args[onlyAt + 1].split(',') : ['floor', 'nochange', 'growth', 'promote'],
  );
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error('--runs takes a whole number of at least 1');
  }
  args.forEach((a, i) => {
    if (a === '--variant') {
      const spec = args[i + 1] ?? '';
      const colon = spec.indexOf(':');
      if (colon <= 0) {
        throw new Error(`--variant NAME:KEY=VALUE[,KEY=VALUE]: got "${spec}"`);
      }
      const env: Record<string, string> = {};
      for (const kv of spec.slice(colon + 1).split(',')) {
        const eq = kv.indexOf('=');
        if (eq <= 0) {
          throw new Error(`--variant ${spec}: "${kv}" is not KEY=VALUE`);
        }
        env[kv.slice(0, eq)] = kv.slice(eq + 1).replace(/\$PATH\b/g, process.env.PATH ?? '');
      }
      variants.push({ name: spec.slice(0, colon), env });
    }
  });
  for (const s of only) {
    if (!['floor', 'nochange', 'growth', 'promote', 'eval'].includes(s)) {
      throw new Error(`--only: unknown section "${s}" (floor, nochange, growth, promote, eval)`);
    }
  }
  await ensureCluster();
  claimBench(log);
  const interrupted = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: cleaning up the bench copies`);
    void Promise.allSettled([...active].map((p) => p.cleanup())).then(() => {
      releaseBench();
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const cpu = os.cpus();
  const machine = `${cpu.length} cores (${cpu[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, ${execFileSync('pulumi', ['version'], { encoding: 'utf8' }).trim()}`;
  const started = new Date();
  const loadAtStart = os.loadavg();
  log(`PaveMaster benchmarks, ${started.toISOString()}, ${machine}, ${runs} runs per figure`);
  log(`load average at start: ${loadAtStart.map((x) => x.toFixed(2)).join(' / ')} (1 / 5 / 15 min)`);
  let floorSeconds: number | undefined;
  if (only.has('floor')) floorSeconds = await floor(runs);
  if (only.has('nochange')) await noChange(runs, floorSeconds);
  if (only.has('growth')) await growth(runs);
  if (only.has('promote')) {
    await benchPromote(table, runs, log, sampleLoad);
    loadRow('promote');
  }
  if (only.has('eval')) await programEvaluation(runs);
  releaseBench();
  const loadAtEnd = os.loadavg();
  log(`\n${table.render()}\n`);
  log(
    stringify({
      command: `npm run bench -- ${args.join(' ')}`.trim(),
      machine,
      started: started.toISOString(),
      minutes: Number(((Date.now() - started.getTime()) / 60000).toFixed(1)),
      runs,
      loadAverage: {
        start: loadAtStart.map((x) => Number(x.toFixed(2))),
        end: loadAtEnd.map((x) => Number(x.toFixed(2))),
      },
    }).trim(),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
