/**
 * A local runner for this repository's GitHub workflows, so the job tests execute the real workflow files: jobs
 * in `needs` order, matrix expansion, reusable workflows (`uses: ./.github/workflows/x.yml` with inputs,
 * `secrets: inherit` and outputs), `environment:` with its secrets and its required approval, job and step `if:`,
 * `env:` at every level, `${{ }}` in scripts and inputs, `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_PATH`,
 * `$GITHUB_STEP_SUMMARY`, `continue-on-error`, `timeout-minutes`, and `run:` steps in the default shell GitHub
 * uses (`bash -e {0}`).
 *
 * What is GitHub's own and cannot run here comes from `actions` (stand-ins the caller passes: checkout clones a
 * local bare repository standing in for the GitHub repository, the image build uses the local builder, and so
 * on). Every step's output is searched for the values of the secrets the job could read: a leak is recorded.
 */
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { condition, EvalContext, interpolate, toText, Value } from './expressions';

type Doc = Record<string, unknown>;

/** One step as it ran. */
export interface StepRecord {
  name: string;
  id?: string;
  uses?: string;
  run?: string;
  outcome: 'success' | 'failure' | 'skipped';
  conclusion: 'success' | 'failure' | 'skipped';
  exitCode?: number;
  output: string;
  outputs: Record<string, string>;
  durationMs: number;
  /** The inputs (`with:`) an action step was given, expressions evaluated. */
  inputs?: Record<string, string>;
  /** Not run here (the runner was told to stop before it). */
  notRun?: boolean;
  /** A `run:` step a stand-in did instead of the script as written (see RunnerConfig.standIn). */
  standIn?: boolean;
}

/** One job (one matrix combination) as it ran. */
export interface JobRecord {
  /** `id` or `id (value, ...)` for a matrix job; `caller / id` inside a reusable workflow. */
  key: string;
  id: string;
  name: string;
  result: 'success' | 'failure' | 'skipped' | 'cancelled' | 'waiting';
  outputs: Record<string, string>;
  steps: StepRecord[];
  environment?: string;
  approvedBy?: string;
  timeoutMinutes: number;
  durationMs: number;
  matrix?: Record<string, Value>;
  /** Secret values that appeared in a step's output. */
  leaks: string[];
  /** The job's `permissions:` as written. */
  permissions?: unknown;
  /** Where the job ran (workspace, runner temp). */
  dirs?: { workspace: string; temp: string; summary: string };
}

/** What an action stand-in receives. */
export interface ActionCall {
  uses: string;
  inputs: Record<string, string>;
  env: Record<string, string>;
  workspace: string;
  runnerTemp: string;
  job: JobRecord;
  github: Record<string, Value>;
  log: (line: string) => void;
  /** Runs a command in the job's environment (for stand-ins that shell out). */
  exec: (
    command: string,
    args: string[],
    opts?: { cwd?: string; env?: Record<string, string> },
  ) => Promise<{ code: number; output: string }>;
}

/** What an action stand-in returns. */
export interface ActionResult {
  outputs?: Record<string, string>;
  /** Why the step failed (the step fails when set). */
  failed?: string;
  /** Folders to prepend to PATH for later steps. */
  path?: string[];
  /** Variables for later steps (like `$GITHUB_ENV`). */
  env?: Record<string, string>;
  /** A post step, run at the end of the job (for example, saving a cache). */
  post?: (jobResult: JobRecord['result']) => Promise<void>;
}

export type ActionImpl = (call: ActionCall) => Promise<ActionResult> | ActionResult;

/** A GitHub environment: its secrets and variables, and whether it needs (and got) an approval. */
export interface EnvironmentConfig {
  secrets?: Record<string, string>;
  vars?: Record<string, string>;
  /** Required reviewers: the job waits until one of them approves. */
  reviewers?: string[];
  /** Who approved this run's deployment (must be one of `reviewers`). */
  approvedBy?: string;
}

