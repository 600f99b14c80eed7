/**
 * Renders every Kubernetes object of a stack as YAML, the way the program would send it to the cluster: the
 * program runs under Pulumi's mocks (test/support/harness.ts) with the stack's committed config, and each
 * registered resource of type `kubernetes:<group>/<version>:<Kind>` becomes one document of
 * `rendered/<stack>/manifests.yaml`. Independent scanners (checkov, kube-score) then read those files.
 *
 * Secret values never reach the output: every input that arrives marked as a Pulumi secret, and everything in a
 * Secret's `data`/`stringData`, is replaced by a placeholder. A marked secret found outside a Secret object is
 * reported as a leak (it would sit in plain text in the cluster).
 *
 * Usage: scripts/render-manifests [--out DIR] [--set KEY=VALUE]... [STACK...]
 *   --out DIR        where to write (default: rendered/)
 *   --set KEY=VALUE  override a `pavemaster:` config value (without the prefix), e.g. a secret to check that it
 *                    never shows in the output
 *   STACK            default: staging and production
 */
import * as fs from 'fs';
import * as path from 'path';
import { stringify } from 'yaml';
import { isSecret, Registered, recordStack, unsecret } from '../test/support/harness';
import { REPO, stackConfig } from '../test/support/stackConfig';

/** The stacks rendered when none is named. */
export const STACKS = ['staging', 'production'] as const;

/** One Kubernetes object. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** What rendering a stack gives. */
export interface Rendered {
  stack: string;
  /** Every Kubernetes object, in registration order. */
  manifests: Manifest[];
  /** The multi-document YAML. */
  yaml: string;
  /** Paths ("Kind ns/name: field.path") where a Pulumi secret sat outside a Secret object. */
  leaks: string[];
}

/** The text that stands in for a secret value. */
export const SECRET_PLACEHOLDER = '<secret>';
const SECRET_PLACEHOLDER_B64 = Buffer.from(SECRET_PLACEHOLDER).toString('base64');

/** apiVersion and kind of a Pulumi Kubernetes type token; undefined for anything that is not a k8s object. */
export function apiVersionKind(type: string): { apiVersion: string; kind: string } | undefined {
  const m = /^kubernetes:([^/:]+)\/([^/:]+):([A-Za-z0-9]+)$/.exec(type);
  if (!m || ['yaml', 'helm.sh', 'kustomize'].includes(m[1])) {
    return undefined;
  }
  const [, group, version, kind] = m;
  return { apiVersion: group === 'core' ? version : `${group}/${version}`, kind };
}

/** A copy of `value` with Pulumi secrets replaced by placeholders and empty values dropped. */
function clean(value: unknown, where: string, secrets: string[]): unknown {
  if (isSecret(value)) {
    secrets.push(where);
    return SECRET_PLACEHOLDER;
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => clean(v, `${where}[${i}]`, secrets)).filter((v) => v !== undefined);
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const c = clean(v, where === '' ? k : `${where}.${k}`, secrets);
      if (c !== undefined) {
        out[k] = c;
      }
    }
    return out;
  }
  return value === null ? undefined : value;
}

/** The manifest of one registered resource, or undefined when it is not a Kubernetes object. */
export function toManifest(r: Registered, leaks: string[] = []): Manifest | undefined {
  const gvk = apiVersionKind(r.type);
  if (!gvk || !r.custom) {
    return undefined;
  }
  const secrets: string[] = [];
  const body = (clean(r.inputs, '', secrets) ?? {}) as Record<string, unknown>;
  const metadata = (body.metadata ?? {}) as Manifest['metadata'];
  delete body.apiVersion;
  delete body.kind;
  delete body.metadata;
  if (gvk.kind === 'Secret') {
    // Every value of a Secret is a secret, marked or not: the output holds the keys only.
    for (const field of ['data', 'stringData'] as const) {
      const values = unsecret(r.inputs[field]);
      if (values !== null && typeof values === 'object') {
        body[field] = Object.fromEntries(
          Object.keys(values).map((k) => [k, field === 'data' ? SECRET_PLACEHOLDER_B64 : SECRET_PLACEHOLDER]),
        );
      }
    }
  } else {
    const who = `${gvk.kind} ${metadata.namespace ?? ''}/${metadata.name ?? r.name}`;
    leaks.push(...secrets.map((field) => `${who}: ${field}`));
  }
  return { apiVersion: gvk.apiVersion, kind: gvk.kind, metadata, ...body };
}

/** Renders a stack from its committed config (plus overrides, e.g. secret config values a test sets). */
export async function renderStack(stack: string, overrides: Record<string, unknown> = {}): Promise<Rendered> {
  const { resources } = await recordStack(stack, stackConfig(stack, overrides));
  const leaks: string[] = [];
  const manifests = resources.map((r) => toManifest(r, leaks)).filter((m): m is Manifest => m !== undefined);
  const yaml = manifests.map((m) => stringify(m, { lineWidth: 0 })).join('---\n');
  return { stack, manifests, yaml, leaks };
}

/** Writes `<out>/<stack>/manifests.yaml`; returns its path. */
export function writeRendered(rendered: Rendered, out: string): string {
  const dir = path.join(out, rendered.stack);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'manifests.yaml');
  fs.writeFileSync(file, rendered.yaml);
  return file;
}

async function main(argv: string[]): Promise<number> {
  let out = path.join(REPO, 'rendered');
  const stacks: string[] = [];
  const overrides: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') {
      out = path.resolve(argv[++i] ?? '');
    } else if (argv[i] === '--set') {
      const [key, ...value] = (argv[++i] ?? '').split('=');
      if (key === '' || value.length === 0) {
        console.error('--set takes KEY=VALUE');
        return 2;
      }
      overrides[key] = value.join('=');
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('usage: scripts/render-manifests [--out DIR] [--set KEY=VALUE]... [STACK...]');
      return 0;
    } else {
      stacks.push(argv[i]);
    }
  }
  let status = 0;
  for (const stack of stacks.length > 0 ? stacks : STACKS) {
    const rendered = await renderStack(stack, overrides);
    const file = writeRendered(rendered, out);
    console.log(`${stack}: ${rendered.manifests.length} objects -> ${path.relative(process.cwd(), file)}`);
    for (const leak of rendered.leaks) {
      console.error(`${stack}: SECRET OUTSIDE A SECRET: ${leak}`);
      status = 1;
    }
  }
  return status;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
