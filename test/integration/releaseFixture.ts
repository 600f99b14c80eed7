/**
 * The throwaway stack the release tests on real pods share (releaseE2e, releaseJobs, releaseKill): a copy of the
 * staging stack with its own namespace and file backend whose app pods run on the real node, and the ways those
 * tests drive and read it: the release command as an operator runs it (the package's bin, its own process), the
 * stack file as an operator edits it, the live selectors and ready pods, and the agreement of stack file, state,
 * live Services and the next preview.
 *
 * One `RealStack` per test file: `start()` in `beforeAll` (fails with the reason when the real node or an image is
 * missing, never skips), `stop()` in `afterAll` (destroys the stack and removes the copy).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseDocument } from 'yaml';
import { otherSlot, Slot } from '../../components/shared/slots';
import { abort, ReleaseOptions } from '../../release/commands';
import { DeploymentObject, Kube, PodObject } from '../../release/kube';
import { LogRecord } from '../../release/log';
import { readReleaseLock } from '../../release/lock';
import { ReleaseError } from '../../release/session';
import { createSandbox, envFromScript, REPO, Sandbox } from '../../release/testing/sandbox';
import { hostGet, REAL_NODE, waitForRealNode } from './realnode';

/** The app's name in the staging stack (its Services are `pavemaster` and `pavemaster-preview`). */
export const APP = 'pavemaster';
/** The package's bin: the release command as an operator runs it. */
export const BIN = path.join(REPO, 'release', 'bin', 'pavemaster.js');

/** A pod as these tests read it: where it runs and what it runs. */
export type Pod = PodObject & {
  spec?: { nodeName?: string; containers?: { name: string; image?: string }[] };
};

/** The image references the local registry serves (scripts/images writes served.json). */
export function served(): Set<string> {
  const file = path.join(REPO, '.local', 'images', 'served.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: scripts/images has not run`);
  }
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { images?: unknown };
  return new Set(Array.isArray(parsed.images) ? parsed.images.map(String) : []);
}

/** The error a step failed with; fails the test when it succeeded or threw something else. */
export async function refused(p: Promise<unknown>): Promise<ReleaseError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof ReleaseError)) {
    throw new Error(
      `expected the step to fail with a ReleaseError, got ${e === undefined ? 'success' : e instanceof Error ? e.message : JSON.stringify(e)}`,
    );
  }
  return e;
}

/** What a run of the bin ended with. */
export interface CliRun {
  code: number | null;
  /** The signal that ended it, when one did (a SIGKILL runs no code of the command). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A run of the bin in progress. */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  done: Promise<CliRun>;
}

export class RealStack {
  sandbox!: Sandbox;
  kube!: Kube;
  opts!: ReleaseOptions;
  /** Every line the library calls printed, and each bin run's output (for RECORD_RELEASE_OUTPUT). */
  readonly output: string[] = [];
  /** The release-log records of the library calls. */
  readonly records: LogRecord[] = [];

  constructor(readonly stack: string) {}

  /**
   * Waits for the real node (a cluster started again on its kept data can show it NotReady for a moment after
   * `scripts/cluster start` said Ready), checks that the registry serves `images`, creates the sandbox from the
   * staging stack with `overrides` (namespace: the stack's name), runs `pulumi up`, and checks that the app's
   * pods run on the real node.
   */
  async start(overrides: Record<string, unknown>, images: readonly string[]): Promise<void> {
    Object.assign(process.env, envFromScript());
    process.env.PAVEMASTER_RELEASE_PROG = 'pavemaster';
    await waitForRealNode();
    const have = served();
    const missing = images.filter((i) => !have.has(i));
    if (missing.length > 0) {
      throw new Error(
        `the local registry does not serve ${missing.join(', ')} (scripts/images): the test needs them`,
      );
    }
    this.sandbox = await createSandbox({
      stackName: this.stack,
      fromStack: 'staging',
      env: {},
      overrides: { namespace: this.stack, ...overrides },
    });
    this.opts = {
      workDir: this.sandbox.dir,
      envVars: { PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? '' },
      out: (line) => this.output.push(line),
      logEcho: () => undefined,
      onRecord: (r) => this.records.push(r),
    };
    this.kube = new Kube(this.sandbox.namespace);
    await this.sandbox.stack.up({ onOutput: () => undefined });
    const pods = await this.kube.list<Pod>('pods', `app=${APP}`);
    const elsewhere = pods.filter((p) => p.spec?.nodeName !== REAL_NODE).map((p) => p.metadata.name);
    if (elsewhere.length > 0) {
      throw new Error(`the app's pods must run on the real node; these do not: ${elsewhere.join(', ')}`);
    }
  }

  /** Writes the output to `$RECORD_RELEASE_OUTPUT/<recordName>` when set, then destroys the sandbox. */
  async stop(recordName: string): Promise<void> {
    if (process.env.RECORD_RELEASE_OUTPUT) {
      fs.writeFileSync(path.join(process.env.RECORD_RELEASE_OUTPUT, recordName), this.output.join('\n'));
    }
    await this.sandbox?.cleanup();
  }

