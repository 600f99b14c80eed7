/**
 * The config schema: Pulumi.yaml declares every `pavemaster:*` key the program reads, with its type and
 * description, equal to stacks/schema.ts; the committed stack files use only declared keys, of the declared
 * types; a declared default changes nothing the program builds; and the real Pulumi CLI refuses a value of the
 * wrong type before the program runs.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import {
  CONFIG_SCHEMA,
  ConfigDeclaration,
  SECRET_CONFIG_KEYS,
  withoutDeclaredDefaults,
} from '../../../stacks/schema';
import { KNOWN_KEYS, loadSettings, SECRET_KEYS } from '../../../stacks/settings';

const repo = path.resolve(__dirname, '..', '..', '..');
const PREFIX = 'pavemaster:';

type Declared = Record<
  string,
  { type?: string; items?: { type: string }; description?: string; default?: unknown }
>;

function projectConfig(): Declared {
  const doc = parse(fs.readFileSync(path.join(repo, 'Pulumi.yaml'), 'utf8')) as { config: Declared };
  return doc.config;
}

function stackConfig(stack: string): Record<string, unknown> {
  const doc = parse(fs.readFileSync(path.join(repo, `Pulumi.${stack}.yaml`), 'utf8')) as {
    config: Record<string, unknown>;
  };
  return doc.config;
}

/** A value as Pulumi passes it to the program: text, objects and lists as JSON. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Pulumi's own type check (sdk/go/common/workspace ValidateConfigValue), for the committed values. */
function hasType(d: ConfigDeclaration, value: unknown): boolean {
  switch (d.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value));
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return (
        Array.isArray(value) &&
        value.every((v) => hasType({ type: d.items?.type ?? 'string', description: '' }, v))
      );
  }
}

describe('Pulumi.yaml config schema', () => {
  const declared = projectConfig();

  test('declares exactly the keys the program reads, each with its type and description as stacks/schema.ts', () => {
    const keys = Object.keys(declared).map((k) => k.slice(PREFIX.length));
    expect(Object.keys(declared).every((k) => k.startsWith(PREFIX))).toBe(true);
    expect([...keys].sort()).toEqual([...KNOWN_KEYS].sort());
    expect(keys).toEqual(Object.keys(CONFIG_SCHEMA));
    for (const [key, d] of Object.entries(CONFIG_SCHEMA)) {
      const entry = declared[`${PREFIX}${key}`];
      expect({
        key,
        type: entry.type,
        items: entry.items,
        description: entry.description,
        default: entry.default,
      }).toEqual({ key, type: d.type, items: d.items, description: d.description, default: d.default });
      expect(d.description.length).toBeGreaterThan(10);
    }
  });

  test("the secret keys are the loader's, and their descriptions say so", () => {
    expect([...SECRET_CONFIG_KEYS].sort()).toEqual([...SECRET_KEYS].sort());
    for (const key of SECRET_CONFIG_KEYS) {
      expect(CONFIG_SCHEMA[key].description).toMatch(/^Secret: .*--secret/);
    }
  });

  test.each(['staging', 'production'])(
    'Pulumi.%s.yaml uses only declared keys, of the declared types',
    (stack) => {
      for (const [key, value] of Object.entries(stackConfig(stack))) {
        const d = CONFIG_SCHEMA[key.slice(PREFIX.length)];
        expect({ key, declared: d !== undefined }).toEqual({ key, declared: true });
        expect({ key, typed: hasType(d, value) }).toEqual({ key, typed: true });
      }
    },
  );

  test.each(['staging', 'production'])(
    '%s: the settings with every declared default merged in equal the settings of the stack file alone',
    (stack) => {
      const own: Record<string, string> = {};
      for (const [key, value] of Object.entries(stackConfig(stack))) {
        own[key.slice(PREFIX.length)] = asText(value);
      }
      // What Pulumi passes the program: the declared defaults of every key the stack does not set.
      const merged: Record<string, string> = {};
      for (const [key, d] of Object.entries(CONFIG_SCHEMA)) {
        if (d.default !== undefined) {
          merged[key] = asText(d.default);
        }
      }
      Object.assign(merged, own);
      expect(loadSettings(stack, withoutDeclaredDefaults(merged))).toEqual(loadSettings(stack, own));
      // A fixed (non-placeholder) default is the loader's own: leaving it out changes nothing either.
      for (const [key, d] of Object.entries(CONFIG_SCHEMA)) {
        if (d.default !== undefined && d.placeholder !== true && own[key] === undefined) {
          expect({ key, settings: loadSettings(stack, { ...own, [key]: asText(d.default) }) }).toEqual({
            key,
            settings: loadSettings(stack, own),
          });
        }
      }
    },
  );

  test('a placeholder is dropped, any other value is kept', () => {
    // A typed 0 is not a placeholder: it must reach the validator, which refuses zero replicas.
    expect(withoutDeclaredDefaults({ replicas: '0', pdbMaxUnavailable: '0' })).toEqual({
      replicas: '0',
      pdbMaxUnavailable: '0',
    });
    expect(
      withoutDeclaredDefaults({ replicas: '-1', idleReplicas: '-1', monitoring: '{}', smokePaths: '[]' }),
    ).toEqual({});
    expect(
      withoutDeclaredDefaults({ replicas: '2', idleReplicas: '0', port: '8080', host: 'a.example' }),
    ).toEqual({
      replicas: '2',
      idleReplicas: '0',
      port: '8080',
      host: 'a.example',
    });
  });
});

