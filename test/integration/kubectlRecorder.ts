/**
 * A `kubectl` that records each call's arguments, then runs the real one: first on PATH (so a `kubectl` started
 * by name anywhere below the test, the release command's guard included, is recorded) and as KUBECTL. The tests
 * that say "no kubectl process" (switch.int, releaseE2e) assert its calls are none.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface KubectlRecorder {
  /** Each recorded call's arguments, in order. */
  calls(): string[];
  /** Puts PATH and KUBECTL back and removes the recorder. */
  remove(): void;
}

export function kubectlRecorder(): KubectlRecorder {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-kubectl-'));
  const real = execFileSync('bash', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
  const bin = path.join(dir, 'kubectl');
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(bin, `#!/bin/bash\necho "$*" >> "${log}"\nexec "${real}" "$@"\n`, { mode: 0o755 });
  const saved = { KUBECTL: process.env.KUBECTL, PATH: process.env.PATH };
  process.env.KUBECTL = bin;
  process.env.PATH = `${dir}${path.delimiter}${process.env.PATH ?? ''}`;
  return {
    calls: () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter((l) => l)
        : [],
    remove: () => {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) {
          delete process.env[key];
        } else {
          process.env[key] = value;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
