/**
 * Opt-in timing of the program's own evaluation, for the benchmarks (`npm run bench`). When
 * `PAVEMASTER_TIMING_FILE` is set, the program appends one JSON line there at exit: how long after the Node.js
 * process started the program module began, when the last resource was registered, and the process's peak
 * resident memory. Without the variable nothing is recorded and nothing is hooked.
 */
import * as fs from 'fs';
import * as pulumi from '@pulumi/pulumi';

/** One timing record, as written to the timing file. */
export interface ProgramTiming {
  /** Seconds from the Node.js process start to the program module's first line. */
  programStart: number;
  /** Seconds from the Node.js process start to the last resource registration the program made. */
  lastRegistration: number;
  /** Resources the program registered. */
  resources: number;
  /** Peak resident set size of the language host's Node.js process, in MiB. */
  peakRssMiB: number;
}

/** Starts recording when the timing file is set; call first thing in the program. */
export function startTiming(): void {
  const file = process.env.PAVEMASTER_TIMING_FILE;
  if (!file) {
    return;
  }
  const programStart = process.uptime();
  let lastRegistration = programStart;
  let resources = 0;
  pulumi.runtime.registerStackTransformation(() => {
    lastRegistration = process.uptime();
    resources++;
    return undefined;
  });
  process.on('exit', () => {
    const timing: ProgramTiming = {
      programStart,
      lastRegistration,
      resources,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
    fs.appendFileSync(file, `${JSON.stringify(timing)}\n`);
  });
}
