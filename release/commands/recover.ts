/** `release recover`: make an interrupted stack usable again. */
import * as fs from 'fs';
import * as path from 'path';
import { readLockFile } from '../lock';
import { prog } from '../prog';
import { EXIT, holderAlive, ReleaseError, Session } from '../session';
import { ReleaseOptions } from './options';

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
  const stack = await s.pulumiStack();
  const backend = opts.envVars?.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL ?? '';
  let locks = 0;
  if (backend.startsWith('file://')) {
    const dir = backend.slice('file://'.length);
    const project = (await stack.workspace.projectSettings()).name;
    for (const file of findLockFiles(dir, project, stackName)) {
      const holder = readLockFile(file);
      if (holderAlive(holder) !== false) {
        throw new ReleaseError(
          `stack ${stackName} is locked by ${holder.user ?? '?'}@${holder.host ?? '?'} (pid ${holder.pid ?? '?'}), which ${holderAlive(holder) ? 'still runs' : 'runs on another host'}: not removing its lock`,
          EXIT.locked,
        );
      }
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.attrs`, { force: true });
      locks++;
      s.log.write('recover:lock', 'succeeded', {
        detail: `removed the stale lock of pid ${holder.pid ?? '?'}`,
      });
    }
  } else {
    s.out(
      `backend ${backend || '(default)'} is not a file backend: if a lock is stale, run \`pulumi cancel\``,
    );
  }
  const state = await s.locked(() => stack.exportStack());
  const deployment = state.deployment as { pending_operations?: unknown[] };
  const pending = deployment.pending_operations?.length ?? 0;
  if (pending > 0) {
    s.log.write('recover:pending', 'info', { detail: JSON.stringify(deployment.pending_operations) });
    deployment.pending_operations = [];
    await s.locked(() => stack.importStack(state));
    s.out(`cleared ${pending} pending operation(s) of the interrupted update`);
  }
  await s.locked(() => stack.refresh({ onOutput: opts.engineOutput }));
  s.log.write('recover', 'succeeded', {
    detail: `${locks} stale lock(s) removed, ${pending} pending operation(s) cleared, state refreshed`,
  });
  s.out(
    `recovered ${stackName}: ${locks} stale lock(s) removed, ${pending} pending operation(s) cleared, state refreshed`,
  );
  s.out(`next: ${prog()} status ${stackName}, then re-run the interrupted step`);
  return { locks, pending };
}
