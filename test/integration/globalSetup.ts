/**
 * Jest globalSetup of the integration project: makes sure the toolchain is built (seconds when warm) and the
 * local cluster runs. If this run had to start the cluster, it leaves a marker so that globalTeardown stops it
 * again; a cluster that was already running is left alone.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const startedMarker = path.join(__dirname, '..', '..', '.local', 'integration-started-cluster');

export default function globalSetup(): void {
  const repoRoot = path.join(__dirname, '..', '..');
  const sh = (script: string, args: string[]): number => {
    try {
      execFileSync(path.join(repoRoot, 'scripts', script), args, { cwd: repoRoot, stdio: 'inherit' });
      return 0;
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      return typeof status === 'number' ? status : 1;
    }
  };
  if (sh('toolchain', []) !== 0) {
    throw new Error('scripts/toolchain failed: the integration tests need the local toolchain');
  }
  fs.rmSync(startedMarker, { force: true });
  if (sh('cluster', ['status']) !== 0) {
    if (sh('cluster', ['start']) !== 0) {
      throw new Error('scripts/cluster start failed');
    }
    fs.mkdirSync(path.dirname(startedMarker), { recursive: true });
    fs.writeFileSync(startedMarker, `${new Date().toISOString()}\n`);
  }
}