export interface RunnerConfig {
  /** owner/name of the repository. */
  repository: string;
  /** Where each job gets its workspace, temp folder and files. */
  root: string;
  event: { name: string; ref: string; sha: string; payload: Record<string, Value>; actor?: string };
  secrets: Record<string, string>;
  vars?: Record<string, string>;
  environments?: Record<string, EnvironmentConfig>;
  /** Stand-ins keyed by `owner/repo[/path]` (without the ref). */
  actions: Record<string, ActionImpl>;
  /** The machine's environment every step starts from (PATH, HOME, ...). */
  baseEnv: Record<string, string>;
  /** Jobs not run here, with the result to assume (for example `test`, which is `npm test` itself). */
  assume?: Record<string, { result: JobRecord['result']; outputs?: Record<string, string> }>;
  /** Only these jobs of the workflow run (top level); every other is recorded as skipped, not run here. */
  only?: string[];
  /**
   * Stops a job before the first step this returns true for (recorded as not run): for checking a job up to a
   * step the suite must not run itself (`npm test` inside `npm test`).
   */
  stopBefore?: (step: { name: string; run?: string; uses?: string }, job: string) => boolean;
  log?: (line: string) => void;
  runId?: string;
  /** Where GITHUB_API_URL points (a local stand-in of GitHub's API); default https://api.github.com. */
  apiUrl?: string;
  /**
   * A command prefix for a `run:` step (for example `['unshare', '-n']`: a network namespace without interfaces,
   * so a step that must not reach the network here cannot).
   */
  wrapRun?: (run: string) => string[] | undefined;
  /**
   * Does a `run:` step instead of its script when it returns a result (undefined: the script runs as written).
   * For a step whose effect the suite already has and that would cost minutes per job here (one `npm ci` per job
   * of every run: see actions.ts `sharedNpmCi`). The step is recorded with `standIn: true`.
   */
  standIn?: (run: string, cwd: string) => Promise<{ code: number; output: string } | undefined>;
}

