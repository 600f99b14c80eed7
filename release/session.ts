/**
 * One stack opened for a release step: the Automation API stack (LocalWorkspace on the project directory, so
 * config changes land in the stack's `Pulumi.<stack>.yaml`), its typed settings (exactly what the program reads:
 * `loadSettings`, and nothing else), the names of the slots' objects (from the stack's outputs), kubectl bound to
 * its namespace and the release log.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConcurrentUpdateError, LocalWorkspace, OutputMap, Stack } from '@pulumi/pulumi/automation';
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
import { HistoryEntryLike } from './history';
import { Kube } from './kube';
import { isLockError, LockHolder, lockMessage, parseLockHolders } from './lock';
import { ReleaseLog } from './log';

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
  kube!: Kube;
  /** The slots' objects, as the stack's outputs name them. */
  objects!: SlotObjectNames;
  private unappliedFile: Buffer | undefined;
  readonly out: (line: string) => void;

  private constructor(
    readonly name: string,
    readonly stack: Stack,
    readonly opts: SessionOptions,
    readonly log: ReleaseLog,
  ) {
    this.out = opts.out ?? ((line) => process.stdout.write(`${line}\n`));
  }

  static async open(name: string, command: string, opts: SessionOptions): Promise<Session> {
    const stack = await LocalWorkspace.selectStack(
      { stackName: name, workDir: opts.workDir },
      { workDir: opts.workDir, envVars: opts.envVars },
    );
    const session = new Session(name, stack, opts, new ReleaseLog(opts.workDir, name, command, opts.logEcho));
    await session.reload();
    session.objects = objectNamesFromOutputs(session.app, await stack.outputs());
    return session;
  }

  /** Re-reads the stack's config into typed settings (all problems at once, like the program). */
  async reload(): Promise<void> {
    const all = await this.stack.getAllConfig();
    const prefix = `${NAMESPACE}:`;
    const raw: Record<string, string> = {};
    for (const [key, v] of Object.entries(all)) {
      if (key.startsWith(prefix)) {
        raw[key.slice(prefix.length)] = v.value;
      }
    }
    // `pulumi config` lists Pulumi.yaml's placeholder defaults too: drop them, as the program does.
    const given = withoutDeclaredDefaults(raw);
    this.settings = loadSettings(this.name, given);
    this.raw = given;
    this.kube = new Kube(this.settings.namespace);
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
      await this.stack.setAllConfig(map);
    }
    const present = remove.filter((k) => this.raw[k] !== undefined).map((k) => `${NAMESPACE}:${k}`);
    if (present.length > 0) {
      await this.stack.removeAllConfig(present);
    }
    await this.reload();
  }

  /** Runs an operation under Pulumi's stack lock, turning a held lock into a clear message. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const text = errorText(e);
      if (e instanceof ConcurrentUpdateError || isLockError(text)) {
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
      const result = await this.locked(() =>
        this.stack.up({
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

  /** The stack's update history (`pulumi stack history`), under the lock message rules. */
  async history(): Promise<HistoryEntryLike[]> {
    return await this.locked(() => this.stack.history());
  }

  /** `pulumi preview`'s engine events. */
  async previewEvents(): Promise<EngineEventLike[]> {
    const events: EngineEventLike[] = [];
    await this.locked(() => this.stack.preview({ diff: true, onEvent: (e) => events.push(e) }));
    return events;
  }
}
