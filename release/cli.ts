/**
 * `pavemaster`: the PaveMaster release command (package.json `bin`; `npm run release -- ...` runs the same).
 * Each step of a blue/green release is one subcommand, on any stack; `pavemaster --help` lists them and
 * `pavemaster <command> --help` shows each one's options (declared once in `spec.ts`).
 *
 * Output: results on stdout; progress on stderr (a live line per step on a terminal, timestamped lines without
 * one, nothing with --quiet, every log record as JSON with --verbose); `--json` prints one document on stdout
 * (release/schema.json). Errors are one line on stderr, `release: <what is wrong>: <the command that fixes it>`.
 *
 * Exit codes: 0 done, 1 failed, 2 a gate failed (traffic unchanged), 3 the stack is locked, 4 rolled back
 * automatically after promotion, 64 usage.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { parseArgs as parseNodeArgs } from 'util';
import * as commands from './commands';
import { explain, prog } from './errors';
import { guardedPath, installStopHandlers, stopping } from './interrupt';
import { annotationsJson, document, historyJson, JsonDocument, switchJson, upJson } from './output';
import { Progress, progressMode } from './progress';
import { commandHelp, completionScript, findCommand, mainHelp, optionsOf } from './spec';
import { EXIT, ReleaseError } from './session';

/** A parsed command line. */
export interface CommandLine {
  command: string;
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

/** What the first argument asks for when it is not a subcommand. */
type Meta = { help: true; command?: string };

/**
 * Parses `argv` (without node and the script) with `node:util` parseArgs against the subcommand's declared
 * options. Throws a usage ReleaseError (one line, naming the fix) for an unknown command or option, a missing
 * value or a wrong number of arguments.
 */
export function parseCommandLine(argv: readonly string[], p: string = prog()): CommandLine | Meta {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    return { help: true, command: first === 'help' ? rest[0] : undefined };
  }
  const spec = findCommand(first);
  if (spec === undefined) {
    throw new ReleaseError(
      `unknown command "${first}": the commands are ${['deploy', 'promote', 'rollback', 'abort', 'history', 'status', 'preview', 'recover', 'completion'].join(', ')} (see: ${p} --help)`,
      EXIT.usage,
    );
  }
  const options = optionsOf(spec);
  let parsed;
  try {
    parsed = parseNodeArgs({
      args: [...rest],
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [
          name,
          o.short ? { type: o.type, short: o.short } : { type: o.type },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const text = e instanceof Error ? e.message : String(e);
    const name = /'(-[^' ]+)/.exec(text)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new ReleaseError(
        `unknown option ${name ?? text} for ${spec.name}: its options are ${Object.keys(options)
          .map((o) => `--${o}`)
          .join(', ')} (see: ${p} ${spec.name} --help)`,
        EXIT.usage,
      );
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new ReleaseError(
        `${name?.replace(/\s.*/, '') ?? 'an option'} needs a value: ${p} ${spec.name} --help shows it`,
        EXIT.usage,
      );
    }
    throw new ReleaseError(`${text.split('\n')[0]} (see: ${p} ${spec.name} --help)`, EXIT.usage);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    return { help: true, command: spec.name };
  }
  if (parsed.positionals.length !== spec.args.length) {
    const got = parsed.positionals.length;
    throw new ReleaseError(
      `${spec.name} takes ${spec.args.map((a) => `<${a}>`).join(' ')}, got ${got === 0 ? 'nothing' : parsed.positionals.map((x) => `"${x}"`).join(' ')}: ${p} ${spec.name} ${spec.args.map((a) => `<${a}>`).join(' ')} (see: ${p} ${spec.name} --help)`,
      EXIT.usage,
    );
  }
  return { command: spec.name, positionals: parsed.positionals, values };
}

/** The repository root: the nearest directory upwards holding Pulumi.yaml. */
export function findProjectDir(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'Pulumi.yaml'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new ReleaseError(
        `no Pulumi.yaml in ${start} or above: run the command inside the project, or pass --work-dir <project>`,
        EXIT.usage,
      );
    }
    dir = parent;
  }
}

/** Where the command writes and how it asks. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (live progress). */
  stderrTTY: boolean;
  /** Asks a yes/no question on the terminal; `undefined` when there is none (stdin not a TTY). */
  ask?: (question: string) => Promise<boolean>;
  env?: NodeJS.ProcessEnv;
}

function terminalAsk(): ((question: string) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY) {
    return undefined;
  }
  return (question) =>
    new Promise((resolve) => {
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      rl.question(`${question} [y/N] `, (answer) => {
        rl.close();
        resolve(/^y(es)?$/i.test(answer.trim()));
      });
    });
}

const PROCESS_IO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stderrTTY: Boolean(process.stderr.isTTY),
  ask: terminalAsk(),
};