function obj(value: unknown, what: string): Doc {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not a mapping`);
  }
  return value as Doc;
}

function optObj(value: unknown, what: string): Doc {
  return value === undefined || value === null ? {} : obj(value, what);
}

function asValue(value: unknown): Value {
  if (value === undefined) {
    return null;
  }
  return JSON.parse(JSON.stringify(value)) as Value;
}

/** Parses the lines a step wrote to `$GITHUB_OUTPUT` or `$GITHUB_ENV` (`k=v` and `k<<DELIM` heredocs). */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') {
      continue;
    }
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) {
        value.push(lines[i]);
      }
      if (i >= lines.length) {
        throw new Error(`unterminated ${heredoc[1]}<<${heredoc[2]} in a command file`);
      }
      out[heredoc[1]] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      throw new Error(`malformed line in a command file: ${line}`);
    }
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        re += '(?:/)?';
      }
    } else if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== '.git' && entry.name !== 'node_modules') {
        out.push(...walk(dir, r));
      }
    } else if (entry.isFile()) {
      out.push(r);
    }
  }
  return out;
}

/**
 * GitHub's `hashFiles()`: the SHA-256 over the SHA-256 of each matching file (sorted by path), '' when nothing
 * matches. Patterns are relative to the workspace; `!pattern` excludes.
 */
export function hashFiles(workspace: string, patterns: string[]): string {
  const include = patterns.filter((p) => !p.startsWith('!')).map(globRegex);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => globRegex(p.slice(1)));
  const files = walk(workspace)
    .filter((f) => include.some((r) => r.test(f)) && !exclude.some((r) => r.test(f)))
    .sort();
  if (files.length === 0) {
    return '';
  }
  const all = createHash('sha256');
  for (const f of files) {
    all.write(
      createHash('sha256')
        .update(fs.readFileSync(path.join(workspace, f)))
        .digest(),
    );
  }
  all.end();
  return all.digest('hex');
}

/** Every combination of a `strategy.matrix` (include/exclude are not used by these workflows: refused). */
function expandMatrix(matrix: Doc | undefined): Record<string, Value>[] {
  if (matrix === undefined) {
    return [{}];
  }
  if ('include' in matrix || 'exclude' in matrix) {
    throw new Error('matrix include/exclude is not supported by the local runner');
  }
  let combos: Record<string, Value>[] = [{}];
  for (const [key, values] of Object.entries(matrix)) {
    if (!Array.isArray(values)) {
      throw new Error(`matrix.${key} is not a list`);
    }
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: asValue(v) })));
  }
  return combos;
}

function stepName(step: Doc, index: number): string {
  if (typeof step.name === 'string') {
    return step.name;
  }
  if (typeof step.uses === 'string') {
    return `Run ${step.uses.split('@')[0]}`;
  }
  if (typeof step.run === 'string') {
    return `Run ${step.run.split('\n')[0]}`;
  }
  return `step ${index}`;
}

interface CallFrame {
  inputs: Record<string, Value>;
  secrets: Record<string, string>;
  keyPrefix: string;
}

/** Runs workflows of one repository checkout with the given stand-ins. */
export class LocalRunner {
  readonly jobs: JobRecord[] = [];
  private readonly runId: string;
  private seq = 0;

  constructor(
    private readonly repoDir: string,
    private readonly config: RunnerConfig,
  ) {
    this.runId = config.runId ?? String(Date.now());
  }

  private log(line: string): void {
    this.config.log?.(line);
  }

  private load(file: string): Doc {
    const full = path.join(this.repoDir, '.github', 'workflows', file);
    return obj(parse(fs.readFileSync(full, 'utf8')), file);
  }

  /**
   * Runs workflow `file` for the configured event. `inputs` are the workflow_dispatch inputs. Returns the jobs
   * of this workflow (and of the workflows it calls).
   */
  async run(file: string, inputs: Record<string, Value> = {}): Promise<JobRecord[]> {
    const doc = this.load(file);
    const on = optObj(doc.on, 'on');
    const dispatch = optObj(optObj(on.workflow_dispatch, 'workflow_dispatch').inputs, 'inputs');
    const withDefaults: Record<string, Value> = {};
    for (const [name, spec] of Object.entries(dispatch)) {
      withDefaults[name] = asValue(
        optObj(spec, name).default ?? (optObj(spec, name).type === 'boolean' ? false : ''),
      );
    }
    const frame: CallFrame = {
      inputs: this.config.event.name === 'workflow_dispatch' ? { ...withDefaults, ...inputs } : inputs,
      secrets: this.config.secrets,
      keyPrefix: '',
    };
    const before = this.jobs.length;
    await this.runJobs(doc, frame);
    return this.jobs.slice(before);
  }

  /**
   * Runs reusable workflow `file` as a caller job with `with: inputs` and `secrets: inherit` would (the caller
   * itself is not part of this repository, for example a test of release.yml alone).
   */
  async call(file: string, inputs: Record<string, Value>): Promise<JobRecord[]> {
    const caller: Doc = { uses: `./.github/workflows/${file}`, with: inputs, secrets: 'inherit' };
    const before = this.jobs.length;
    const record: JobRecord = {
      key: 'caller',
      id: 'caller',
      name: 'caller',
      result: 'skipped',
      outputs: {},
      steps: [],
      timeoutMinutes: 360,
      durationMs: 0,
      leaks: [],
    };
    this.jobs.push(record);
    const frame: CallFrame = { inputs: {}, secrets: this.config.secrets, keyPrefix: '' };
    await this.callWorkflow(
      caller,
      record,
      frame,
      this.contexts({}, frame, { needs: {}, matrix: {}, jobEnv: {} }),
    );
    return this.jobs.slice(before);
  }

  private async runJobs(doc: Doc, frame: CallFrame): Promise<Record<string, JobRecord[]>> {
    const jobs = obj(doc.jobs, 'jobs');
    const done: Record<string, JobRecord[]> = {};
    const pending = Object.keys(jobs);
    while (pending.length > 0) {
      const ready = pending.find((id) => {
        const needs = optNeeds(obj(jobs[id], id).needs);
        return needs.every((n) => n in done);
      });
      if (ready === undefined) {
        throw new Error(`a cycle or an unknown job in needs: ${pending.join(', ')}`);
      }
      pending.splice(pending.indexOf(ready), 1);
      done[ready] = await this.runJob(doc, ready, obj(jobs[ready], ready), done, frame);
    }
    return done;
  }

  private async runJob(
    doc: Doc,
    id: string,
    job: Doc,
    done: Record<string, JobRecord[]>,
    frame: CallFrame,
  ): Promise<JobRecord[]> {
    const needs = optNeeds(job.needs);
    const needsCtx: Record<string, Value> = {};
    const needsResults: string[] = [];
    for (const n of needs) {
      const records = done[n];
      const failed = records.some((r) => r.result === 'failure');
      const result = failed
        ? 'failure'
        : records.every((r) => r.result === 'skipped' || r.result === 'waiting')
          ? 'skipped'
          : records.some((r) => r.result === 'cancelled')
            ? 'cancelled'
            : 'success';
      const outputs: Record<string, string> = {};
      for (const r of records) {
        Object.assign(outputs, r.outputs);
      }
      needsCtx[n] = { result, outputs };
      needsResults.push(result);
    }
    const excluded =
      frame.keyPrefix === '' && this.config.only !== undefined && !this.config.only.includes(id);
    const assumed =
      frame.keyPrefix === ''
        ? (this.config.assume?.[id] ?? (excluded ? { result: 'skipped' as const } : undefined))
        : undefined;
    const combos = expandMatrix(
      job.strategy === undefined ? undefined : optObj(obj(job.strategy, 'strategy').matrix, 'matrix'),
    );
    const records: JobRecord[] = [];
    for (const matrix of combos) {
      const values = Object.values(matrix).map(toText);
      const key = `${frame.keyPrefix}${id}${values.length ? ` (${values.join(', ')})` : ''}`;
      const baseCtx = this.contexts(doc, frame, { needs: needsCtx, matrix, jobEnv: {} });
      const record: JobRecord = {
        key,
        id,
        name: typeof job.name === 'string' ? interpolate(job.name, { contexts: baseCtx }) : id,
        result: 'skipped',
        outputs: {},
        steps: [],
        timeoutMinutes: typeof job['timeout-minutes'] === 'number' ? job['timeout-minutes'] : 360,
        durationMs: 0,
        matrix: Object.keys(matrix).length ? matrix : undefined,
        leaks: [],
        permissions: job.permissions,
      };
      this.jobs.push(record);
      records.push(record);
      if (assumed !== undefined) {
        record.result = assumed.result;
        record.outputs = assumed.outputs ?? {};
        this.log(`job ${key}: not run here, assumed ${assumed.result}`);
        continue;
      }
      const evalCtx: EvalContext = { contexts: baseCtx, needsResults };
      const ifText = job.if as string | boolean | undefined;
      if (!condition(ifText, evalCtx)) {
        this.log(`job ${key}: skipped (if: ${String(ifText ?? 'success()')})`);
        continue;
      }
      const started = Date.now();
      if (typeof job.uses === 'string') {
        await this.callWorkflow(job, record, frame, baseCtx);
      } else {
        await this.runSteps(job, record, frame, baseCtx);
      }
      record.durationMs = Date.now() - started;
      this.log(`job ${key}: ${record.result} (${record.durationMs} ms)`);
    }
    return records;
  }

  private contexts(
    doc: Doc,
    frame: CallFrame,
    extra: { needs: Record<string, Value>; matrix: Record<string, Value>; jobEnv: Record<string, string> },
  ): Record<string, Value> {
    const ev = this.config.event;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(optObj(doc.env, 'env'))) {
      env[k] = toText(asValue(v));
    }
    const github: Record<string, Value> = {
      event_name: ev.name,
      event: ev.payload,
      ref: ev.ref,
      ref_name: ev.ref.replace(/^refs\/(heads|tags)\//, ''),
      sha: ev.sha,
      repository: this.config.repository,
      repository_owner: this.config.repository.split('/')[0],
      actor: ev.actor ?? 'octocat',
      run_id: this.runId,
      run_number: '1',
      run_attempt: '1',
      server_url: 'https://github.com',
      api_url: this.config.apiUrl ?? 'https://api.github.com',
      workflow: typeof doc.name === 'string' ? doc.name : '',
    };
    return {
      github,
      env: { ...env, ...extra.jobEnv },
      inputs: frame.inputs,
      secrets: { ...frame.secrets, GITHUB_TOKEN: frame.secrets.GITHUB_TOKEN ?? '' },
      vars: this.config.vars ?? {},
      matrix: extra.matrix,
      needs: extra.needs,
      strategy: { 'fail-fast': true },
      runner: { os: 'Linux', arch: 'X64', temp: '', name: 'local' },
      job: { status: 'success' },
      steps: {},
      jobs: {},
    };
  }

  private async callWorkflow(
    job: Doc,
    record: JobRecord,
    frame: CallFrame,
    ctx: Record<string, Value>,
  ): Promise<void> {
    const uses = job.uses as string;
    if (!uses.startsWith('./.github/workflows/')) {
      throw new Error(`only local reusable workflows are supported: ${uses}`);
    }
    const called = this.load(path.basename(uses));
    const spec = optObj(optObj(optObj(called.on, 'on').workflow_call, 'workflow_call').inputs, 'inputs');
    const evalCtx: EvalContext = { contexts: ctx };
    const inputs: Record<string, Value> = {};
    const given = optObj(job.with, 'with');
    for (const [name, s] of Object.entries(spec)) {
      const d = optObj(s, name);
      if (name in given) {
        const raw = given[name];
        const text = typeof raw === 'string' ? interpolate(raw, evalCtx) : toText(asValue(raw));
        inputs[name] = d.type === 'boolean' ? text === 'true' : d.type === 'number' ? Number(text) : text;
      } else if (d.required === true) {
        throw new Error(`${uses}: required input ${name} not given`);
      } else {
        inputs[name] = asValue(d.default ?? '');
      }
    }
    for (const name of Object.keys(given)) {
      if (!(name in spec)) {
        throw new Error(`${uses}: unknown input ${name}`);
      }
    }
    const secrets = job.secrets === 'inherit' ? frame.secrets : {};
    if (job.secrets !== undefined && job.secrets !== 'inherit') {
      for (const [k, v] of Object.entries(obj(job.secrets, 'secrets'))) {
        secrets[k] = interpolate(String(v), evalCtx);
      }
    }
    const done = await this.runJobs(called, { inputs, secrets, keyPrefix: `${record.key} / ` });
    const all = Object.values(done).flat();
    record.result = all.some((r) => r.result === 'failure')
      ? 'failure'
      : all.some((r) => r.result === 'waiting')
        ? 'waiting'
        : all.every((r) => r.result === 'skipped')
          ? 'skipped'
          : 'success';
    const outputsSpec = optObj(
      optObj(optObj(called.on, 'on').workflow_call, 'workflow_call').outputs,
      'outputs',
    );
    const jobsCtx: Record<string, Value> = {};
    for (const [jid, recs] of Object.entries(done)) {
      const outputs: Record<string, string> = {};
      recs.forEach((r) => Object.assign(outputs, r.outputs));
      jobsCtx[jid] = { result: recs[0]?.result ?? 'skipped', outputs };
    }
    for (const [name, s] of Object.entries(outputsSpec)) {
      record.outputs[name] = interpolate(String(optObj(s, name).value), {
        contexts: { ...ctx, jobs: jobsCtx },
      });
    }
  }

  private async runSteps(
    job: Doc,
    record: JobRecord,
    frame: CallFrame,
    baseCtx: Record<string, Value>,
  ): Promise<void> {
    const dir = path.join(this.config.root, `${String(++this.seq).padStart(2, '0')}-${record.id}`);
    const workspace = path.join(dir, 'workspace');
    const temp = path.join(dir, 'temp');
    const files = path.join(dir, 'files');
    for (const d of [workspace, temp, files]) {
      fs.mkdirSync(d, { recursive: true });
    }
    const summary = path.join(files, 'step_summary.md');
    fs.writeFileSync(summary, '');
    record.dirs = { workspace, temp, summary };
    const eventPath = path.join(files, 'event.json');
    fs.writeFileSync(eventPath, JSON.stringify(this.config.event.payload, null, 2));

    // The environment and its protection rules.
    let secrets = { ...frame.secrets };
    let vars = { ...(this.config.vars ?? {}) };
    if (job.environment !== undefined) {
      const envSpec =
        typeof job.environment === 'string' ? { name: job.environment } : obj(job.environment, 'environment');
      const name = interpolate(String(envSpec.name), { contexts: baseCtx });
      record.environment = name;
      const env = this.config.environments?.[name];
      if (env?.reviewers !== undefined && env.reviewers.length > 0) {
        if (env.approvedBy === undefined || !env.reviewers.includes(env.approvedBy)) {
          record.result = 'waiting';
          this.log(
            `job ${record.key}: waiting for a reviewer of environment ${name} (${env.reviewers.join(', ')})`,
          );
          return;
        }
        record.approvedBy = env.approvedBy;
      }
      secrets = { ...secrets, ...(env?.secrets ?? {}) };
      vars = { ...vars, ...(env?.vars ?? {}) };
    }
    const secretValues = Object.values(secrets).filter((v) => v.length >= 6);

    const jobEnvRaw = optObj(job.env, 'env');
    const ctx: Record<string, Value> = {
      ...baseCtx,
      secrets: { ...secrets, GITHUB_TOKEN: secrets.GITHUB_TOKEN ?? '' },
      vars,
      runner: { os: 'Linux', arch: 'X64', temp, name: 'local' },
    };
    const ev = (): EvalContext => ({
      contexts: ctx,
      jobStatus: record.result === 'failure' ? 'failure' : 'success',
      hashFiles: (p) => hashFiles(workspace, p),
    });
    const jobEnv: Record<string, string> = { ...(ctx.env as Record<string, string>) };
    for (const [k, v] of Object.entries(jobEnvRaw)) {
      jobEnv[k] = interpolate(toText(asValue(v)), ev());
    }
    ctx.env = jobEnv;

    const github = ctx.github as Record<string, Value>;
    const defaultEnv: Record<string, string> = {
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: workspace,
      GITHUB_REPOSITORY: this.config.repository,
      GITHUB_REPOSITORY_OWNER: this.config.repository.split('/')[0],
      GITHUB_SHA: this.config.event.sha,
      GITHUB_REF: this.config.event.ref,
      GITHUB_EVENT_NAME: this.config.event.name,
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_RUN_ID: this.runId,
      GITHUB_SERVER_URL: toText(github.server_url),
      GITHUB_API_URL: toText(github.api_url),
      GITHUB_ACTOR: toText(github.actor),
      GITHUB_JOB: record.id,
      GITHUB_STEP_SUMMARY: summary,
      RUNNER_TEMP: temp,
      RUNNER_OS: 'Linux',
    };
    const added: Record<string, string> = {};
    const extraPath: string[] = [];
    const stepsCtx: Record<string, Value> = {};
    ctx.steps = stepsCtx;
    const posts: (() => Promise<void>)[] = [];
    record.result = 'success';
    const deadline = Date.now() + record.timeoutMinutes * 60_000;
    const steps = Array.isArray(job.steps) ? job.steps.map((s, i) => obj(s, `step ${i}`)) : [];

    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const name = interpolate(stepName(step, i), ev());
      const stepRecord: StepRecord = {
        name,
        id: typeof step.id === 'string' ? step.id : undefined,
        uses: typeof step.uses === 'string' ? step.uses : undefined,
        run: typeof step.run === 'string' ? step.run : undefined,
        outcome: 'skipped',
        conclusion: 'skipped',
        output: '',
        outputs: {},
        durationMs: 0,
      };
      record.steps.push(stepRecord);
      const setCtx = () => {
        if (stepRecord.id !== undefined) {
          stepsCtx[stepRecord.id] = {
            outcome: stepRecord.outcome,
            conclusion: stepRecord.conclusion,
            outputs: stepRecord.outputs,
          };
        }
      };
      if (Date.now() > deadline) {
        record.result = 'cancelled';
        setCtx();
        break;
      }
      if (this.config.stopBefore?.({ name, run: stepRecord.run, uses: stepRecord.uses }, record.key)) {
        for (const rest of steps.slice(i)) {
          const n = interpolate(stepName(rest, steps.indexOf(rest)), ev());
          if (rest !== step) {
            record.steps.push({
              ...stepRecord,
              name: n,
              run: typeof rest.run === 'string' ? rest.run : undefined,
              uses: typeof rest.uses === 'string' ? rest.uses : undefined,
              notRun: true,
            });
          }
        }
        stepRecord.notRun = true;
        this.log(`  step "${name}" and the rest: not run here`);
        break;
      }
      if (!condition(step.if as string | boolean | undefined, ev())) {
        this.log(`  step "${name}": skipped`);
        setCtx();
        continue;
      }
      const started = Date.now();
      const stepEnv: Record<string, string> = { ...jobEnv, ...added };
      for (const [k, v] of Object.entries(optObj(step.env, 'env'))) {
        stepEnv[k] = interpolate(toText(asValue(v)), { ...ev(), contexts: { ...ctx, env: stepEnv } });
      }
      const outputFile = path.join(files, `output-${i}`);
      const envFile = path.join(files, `env-${i}`);
      const pathFile = path.join(files, `path-${i}`);
      for (const f of [outputFile, envFile, pathFile]) {
        fs.writeFileSync(f, '');
      }
      const processEnv: Record<string, string> = {
        ...this.config.baseEnv,
        ...defaultEnv,
        ...stepEnv,
        GITHUB_OUTPUT: outputFile,
        GITHUB_ENV: envFile,
        GITHUB_PATH: pathFile,
      };
      processEnv.PATH = [...extraPath, this.config.baseEnv.PATH ?? ''].join(':');
      const stepTimeout =
        typeof step['timeout-minutes'] === 'number'
          ? step['timeout-minutes'] * 60_000
          : Number.MAX_SAFE_INTEGER;
      const timeoutMs = Math.min(stepTimeout, deadline - Date.now());
      let ok: boolean;
      if (typeof step.run === 'string') {
        const script = interpolate(step.run, { ...ev(), contexts: { ...ctx, env: stepEnv } });
        const scriptFile = path.join(files, `step-${i}.sh`);
        fs.writeFileSync(scriptFile, script);
        const cwd =
          typeof step['working-directory'] === 'string'
            ? path.join(workspace, step['working-directory'])
            : workspace;
        this.log(`  step "${name}": run`);
        const prefix = this.config.wrapRun?.(step.run) ?? [];
        const [command, ...args] = [...prefix, 'bash', '-e', scriptFile];
        const instead = await this.config.standIn?.(script, cwd);
        stepRecord.standIn = instead !== undefined || undefined;
        const r = instead ?? (await execCommand(command, args, { cwd, env: processEnv, timeoutMs }));
        stepRecord.exitCode = r.code;
        stepRecord.output = r.output;
        ok = r.code === 0;
      } else if (typeof step.uses === 'string') {
        const [action] = step.uses.split('@');
        const impl = this.config.actions[action];
        const inputs: Record<string, string> = {};
        for (const [k, v] of Object.entries(optObj(step.with, 'with'))) {
          inputs[k] = interpolate(toText(asValue(v)), { ...ev(), contexts: { ...ctx, env: stepEnv } });
        }
        stepRecord.inputs = inputs;
        if (impl === undefined) {
          throw new Error(`no local stand-in for action ${action} (step "${name}" of job ${record.key})`);
        }
        this.log(`  step "${name}": ${action}`);
        const lines: string[] = [];
        try {
          const result = await impl({
            uses: step.uses,
            inputs,
            env: processEnv,
            workspace,
            runnerTemp: temp,
            job: record,
            github,
            log: (line) => lines.push(line),
            exec: (command, args, o = {}) =>
              execCommand(command, args, {
                cwd: o.cwd ?? workspace,
                env: { ...processEnv, ...(o.env ?? {}) },
                timeoutMs,
              }),
          });
          stepRecord.outputs = result.outputs ?? {};
          extraPath.unshift(...(result.path ?? []));
          Object.assign(added, result.env ?? {});
          if (result.post !== undefined) {
            const post = result.post;
            posts.push(() => post(record.result));
          }
          if (result.failed !== undefined) {
            lines.push(`error: ${result.failed}`);
          }
          ok = result.failed === undefined;
        } catch (e) {
          lines.push(`error: ${e instanceof Error ? e.message : String(e)}`);
          ok = false;
        }
        stepRecord.output = lines.join('\n');
      } else {
        throw new Error(`step "${name}" has neither run nor uses`);
      }
      Object.assign(stepRecord.outputs, parseCommandFile(fs.readFileSync(outputFile, 'utf8')));
      Object.assign(added, parseCommandFile(fs.readFileSync(envFile, 'utf8')));
      extraPath.unshift(
        ...fs
          .readFileSync(pathFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .reverse(),
      );
      stepRecord.durationMs = Date.now() - started;
      stepRecord.outcome = ok ? 'success' : 'failure';
      const continueOnError = step['continue-on-error'] === true;
      stepRecord.conclusion = ok || continueOnError ? 'success' : 'failure';
      for (const secret of secretValues) {
        if (stepRecord.output.includes(secret)) {
          record.leaks.push(`step "${name}" printed a secret value`);
        }
      }
      this.log(`  step "${name}": ${stepRecord.outcome} (${stepRecord.durationMs} ms)`);
      if (stepRecord.conclusion === 'failure') {
        record.result = 'failure';
      }
      setCtx();
    }
    for (const post of posts.reverse()) {
      await post();
    }
    const outputs = optObj(job.outputs, 'outputs');
    for (const [k, v] of Object.entries(outputs)) {
      record.outputs[k] = interpolate(String(v), ev());
    }
  }
}

function optNeeds(value: unknown): string[] {
  if (value === undefined) {
    return [];
  }
  return typeof value === 'string' ? [value] : (value as string[]);
}

/** Runs a command to completion, output interleaved, bounded in time (the process group is killed). */
export function execCommand(
  command: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        try {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        } catch {
          // already gone
        }
      },
      Math.max(1, Math.min(opts.timeoutMs, 2 ** 31 - 1)),
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, output: String(e) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      resolve({
        code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
        output: timedOut ? `${output}\n[timed out after ${opts.timeoutMs} ms]` : output,
      });
    });
  });
}