describe('the Pulumi CLI checks the declared types', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-schema-'));
    const out = execFileSync('bash', ['-c', 'source scripts/env.sh && env -0'], {
      cwd: repo,
      encoding: 'utf8',
    });
    env = Object.fromEntries(
      out
        .split('\0')
        .filter((e) => e.includes('='))
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    fs.mkdirSync(path.join(dir, 'state'));
    env.PULUMI_BACKEND_URL = `file://${path.join(dir, 'state')}`;
    // Only the project file: the type check runs before the language host, so no program is needed.
    fs.copyFileSync(path.join(repo, 'Pulumi.yaml'), path.join(dir, 'Pulumi.yaml'));
    execFileSync('pulumi', ['stack', 'init', 'schema', '--non-interactive'], { cwd: dir, env });
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function preview(config: Record<string, unknown>): string {
    const salt =
      fs.readFileSync(path.join(dir, 'Pulumi.schema.yaml'), 'utf8').match(/^encryptionsalt: .*$/m)?.[0] ?? '';
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(file, `${salt}\nconfig: ${JSON.stringify(config)}\n`);
    const r = spawnSync(
      'pulumi',
      ['preview', '--stack', 'schema', '--config-file', file, '--non-interactive'],
      { cwd: dir, env, encoding: 'utf8', timeout: 120_000 },
    );
    return `${r.stdout}\n${r.stderr}`;
  }

  test('the committed staging config passes the type check', () => {
    const out = preview(stackConfig('staging'));
    expect(out).not.toMatch(/validating stack config|missing configuration/);
  });

  test.each([
    ['pavemaster:replicas', 'three', 'integer'],
    ['pavemaster:allowExternalServices', 'yes', 'boolean'],
    ['pavemaster:monitoring', 'off', 'object'],
    ['pavemaster:smokePaths', '/healthz', 'array<string>'],
  ])('%s = %j is refused: must be of type %s', (key, value, type) => {
    const out = preview({ ...stackConfig('staging'), [key]: value });
    expect(out).toContain(`Stack 'schema' with configuration key '${key}' must be of type '${type}'`);
  });

  test('a stack without an image is refused as missing its required keys', () => {
    const rest = { ...stackConfig('staging') };
    delete rest['pavemaster:blueImage'];
    delete rest['pavemaster:greenImage'];
    expect(preview(rest)).toMatch(
      /missing configuration values 'pavemaster:blueImage' and 'pavemaster:greenImage'/,
    );
  });
});
