/**
 * `release`: the PaveMaster release command. Each step of a blue/green release is one command, on any stack:
 *
 *   release deploy <stack> <image> [--version V] [--release-id ID]   new image on the idle slot, `pulumi up`
 *   release promote <stack> [--preview]                             gates, switch, post-promotion check
 *   release rollback <stack>                                        instant flip back to the previous slot
 *   release rollback <stack> --to <version>                         restore what stack version N deployed
 *   release history <stack>                                         versions: slot, images, time, result
 *   release status <stack>                                          live slots, readiness, drift
 *   release preview <stack> [--markdown]                            `pulumi preview` as a PR report
 *   release recover <stack>                                         clear an interrupted update
 *
 * Common options: --work-dir DIR (the project: Pulumi.yaml and Pulumi.<stack>.yaml; default: the repository
 * root), --commit (commit the changed stack file), --prometheus-url URL, --verbose (stream the engine's output).
 *
 * Exit codes: 0 done, 1 failed, 2 a gate failed (traffic unchanged), 3 the stack is locked, 4 rolled back
 * automatically after promotion, 64 usage.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as commands from './commands';
import { EXIT, ReleaseError } from './session';

const USAGE = `usage:
  release deploy <stack> <image> [--version V] [--release-id ID]
  release promote <stack> [--preview]
  release rollback <stack> [--to <stack version>]
  release history <stack>
  release status <stack>
  release preview <stack> [--markdown]
  release recover <stack>
options: --work-dir DIR  --commit  --prometheus-url URL  --verbose`;

/** Parsed command line. */
export interface ParsedArgs {
  command: string;
  positional: string[];
  flags: Record<string, string | true>;
}

const VALUE_FLAGS = new Set(['version', 'release-id', 'to', 'work-dir', 'prometheus-url']);
const BOOL_FLAGS = new Set(['commit', 'markdown', 'preview', 'verbose', 'help']);

/** Parses `argv` (without node and the script). Throws a usage ReleaseError on unknown flags. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
      if (VALUE_FLAGS.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined || value.startsWith('--')) {
          throw new ReleaseError(`--${name} needs a value\n${USAGE}`, EXIT.usage);
        }
        flags[name] = value;
      } else if (BOOL_FLAGS.has(name)) {
        flags[name] = true;
      } else {
        throw new ReleaseError(`unknown option --${name}\n${USAGE}`, EXIT.usage);
      }
    } else {
      positional.push(a);
    }
  }
  const [command = 'help', ...rest] = positional;
  return { command, positional: rest, flags };
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
      throw new ReleaseError('no Pulumi.yaml found here or above: pass --work-dir', EXIT.usage);
    }
    dir = parent;
  }
}

function need(args: ParsedArgs, n: number, what: string): string[] {
  if (args.positional.length !== n) {
    throw new ReleaseError(`release ${args.command} takes ${what}\n${USAGE}`, EXIT.usage);
  }
  return args.positional;
}

/** Runs one command line; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === 'help' || args.flags.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const str = (name: string) => (typeof args.flags[name] === 'string' ? args.flags[name] : undefined);
    const opts: commands.ReleaseOptions = {
      workDir: str('work-dir') ? path.resolve(str('work-dir') as string) : findProjectDir(process.cwd()),
      commit: args.flags.commit === true,
      prometheusUrl: str('prometheus-url'),
      engineOutput: args.flags.verbose ? (text) => process.stderr.write(text) : undefined,
    };
    switch (args.command) {
      case 'deploy': {
        const [stack, image] = need(args, 2, '<stack> <image>');
        await commands.deploy(stack, image, {
          ...opts,
          version: str('version'),
          releaseId: str('release-id'),
        });
        return 0;
      }
      case 'promote': {
        const [stack] = need(args, 1, '<stack>');
        if (args.flags.preview) {
          process.stdout.write(await commands.previewPromote(stack, opts));
        } else {
          await commands.promote(stack, opts);
        }
        return 0;
      }
      case 'rollback': {
        const [stack] = need(args, 1, '<stack>');
        const to = str('to');
        if (to !== undefined) {
          if (!/^\d+$/.test(to)) {
            throw new ReleaseError(
              `--to takes a stack version number (see: release history ${stack})`,
              EXIT.usage,
            );
          }
          await commands.rollbackTo(stack, Number(to), opts);
        } else {
          await commands.rollback(stack, opts);
        }
        return 0;
      }
      case 'history':
        await commands.history(need(args, 1, '<stack>')[0], opts);
        return 0;
      case 'status':
        await commands.status(need(args, 1, '<stack>')[0], opts);
        return 0;
      case 'preview':
        process.stdout.write(await commands.preview(need(args, 1, '<stack>')[0], opts));
        return 0;
      case 'recover':
        await commands.recover(need(args, 1, '<stack>')[0], opts);
        return 0;
      default:
        throw new ReleaseError(`unknown command "${args.command}"\n${USAGE}`, EXIT.usage);
    }
  } catch (e) {
    if (e instanceof ReleaseError) {
      process.stderr.write(`release: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`release: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`release: ${String(e)}\n`);
      process.exit(EXIT.failed);
    },
  );
}
