/**
 * Jest globalSetup of the integration project: makes sure the toolchain is built (seconds when warm) and the
 * local cluster runs, with its real node unless PAVEMASTER_REAL_NODE=0. What this run started (the cluster, or
 * only the real node of a cluster that was already running) is recorded in a marker, and globalTeardown stops
 * exactly that again; whatever was already running is left alone.
 *
 * The real node is machine-wide (one per machine), so it may be unable to start (another checkout runs one, a
 * package is missing): then the simulated cluster still serves the tests that need no real container, and the
 * reason is written to {@link realNodeErrorFile}; every test that needs the real node fails with that reason
 * (test/integration/realnode.ts), it never skips.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const repoRoot = path.join(__dirname, '..', '..');
export const startedMarker = path.join(repoRoot, '.local', 'integration-started-cluster');
export const realNodeErrorFile = path.join(repoRoot, '.local', 'integration-real-node-error');

interface Result {
  code: number;
  output: string;
}

function sh(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Result {
  try {
    const output = execFileSync(path.join(repoRoot, 'scripts', script), args, {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    process.stdout.write(output);
    return { code: 0, output };
  } catch (err) {
    const e = err as { status?: unknown; stdout?: unknown; stderr?: unknown };
    const output = `${typeof e.stdout === 'string' ? e.stdout : ''}${typeof e.stderr === 'string' ? e.stderr : ''}`;
    process.stdout.write(output);
    return { code: typeof e.status === 'number' ? e.status : 1, output };
  }
}

function lastLines(text: string, n = 25): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

export default function globalSetup(): void {
  if (sh('toolchain', []).code !== 0) {
    throw new Error('scripts/toolchain failed: the integration tests need the local toolchain');
  }
  fs.mkdirSync(path.dirname(startedMarker), { recursive: true });
  fs.rmSync(startedMarker, { force: true });
  fs.rmSync(realNodeErrorFile, { force: true });
  const wantReal = process.env.PAVEMASTER_REAL_NODE !== '0';
  const started: string[] = [];

  if (sh('cluster', ['status']).code !== 0) {
    const start = sh('cluster', ['start', wantReal ? '--real-node' : '--no-real-node']);
    if (sh('cluster', ['status']).code !== 0) {
      throw new Error(`scripts/cluster start failed:\n${lastLines(start.output)}`);
    }
    started.push('cluster');
    if (start.code !== 0) {
      fs.writeFileSync(
        realNodeErrorFile,
        `scripts/cluster start could not start the real node:\n${lastLines(start.output)}\n`,
      );
    }
  } else if (wantReal && sh('node', ['status']).code !== 0) {
    // A running cluster without its real node (started with --no-real-node, or the node stopped): add it the
    // way `scripts/cluster start` does: serve the images, point the placement rule at them (a cluster started
    // without its node has an empty list, which would keep every pod on kwok nodes), then start the node.
    const node = sh('cluster', ['start', '--real-node']);
    if (node.code === 0) {
      started.push('node');
    } else {
      sh('node', ['stop']);
      fs.writeFileSync(realNodeErrorFile, `the real node could not start:\n${lastLines(node.output)}\n`);
    }
  }
  if (!wantReal) {
    fs.writeFileSync(realNodeErrorFile, 'PAVEMASTER_REAL_NODE=0: this run has no real node\n');
  }
  if (started.length > 0) {
    fs.writeFileSync(startedMarker, `${started.join('\n')}\n`);
  }
  // The tests' own `scripts/cluster start` (release/testing/sandbox.ts) must neither retry nor stop the node.
  process.env.PAVEMASTER_REAL_NODE = 'keep';
}
