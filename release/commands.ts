/**
 * The release steps: deploy, promote (gates, switch, post-promotion check), rollback (instant, or to an earlier
 * stack version), status, history, preview and recover. Each changes the stack only through its config in
 * `Pulumi.<stack>.yaml` and `pulumi up`, so what is committed stays the source of truth.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { Slot } from '../stacks/app';
import { checkImage, imageVersion, checkLabelValue } from '../stacks/validators';
import { checkReleaseId, RELEASE_ID_ANNOTATION, RELEASED_AT_ANNOTATION } from '../stacks/release';
import {
  decideJob,
  GateResult,
  gateOrder,
  jobManifest,
  JobGate,
  jobName,
  jobState,
  smokeCommand,
  smokeEgressPolicy,
} from './gates';
import { EngineEventLike } from './events';
import { HistoryEntryLike, parseHistory, planRestore, renderHistory, ReleaseVersion } from './history';
import { DeploymentObject, JobObject, poll, run } from './kube';
import { renderMarkdown, summarizePreview } from './markdown';
import { fillQuery, Observation, PrometheusClient, watchWindow } from './postPromotion';
import { EXIT, holderAlive, ReleaseError, Session, SessionOptions, UpResult } from './session';

export interface ReleaseOptions extends SessionOptions {
  /** Commit the changed stack file (`git commit Pulumi.<stack>.yaml`). */
  commit?: boolean;
  /** Overrides `pavemaster:release.prometheusUrl`. */
  prometheusUrl?: string;
  /** Receives a preview's engine events (to record them, e.g. as test fixtures). */
  onEvents?: (events: EngineEventLike[]) => void;
}

