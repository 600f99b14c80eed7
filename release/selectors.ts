/**
 * The two Services' selectors as the Pulumi Kubernetes provider last applied them, read from the stack's state,
 * and a server-side apply of a new selector under the provider's own field manager.
 *
 * Why the whole applied object and not just the selector: server-side apply gives a field manager exactly the
 * fields of its last apply, so an apply of `spec.selector` alone under the provider's manager would drop its
 * ownership of (and so delete) the ports, labels and annotations it set. The body is the Service's inputs from
 * the state (what the provider applied) with only the selector changed: the provider keeps owning every field,
 * and its next apply of the same inputs is a no-op without conflicts.
 */
import { spawn } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { parse } from 'yaml';
import { Slot, slotSelector } from '../components/shared/slots';
import { LockHolder, lockMessage, readLockFile } from './lock';
import { EXIT, holderAlive, ReleaseError, Session } from './session';

/** One Service as the state records it. */
export interface ServiceState {
  urn: string;
  /** What the provider applied (the resource's inputs). */
  inputs: ServiceInputs;
  /** The provider's field manager for this object (`__fieldManager` in the outputs). */
  fieldManager: string;
}

export interface ServiceInputs {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; [k: string]: unknown };
  spec?: { selector?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

interface StateResource {
  urn: string;
  type: string;
  inputs?: ServiceInputs;
  outputs?: { __fieldManager?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
}

interface StateDeployment {
  resources?: StateResource[];
}

/**
 * A self-managed file backend (`file://`, layout version 1: project-scoped stacks), read and locked straight from
 * its files, as the CLI does, without a CLI process. `undefined` for any other backend or layout: then the
 * release command goes through the CLI.
 */
export interface FileBackend {
  /** The stack's checkpoint (what `pulumi stack export` prints as `deployment`), or undefined without one. */
  state(stack: string): StateDeployment | undefined;
  /**
   * Takes the stack's lock as the CLI does (a lock file of its own, then no other may exist); returns its
   * release. Throws a ReleaseError (EXIT.locked) naming the holders when another update holds it.
   */
  lock(stack: string): () => void;
}

export function fileBackend(backendUrl: string | undefined, workDir: string): FileBackend | undefined {
  if (backendUrl === undefined || !backendUrl.startsWith('file://')) {
    return undefined;
  }
  const root = path.join(backendUrl.slice('file://'.length).replace(/\?.*$/, ''), '.pulumi');
  const meta = path.join(root, 'meta.yaml');
  if (!fs.existsSync(meta) || (parse(fs.readFileSync(meta, 'utf8')) as { version?: unknown }).version !== 1) {
    return undefined;
  }
  const project = (parse(fs.readFileSync(path.join(workDir, 'Pulumi.yaml'), 'utf8')) as { name?: unknown })
    .name;
  if (typeof project !== 'string') {
    return undefined;
  }
  return {
    state(stack) {
      const base = path.join(root, 'stacks', project, stack);
      let text: string | undefined;
      if (fs.existsSync(`${base}.json`)) {
        text = fs.readFileSync(`${base}.json`, 'utf8');
      } else if (fs.existsSync(`${base}.json.gz`)) {
        text = zlib.gunzipSync(fs.readFileSync(`${base}.json.gz`)).toString('utf8');
      }
      if (text === undefined) {
        return undefined;
      }
      return (JSON.parse(text) as { checkpoint?: { latest?: StateDeployment } }).checkpoint?.latest;
    },
    lock(stack) {
      const dir = path.join(root, 'locks', 'organization', project, stack);
      fs.mkdirSync(dir, { recursive: true });
      const own = path.join(dir, `${randomUUID()}.json`);
      // Armed before the file exists: whenever this process ends from here on, the file goes with it.
      const watchdog = lockWatchdog(own);
      fs.writeFileSync(
        own,
        JSON.stringify({
          pid: process.pid,
          username: os.userInfo().username,
          hostname: os.hostname(),
          timestamp: new Date(),
        }),
      );
      const others = fs.readdirSync(dir).filter((f) => path.join(dir, f) !== own);
      if (others.length > 0) {
        fs.rmSync(own, { force: true });
        watchdog();
        const holders: LockHolder[] = others.map((f) => {
          try {
            return { ...readLockFile(path.join(dir, f)), file: f };
          } catch {
            return { file: f };
          }
        });
        throw new ReleaseError(lockMessage(stack, holders, holderAlive), EXIT.locked);
      }
      return () => {
        fs.rmSync(own, { force: true });
        watchdog();
      };
    },
  };
}

/**
 * How often the lock's watchdog looks whether the command still runs, in seconds: a lock of a killed switch is
 * gone this long after the kill, at most.
 */
export const LOCK_WATCHDOG_INTERVAL_SECONDS = 0.1;

/**
 * Removes the switch's lock file once this process has ended, however it ended. The switch holds Pulumi's stack
 * lock for the few milliseconds its selectors change (a critical section a SIGTERM waits for, release/interrupt.ts);
 * a SIGKILL or an OOM kill in that window runs no code of ours, and the file would stay: every later `pulumi up`
 * and release refused as locked until someone ran `recover`. So a small shell watches this process (by pid, until it
 * is gone or a zombie) and then deletes the file; the normal unlock deletes the file itself and stops the shell.
 * The shell is started before the lock file is written and needs no signal (a parent-death signal could
 * arrive before a trap was set). Returns the disarm function.
 */
export function lockWatchdog(file: string, pid: number = process.pid): () => void {
  const script = [
    'p=$1; f=$2',
    'while read -r s 2>/dev/null </proc/"$p"/stat; do',
    '  s=${s##*) }',
    '  [ "${s%% *}" = Z ] && break',
    `  sleep ${LOCK_WATCHDOG_INTERVAL_SECONDS}`,
    'done',
    'rm -f -- "$f"',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'pavemaster-lock-watchdog', String(pid), file], {
    stdio: 'ignore',
  });
  child.on('error', () => undefined);
  child.unref();
  return () => {
    child.kill('SIGKILL');
  };
}

/** Finds the two Services of the switch in a deployment (by their object names and namespace). */
export function servicesInState(
  deployment: StateDeployment,
  namespace: string,
  names: { active: string; preview: string },
): { active: ServiceState; preview: ServiceState } | string {
  const found: Partial<Record<'active' | 'preview', ServiceState>> = {};
  for (const r of deployment.resources ?? []) {
    if (r.type !== 'kubernetes:core/v1:Service' || r.inputs === undefined) {
      continue;
    }
    const name = r.outputs?.metadata?.name;
    if (r.outputs?.metadata?.namespace !== namespace) {
      continue;
    }
    const role = name === names.active ? 'active' : name === names.preview ? 'preview' : undefined;
    if (role === undefined) {
      continue;
    }
    const fm = r.outputs?.__fieldManager;
    if (typeof fm !== 'string' || fm === '') {
      return `Service ${String(name)} has no field manager in the state (the provider is not in server-side apply mode)`;
    }
    if (found[role] !== undefined) {
      return `two Services named ${String(name)} in the state`;
    }
    found[role] = { urn: r.urn, inputs: r.inputs, fieldManager: fm };
  }
  if (found.active === undefined || found.preview === undefined) {
    return `the state has no Service ${found.active === undefined ? names.active : names.preview} in ${namespace}`;
  }
  return { active: found.active, preview: found.preview };
}

/** Whether a selector is exactly the slot's (what the program gives the Services). */
export function selectsSlot(selector: Record<string, string> | undefined, app: string, slot: Slot): boolean {
  const want = slotSelector(app, slot);
  const have = selector ?? {};
  const keys = Object.keys(have);
  return keys.length === Object.keys(want).length && keys.every((k) => have[k] === want[k]);
}

/** The applied object with only the selector changed to the slot's. */
export function withSelector(inputs: ServiceInputs, app: string, slot: Slot): ServiceInputs {
  const copy = JSON.parse(JSON.stringify(inputs)) as ServiceInputs;
  copy.spec = { ...(copy.spec ?? {}), selector: { ...slotSelector(app, slot) } };
  return copy;
}

/**
 * Server-side apply of one Service under the provider's field manager. Conflicts are forced: the two selectors
 * are the program's, and an out-of-band edit of one (a `kubectl patch` of the selector) is taken over by the
 * switch the operator asked for. An admission refusal is not a conflict and fails the apply.
 */
export async function applyService(s: Session, service: ServiceState, body: ServiceInputs): Promise<void> {
  await s.kube.applyAs(service.fieldManager, body);
}
