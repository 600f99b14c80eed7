/**
 * A stack opened from its files, without a Pulumi CLI process: its config (the stack file merged over the
 * defaults Pulumi.yaml declares, as `pulumi config --json` shows it) and its outputs (the root resource's, in the
 * file backend's checkpoint). Opening a stack through the Automation API costs five CLI processes (`pulumi
 * version`, `stack select`, `config`, `stack output` twice: about 1.7 s here) before a promote or rollback may
 * move traffic; these reads take milliseconds.
 *
 * Only where the files say everything the CLI would: a local file backend (layout version 1) with a checkpoint
 * for the stack, a plain stack name, and no config the CLI would have to resolve (a secret to decrypt, an ESC
 * environment, a project-level value). Anything else returns why, and the session opens the stack through the
 * CLI as before.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { fileBackend } from './selectors';

/** One config value as the Automation API's `getAllConfig` returns it. */
export interface ConfigEntry {
  value: string;
  secret?: boolean;
}

/** What a session needs of the stack, read from the files. */
export interface StackFiles {
  /** Every config key, namespaced (`pavemaster:activeSlot`), as `pulumi config --json` lists them. */
  config: Record<string, ConfigEntry>;
  /** The stack's outputs (plain values; a secret output, or one holding a secret, is left out). */
  outputs: Record<string, { value: unknown; secret: boolean }>;
  /**
   * The outputs left out because they are or hold a secret (`monitoring` holds Grafana's admin password beside
   * `prometheusUrl`): whoever needs one of them reads the outputs through the CLI, which decrypts.
   */
  secretOutputs: string[];
}

/** The text Pulumi gives a config value: scalars as written, objects and lists as JSON. */
function configText(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (typeof value === 'object' && value !== null) {
    return JSON.stringify(value);
  }
  return undefined;
}

/** Pulumi's marker of a secret value in a checkpoint. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

function hasSecret(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  if ((value as Record<string, unknown>)[SECRET_SIG] !== undefined) {
    return true;
  }
  return Object.values(value as Record<string, unknown>).some(hasSecret);
}

/** Whether a stack-file value is (or holds, set with `--path`) an encrypted `{secure: ...}` value. */
export function hasSecure(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  if (!Array.isArray(value) && 'secure' in value) {
    return true;
  }
  return Object.values(value as Record<string, unknown>).some(hasSecure);
}

/**
 * Reads the stack `stack` of the project in `workDir` from its files, or says why the CLI must open it.
 * `backendUrl` is the backend the CLI would use (PULUMI_BACKEND_URL).
 */
export function readStackFiles(
  workDir: string,
  stack: string,
  backendUrl: string | undefined,
): StackFiles | string {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
    return `the stack name ${stack} is qualified`;
  }
  const backend = fileBackend(backendUrl, workDir);
  if (backend === undefined) {
    return 'not a local file backend of layout version 1';
  }
  const deployment = backend.state(stack) as
    { resources?: { type?: string; parent?: string; outputs?: Record<string, unknown> }[] } | undefined;
  if (deployment === undefined) {
    return `no checkpoint of stack ${stack} in the backend`;
  }
  const project = parse(fs.readFileSync(path.join(workDir, 'Pulumi.yaml'), 'utf8')) as {
    name?: unknown;
    config?: Record<string, unknown>;
  };
  const name = String(project.name);
  const config: Record<string, ConfigEntry> = {};
  const qualify = (key: string) => (key.includes(':') ? key : `${name}:${key}`);
  for (const [key, declared] of Object.entries(project.config ?? {})) {
    if (typeof declared !== 'object' || declared === null || Array.isArray(declared)) {
      return `Pulumi.yaml sets ${key} to a project-level value`;
    }
    const d = declared as Record<string, unknown>;
    if (d.value !== undefined) {
      return `Pulumi.yaml sets ${key} to a project-level value`;
    }
    if (d.default !== undefined) {
      const text = configText(d.default);
      if (text === undefined) {
        return `Pulumi.yaml's default of ${key} is not a value`;
      }
      config[qualify(key)] = { value: text, secret: false };
    }
  }
  const stackFile = path.join(workDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackFile)) {
    return `no Pulumi.${stack}.yaml`;
  }
  const doc = (parse(fs.readFileSync(stackFile, 'utf8')) ?? {}) as Record<string, unknown>;
  if (doc.environment !== undefined) {
    return `Pulumi.${stack}.yaml imports an environment`;
  }
  for (const [key, value] of Object.entries((doc.config ?? {}) as Record<string, unknown>)) {
    if (hasSecure(value)) {
      return `Pulumi.${stack}.yaml has a secret in ${key} (the CLI decrypts it)`;
    }
    const text = configText(value);
    if (text === undefined) {
      return `Pulumi.${stack}.yaml's ${key} has no value`;
    }
    config[qualify(key)] = { value: text, secret: false };
  }
  const root = (deployment.resources ?? []).find((r) => r.type === 'pulumi:pulumi:Stack');
  const outputs: StackFiles['outputs'] = {};
  const secretOutputs: string[] = [];
  for (const [key, value] of Object.entries(root?.outputs ?? {})) {
    if (hasSecret(value)) {
      secretOutputs.push(key);
    } else {
      outputs[key] = { value, secret: false };
    }
  }
  return { config, outputs, secretOutputs };
}
