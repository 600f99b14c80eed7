/**
 * Turning what can go wrong into one line an operator can act on: what is wrong and the command that fixes it.
 * The Automation API's errors carry the whole CLI invocation (`code: -2`, stdout, stderr) and a stack trace; an
 * operator needs neither. Unknown failures keep their first meaningful line and point at the release log.
 * Those errors are told apart by their names, not their classes: loading `@pulumi/pulumi/automation` only to
 * compare classes would cost every command its load time, and a step that never ran the CLI has none of them.
 */
import { ConfigError } from '../stacks/problems';
import { EXIT, ReleaseError } from './session';

import { prog } from './prog';

export { prog };

/** What the message of an error needs beyond the error. */
export interface ErrorContext {
  stack?: string;
  command?: string;
  /** The release log file, for failures the message cannot explain. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** The `error: ...` lines of a Pulumi CLI failure (its stderr), or the first line of the message. */
export function pulumiErrorLines(e: Error): string[] {
  const text = e.message;
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim().replace(/^stderr: /, ''))
    .filter((l) => /^error: /.test(l))
    .map((l) => l.replace(/^error: /, ''));
  return lines;
}

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '' && !/^(code|stdout|stderr|err\?):/.test(l) && !/^at \S/.test(l)) ?? text.trim()
  );
}

const UNREACHABLE =
  /(connection refused|Unable to connect to the server|no such host|i\/o timeout|couldn't get current server API group list|dial tcp [^\s:]+:\d+|the server could not find the requested resource \(get|no configuration has been provided)/i;

/** The address in a dial error (`dial tcp 127.0.0.1:6443: connect: connection refused`). */
function dialAddress(text: string): string | undefined {
  return /dial tcp ([^\s:]+:\d+)/.exec(text)?.[1] ?? /https?:\/\/[^\s"']+/.exec(text)?.[0];
}

/**
 * The one-line message and exit code for an error. ReleaseErrors already say what to do; the rest are matched
 * by what they are (an unknown stack, a missing passphrase or login, an unreachable cluster) and explained.
 */
export function explain(e: unknown, ctx: ErrorContext = {}): { message: string; exitCode: number } {
  const p = prog(ctx.env);
  const env = ctx.env ?? process.env;
  const stack = ctx.stack ?? '<stack>';
  if (e instanceof ReleaseError) {
    return { message: e.message, exitCode: e.exitCode };
  }
  if (e instanceof ConfigError) {
    // Its message lists every problem (the stack's name is `e.stackName`).
    return {
      message: `${e.message}\nfix the stack file Pulumi.${stack}.yaml (or \`pulumi config set --stack ${stack} <key> <value>\`), then retry`,
      exitCode: EXIT.usage,
    };
  }
  if (!(e instanceof Error)) {
    return { message: String(e), exitCode: EXIT.failed };
  }
  const text = e.message;
  const backend = env.PULUMI_BACKEND_URL || 'the default backend (Pulumi Cloud)';
  if (e.name === 'StackNotFoundError' || /no stack named '[^']*' found/.test(text)) {
    return {
      message: `stack "${stack}" does not exist in ${backend}: list the stacks with \`pulumi stack ls\`, or create it with \`pulumi stack init ${stack}\``,
      exitCode: EXIT.usage,
    };
  }
  if (/passphrase must be set with PULUMI_CONFIG_PASSPHRASE/.test(text)) {
    return {
      message: `stack ${stack} encrypts its secrets with a passphrase and none is set: export PULUMI_CONFIG_PASSPHRASE_FILE=<file> (or PULUMI_CONFIG_PASSPHRASE), locally \`source scripts/env.sh\``,
      exitCode: EXIT.failed,
    };
  }
  if (/incorrect passphrase/i.test(text)) {
    return {
      message: `the passphrase in PULUMI_CONFIG_PASSPHRASE(_FILE) does not open stack ${stack}'s secrets: set the stack's own passphrase and retry`,
      exitCode: EXIT.failed,
    };
  }
  if (
    /PULUMI_ACCESS_TOKEN must be set for login|you must be logged in|not logged in|getting user info: no credentials|unable to retrieve access token/i.test(
      text,
    )
  ) {
    return {
      message: `not logged in to a Pulumi backend: run \`pulumi login <backend URL>\` (or set PULUMI_BACKEND_URL; locally \`source scripts/env.sh\`)`,
      exitCode: EXIT.failed,
    };
  }
  if (e.name === 'ConcurrentUpdateError') {
    return {
      message: `stack ${stack} is being updated by someone else (Pulumi's stack lock): wait for that update to finish, or run \`${p} recover ${stack}\` if it was interrupted`,
      exitCode: EXIT.locked,
    };
  }
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' && /spawn (\S+)/.test(text)) {
    const bin = /spawn (\S+)/.exec(text)?.[1] ?? '?';
    return {
      message: `${bin} is not on PATH: run \`source scripts/env.sh\` (after \`scripts/toolchain\`), or install ${bin}`,
      exitCode: EXIT.failed,
    };
  }
  if (/Failed to run pulumi|pulumi: command not found|could not find the pulumi CLI/i.test(text)) {
    return {
      message:
        'the pulumi CLI is not on PATH: run `source scripts/env.sh` (after `scripts/toolchain`), or install it',
      exitCode: EXIT.failed,
    };
  }
  if (UNREACHABLE.test(text)) {
    const where = dialAddress(text);
    return {
      message: `no Kubernetes cluster reachable${where ? ` at ${where}` : ''} (KUBECONFIG=${env.KUBECONFIG ?? '~/.kube/config'}): start it with \`scripts/cluster start\`, or point KUBECONFIG at the cluster of stack ${stack}`,
      exitCode: EXIT.failed,
    };
  }
  const errors = pulumiErrorLines(e);
  const what = errors.length > 0 ? errors.join('; ') : firstLine(text);
  const log = ctx.logFile ? `; the release log ${ctx.logFile} has every step` : '';
  return {
    message: `${ctx.command ?? 'the command'} failed: ${what} (re-run with --verbose for the engine's output${log})`,
    exitCode: EXIT.failed,
  };
}
