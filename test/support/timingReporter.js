// Jest reporter: at the end of a run, a table of every test file's wall time (slowest first) and of the slowest
// tests, so each CI log shows where the time of `npm test` goes (issue 15: the integration project is most of the
// CI time). It only reads jest's own timings (perfStats of each file, duration of each test); it changes nothing.
//
// A file's time runs from its worker starting it to its last afterAll (module load, beforeAll and all its tests);
// "setup" is that time minus the sum of its tests' own durations (module load, beforeAll/afterAll, mostly
// `pulumi up` of a file's stack). With one worker (--runInBand) the files' times add up to the run's wall time,
// less globalSetup/globalTeardown (printed apart, measured from the run's start to the first file).
'use strict';

const path = require('path');

/** At most this many rows per table; the rest is summed in one line. */
const MAX_FILES = 30;
const MAX_TESTS = 15;

function seconds(ms) {
  return (ms / 1000).toFixed(1);
}

function pad(text, width) {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function padLeft(text, width) {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text;
}

class TimingReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.files = [];
  }

  onRunStart(_results, _options) {
    this.runStart = Date.now();
  }

  onTestResult(test, result) {
    const start = result.perfStats.start;
    const end = result.perfStats.end;
    const tests = result.testResults.map((t) => ({
      name: t.fullName || t.title,
      ms: typeof t.duration === 'number' ? t.duration : 0,
      status: t.status,
    }));
    this.files.push({
      file: path.relative(this.rootDir, result.testFilePath),
      project: test.context && test.context.config ? test.context.config.displayName : undefined,
      start,
      end,
      ms: end - start,
      testMs: tests.reduce((sum, t) => sum + t.ms, 0),
      tests,
      failed: result.numFailingTests > 0 || result.testExecError !== undefined,
    });
  }

  onRunComplete(_contexts, _results) {
    if (this.files.length === 0) {
      return;
    }
    const wallMs = Date.now() - this.runStart;
    const firstStart = Math.min(...this.files.map((f) => f.start));
    const lastEnd = Math.max(...this.files.map((f) => f.end));
    const sumMs = this.files.reduce((sum, f) => sum + f.ms, 0);
    const files = [...this.files].sort((a, b) => b.ms - a.ms);
    const lines = [];
    const width = Math.min(60, Math.max(...files.map((f) => f.file.length)));
    lines.push('');
    lines.push(
      `Time per test file (slowest first; ${files.length} files, wall ${seconds(wallMs)} s, files ` +
        `${seconds(sumMs)} s in sum, before the first file ${seconds(firstStart - this.runStart)} s, ` +
        `after the last ${seconds(Math.max(0, this.runStart + wallMs - lastEnd))} s):`,
    );
    lines.push(
      `  ${pad('file', width)}  ${padLeft('s', 7)}  ${padLeft('setup s', 8)}  ${padLeft('tests', 5)}  ` +
        `${padLeft('%', 5)}  slowest test (s)`,
    );
    for (const f of files.slice(0, MAX_FILES)) {
      const slowest = [...f.tests].sort((a, b) => b.ms - a.ms)[0];
      lines.push(
        `  ${pad(f.file, width)}  ${padLeft(seconds(f.ms), 7)}  ${padLeft(seconds(Math.max(0, f.ms - f.testMs)), 8)}  ` +
          `${padLeft(String(f.tests.length), 5)}  ${padLeft(((100 * f.ms) / sumMs).toFixed(1), 5)}  ` +
          `${slowest ? `${seconds(slowest.ms)} ${slowest.name}` : '-'}${f.failed ? '  FAILED' : ''}`,
      );
    }
    if (files.length > MAX_FILES) {
      const rest = files.slice(MAX_FILES);
      lines.push(
        `  ${pad(`(${rest.length} more files)`, width)}  ${padLeft(seconds(rest.reduce((s, f) => s + f.ms, 0)), 7)}`,
      );
    }
    const tests = this.files
      .flatMap((f) => f.tests.map((t) => ({ ...t, file: f.file })))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, MAX_TESTS);
    lines.push('');
    lines.push(`Slowest ${tests.length} tests (s):`);
    for (const t of tests) {
      lines.push(`  ${padLeft(seconds(t.ms), 7)}  ${path.basename(t.file)}: ${t.name}`);
    }
    lines.push('');
    // stderr, beside jest's own report: `jest --json` without --outputFile prints its JSON on stdout.
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}

module.exports = TimingReporter;
