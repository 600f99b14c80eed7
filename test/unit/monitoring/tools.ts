/**
 * Helpers for the tests that run the real Prometheus tools: find promtool, amtool and the alertmanager binary
 * (installed by scripts/setup/monitoring-tools.sh), run them, and pull the generated files out of a recorded
 * stack (the ConfigMaps the program registers), so that what is checked is exactly what would be deployed.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { find, Registered } from '../../support/harness';

/** The cache directory the setup scripts install into. */
export const CACHE = process.env.PAVEMASTER_CACHE ?? path.join(os.homedir(), '.cache', 'pavemaster');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir !== '' && fs.existsSync(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/**
 * A tool's path: the setup script's build in the cache first (promtool, built with Kubernetes service discovery,
 * which Debian's build leaves out), then PATH. Throws when missing: the tests never skip.
 */
export function tool(...names: string[]): string {
  for (const name of names) {
    const cached = path.join(CACHE, 'bin', name);
    if (fs.existsSync(cached)) {
      return cached;
    }
    const found = onPath(name);
    if (found !== undefined) {
      return found;
    }
  }
  throw new Error(`${names.join(' or ')} not found: run scripts/setup/monitoring-tools.sh`);
}

export interface RunResult {
  status: number | null;
  /** Standard output alone. */
  stdout: string;
  /** Standard output and error together. */
  output: string;
}

/** Runs a tool and returns its exit status and combined output. */
export function run(bin: string, args: string[], timeoutMs = 60_000): RunResult {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error !== undefined) {
    throw r.error;
  }
  return { status: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${prefix}-`));
}

/** The data of a registered ConfigMap. */
export function configMapData(resources: readonly Registered[], name: string): Record<string, string> {
  const cm = find(resources, 'kubernetes:core/v1:ConfigMap', name);
  return cm.inputs.data as Record<string, string>;
}