/** A new release id: `r<yyyymmdd>-<hhmmss>` (UTC). */
export function newReleaseId(now: Date = new Date()): string {
  const iso = now.toISOString();
  return `r${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

async function finishConfigChange(s: Session, opts: ReleaseOptions, message: string): Promise<void> {
  const file = `Pulumi.${s.name}.yaml`;
  if (opts.commit) {
    const add = await run('git', ['add', '--', file], { cwd: opts.workDir });
    const commit =
      add.code === 0 ? await run('git', ['commit', '-m', message, '--', file], { cwd: opts.workDir }) : add;
    if (commit.code !== 0) {
      s.out(`warning: could not commit ${file}: ${(commit.stderr || commit.stdout).trim()}`);
      s.log.write('commit', 'warning', { detail: (commit.stderr || commit.stdout).trim() });
    } else {
      s.out(`committed ${file}: ${message}`);
      s.log.write('commit', 'succeeded', { detail: message });
    }
  } else {
    s.out(`${file} changed: commit it so a clean checkout deploys the same thing:`);
    s.out(`  git add ${file} && git commit -m "${message}"`);
  }
}

function releaseFields(s: Session): Record<string, unknown> {
  return { activeSlot: s.activeSlot, versions: s.versions(), images: s.images() };
}

// ---------------------------------------------------------------------------------------------------------------
// deploy

/** Puts a new image on the idle slot and runs `pulumi up`; the active slot and its Service are untouched. */
export async function deploy(
  stackName: string,
  image: string,
  opts: ReleaseOptions & { version?: string; releaseId?: string },
): Promise<{ releaseId: string; slot: Slot; up: UpResult }> {
  const s = await Session.open(stackName, 'deploy', opts);
  const problem = checkImage(image, { production: s.settings.production, requireDigest: false });
  if (problem !== undefined) {
    throw new ReleaseError(`image "${image}" is not valid: ${problem}`, EXIT.usage);
  }
  const version = opts.version ?? imageVersion(image);
  if (version === undefined || checkLabelValue(version) !== undefined) {
    throw new ReleaseError(`give --version: "${image}" has no usable tag for the version label`, EXIT.usage);
  }
  const releaseId = opts.releaseId ?? newReleaseId();
  if (checkReleaseId(releaseId) !== undefined) {
    throw new ReleaseError(`release id "${releaseId}": ${checkReleaseId(releaseId)}`, EXIT.usage);
  }
  const slot = s.idleSlot;
  s.log.set({ releaseId, slot, ...releaseFields(s) });
  s.log.write('deploy', 'started', { detail: `${image} (version ${version}) to idle slot ${slot}` });

  const values: Record<string, string> = {
    [`${slot}Image`]: image,
    [`${slot}ReleaseId`]: releaseId,
    [`${slot}ReleasedAt`]: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  const remove: string[] = [];
  if (opts.version !== undefined) {
    values[`${slot}Version`] = opts.version;
  } else {
    remove.push(`${slot}Version`);
  }
  await s.setConfig(values, remove);
  s.log.set(releaseFields(s));
  let up: UpResult;
  try {
    up = await s.up(`release deploy ${releaseId}: ${image} to ${slot}`);
  } catch (e) {
    if (e instanceof ReleaseError) {
      throw e;
    }
    s.log.write('deploy', 'failed', { detail: e instanceof Error ? e.message : String(e) });
    throw new ReleaseError(
      `pulumi up failed; traffic is unchanged on ${s.activeSlot}. ${e instanceof Error ? e.message : String(e)}`,
      EXIT.failed,
    );
  }
  // The idle slot may run no replica at all (idleReplicas 0): then promote scales it up and checks it.
  const readyPods =
    s.settings.app.idleReplicas > 0 ? (await waitReady(s, slot, s.previewService)).readyPods.length : 0;
  s.log.write('deploy', 'succeeded', {
    detail: `${slot} runs ${version}; ${readyPods} pod(s) Ready behind ${s.previewService}`,
    changes: up.changes,
    durationMs: up.durationMs,
  });
  s.out(`deployed ${image} (version ${version}, release ${releaseId}) to the idle slot ${slot}`);
  s.out(
    `traffic stays on ${s.activeSlot}; test it through Service ${s.previewService}, then: release promote ${stackName}`,
  );
  await finishConfigChange(s, opts, `release ${stackName}: deploy ${version} to ${slot} (${releaseId})`);
  return { releaseId, slot, up };
}

async function waitReady(s: Session, slot: Slot, service: string, timeoutSeconds?: number) {
  const timeoutMs = (timeoutSeconds ?? s.release.readyTimeoutSeconds) * 1000;
  let last = {
    ready: false,
    reasons: ['not checked yet'],
    readyPods: [] as string[],
    endpointPods: [] as string[],
  };
  return poll(
    async () => {
      last = await s.kube.slotReadiness(s.app, slot, service, s.version(slot));
      return last.ready ? last : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      what: `slot ${slot} to be Ready behind Service ${service}`,
      last: () => Promise.resolve(last.reasons.join('; ')),
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// gates

async function runJobGate(s: Session, gate: JobGate, slot: Slot, releaseId: string): Promise<GateResult> {
  const name = jobName(s.app, gate, releaseId);
  const existing = await s.kube.get<JobObject>('job', name);
  const decision = decideJob(gate, jobState(existing));
  if (decision === 'skip') {
    return {
      gate,
      ok: true,
      skipped: true,
      detail: `job/${name} already succeeded for release ${releaseId}`,
    };
  }
  if (decision === 'recreate') {
    await s.kube.delete('job', name);
  }
  const cfg = s.release;
  let manifest: Record<string, unknown>;
  let timeoutSeconds: number;
  if (gate === 'smoke') {
    const paths = cfg.smoke.paths ?? s.settings.app.smokePaths;
    timeoutSeconds = cfg.smoke.timeoutSeconds;
    await s.kube.apply(smokeEgressPolicy(s.app, s.settings.namespace, s.settings.app.port));
    manifest = jobManifest({
      app: s.app,
      namespace: s.settings.namespace,
      gate,
      releaseId,
      slot,
      image: cfg.smoke.image,
      command: smokeCommand(
        `http://${s.previewService}.${s.settings.namespace}.svc`,
        paths,
        cfg.smoke.requestTimeoutSeconds,
      ),
      timeoutSeconds,
      jobs: cfg.jobs,
      podAnnotations: cfg.smoke.podAnnotations,
    });
  } else {
    const g = cfg[gate];
    timeoutSeconds = g.timeoutSeconds;
    manifest = jobManifest({
      app: s.app,
      namespace: s.settings.namespace,
      gate,
      releaseId,
      slot,
      image: g.image ?? s.image(slot),
      command: g.command,
      env: {
        ...s.settings.app.env,
        PAVEMASTER_RELEASE_ID: releaseId,
        PAVEMASTER_SLOT: slot,
        PAVEMASTER_VERSION: s.version(slot),
      },
      secretEnv: s.settings.app.secretEnv,
      timeoutSeconds,
      jobs: cfg.jobs,
      podAnnotations: g.podAnnotations,
    });
  }
  if (decision !== 'wait') {
    await s.kube.apply(manifest);
  }
  const state = await poll(
    async () => {
      const st = jobState(await s.kube.get<JobObject>('job', name));
      return st === 'succeeded' || st === 'failed' ? st : undefined;
    },
    { timeoutMs: (timeoutSeconds + 60) * 1000, intervalMs: 500, what: `job/${name} to finish` },
  ).catch((e: Error) => e.message);
  if (state === 'succeeded') {
    return { gate, ok: true, detail: `job/${name} succeeded` };
  }
  const logs = await s.kube.jobLogs(name);
  const failedCondition = (await s.kube.get<JobObject>('job', name))?.status?.conditions?.find(
    (c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True',
  );
  const why = failedCondition
    ? ` (${[failedCondition.reason, failedCondition.message].filter(Boolean).join(': ')})`
    : '';
  return { gate, ok: false, detail: state === 'failed' ? `job/${name} failed${why}` : state, logs };
}