  /** Starts the bin (`pavemaster <args> --work-dir <sandbox>`) in its own process. */
  startCli = (args: readonly string[]): CliProcess => {
    const child = spawn(BIN, [...args, '--work-dir', this.sandbox.dir], { env: process.env, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const done = new Promise<CliRun>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        const r = {
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        };
        this.output.push(
          `$ pavemaster ${args.join(' ')}${signal ? ` (${signal})` : ''}\n${r.stdout}${r.stderr}`,
        );
        resolve(r);
      });
    });
    return { child, pid: child.pid as number, done };
  };

  /** The bin, run to its end. */
  cli = (args: readonly string[]): Promise<CliRun> => this.startCli(args).done;

  /** Edits the sandbox's stack file as an operator would; only the edited keys are rewritten. */
  editStackFile = (edit: (config: Record<string, unknown>) => void): void => {
    const doc = parseDocument(fs.readFileSync(this.sandbox.stackFile, 'utf8'));
    const config = (doc.toJS() as { config: Record<string, unknown> }).config;
    const before = JSON.stringify(config);
    edit(config);
    for (const [key, value] of Object.entries(config)) {
      if (JSON.stringify(value) !== JSON.stringify((JSON.parse(before) as Record<string, unknown>)[key])) {
        doc.setIn(['config', key], doc.createNode(value));
      }
    }
    fs.writeFileSync(this.sandbox.stackFile, doc.toString());
  };

  /** The stack file's config, as the release command reads it. */
  stackConfig = (): Record<string, unknown> =>
    (
      parseDocument(fs.readFileSync(this.sandbox.stackFile, 'utf8')).toJS() as {
        config: Record<string, unknown>;
      }
    ).config;

  /** Merges `patch` into `pavemaster:release`. */
  setRelease = (patch: Record<string, unknown>): void => {
    this.editStackFile((c) => {
      c['pavemaster:release'] = { ...(c['pavemaster:release'] as Record<string, unknown>), ...patch };
    });
  };

  /** The slot a live Service selects. */
  selector = async (service: string): Promise<string | undefined> =>
    (await this.kube.serviceSelector(service))?.slot;

  /** A slot's Ready, not terminating pods. */
  readyPods = async (slot: string): Promise<Pod[]> =>
    (await this.kube.list<Pod>('pods', `app=${APP},slot=${slot}`)).filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    );

  /** A slot Deployment's desired replicas. */
  specReplicas = async (slot: string): Promise<number | undefined> =>
    (await this.kube.get<DeploymentObject>('deployment', `${APP}-${slot}`))?.spec?.replicas;

  /** The active Service's URL from the host (kube-proxy's rules for its ClusterIP). */
  activeUrl = async (route = '/api/roads'): Promise<string> => {
    const svc = await this.kube.get<{ spec?: { clusterIP?: string } }>('service', APP);
    if (!svc?.spec?.clusterIP) {
      throw new Error(`Service ${APP} has no ClusterIP`);
    }
    return `http://${svc.spec.clusterIP}:80${route}`;
  };

  /** The version header of one request through the active Service, or the error. */
  activeVersion = async (route = '/'): Promise<string> => {
    const r = await hostGet(await this.activeUrl(route));
    return 'error' in r ? `error: ${r.error}` : `${r.status} ${String(r.headers['x-pavemaster-version'])}`;
  };

  /** A release left open by a failed step is aborted, so the next test starts from a clean stack. */
  abortIfOpen = async (): Promise<void> => {
    if ((await readReleaseLock(this.kube, APP)) !== undefined) {
      await abort(this.stack, this.opts).catch((e: unknown) =>
        this.output.push(`abort after a failed step: ${String(e)}`),
      );
    }
  };

  /** Runs a test body; when it throws, the open release is aborted before the error is passed on. */
  cleanOnFailure = async <T>(body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (e) {
      await this.abortIfOpen();
      throw e;
    }
  };

  /**
   * The stack file, the state (`pulumi stack export`: the Services' applied selectors), the live Services and the
   * next preview agree that `slot` is active.
   */
  expectAgreement = async (slot: Slot): Promise<void> => {
    const idle = otherSlot(slot);
    expect(this.stackConfig()['pavemaster:activeSlot']).toBe(slot);
    const state = (await this.sandbox.stack.exportStack()).deployment as {
      resources?: {
        type: string;
        outputs?: { metadata?: { name?: string }; spec?: { selector?: Record<string, string> } };
      }[];
    };
    const inState = (name: string) =>
      state.resources?.find(
        (r) => r.type === 'kubernetes:core/v1:Service' && r.outputs?.metadata?.name === name,
      )?.outputs?.spec?.selector?.slot;
    expect({ active: inState(APP), preview: inState(`${APP}-preview`) }).toEqual({
      active: slot,
      preview: idle,
    });
    expect({ active: await this.selector(APP), preview: await this.selector(`${APP}-preview`) }).toEqual({
      active: slot,
      preview: idle,
    });
    const preview = await this.sandbox.stack.preview({ onOutput: () => undefined });
    const changes = Object.entries(preview.changeSummary).filter(([op, n]) => op !== 'same' && (n ?? 0) > 0);
    expect(changes).toEqual([]);
  };

  /** The release log the commands wrote (library calls and bin runs alike), from `since` (epoch ms) on. */
  logSince = (since = 0): LogRecord[] => {
    const file = path.join(this.sandbox.dir, '.pulumi-state', 'releases', `${this.stack}.jsonl`);
    if (!fs.existsSync(file)) {
      return [];
    }
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogRecord];
        } catch {
          // an empty line, or the last one while the command writes it
          return [];
        }
      })
      .filter((r) => Date.parse(r.time) >= since);
  };
}