async function run(
  line: CommandLine,
  io: CliIO,
  progress: Progress,
): Promise<{ result: unknown; text?: string }> {
  const v = line.values;
  const str = (name: string) => (typeof v[name] === 'string' ? v[name] : undefined);
  const [stack] = line.positionals;
  const json = v.json === true;
  // Human result lines: stdout, or stderr beside a JSON document.
  const out = (text: string) => (json ? progress.line(text) : progress.print(io.stdout, text));
  const opts: commands.ReleaseOptions = {
    workDir: str('work-dir') ? path.resolve(str('work-dir') as string) : findProjectDir(process.cwd()),
    commit: v.commit === true,
    prometheusUrl: str('prometheus-url'),
    engineOutput: progress.mode === 'verbose' ? (text) => io.stderr(text) : undefined,
    out,
    logEcho: () => undefined,
    onRecord: (r) => progress.record(r),
    yes: v.yes === true,
    confirm: io.ask
      ? async (question) => {
          progress.close();
          return (io.ask as (q: string) => Promise<boolean>)(question);
        }
      : undefined,
  };
  switch (line.command) {
    case 'deploy': {
      const r = await commands.deploy(stack, line.positionals[1], {
        ...opts,
        version: str('version'),
        releaseId: str('release-id'),
      });
      return {
        result: {
          releaseId: r.releaseId,
          slot: r.slot,
          image: r.image,
          version: r.version,
          up: upJson(r.up),
        },
      };
    }
    case 'promote': {
      if (v.preview) {
        const r = await commands.previewPromoteReport(stack, opts);
        return { result: r.report, text: r.markdown };
      }
      const r = await commands.promote(stack, opts);
      return { result: commands.promoteJson(r) };
    }
    case 'rollback': {
      const to = str('to');
      if (to !== undefined) {
        if (!/^\d+$/.test(to)) {
          throw new ReleaseError(
            `--to takes a stack version number, got "${to}": list them with \`${prog(io.env)} history ${stack}\``,
            EXIT.usage,
          );
        }
        const r = await commands.rollbackTo(stack, Number(to), opts);
        return {
          result: {
            restored: historyJson([r.restored])[0],
            up: upJson(r.up),
            changes: r.changes,
            annotations: annotationsJson(r.annotations),
          },
        };
      }
      const r = await commands.rollback(stack, opts);
      return { result: { ...switchJson(r), annotations: annotationsJson(r.annotations) } };
    }
    case 'abort':
      return { result: await commands.abort(stack, opts) };
    case 'history': {
      const versions = await commands.history(stack, { ...opts, out: json ? () => undefined : out });
      return { result: historyJson(versions) };
    }
    case 'status':
      return { result: await commands.status(stack, { ...opts, out: json ? () => undefined : out }) };
    case 'preview': {
      const r = await commands.previewReport(stack, opts);
      return { result: r.report, text: r.markdown };
    }
    case 'recover':
      return { result: await commands.recover(stack, opts) };
    default:
      throw new ReleaseError(`unknown command "${line.command}" (see: ${prog(io.env)} --help)`, EXIT.usage);
  }
}

/** Runs one command line; returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = PROCESS_IO): Promise<number> {
  const p = prog(io.env);
  let line: CommandLine | Meta;
  try {
    line = parseCommandLine(argv, p);
  } catch (e) {
    const { message, exitCode } = explain(e, { env: io.env });
    io.stderr(`release: ${message}\n`);
    return exitCode;
  }
  if ('help' in line) {
    const spec = line.command ? findCommand(line.command) : undefined;
    if (line.command && !spec) {
      io.stderr(`release: unknown command "${line.command}" (see: ${p} --help)\n`);
      return EXIT.usage;
    }
    io.stdout(`${spec ? commandHelp(p, spec) : mainHelp(p)}\n`);
    return 0;
  }
  if (line.command === 'completion') {
    const shell = line.positionals[0];
    if (shell !== 'bash' && shell !== 'zsh') {
      io.stderr(`release: completion supports bash and zsh, got "${shell}": ${p} completion bash\n`);
      return EXIT.usage;
    }
    io.stdout(completionScript('pavemaster', shell));
    return 0;
  }
  const json = line.values.json === true;
  const progress = new Progress(progressMode(line.values, io.stderrTTY), io.stderr);
  const stack = line.positionals[0];
  let doc: JsonDocument;
  try {
    const { result, text } = await run(line, io, progress);
    progress.close();
    if (!json && text !== undefined) {
      io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
    doc = document({ command: line.command, stack, ok: true, exitCode: 0, result });
  } catch (e) {
    progress.close();
    if (stopping() !== undefined) {
      // Stopped by a signal: the stop handler says what happened and exits (release/interrupt.ts).
      return EXIT.failed;
    }
    const { message, exitCode } = explain(e, { stack, command: line.command, env: io.env });
    const gate = e instanceof ReleaseError ? e.details.gate : undefined;
    const partial = (e as { result?: unknown }).result;
    io.stderr(`release: ${message}\n`);
    if (e instanceof ReleaseError && e.details.logs && !json) {
      io.stderr(`--- logs ---\n${e.details.logs}\n`);
    }
    doc = document({
      command: line.command,
      stack,
      ok: false,
      exitCode,
      error: gate ? { message, gate } : { message },
      ...(partial !== undefined ? { result: commands.promoteJson(partial as commands.PromoteResult) } : {}),
    });
  }
  if (json) {
    io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  }
  return doc.exitCode;
}

/**
 * The command line as a process (the package's bin): its `pulumi` and `kubectl` die with it, a SIGTERM or Ctrl-C
 * stops it at a safe point (release/interrupt.ts), then it exits with the command's code.
 */
export function commandLine(argv: readonly string[]): void {
  process.env.PATH = guardedPath(process.env.PATH);
  let command = '<command>';
  let stack = '<stack>';
  try {
    const line = parseCommandLine(argv);
    if (!('help' in line)) {
      command = line.command;
      stack = line.positionals[0] ?? stack;
    }
  } catch {
    // main() reports the usage error
  }
  installStopHandlers(
    (line) => process.stderr.write(`${line}\n`),
    () =>
      `re-run \`${prog()} ${command} ${stack}\` to continue it; \`${prog()} status ${stack}\` shows where it stopped, \`${prog()} recover ${stack}\` frees a stack lock whose holder is gone`,
  );
  const exit = (code: number) => {
    // A stop in progress exits by itself once its children are gone.
    if (stopping() === undefined) {
      process.exit(code);
    }
  };
  main(argv).then(exit, (e: unknown) => {
    process.stderr.write(`release: ${explain(e).message}\n`);
    exit(EXIT.failed);
  });
}

if (require.main === module) {
  commandLine(process.argv.slice(2));
}
