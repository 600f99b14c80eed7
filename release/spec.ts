/**
 * The release command's command line, declared once: every subcommand with its arguments, options and help
 * text. The parser (`node:util` parseArgs), each subcommand's `--help`, the shell completion and the docs'
 * tests all read this table, so an option documented is an option accepted and completed.
 */

/** One option of a subcommand. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in help text (string options). */
  readonly value?: string;
  readonly description: string;
}

/** One subcommand. */
export interface CommandSpec {
  readonly name: string;
  /** Positional arguments, in order (all required). */
  readonly args: readonly string[];
  readonly summary: string;
  /** Longer help: what it does and touches. */
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly string[];
}

/** Options every subcommand takes. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'work-dir': {
    type: 'string',
    value: 'DIR',
    description:
      'the project (Pulumi.yaml and Pulumi.<stack>.yaml); default: the nearest folder upwards holding Pulumi.yaml',
  },
  json: {
    type: 'boolean',
    description: 'print one JSON document on stdout (schema: release/schema.json); progress goes to stderr',
  },
  quiet: { type: 'boolean', short: 'q', description: 'print only the result and errors, no progress' },
  verbose: {
    type: 'boolean',
    short: 'v',
    description: "also print every release-log record (JSON) and stream the Pulumi engine's own output",
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const COMMIT: OptionSpec = {
  type: 'boolean',
  description: 'commit the changed Pulumi.<stack>.yaml (otherwise the command prints the git commit to run)',
};
const YES: OptionSpec = {
  type: 'boolean',
  short: 'y',
  description:
    'do not ask for confirmation (production asks on a terminal; without a terminal --yes is required)',
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'deploy',
    args: ['stack', 'image'],
    summary: 'put a new image on the idle slot (traffic does not move)',
    description:
      'Writes pavemaster:<idle>Image (and <idle>Version, <idle>ReleaseId, <idle>ReleasedAt) to the stack file, runs\n' +
      'pulumi up and waits until the idle slot is Ready behind the preview Service. Takes the release lock: until\n' +
      'the release is promoted or aborted, another deploy or promote of the stack is refused.',
    options: {
      version: { type: 'string', value: 'V', description: "the version label (default: the image's tag)" },
      'release-id': {
        type: 'string',
        value: 'ID',
        description: 'the release id (default: r<yyyymmdd>-<hhmmss>)',
      },
      commit: COMMIT,
    },
    examples: [
      'deploy staging pavemaster/web:2.0.0',
      'deploy production ghcr.io/acme/web:2.0.0@sha256:<64 hex> --commit',
    ],
  },
  {
    name: 'promote',
    args: ['stack'],
    summary: 'gate the idle slot, switch traffic to it, check it after the switch',
    description:
      'Runs the pre-promotion gates (ready, backup, migration, smoke), switches both Services to the idle slot, then\n' +
      'watches Prometheus for the post-promotion window and flips back automatically on a breach (exit 4).\n' +
      'Production asks for confirmation unless --yes. Ends the release lock.',
    options: {
      preview: {
        type: 'boolean',
        description: 'show what the switch would change (Markdown), change nothing',
      },
      'prometheus-url': {
        type: 'string',
        value: 'URL',
        description: 'Prometheus for the post-promotion check (default: pavemaster:release.prometheusUrl)',
      },
      yes: YES,
      commit: COMMIT,
    },
    examples: ['promote staging', 'promote staging --preview', 'promote production --yes --commit'],
  },
  {
    name: 'rollback',
    args: ['stack'],
    summary: 'flip traffic back to the previous slot, or restore stack version N',
    description:
      'Without --to: an instant switch back to the other slot, which still runs the previous version.\n' +
      'With --to N: restores what stack version N (as `pulumi stack history` numbers it; see `history`) recorded.\n' +
      'Production asks for confirmation unless --yes.',
    options: {
      to: { type: 'string', value: 'N', description: 'the stack version to restore (see: history <stack>)' },
      yes: YES,
      commit: COMMIT,
    },
    examples: ['rollback staging', 'rollback production --to 42 --yes'],
  },
  {
    name: 'abort',
    args: ['stack'],
    summary: 'end a release that will not be promoted: idle slot back to its previous release, lock freed',
    description:
      'Ends the release deploy started without promoting it (like Argo Rollouts abort): traffic stays where it is,\n' +
      "the aborted release's pods on the idle slot are scaled down by putting the slot back on what it ran before\n" +
      'the deploy (recorded in the release lock; so it is again the warm instant-rollback target), and the release\n' +
      'lock is freed, so the next deploy can start.',
    options: { commit: COMMIT },
    examples: ['abort staging'],
  },
  {
    name: 'history',
    args: ['stack'],
    summary: "the stack's versions: active slot, images, time, result",
    description:
      'Every update of the stack, newest first, numbered as `pulumi stack history` numbers them (on the file\n' +
      'backend, which records no numbers, 1 is the oldest entry).',
    options: {},
    examples: ['history staging', 'history staging --json'],
  },
  {
    name: 'status',
    args: ['stack'],
    summary: 'live slots, readiness, release lock and drift',
    description:
      'Reads the live Services, Deployments and EndpointSlices and compares them with the last update and the\n' +
      'committed stack file; shows who holds the release lock.',
    options: {},
    examples: ['status staging', 'status staging --json'],
  },
  {
    name: 'preview',
    args: ['stack'],
    summary: 'pulumi preview as a pull-request report',
    description: 'Runs pulumi preview and prints the planned changes as Markdown (the pull-request comment).',
    options: {
      markdown: { type: 'boolean', description: 'Markdown (the default; kept for scripts that pass it)' },
    },
    examples: ['preview staging', 'preview staging --json'],
  },
  {
    name: 'recover',
    args: ['stack'],
    summary: 'make an interrupted stack usable again',
    description:
      'Removes a stale Pulumi lock of a process that no longer runs (file backend), clears the pending operations\n' +
      'an interrupted update left, and refreshes the state. Refuses while the lock holder still runs.',
    options: {},
    examples: ['recover staging'],
  },
  {
    name: 'completion',
    args: ['shell'],
    summary: 'print the shell completion script (bash or zsh)',
    description:
      'Prints a completion script for bash or zsh: subcommands, their options and the stacks of the project.\n' +
      '  bash: source <(pavemaster completion bash)\n' +
      '  zsh:  source <(pavemaster completion zsh)',
    options: {},
    examples: ['completion bash > /etc/bash_completion.d/pavemaster'],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Every option a subcommand accepts (its own and the common ones). */
