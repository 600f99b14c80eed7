/**
 * Preloaded into the Pulumi program's Node.js process by the benchmarks (`node --require`, through
 * `runtime.options.nodeargs` of a bench project copy; never in the real project): when the Node.js process started,
 * when the SDK handed over to the program, when the program constructed its first and last resource, and the
 * process's peak resident memory. One JSON line ({@link ProgramMarks}) is appended to `PAVEMASTER_BENCH_MARKS` at
 * exit. bench/run.ts transpiles this file to JavaScript before it uses it (ts-node is not loaded yet when Node.js
 * runs `--require` modules).
 */
import * as fs from 'fs';
import * as nodeModule from 'module';
import * as path from 'path';
import { performance } from 'perf_hooks';

/** What one program run recorded; all times are Unix epoch milliseconds. */
export interface ProgramMarks {
  /** The Node.js process started. */
  processStart: number;
  /** The SDK (`@pulumi/pulumi/cmd/run`, with ts-node) started to load the program's entry module. */
  programRequire?: number;
  /** The program constructed its first resource other than the stack (its modules are loaded by then). */
  firstResource?: number;
  /** The program constructed its last resource. */
  lastResource?: number;
  /** Resources the program constructed (the stack excluded). */
  resources: number;
  /** The entry module's top-level code returned. */
  programReturned?: number;
  /** The process is exiting. */
  exit: number;
  /** Peak resident set size of the process, MiB. */
  peakRssMiB: number;
}

interface ModuleLoader {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
  _resolveFilename(request: string, parent: unknown, isMain: boolean): string;
}

interface PulumiRuntime {
  runtime: { registerStackTransformation(t: (args: unknown) => undefined): void };
}

const file = process.env.PAVEMASTER_BENCH_MARKS;
if (file) {
  // The program's entry folder (Pulumi.yaml `main`), as the bench names it.
  const entryDir = path.resolve(process.env.PAVEMASTER_BENCH_ENTRY ?? process.cwd());
  const marks: ProgramMarks = { processStart: performance.timeOrigin, resources: 0, exit: 0, peakRssMiB: 0 };
  const loader = nodeModule.Module as unknown as ModuleLoader;
  const originalLoad = loader._load.bind(loader);
  let hooked = false;
  loader._load = (request: string, parent: unknown, isMain: boolean): unknown => {
    if (hooked) {
      return originalLoad(request, parent, isMain);
    }
    let resolved = '';
    try {
      resolved = loader._resolveFilename(request, parent, isMain);
    } catch {
      return originalLoad(request, parent, isMain);
    }
    if (path.dirname(resolved) !== entryDir) {
      return originalLoad(request, parent, isMain);
    }
    hooked = true;
    marks.programRequire = Date.now();
    // The SDK is initialised by now (the program is loaded inside its stack resource): count constructions.
    const sdk = nodeModule.createRequire(path.join(entryDir, 'index'))('@pulumi/pulumi') as PulumiRuntime;
    sdk.runtime.registerStackTransformation(() => {
      const now = Date.now();
      marks.firstResource ??= now;
      marks.lastResource = now;
      marks.resources++;
      return undefined;
    });
    const result = originalLoad(request, parent, isMain);
    marks.programReturned = Date.now();
    return result;
  };
  process.on('exit', () => {
    marks.exit = Date.now();
    marks.peakRssMiB = process.resourceUsage().maxRSS / 1024;
    fs.appendFileSync(file, `${JSON.stringify(marks)}\n`);
  });
}
