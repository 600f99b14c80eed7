/**
 * One stack opened for a release step: its typed settings (exactly what the program reads: `loadSettings`, and
 * nothing else), the names of the slots' objects (from the stack's outputs), the cluster client bound to its
 * namespace, the release log, and the Automation API stack (LocalWorkspace on the project directory, so config
 * changes land in the stack's `Pulumi.<stack>.yaml`) for the steps that run the CLI.
 *
 * Speed (issue 15): on a local file backend the config and outputs are read from the files (release/stackfiles.ts)
 * and the Automation API stack, with `@pulumi/pulumi/automation` itself, is created only when a step first needs
 * the CLI, which for promote and rollback is the recording update after traffic has moved. Any other backend, or
 * config only the CLI can resolve (a secret), opens through the CLI as before.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { OutputMap, Stack } from '@pulumi/pulumi/automation';
import {
  otherSlot,
  perSlot,
  Slot,
  SlotObjectNames,
  slotObjectNames,
  slotSelector,
} from '../components/shared/slots';
import { ReleaseSettings } from '../stacks/release';
import { withoutDeclaredDefaults } from '../stacks/schema';
import { loadSettings, NAMESPACE, Settings } from '../stacks/settings';
import { EngineEventLike } from './events';
import { parseDocument } from 'yaml';
import { FullRestorePlan, HistoryEntryLike } from './history';
import { Kube } from './kube';
import { isLockError, LockHolder, lockMessage, parseLockHolders } from './lock';
import { explain } from './errors';
import { LogRecord, ReleaseLog } from './log';
import { checkRunning } from './interrupt';
import { prog } from './prog';
import { ConfigEntry, readStackFiles } from './stackfiles';

/** An error that ends a release step with a message for the operator and an exit code. */
export class ReleaseError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: { gate?: string; logs?: string } = {},
  ) {
    super(message);
    this.name = 'ReleaseError';
  }
}

/** Exit codes of the release command. */
export const EXIT = {
  failed: 1,
  gate: 2,
  locked: 3,
  rolledBack: 4,
  usage: 64,
} as const;

export interface SessionOptions {
  /** The project directory (Pulumi.yaml and Pulumi.<stack>.yaml); default: the repository root. */
  workDir: string;
  /** Extra environment for the Pulumi CLI. */
  envVars?: Record<string, string>;
  /** Human-readable output (default: stdout). */
  out?: (line: string) => void;
  /** JSON log lines (default: stderr). */
  logEcho?: (line: string) => void;
  /** Stream the engine's own output (default: no). */
  engineOutput?: (text: string) => void;
  /** Receives every release-log record as it is written (progress display). */
  onRecord?: (record: LogRecord) => void;
}

/**
 * The names of the slots' objects as the deployed stack exports them (`activeServiceName`, `previewServiceName`,
 * `blueDeploymentName`, `greenDeploymentName`); the contract's names for a stack that has not exported them yet.
 */
export function objectNamesFromOutputs(app: string, outputs: OutputMap): SlotObjectNames {
  const names = slotObjectNames(app);
  const text = (key: string, fallback: string) => {
    const v = outputs[key]?.value as unknown;
    return typeof v === 'string' && v !== '' ? v : fallback;
  };
  return {
    activeService: text('activeServiceName', names.activeService),
    previewService: text('previewServiceName', names.previewService),
    deployments: perSlot((slot) => text(`${slot}DeploymentName`, names.deployments[slot])),
  };
}

/** What one `pulumi up` did. */
export interface UpResult {
  /** Non-`same` operations by kind. */
  changes: Record<string, number>;
  /** The resources whose step was not `same` (stack and providers left out). */
  touched: string[];
  durationMs: number;
  events: EngineEventLike[];
}