export function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, ...COMMON_OPTIONS };
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`,
    o.description,
  ]);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`);
}

/** The help of one subcommand. */
export function commandHelp(prog: string, spec: CommandSpec): string {
  const own = Object.keys(spec.options).length > 0 ? ['', 'options:', ...optionLines(spec.options)] : [];
  return [
    `usage: ${prog} ${spec.name} ${spec.args.map((a) => `<${a}>`).join(' ')} [options]`,
    '',
    `${spec.summary}.`,
    '',
    spec.description,
    ...own,
    '',
    'common options:',
    ...optionLines(COMMON_OPTIONS),
    '',
    'examples:',
    ...spec.examples.map((e) => `  ${prog} ${e}`),
  ].join('\n');
}

/** The exit codes, as documented. */
export const EXIT_CODES: readonly (readonly [number, string])[] = [
  [0, 'done'],
  [1, 'failed (the message says what and how to fix it)'],
  [2, 'a gate failed; traffic did not move'],
  [3, 'the stack is locked (by another release or Pulumi update)'],
  [4, 'rolled back automatically after promotion'],
  [64, 'usage error (unknown command, option or stack, bad value)'],
  [130, 'stopped by SIGINT (Ctrl-C) at a safe point; re-run the command to continue'],
  [143, 'stopped by SIGTERM at a safe point; re-run the command to continue'],
];

/** The overview help. */
export function mainHelp(prog: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `usage: ${prog} <command> <stack> [options]`,
    '',
    'Blue/green releases of PaveMaster, one step per command.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'common options:',
    ...optionLines(COMMON_OPTIONS),
    '',
    'exit codes:',
    ...EXIT_CODES.map(([code, what]) => `  ${String(code).padStart(3)}  ${what}`),
    '',
    `\`${prog} <command> --help\` shows a command's options.`,
  ].join('\n');
}

/** A bash completion script (zsh: through bashcompinit) for `prog`. */
export function completionScript(prog: string, shell: 'bash' | 'zsh'): string {
  const fn = `_${prog.replace(/[^A-Za-z0-9]/g, '_')}_complete`;
  const cases = COMMANDS.map((c) => {
    const opts = Object.keys(optionsOf(c))
      .map((o) => `--${o}`)
      .join(' ');
    return `    ${c.name}) opts="${opts}" ;;`;
  }).join('\n');
  const body = `${fn}() {
  local cur prev cmd opts stacks f
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${COMMANDS.map((c) => c.name).join(' ')} --help" -- "$cur") )
    return 0
  fi
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  case "$prev" in
    --work-dir) COMPREPLY=( $(compgen -d -- "$cur") ); return 0 ;;
    --version|--release-id|--to|--prometheus-url) COMPREPLY=(); return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return 0
  fi
  if [ "$cmd" = completion ]; then
    COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") )
    return 0
  fi
  stacks=""
  for f in Pulumi.*.yaml; do
    [ -e "$f" ] || continue
    f="\${f#Pulumi.}"
    stacks="$stacks \${f%.yaml}"
  done
  COMPREPLY=( $(compgen -W "$stacks" -- "$cur") )
}
complete -F ${fn} ${prog}
`;
  return shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${body}` : body;
}
