/**
 * The program entry (infra/index.ts) under Pulumi's mocks, runnable many times in one process: the entry is
 * compiled once and evaluated once per run with the modules it imports already loaded, exactly as the language
 * host evaluates the program module (a fresh module registry per run would reload the SDKs, seconds each). The
 * mocks count every resource the run registers.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import * as ts from 'typescript';
import { SECRET_KEYS } from '../../stacks/settings';
import { REPO } from '../support/stackConfig';

type Entry = (
  exports: Record<string, unknown>,
  req: (id: string) => unknown,
  module: { exports: Record<string, unknown> },
  filename: string,
  dirname: string,
) => void;

const entryFile = path.join(REPO, 'infra', 'index.ts');
let entry: Entry | undefined;

function compiled(): Entry {
  if (entry === undefined) {
    const js = ts.transpileModule(fs.readFileSync(entryFile, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: entryFile,
    }).outputText;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the program entry, compiled from the repo
    entry = new Function('exports', 'require', 'module', '__filename', '__dirname', js) as Entry;
  }
  return entry;
}

function entryRequire(id: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id.startsWith('.') ? path.resolve(path.dirname(entryFile), id) : id);
}

/**
 * The state a provider would return: the inputs, plus the outputs the program reads from two providers (a
 * generated password's result, a pushed image's repo digest).
 */
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, unknown> {
  const inputs = args.inputs as Record<string, unknown>;
  if (args.type === 'random:index/randomPassword:RandomPassword') {
    return { ...inputs, result: `mock-password-${args.name}` };
  }
  if (args.type === 'docker:index/image:Image' && typeof inputs.imageName === 'string') {
    const repository = inputs.imageName.replace(/:[^:/]+$/, '');
    return { ...inputs, repoDigest: `${repository}@sha256:${'0'.repeat(64)}` };
  }
  return inputs;
}

/** What one run of the entry did: the error it threw (if any) and the resources it registered. */
export interface EntryRun {
  error: unknown;
  /** `type::name` of every resource registered, the stack resource itself excluded. */
  registered: string[];
  /** What the program warned about (pulumi.log.warn). */
  warnings: string[];
}

/** Runs the program entry for stack `stack` with raw config (keys without the `pavemaster:` prefix). */
export async function runEntry(stack: string, raw: Readonly<Record<string, string>>): Promise<EntryRun> {
  const registered: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        registered.push(`${args.type}::${args.name}`);
        return { id: `${args.name}-id`, state: mockState(args) };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        return args.inputs as Record<string, unknown>;
      },
    },
    'pavemaster',
    stack,
    false,
  );
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    config[`pavemaster:${k}`] = v;
  }
  pulumi.runtime.setAllConfig(
    config,
    SECRET_KEYS.map((k) => `pavemaster:${k}`),
  );
  const program = compiled();
  let error: unknown;
  // An error inside an output's apply surfaces as an unhandled rejection, after the entry has returned.
  const onRejection = (reason: unknown): void => {
    error ??= reason;
  };
  process.on('unhandledRejection', onRejection);
  // The program's warnings (pulumi.log.warn prints to the console under mocks) are kept, not printed: thousands
  // of runs would bury the test's own output.
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
  try {
    await pulumi.runtime.runInPulumiStack(() => {
      const module = { exports: {} as Record<string, unknown> };
      try {
        program(module.exports, entryRequire, module, entryFile, path.dirname(entryFile));
      } catch (e) {
        error = e;
      }
      return Promise.resolve(undefined);
    });
    // Outstanding registrations finish before the count is read.
    await pulumi.runtime.disconnect();
    await new Promise((r) => setImmediate(r));
  } catch (e) {
    // A failure after the entry returned (an output's apply, a registration): reported like a thrown one.
    error ??= e;
  } finally {
    process.off('unhandledRejection', onRejection);
    console.warn = warn;
  }
  return { error, registered: registered.filter((r) => !r.startsWith('pulumi:pulumi:Stack::')), warnings };
}
