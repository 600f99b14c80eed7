/**
 * Reads a stack's committed config the way Pulumi hands it to the program: the project's declared defaults from
 * Pulumi.yaml overlaid with Pulumi.<stack>.yaml, keys in the `pavemaster` namespace, plain values as text and
 * structured values as JSON text.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';

export const REPO = path.resolve(__dirname, '..', '..');

type Doc = { config?: Record<string, unknown> };

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The `pavemaster:*` config of a committed stack file, keyed without the namespace. */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, string> {
  const project = parse(fs.readFileSync(path.join(REPO, 'Pulumi.yaml'), 'utf8')) as Doc;
  const stackDoc = parse(fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), 'utf8')) as Doc;
  const out: Record<string, string> = {};
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    const d = decl as { default?: unknown };
    if (key.startsWith('pavemaster:') && d.default !== undefined) {
      out[key.slice('pavemaster:'.length)] = asText(d.default);
    }
  }
  for (const [key, value] of Object.entries(stackDoc.config ?? {})) {
    if (key.startsWith('pavemaster:')) {
      out[key.slice('pavemaster:'.length)] = asText(value);
    }
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) {
      delete out[key];
    } else {
      out[key] = asText(value);
    }
  }
  return out;
}
