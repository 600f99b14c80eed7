/**
 * Jest globalTeardown of the integration project: stops what globalSetup started (the whole cluster, or only the
 * real node it added to a running cluster), and nothing else.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startedMarker } from './globalSetup';

export default function globalTeardown(): void {
  if (!fs.existsSync(startedMarker)) {
    return;
  }
  const started = fs.readFileSync(startedMarker, 'utf8').split('\n');
  const repoRoot = path.join(__dirname, '..', '..');
  try {
    const script = started.includes('cluster') ? 'cluster' : 'node';
    execFileSync(path.join(repoRoot, 'scripts', script), ['stop'], { cwd: repoRoot, stdio: 'inherit' });
  } finally {
    fs.rmSync(startedMarker, { force: true });
  }
}