/** Runs the pre-promotion gates in order; stops at the first failure. */
export async function runGates(s: Session, slot: Slot, releaseId: string): Promise<GateResult[]> {
  const results: GateResult[] = [];
  for (const gate of gateOrder(s.release)) {
    const started = Date.now();
    s.log.write(`gate:${gate}`, 'started');
    let result: GateResult;
    if (gate === 'ready') {
      try {
        const r = await waitReady(s, slot, s.previewService);
        result = {
          gate,
          ok: true,
          detail: `${r.readyPods.length} pod(s) of ${slot} Ready and listed by ${s.previewService}`,
        };
      } catch (e) {
        result = { gate, ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
    } else {
      result = await runJobGate(s, gate, slot, releaseId);
    }
    results.push(result);
    s.log.write(`gate:${gate}`, result.ok ? (result.skipped ? 'skipped' : 'succeeded') : 'failed', {
      detail: result.detail,
      logs: result.logs,
      durationMs: Date.now() - started,
    });
    s.out(
      `gate ${gate}: ${result.ok ? (result.skipped ? 'skipped' : 'passed') : 'FAILED'} - ${result.detail}`,
    );
    if (!result.ok) {
      break;
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------------
// switching traffic

/** What a switch did and how long the EndpointSlices took to follow. */
export interface SwitchResult {
  from: Slot;
  to: Slot;
  up: UpResult;
  /** From the start of the switch until the active Service's EndpointSlices list only the new slot's pods. */
  switchMs: number;
  /** When the EndpointSlices switched (epoch ms). */
  switchedAt: number;
  endpointPods: string[];
}

/** Waits until the active Service's EndpointSlices list exactly the slot's ready pods. */
async function waitActiveEndpoints(s: Session, slot: Slot, timeoutMs: number): Promise<string[]> {
  let last = '';
  return poll(
    async () => {
      const r = await s.kube.slotReadiness(s.app, slot, s.activeService, s.version(slot));
      last = r.reasons.join('; ');
      return r.ready ? r.endpointPods : undefined;
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `Service ${s.activeService} to send traffic only to ${slot}`,
      last: () => Promise.resolve(last),
    },
  );
}

/**
 * Moves traffic to `to` by setting `pavemaster:activeSlot` and running `pulumi up`: only the two Services'
 * selectors change. Refuses when `to` is not Ready (never traffic on an unready slot).
 */
export async function switchTraffic(s: Session, to: Slot, why: string): Promise<SwitchResult> {
  const from = s.activeSlot;
  if (from === to) {
    throw new ReleaseError(`traffic is already on ${to}`, EXIT.usage);
  }
  const readiness = await s.kube.slotReadiness(s.app, to, s.previewService, s.version(to));
  if (!readiness.ready) {
    throw new ReleaseError(
      `slot ${to} is not Ready, traffic stays on ${from}: ${readiness.reasons.join('; ')}`,
      EXIT.gate,
      { gate: 'ready' },
    );
  }
  const started = Date.now();
  s.log.write('switch', 'started', { detail: `${from} -> ${to}: ${why}` });
  await s.setConfig({ activeSlot: to });
  let up: UpResult;
  try {
    up = await s.up(`release: traffic ${from} -> ${to} (${why})`);
  } catch (e) {
    s.log.write('switch', 'failed', { detail: e instanceof Error ? e.message : String(e) });
    throw e;
  }
  const endpointPods = await waitActiveEndpoints(s, to, s.release.readyTimeoutSeconds * 1000);
  const switchedAt = Date.now();
  const switchMs = switchedAt - started;
  s.log.write('switch', 'succeeded', {
    detail: `${from} -> ${to}; ${s.activeService} lists ${endpointPods.join(', ')}`,
    durationMs: switchMs,
    changes: up.changes,
    touched: up.touched.length,
    ...releaseFields(s),
  });
  s.out(
    `traffic: ${from} -> ${to} (${endpointPods.length} pod(s) behind ${s.activeService}, ${switchMs} ms)`,
  );
  return { from, to, up, switchMs, switchedAt, endpointPods };
}

/**
 * When the idle slot runs fewer replicas than the active one (`idleReplicas` < `replicas`), scales it up first
 * (Argo Rollouts' previewReplicaCount) by raising `idleReplicas` for the switch; returns the value to restore.
 */
async function scaleIdleUp(s: Session): Promise<string | undefined> {
  const { replicas, idleReplicas } = s.settings.app;
  if (idleReplicas >= replicas) {
    return undefined;
  }
  const previous = s.raw.idleReplicas;
  s.log.write('scale-up', 'started', { detail: `${s.idleSlot}: ${idleReplicas} -> ${replicas} replicas` });
  await s.setConfig({ idleReplicas: String(replicas) });
  await s.up(`release: scale ${s.idleSlot} up to ${replicas} before the switch`);
  s.log.write('scale-up', 'succeeded');
  return previous ?? '';
}

async function scaleIdleDown(s: Session, previous: string | undefined): Promise<void> {
  if (previous === undefined) {
    return;
  }
  if (previous === '') {
    await s.setConfig({}, ['idleReplicas']);
  } else {
    await s.setConfig({ idleReplicas: previous });
  }
  await s.up(`release: scale the idle slot ${s.idleSlot} back down`);
  s.log.write('scale-down', 'succeeded', {
    detail: `${s.idleSlot} at ${s.settings.app.idleReplicas} replicas`,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// post-promotion

async function postPromotion(s: Session, opts: ReleaseOptions, slot: Slot) {
  const p = s.release.postPromotion;
  const url = opts.prometheusUrl ?? s.release.prometheusUrl;
  const vars = { namespace: s.settings.namespace, app: s.app, slot, version: s.version(slot) };
  const queries = {
    errorRatio: fillQuery(p.errorRatioQuery, vars),
    p95: fillQuery(p.p95Query, vars),
    alerts: fillQuery(p.alertsQuery, vars),
  };
  const client = url ? new PrometheusClient(url) : undefined;
  const observe = async (): Promise<Observation> => {
    if (client === undefined) {
      return { ok: false, error: 'no Prometheus URL configured (pavemaster:release.prometheusUrl)' };
    }
    try {
      return { ok: true, sample: await client.sample(queries) };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  };
  s.log.write('post-promotion', 'started', {
    detail: `${p.windowSeconds}s window, every ${p.intervalSeconds}s, max error ratio ${p.maxErrorRatio}, max p95 ${p.maxP95Seconds}s`,
  });
  return watchWindow({
    settings: p,
    observe,
    onObservation: (obs, elapsed) =>
      s.log.write('post-promotion:sample', 'info', {
        elapsedSeconds: Math.round(elapsed),
        ...(obs.ok ? { sample: obs.sample } : { error: obs.error }),
      }),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// promote

export interface PromoteResult {
  gates: GateResult[];
  switched?: SwitchResult;
  rolledBack?: SwitchResult;
  postPromotion?: { action: 'keep' | 'rollback'; detail: string };
}

/**
 * Promotes the idle slot: gates, (scale-up), switch, post-promotion check with automatic flip-back,
 * (scale-down).
 */
export async function promote(stackName: string, opts: ReleaseOptions): Promise<PromoteResult> {
  const s = await Session.open(stackName, 'promote', opts);
  const from = s.activeSlot;
  const to = s.idleSlot;
  const releaseId = s.release.slots[to].releaseId ?? newReleaseId();
  s.log.set({ releaseId, slot: to, ...releaseFields(s) });
  s.log.write('promote', 'started', { detail: `${from} -> ${to} (${s.version(from)} -> ${s.version(to)})` });

  const restoreIdle = await scaleIdleUp(s);
  const gates = await runGates(s, to, releaseId);
  const failed = gates.find((g) => !g.ok);
  if (failed) {
    await scaleIdleDown(s, restoreIdle);
    s.log.write('promote', 'failed', { detail: `gate ${failed.gate} failed: ${failed.detail}` });
    throw new ReleaseError(
      `gate ${failed.gate} failed, traffic stays on ${from}: ${failed.detail}${failed.logs ? `\n--- logs ---\n${failed.logs}` : ''}`,
      EXIT.gate,
      { gate: failed.gate, logs: failed.logs },
    );
  }
  const switched = await switchTraffic(s, to, `promote ${releaseId}`);
  const check = await postPromotion(s, opts, to);
  const result: PromoteResult = { gates, switched, postPromotion: check };
  if (check.action === 'rollback') {
    s.log.write('post-promotion', 'failed', { detail: check.detail });
    s.out(`post-promotion check failed: ${check.detail}; flipping back to ${from}`);
    result.rolledBack = await switchTraffic(s, from, `automatic rollback: ${check.detail}`);
    await scaleIdleDown(s, restoreIdle);
    s.log.write('promote', 'rolled-back', { detail: check.detail });
    await finishConfigChange(
      s,
      opts,
      `release ${stackName}: ${releaseId} rolled back automatically (${check.detail})`,
    );
    throw Object.assign(
      new ReleaseError(`release ${releaseId} rolled back to ${from}: ${check.detail}`, EXIT.rolledBack),
      { result },
    );
  }
  s.log.write(
    'post-promotion',
    check.detail.startsWith('Prometheus is unreachable') ? 'warning' : 'succeeded',
    {
      detail: check.detail,
    },
  );
  s.out(check.detail);
  await scaleIdleDown(s, restoreIdle);
  s.log.write('promote', 'succeeded', { detail: `${to} active with ${s.version(to)}` });
  await finishConfigChange(s, opts, `release ${stackName}: promote ${s.version(to)} on ${to} (${releaseId})`);
  return result;
}

/** What `promote` would change, without changing anything: the Markdown preview of the switch. */
export async function previewPromote(stackName: string, opts: ReleaseOptions): Promise<string> {
  const s = await Session.open(stackName, 'preview', opts);
  const from = s.activeSlot;
  const to = s.idleSlot;
  const file = path.join(opts.workDir, `Pulumi.${stackName}.yaml`);
  const saved = fs.readFileSync(file);
  try {
    await s.setConfig({ activeSlot: to });
    const events = await s.previewEvents();
    opts.onEvents?.(events);
    return renderMarkdown(summarizePreview(events), { stack: `${stackName} (promote ${from} -> ${to})` });
  } finally {
    fs.writeFileSync(file, saved);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// rollback

/** Flips traffic back to the other slot, which still runs the previous version: a selector-only update. */
export async function rollback(stackName: string, opts: ReleaseOptions): Promise<SwitchResult> {
  const s = await Session.open(stackName, 'rollback', opts);
  const to = s.idleSlot;
  s.log.set({ releaseId: s.release.slots[to].releaseId, slot: to, ...releaseFields(s) });
  const restoreIdle = await scaleIdleUp(s);
  const result = await switchTraffic(s, to, 'rollback');
  await scaleIdleDown(s, restoreIdle);
  s.log.write('rollback', 'succeeded', { detail: `${result.from} -> ${to} (${s.version(to)})` });
  await finishConfigChange(s, opts, `release ${stackName}: rollback to ${s.version(to)} on ${to}`);
  return result;
}

async function historyEntries(s: Session): Promise<HistoryEntryLike[]> {
  return await s.locked(() => s.stack.history());
}

/** Restores what stack version `version` deployed (active slot, each slot's image) and runs `pulumi up`. */
export async function rollbackTo(
  stackName: string,
  version: number,
  opts: ReleaseOptions,
): Promise<{ restored: ReleaseVersion; up: UpResult }> {
  const s = await Session.open(stackName, 'rollback', opts);
  const entries = await historyEntries(s);
  let plan;
  try {
    plan = planRestore(entries, version);
  } catch (e) {
    throw new ReleaseError(e instanceof Error ? e.message : String(e), EXIT.usage);
  }
  const restored = parseHistory(entries).find((v) => v.version === version) as ReleaseVersion;
  s.log.set({ slot: restored.activeSlot, ...releaseFields(s) });
  s.log.write('rollback-to', 'started', {
    detail: `to stack version ${version}: ${restored.activeSlot} active, blue ${restored.images.blue}, green ${restored.images.green}`,
  });
  await s.setConfig(plan.set, plan.remove);
  const up = await s.up(`release: rollback to stack version ${version}`);
  const pods = await waitActiveEndpoints(s, s.activeSlot, s.release.readyTimeoutSeconds * 1000);
  s.log.write('rollback-to', 'succeeded', {
    detail: `${s.activeService} lists ${pods.join(', ')}`,
    ...releaseFields(s),
  });
  s.out(
    `restored stack version ${version}: ${s.activeSlot} active; blue ${s.image('blue')}, green ${s.image('green')}`,
  );
  await finishConfigChange(s, opts, `release ${stackName}: rollback to stack version ${version}`);
  return { restored, up };
}

// ---------------------------------------------------------------------------------------------------------------
// history, status, preview

export async function history(stackName: string, opts: ReleaseOptions): Promise<ReleaseVersion[]> {
  const s = await Session.open(stackName, 'history', opts);
  const versions = parseHistory(await historyEntries(s));
  s.out(renderHistory(versions));
  return versions;
}

export interface SlotStatus {
  slot: Slot;
  image?: string;
  version?: string;
  replicas: number;
  ready: number;
  releaseId?: string;
  releasedAt?: string;
}

export interface StatusReport {
  activeSlot?: Slot;
  activeEndpoints: string[];
  slots: SlotStatus[];
  drift: string[];
}

function readCommittedConfig(workDir: string, stack: string): Promise<Record<string, unknown> | undefined> {
  const file = `Pulumi.${stack}.yaml`;
  return run('git', ['show', `HEAD:./${file}`], { cwd: workDir }).then((r) => {
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
  });
}

/** Compares the live cluster, the last update and the committed stack file. */
export function compareSources(
  live: { activeSlot?: Slot; images: Partial<Record<Slot, string>> },
  lastUpdate: ReleaseVersion | undefined,
  file: { activeSlot?: string; images: Partial<Record<Slot, string>> } | undefined,
  fileLabel = 'the committed stack file',
): string[] {
  const drift: string[] = [];
  const check = (what: string, liveValue: string | undefined, other: string | undefined, source: string) => {
    if (other !== undefined && liveValue !== other) {
      drift.push(`${what}: live ${liveValue ?? '(none)'}, ${source} ${other}`);
    }
  };
  if (lastUpdate) {
    check('active slot', live.activeSlot, lastUpdate.activeSlot, `last update (v${lastUpdate.version})`);
    for (const slot of ['blue', 'green'] as const) {
      check(
        `${slot} image`,
        live.images[slot],
        lastUpdate.images[slot],
        `last update (v${lastUpdate.version})`,
      );
    }
  }
  if (file) {
    check('active slot', live.activeSlot, file.activeSlot ?? 'blue', fileLabel);
    for (const slot of ['blue', 'green'] as const) {
      check(`${slot} image`, live.images[slot], file.images[slot], fileLabel);
    }
  }
  return drift;
}

export async function status(stackName: string, opts: ReleaseOptions): Promise<StatusReport> {
  const s = await Session.open(stackName, 'status', opts);
  const selector = await s.kube.serviceSelector(s.activeService);
  const liveActive: Slot | undefined =
    selector?.slot === 'blue' ? 'blue' : selector?.slot === 'green' ? 'green' : undefined;
  const activeEndpoints = await s.kube.endpointPods(s.activeService);
  const slots: SlotStatus[] = [];
  for (const slot of ['blue', 'green'] as const) {
    const d = await s.kube.get<DeploymentObject>('deployment', `${s.app}-${slot}`);
    slots.push({
      slot,
      image: d?.spec?.template?.spec?.containers?.[0]?.image,
      version: d?.metadata.labels?.version,
      replicas: d?.spec?.replicas ?? 0,
      ready: d?.status?.readyReplicas ?? 0,
      releaseId: d?.metadata.annotations?.[RELEASE_ID_ANNOTATION],
      releasedAt: d?.metadata.annotations?.[RELEASED_AT_ANNOTATION],
    });
  }
  const entries = await historyEntries(s);
  const lastUpdate = parseHistory(entries).find((v) => v.kind === 'update' && v.result === 'succeeded');
  const committed = await readCommittedConfig(opts.workDir, stackName);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const file = committed
    ? {
        activeSlot: str(committed['pavemaster:activeSlot']),
        images: {
          blue: str(committed['pavemaster:blueImage']),
          green: str(committed['pavemaster:greenImage']),
        },
      }
    : undefined;
  const live = {
    activeSlot: liveActive,
    images: Object.fromEntries(slots.map((x) => [x.slot, x.image])) as Partial<Record<Slot, string>>,
  };
  const drift = compareSources(live, lastUpdate, file);
  if (file !== undefined && (file.activeSlot ?? 'blue') !== s.activeSlot) {
    drift.push(
      `active slot: working copy ${s.activeSlot}, committed ${file.activeSlot ?? 'blue'} (uncommitted change)`,
    );
  }
  s.out(`stack ${stackName}, namespace ${s.settings.namespace}`);
  s.out(
    `active: ${liveActive ?? '(no slot selected)'}; ${s.activeService} sends traffic to ${activeEndpoints.length ? activeEndpoints.join(', ') : 'no pod'}`,
  );
  for (const x of slots) {
    s.out(
      `  ${x.slot.padEnd(5)} ${x.slot === liveActive ? 'active' : 'idle  '} version ${x.version ?? '?'} image ${x.image ?? '?'} ready ${x.ready}/${x.replicas}` +
        (x.releaseId ? ` release ${x.releaseId} at ${x.releasedAt ?? '?'}` : ''),
    );
  }
  s.out(
    drift.length === 0
      ? 'drift: none (live cluster = last update = committed file)'
      : `drift:\n  ${drift.join('\n  ')}`,
  );
  return { activeSlot: liveActive, activeEndpoints, slots, drift };
}

/** `pulumi preview` as Markdown (or plain text). */
export async function preview(stackName: string, opts: ReleaseOptions): Promise<string> {
  const s = await Session.open(stackName, 'preview', opts);
  const events = await s.previewEvents();
  opts.onEvents?.(events);
  return renderMarkdown(summarizePreview(events), { stack: stackName });
}

// ---------------------------------------------------------------------------------------------------------------
// recover

/** The lock files of a stack in a file backend. */
export function findLockFiles(backendDir: string, project: string, stack: string): string[] {
  const candidates = [
    path.join(backendDir, '.pulumi', 'locks', 'organization', project, stack),
    path.join(backendDir, '.pulumi', 'locks', stack),
  ];
  const out: string[] = [];
  for (const dir of candidates) {
    if (fs.existsSync(dir)) {
      for (const f of fs.readdirSync(dir)) {
        if (f.endsWith('.json')) {
          out.push(path.join(dir, f));
        }
      }
    }
  }
  return out;
}

/**
 * Makes an interrupted stack usable again: removes a lock whose process is gone (file backend), clears the
 * pending operations an interrupted `pulumi up` left (export, edit, import) and refreshes the state from the
 * cluster. Refuses while the lock holder still runs.
 */
export async function recover(
  stackName: string,
  opts: ReleaseOptions,
): Promise<{ locks: number; pending: number }> {
  const s = await Session.open(stackName, 'recover', opts);
  const backend = opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL ?? '';
  let locks = 0;
  if (backend.startsWith('file://')) {
    const dir = backend.slice('file://'.length);
    const project = (await s.stack.workspace.projectSettings()).name;
    for (const file of findLockFiles(dir, project, stackName)) {
      const info = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        pid?: number;
        username?: string;
        hostname?: string;
        timestamp?: string;
      };
      const holder = { file, pid: info.pid, user: info.username, host: info.hostname, time: info.timestamp };
      if (holderAlive(holder) !== false) {
        throw new ReleaseError(
          `stack ${stackName} is locked by ${info.username ?? '?'}@${info.hostname ?? '?'} (pid ${info.pid ?? '?'}), which ${holderAlive(holder) ? 'still runs' : 'runs on another host'}: not removing its lock`,
          EXIT.locked,
        );
      }
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.attrs`, { force: true });
      locks++;
      s.log.write('recover:lock', 'succeeded', {
        detail: `removed the stale lock of pid ${info.pid ?? '?'}`,
      });
    }
  } else {
    s.out(
      `backend ${backend || '(default)'} is not a file backend: if a lock is stale, run \`pulumi cancel\``,
    );
  }
  const state = await s.locked(() => s.stack.exportStack());
  const deployment = state.deployment as { pending_operations?: unknown[] };
  const pending = deployment.pending_operations?.length ?? 0;
  if (pending > 0) {
    s.log.write('recover:pending', 'info', { detail: JSON.stringify(deployment.pending_operations) });
    deployment.pending_operations = [];
    await s.locked(() => s.stack.importStack(state));
    s.out(`cleared ${pending} pending operation(s) of the interrupted update`);
  }
  await s.locked(() => s.stack.refresh({ onOutput: opts.engineOutput }));
  s.log.write('recover', 'succeeded', {
    detail: `${locks} stale lock(s) removed, ${pending} pending operation(s) cleared, state refreshed`,
  });
  s.out(
    `recovered ${stackName}: ${locks} stale lock(s) removed, ${pending} pending operation(s) cleared, state refreshed`,
  );
  s.out(`next: release status ${stackName}, then re-run the interrupted step`);
  return { locks, pending };
}
