/** Jest globalTeardown of the integration project: stops the local cluster if globalSetup started it. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startedMarker } from './globalSetup';

export default function globalTeardown(): void {
  if (!fs.existsSync(startedMarker)) {
    return;
  }
  const repoRoot = path.join(__dirname, '..', '..');
  try {
    execFileSync(path.join(repoRoot, 'scripts', 'cluster'), ['stop'], { cwd: repoRoot, stdio: 'inherit' });
  } finally {
    fs.rmSync(startedMarker, { force: true });
  }
}
