/**
 * No engine, plugin or language-host process outlives a killed `pulumi up` (issue 13).
 *
 * The real CLI runs a real update of a throwaway stack (the staging app and monitoring, without logging, its own
 * namespace and file backend) and is killed with SIGKILL (nothing can clean up after that signal) at three points:
 * while the program is being evaluated, once the Kubernetes provider runs, and while resources are being created
 * and awaited. Every process below the CLI at the moment of the kill (the language host, the Node.js program, the
 * resource plugins) must be gone within a few seconds; before the fix they all stayed, reparented to init.
 *
 * How they go: the engine starts each plugin with a pipe as standard input; our language host, our random provider
 * and the Kubernetes provider we build exit when that pipe closes (toolchain/pulumi-language-nodejs/lifetime.go,
 * toolchain/pulumi-resource-{random,kubernetes}/enginewatch.go), and the language host's children die with it
 * (PR_SET_PDEATHSIG).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import { createSandbox, envFromScript, Sandbox } from '../../release/testing/sandbox';
import {
  describeProcesses as describeProcs,
  descendants,
  ProcessInfo,
  stillRunning,
} from '../../release/processTree';
import { runOk } from './helpers';

/** How long the plugins may take to notice (they react to end-of-file at once; the parent-pid poll is 200 ms). */
const GONE_WITHIN_MS = 5000;

type KillPoint = 'program' | 'provider' | 'creating';

const has = (procs: readonly ProcessInfo[], re: RegExp): boolean => procs.some((p) => re.test(p.cmdline));
const LANGUAGE_HOST = /pulumi-language-nodejs/;
// The program itself, not the short `node -e require.resolve(...)` the language host runs first.
const PROGRAM = /@pulumi\/pulumi\/cmd\/run\/index\.js .*--monitor/;
const KUBERNETES = /pulumi-resource-kubernetes/;
const RANDOM = /pulumi-resource-random/;

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Starts `pulumi up`, kills it with SIGKILL at `point`, returns what ran below it then and what still runs after. */
async function killedUpdate(
  sandbox: Sandbox,
  point: KillPoint,
): Promise<{ before: ProcessInfo[]; left: ProcessInfo[]; goneMs: number }> {
  const child: ChildProcess = spawn(
    'pulumi',
    ['up', '--yes', '--skip-preview', '--non-interactive', '--stack', sandbox.stackName],
    { cwd: sandbox.dir, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
  const pid = child.pid as number;

  const deadline = Date.now() + 120_000;
  let ready = false;
  let readyAt = 0;
  while (Date.now() < deadline && child.exitCode === null) {
    const procs = descendants(pid);
    const now =
      point === 'program'
        ? has(procs, LANGUAGE_HOST) && has(procs, PROGRAM)
        : has(procs, LANGUAGE_HOST) && has(procs, PROGRAM) && has(procs, KUBERNETES) && has(procs, RANDOM);
    if (now && !ready) {
      ready = true;
      readyAt = Date.now();
    }
    // "creating": the provider has had a second and a half of work (namespace, secrets, Deployments being awaited).
    if (ready && (point !== 'creating' || Date.now() - readyAt > 1500)) {
      break;
    }
    await sleep(point === 'program' ? 10 : 50);
  }
  if (!ready || child.exitCode !== null) {
    throw new Error(`the update never reached the kill point "${point}":\n${output}`);
  }
  const before = descendants(pid);
  process.kill(pid, 'SIGKILL');
  const signal = await exited;
  expect(signal).toBe('SIGKILL');
  const killedAt = Date.now();
  let left = stillRunning(before);
  while (left.length > 0 && Date.now() - killedAt < GONE_WITHIN_MS) {
    await sleep(50);
    left = stillRunning(before);
  }
  return { before, left, goneMs: Date.now() - killedAt };
}

describe('a pulumi up killed with SIGKILL leaves no process behind', () => {
  const sandboxes: Sandbox[] = [];

  beforeAll(() => {
    Object.assign(process.env, envFromScript());
  });

  afterAll(async () => {
    for (const s of sandboxes) {
      // The killed updates hold the stack lock and pending operations: drop the copy and the namespace it filled.
      await runOk('kubectl', ['delete', 'namespace', s.namespace, '--ignore-not-found', '--wait=false']);
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it.each<KillPoint>(['program', 'provider', 'creating'])(
    'killed during %s: the language host, the program and the plugins exit',
    async (point) => {
      const sandbox = await createSandbox({
        stackName: `lifetime-${point}`,
        fromStack: 'staging',
        env: {},
        overrides: {
          namespace: `lifetime-${point}-${process.pid}`,
          host: undefined,
          // Monitoring for its Grafana password (the random provider); no node exporter, whose host port the
          // deployed staging holds on every node; no logging, to keep the update short.
          monitoring: { nodeExporter: { enabled: false } },
          logging: { enabled: false },
        },
      });
      sandboxes.push(sandbox);
      const { before, left, goneMs } = await killedUpdate(sandbox, point);
      process.stdout.write(
        `killed during ${point}: ${before.length} processes below pulumi, all gone ${left.length === 0 ? `within ${goneMs} ms` : 'NOT'}\n${describeProcs(before)}\n`,
      );
      // The kill hit what it meant to: the language host and the program, and the provider once it runs.
      expect(has(before, LANGUAGE_HOST)).toBe(true);
      expect(has(before, PROGRAM)).toBe(true);
      if (point !== 'program') {
        expect(has(before, KUBERNETES)).toBe(true);
        expect(has(before, RANDOM)).toBe(true);
      }
      expect(describeProcs(left)).toBe('');
    },
  );
});