/** Whether a lock holder's process still runs (only known for this host). */
export function holderAlive(holder: LockHolder): boolean | undefined {
  if (holder.host !== os.hostname() || holder.pid === undefined) {
    return undefined;
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Session {
  settings!: Settings;
  raw: Record<string, string> = {};
  /** The keys of `raw` that are secret. */
  secretKeys = new Set<string>();
  kube!: Kube;
  /** The slots' objects, as the stack's outputs name them. */
  objects!: SlotObjectNames;
  /**
   * How the stack was opened: `files` (config and outputs read from the file backend and the stack file), or
   * `cli` with the reason the files were not enough.
   */
  openedFrom: { source: 'files' } | { source: 'cli'; reason: string } = { source: 'files' };
  private unappliedFile: Buffer | undefined;
  private stackPromise: Promise<Stack> | undefined;
  readonly out: (line: string) => void;

  private constructor(
    readonly name: string,
    readonly opts: SessionOptions,
    readonly log: ReleaseLog,
  ) {
    this.out = opts.out ?? ((line) => process.stdout.write(`${line}\n`));
  }

  /** The backend the CLI uses for this session (PULUMI_BACKEND_URL, the session's own first). */
  private get backendUrl(): string | undefined {
    return this.opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL;
  }

  static async open(name: string, command: string, opts: SessionOptions): Promise<Session> {
    const session = new Session(
      name,
      opts,
      new ReleaseLog(opts.workDir, name, command, opts.logEcho, opts.onRecord),
    );
    const started = Date.now();
    const files = readStackFiles(opts.workDir, name, session.backendUrl);
    if (typeof files !== 'string') {
      session.applyConfig(files.config);
      session.objects = objectNamesFromOutputs(session.app, files.outputs);
    } else {
      session.openedFrom = { source: 'cli', reason: files };
      await session.reload();
      session.objects = objectNamesFromOutputs(session.app, await (await session.pulumiStack()).outputs());
    }
    // Every record of the step says how the stack was opened and what that took (the bench's breakdown too).
    session.log.set({ stackOpen: { ...session.openedFrom, durationMs: Date.now() - started } });
    return session;
  }

  /**
   * The Automation API stack (`pulumi stack select` on the project directory), created on first use: the CLI
   * calls and the module load are paid only by the steps that run the CLI.
   */
  pulumiStack(): Promise<Stack> {
    this.stackPromise ??= import('@pulumi/pulumi/automation').then(({ LocalWorkspace }) =>
      LocalWorkspace.selectStack(
        { stackName: this.name, workDir: this.opts.workDir },
        { workDir: this.opts.workDir, envVars: this.opts.envVars },
      ),
    );
    // A failed select is not kept: the next step tries again.
    this.stackPromise.catch(() => {
      this.stackPromise = undefined;
    });
    return this.stackPromise;
  }

  /**
   * The stack's outputs: from the checkpoint file when the session opened from the files and no output holds a
   * secret, else the CLI's. A partial map would hide whole outputs: `monitoring` holds Grafana's admin password
   * beside `prometheusUrl`, and without it the post-promotion check found no Prometheus and every release ended
   * unverified (seen in releaseE2e.int). The check runs after the switch, so this costs the switch nothing.
   */
  async outputs(): Promise<OutputMap> {
    if (this.openedFrom.source === 'files') {
      const files = readStackFiles(this.opts.workDir, this.name, this.backendUrl);
      if (typeof files !== 'string' && files.secretOutputs.length === 0) {
        return files.outputs;
      }
    }
    return (await this.pulumiStack()).outputs();
  }

  /** Re-reads the stack's config into typed settings (all problems at once, like the program). */
  async reload(): Promise<void> {
    if (this.openedFrom.source === 'files') {
      const files = readStackFiles(this.opts.workDir, this.name, this.backendUrl);
      if (typeof files !== 'string') {
        this.applyConfig(files.config);
        return;
      }
      // The files no longer say everything (a secret was set meanwhile): the CLI reads the config from now on.
      this.openedFrom = { source: 'cli', reason: files };
    }
    this.applyConfig(await (await this.pulumiStack()).getAllConfig());
  }

  /** Takes a whole config (namespaced keys, as `pulumi config --json` lists them) as the session's settings. */
  private applyConfig(all: Record<string, ConfigEntry>): void {
    const prefix = `${NAMESPACE}:`;
    const raw: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [key, v] of Object.entries(all)) {
      if (key.startsWith(prefix)) {
        raw[key.slice(prefix.length)] = v.value;
        if (v.secret) {
          secretKeys.add(key.slice(prefix.length));
        }
      }
    }
    this.secretKeys = secretKeys;
    // `pulumi config` lists Pulumi.yaml's placeholder defaults too: drop them, as the program does.
    const given = withoutDeclaredDefaults(raw);
    this.settings = loadSettings(this.name, given);
    this.raw = given;
    this.kube = new Kube(this.settings.namespace);
    // What the progress display shows beside each step: its timeout, the post-promotion thresholds.
    const r = this.settings.release;
    const p = r.postPromotion;
    this.log.stepFields = {
      'gate:ready': { timeoutSeconds: r.readyTimeoutSeconds },
      'gate:backup': { timeoutSeconds: r.backup.timeoutSeconds },
      'gate:migration': { timeoutSeconds: r.migration.timeoutSeconds },
      'gate:smoke': { timeoutSeconds: r.smoke.timeoutSeconds },
      'post-promotion': { timeoutSeconds: p.windowSeconds },
      'post-promotion:sample': {
        thresholds: { maxErrorRatio: p.maxErrorRatio, maxP95Seconds: p.maxP95Seconds },
      },
    };
  }

  /** How the release command gates and checks releases of this stack (`pavemaster:release`). */
  get release(): ReleaseSettings {
    return this.settings.release;
  }

  /** The stack file: `Pulumi.<stack>.yaml` in the project. */
  get stackFile(): string {
    return path.join(this.opts.workDir, `Pulumi.${this.name}.yaml`);
  }

  get app(): string {
    return this.settings.app.appName;
  }
  get activeSlot(): Slot {
    return this.settings.app.activeSlot;
  }
  get idleSlot(): Slot {
    return otherSlot(this.activeSlot);
  }
  get activeService(): string {
    return this.objects.activeService;
  }
  get previewService(): string {
    return this.objects.previewService;
  }
  /** A slot's Deployment and the selector of its pods, for readiness checks. */
  slotObjects(slot: Slot): { deployment: string; selector: Record<string, string> } {
    return { deployment: this.objects.deployments[slot], selector: slotSelector(this.app, slot) };
  }
  /** The `version` label a slot's pods should carry. */
  version(slot: Slot): string {
    return this.settings.app.slots[slot].version;
  }
  image(slot: Slot): string {
    return this.settings.app.slots[slot].image;
  }
  versions(): Record<Slot, string> {
    return perSlot((slot) => this.version(slot));
  }
  images(): Record<Slot, string> {
    return perSlot((slot) => this.image(slot));
  }

  /** Writes config keys to `Pulumi.<stack>.yaml` (and removes others), then reloads the settings. */
  async setConfig(values: Record<string, string>, remove: readonly string[] = []): Promise<void> {
    // Validate the resulting config first: a value the program would reject never reaches the stack file.
    const next = { ...this.raw, ...values };
    for (const k of remove) {
      delete next[k];
    }
    try {
      loadSettings(this.name, next);
    } catch (e) {
      throw new ReleaseError(
        `the change was not written: ${e instanceof Error ? e.message : String(e)}`,
        EXIT.usage,
      );
    }
    // Kept until the next successful update, so a refused update (stack locked) leaves the file as it was.
    this.unappliedFile ??= fs.readFileSync(this.stackFile);
    const map: Record<string, { value: string; secret: boolean }> = {};
    for (const [k, v] of Object.entries(values)) {
      map[`${NAMESPACE}:${k}`] = { value: v, secret: false };
    }
    if (Object.keys(map).length > 0) {
      await (await this.pulumiStack()).setAllConfig(map);
    }
    const present = remove.filter((k) => this.raw[k] !== undefined).map((k) => `${NAMESPACE}:${k}`);
    if (present.length > 0) {
      await (await this.pulumiStack()).removeAllConfig(present);
    }
    await this.reload();
  }

  /**
   * Writes a whole recorded config back (`rollback --to`): plain keys into the stack file as values (an object
   * stays a YAML mapping), secrets through Pulumi (encrypted, never written in clear), removed keys deleted.
   * Validated like `setConfig` first; only changed keys are rewritten.
   */
  async restoreConfig(plan: FullRestorePlan): Promise<void> {
    const next: Record<string, string> = {};
    for (const [k, v] of Object.entries(plan.set)) {
      next[k] = v.value;
    }
    try {
      loadSettings(this.name, next);
    } catch (e) {
      throw new ReleaseError(
        `stack version ${plan.version}'s config was not restored: ${e instanceof Error ? e.message : String(e)}`,
        EXIT.usage,
      );
    }
    this.unappliedFile ??= fs.readFileSync(this.stackFile);
    const doc = parseDocument(fs.readFileSync(this.stackFile, 'utf8'));
    const secrets: Record<string, { value: string; secret: boolean }> = {};
    for (const [k, v] of Object.entries(plan.set)) {
      if (this.raw[k] === v.value && this.secretKeys.has(k) === v.secret) {
        continue;
      }
      if (v.secret) {
        secrets[`${NAMESPACE}:${k}`] = v;
        continue;
      }
      let node: unknown = v.value;
      if (/^\s*[[{]/.test(v.value)) {
        try {
          node = JSON.parse(v.value) as unknown;
        } catch {
          node = v.value;
        }
      }
      doc.setIn(['config', `${NAMESPACE}:${k}`], doc.createNode(node));
    }
    for (const k of plan.remove) {
      doc.deleteIn(['config', `${NAMESPACE}:${k}`]);
    }
    fs.writeFileSync(this.stackFile, doc.toString());
    if (Object.keys(secrets).length > 0) {
      await (await this.pulumiStack()).setAllConfig(secrets);
    }
    await this.reload();
  }

  /** Runs an operation under Pulumi's stack lock, turning a held lock into a clear message. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    // Once the command is being stopped (SIGTERM), no update starts (a revert included).
    checkRunning();
    try {
      return await fn();
    } catch (e) {
      const text = errorText(e);
      if ((e instanceof Error && e.name === 'ConcurrentUpdateError') || isLockError(text)) {
        const message = lockMessage(this.name, parseLockHolders(text), holderAlive);
        this.log.write('lock', 'failed', { detail: message });
        throw new ReleaseError(message, EXIT.locked);
      }
      throw e;
    }
  }

  /** `pulumi up` with the engine events kept. */
  async up(message: string): Promise<UpResult> {
    const events: EngineEventLike[] = [];
    const started = Date.now();
    try {
      const stack = await this.pulumiStack();
      const result = await this.locked(() =>
        stack.up({
          message,
          onEvent: (e) => events.push(e),
          onOutput: this.opts.engineOutput,
        }),
      );
      this.objects = objectNamesFromOutputs(this.app, result.outputs);
    } catch (e) {
      if (e instanceof ReleaseError && e.exitCode === EXIT.locked && this.unappliedFile !== undefined) {
        // Nothing ran: put the stack file back so it still says what is deployed.
        fs.writeFileSync(this.stackFile, this.unappliedFile);
        this.unappliedFile = undefined;
        await this.reload();
      }
      if (!(e instanceof ReleaseError) && this.unappliedFile !== undefined) {
        throw await this.revert(message, e);
      }
      throw e;
    }
    this.unappliedFile = undefined;
    const changes: Record<string, number> = {};
    const touched: string[] = [];
    for (const e of events) {
      const m = e.resourcePreEvent?.metadata;
      if (
        !m ||
        m.op === 'same' ||
        m.type === 'pulumi:pulumi:Stack' ||
        m.type.startsWith('pulumi:providers:')
      ) {
        continue;
      }
      changes[m.op] = (changes[m.op] ?? 0) + 1;
      touched.push(m.urn);
    }
    return { changes, touched, durationMs: Date.now() - started, events };
  }

  /**
   * A failed update may have applied part of the change (one Service switched, the other not). The stack file
   * goes back to what it said before this step, and a second `pulumi up` brings the cluster back to it, so the
   * file, the state and the cluster agree again; the error says which of that worked.
   */
  private async revert(message: string, cause: unknown): Promise<ReleaseError> {
    const why = explain(cause, { stack: this.name, command: 'pulumi up' }).message;
    fs.writeFileSync(this.stackFile, this.unappliedFile as Buffer);
    this.unappliedFile = undefined;
    await this.reload();
    this.log.write('revert', 'started', { detail: `${message} failed: ${why}` });
    try {
      const stack = await this.pulumiStack();
      await this.locked(() =>
        stack.up({
          message: `release: revert of a failed update (${message})`,
          onOutput: this.opts.engineOutput,
        }),
      );
    } catch (e) {
      const again = explain(e, { stack: this.name, command: 'pulumi up' }).message;
      this.log.write('revert', 'failed', { detail: again });
      return new ReleaseError(
        `${message} failed (${why}); the stack file was put back, but the update that restores the cluster failed too (${again}): run \`${prog()} recover ${this.name}\`, then \`${prog()} status ${this.name}\``,
        EXIT.failed,
      );
    }
    this.log.write('revert', 'succeeded', {
      detail: 'stack file and cluster back to what they were before the step',
    });
    return new ReleaseError(
      `${message} failed (${why}); the stack file was put back and a second pulumi up brought the cluster back to it: nothing changed, fix the cause and retry`,
      EXIT.failed,
    );
  }

  /** The stack's update history (`pulumi stack history`), under the lock message rules. */
  async history(): Promise<HistoryEntryLike[]> {
    const stack = await this.pulumiStack();
    return await this.locked(() => stack.history());
  }

  /** `pulumi preview`'s engine events. */
  async previewEvents(): Promise<EngineEventLike[]> {
    const events: EngineEventLike[] = [];
    const stack = await this.pulumiStack();
    await this.locked(() => stack.preview({ diff: true, onEvent: (e) => events.push(e) }));
    return events;
  }
}
