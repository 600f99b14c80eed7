/**
 * Runs the program (or any function that registers resources) under Pulumi's mocks and records every resource
 * it registers: type, name, resolved inputs and parent. Unit tests assert on these records; the manifest
 * renderer turns the Kubernetes ones into YAML.
 */
import * as path from 'path';
import * as pulumi from '@pulumi/pulumi';
import { loadSettings, Settings } from '../../stacks/settings';
import { withMockKubeconfig } from './kubeconfig';

/** One registered resource. */
export interface Registered {
  /** The type token, e.g. "kubernetes:apps/v1:Deployment" or "pavemaster:app:BlueGreenApp". */
  type: string;
  /** The Pulumi resource name. */
  name: string;
  /** The inputs as the provider would receive them; secret values stay wrapped (see {@link isSecret}). */
  inputs: Record<string, unknown>;
  /** The parent's type and name, when the resource has a parent other than the stack. */
  parent?: { type: string; name: string };
  /** True for custom (provider) resources, false for components. */
  custom: boolean;
  /** The resource's options as given. */
  protect: boolean;
}

type Plain = Record<string, unknown>;

function isResource(value: unknown): value is pulumi.Resource {
  return pulumi.Resource.isInstance(value);
}

/** Runs `program` under mocks and returns every resource it registered, in registration order. */
export async function record(
  program: () => void,
  opts: { stack?: string; preview?: boolean } = {},
): Promise<Registered[]> {
  const byName = new Map<string, Registered>();
  const order: Registered[] = [];
  const parents = new Map<string, { type: string; name: string }>();
  const protects = new Map<string, boolean>();
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Plain } {
        const inputs = (args.inputs ?? {}) as Plain;
        const entry: Registered = {
          type: args.type,
          name: args.name,
          inputs,
          custom: args.custom ?? true,
          protect: false,
        };
        byName.set(`${args.type}::${args.name}`, entry);
        order.push(entry);
        const state: Plain = { ...inputs };
        if (args.type === 'random:index/randomPassword:RandomPassword') {
          state.result = `mock-password-${args.name}`;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Plain {
        return args.inputs as Plain;
      },
    },
    'pavemaster',
    opts.stack ?? 'unit',
    opts.preview ?? false,
  );
  await pulumi.runtime.runInPulumiStack(() => {
    pulumi.runtime.registerStackTransformation((args) => {
      const parent = args.opts.parent;
      if (parent && isResource(parent) && !(parent instanceof pulumi.runtime.Stack)) {
        const parentType = (parent as unknown as { __pulumiType: string }).__pulumiType;
        const parentName = (parent as unknown as { __name: string }).__name;
        parents.set(`${args.type}::${args.name}`, { type: parentType, name: parentName });
      }
      protects.set(`${args.type}::${args.name}`, args.opts.protect === true);
      return undefined;
    });
    program();
    return Promise.resolve(undefined);
  });
  // The stack's outputs resolve before its children finish registering: wait for every outstanding RPC.
  await pulumi.runtime.disconnect();
  for (const [key, entry] of byName) {
    entry.parent = parents.get(key);
    entry.protect = protects.get(key) ?? false;
  }
  // Components are registered through the mock monitor too; their parent info comes from the transformation.
  return order;
}

/**
 * Runs the program itself (`infra/index.ts`, what Pulumi runs) for a stack with the given raw config values (keys
 * without the `pavemaster:` prefix), with a fresh copy of its modules, and returns what it registered and exported.
 */
export async function recordStack(
  stack: string,
  raw: Record<string, string>,
  opts: { secretKeys?: readonly string[] } = {},
): Promise<{ settings: Settings; resources: Registered[]; outputs: Record<string, unknown> }> {
  const settings = loadSettings(stack, raw);
  let outputs: Record<string, unknown> = {};
  const resources = await record(
    () => {
      const values: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        values[`pavemaster:${k}`] = v;
      }
      pulumi.runtime.setAllConfig(
        values,
        (opts.secretKeys ?? []).map((k) => `pavemaster:${k}`),
      );
      const load = () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        outputs = require('../../infra/index') as Record<string, unknown>;
      };
      // Under jest, a fresh module registry per stack (the program runs at import); elsewhere the plain cache.
      if (typeof jest !== 'undefined') {
        jest.isolateModules(() => withMockKubeconfig(load));
      } else {
        const repo = path.resolve(__dirname, '..', '..') + path.sep;
        for (const key of Object.keys(require.cache)) {
          const rel = key.startsWith(repo) ? key.slice(repo.length) : '';
          if (/^(infra|components|stacks)[\\/]/.test(rel)) {
            delete require.cache[key];
          }
        }
        withMockKubeconfig(load);
      }
    },
    { stack },
  );
  return { settings, resources, outputs };
}

/** The resources of a type. */
export function ofType(resources: readonly Registered[], type: string): Registered[] {
  return resources.filter((r) => r.type === type);
}

/** The one resource with a type and name; throws when absent. */
export function find(resources: readonly Registered[], type: string, name: string): Registered {
  const found = resources.find((r) => r.type === type && r.name === name);
  if (!found) {
    throw new Error(
      `no ${type} named ${name}; have: ${resources.map((r) => `${r.type}::${r.name}`).join(', ')}`,
    );
  }
  return found;
}

/** Reads a nested value by a dotted path ("spec.template.spec.containers"). */
export function at(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Plain)[part];
  }
  return current;
}

/** The signature Pulumi's wire format puts on a secret value. */
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
const SIG_KEY = '4dabf18193072939515e22adb298388d';

/** True when an input arrived marked as a Pulumi secret. */
export function isSecret(value: unknown): value is { value: unknown } {
  return (
    typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
  );
}

/** The value inside a secret marker (or the value itself when it is not a secret). */
export function unsecret(value: unknown): unknown {
  return isSecret(value) ? value.value : value;
}
