/**
 * The shapes of the settings keys, found by the real loader rather than listed by hand: `loadSettings` runs once
 * per base config while every getter of `Fields` (the one typed reader every section uses) is wrapped to record
 * which key it read, as what kind of value, with which allowed values and bounds. A key added to stacks/ is fuzzed
 * without touching this file; a key read only under a condition (`imageBuild`, `secretEnv.<NAME>`) is found by a
 * base config that sets it.
 */
import fc from 'fast-check';
import { Fields } from '../../stacks/fields';
import { loadSettings } from '../../stacks/settings';

/** How a key is read. */
export type Kind =
  'string' | 'optionalString' | 'int' | 'number' | 'bool' | 'object' | 'stringMap' | 'stringList';

/** One key, as the loader reads it. */
export interface Shape {
  /** The path below `pavemaster:`: `['replicas']`, `['monitoring', 'prometheus', 'replicas']`. */
  path: readonly string[];
  kind: Kind;
  /** For strings read with `oneOf`. */
  oneOf?: readonly string[];
  /** For numbers: the bounds the reader enforces. */
  min?: number;
  max?: number;
}

/** The full config key of a path, as problems name it (`pavemaster:monitoring.prometheus.replicas`). */
export function keyOf(path: readonly string[]): string {
  return `pavemaster:${path.join('.')}`;
}

const KINDS: readonly Kind[] = [
  'string',
  'optionalString',
  'int',
  'number',
  'bool',
  'object',
  'stringMap',
  'stringList',
];

type Method = (this: Fields, name: string, ...rest: unknown[]) => unknown;

function optsOf(
  kind: Kind,
  rest: readonly unknown[],
): { oneOf?: readonly string[]; min?: number; max?: number } {
  // string(name, def, opts), int(name, def, opts), number(name, def, opts); optionalString(name, opts).
  const opts = kind === 'optionalString' ? rest[0] : rest[1];
  if (typeof opts !== 'object' || opts === null) {
    return {};
  }
  const o = opts as { oneOf?: unknown; min?: unknown; max?: unknown };
  return {
    oneOf: Array.isArray(o.oneOf) ? o.oneOf.map(String) : undefined,
    min: typeof o.min === 'number' ? o.min : undefined,
    max: typeof o.max === 'number' ? o.max : undefined,
  };
}

/** Every key the loader reads for `raw` (keys without the namespace), in the order it reads them. */
export function discoverShapes(stack: string, raw: Readonly<Record<string, string>>): Shape[] {
  const paths = new WeakMap<Fields, readonly string[]>();
  const found = new Map<string, Shape>();
  const proto = Fields.prototype as unknown as Record<Kind, Method>;
  const originals = new Map<Kind, Method>();
  for (const kind of KINDS) {
    const original = proto[kind];
    originals.set(kind, original);
    proto[kind] = function (this: Fields, name: string, ...rest: unknown[]): unknown {
      const parent = paths.get(this) ?? (this.prefix === 'pavemaster:' ? [] : undefined);
      const result = original.call(this, name, ...rest);
      if (parent !== undefined) {
        const path = [...parent, name];
        if (kind === 'object' && result instanceof Fields) {
          paths.set(result, path);
        }
        const id = path.join('\u0000');
        if (!found.has(id)) {
          found.set(id, { path, kind, ...optsOf(kind, rest) });
        }
      }
      return result;
    };
  }
  try {
    loadSettings(stack, raw);
  } finally {
    for (const [kind, original] of originals) {
      proto[kind] = original;
    }
  }
  return [...found.values()];
}

/** A JSON value (what a nested config value can be after Pulumi hands the program JSON text). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Strings that have broken parsers before: empty, blank, numeric edge cases, JSON-looking, unicode, huge. */
const TRICKY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n',
  '0',
  '-0',
  '007',
  '1',
  '-1',
  '1.5',
  '1e3',
  '1e309',
  '-1e309',
  '0x10',
  '9007199254740993',
  '99999999999999999999999999999999',
  'NaN',
  'Infinity',
  'true',
  'TRUE',
  'false',
  'null',
  'undefined',
  '[]',
  '{}',
  '[1,',
  '{"a":',
  '{"__proto__":{"polluted":true}}',
  '__proto__',
  'constructor',
  'toString',
  '\u0000',
  '\u202e',
  '\ud800',
  '🚀',
  'ﬁ',
  'İ',
  'straße',
  'пример',
  '例え',
  ' leading',
  'trailing ',
  'UPPER',
  'a'.repeat(300),
  'x'.repeat(100_000),
  '../../etc/passwd',
  '$(id)',
  '${VAR}',
  '%s%n',
  'blue',
  'green',
  'staging',
  'production',
  'pavemaster/web:1.0.0',
  'Pavemaster/Web:latest',
  '100m',
  '1Gi',
  '30s',
  '/healthz',
];

/** Numbers at the edges: zero, signs, the safe-integer limits, the float limits, fractions. */
const TRICKY_NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  2 ** 31,
  -(2 ** 31),
  2 ** 53,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER - 2,
  1e308,
  -1e308,
  5e-324,
  65535,
  65536,
];

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom(...TRICKY_STRINGS),
  fc.constantFrom(...TRICKY_NUMBERS),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);

const objectKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '.', 'a.b'),
);

/** Any JSON value, nested a few levels, with tricky scalars and keys. */
export const anyJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(objectKey, tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Deep nesting (objects and arrays, 20-400 levels). */
const deepJson: fc.Arbitrary<Json> = fc
  .tuple(fc.integer({ min: 20, max: 400 }), fc.boolean(), scalar)
  .map(([depth, arrays, leaf]) => {
    let v: Json = leaf;
    for (let i = 0; i < depth; i++) {
      v = arrays ? [v] : { a: v };
    }
    return v;
  });

/** Values aimed at one shape: its allowed values and near misses, its bounds and just past them. */
function nearValues(shape: Shape): fc.Arbitrary<Json> {
  const near: Json[] = [];
  for (const option of shape.oneOf ?? []) {
    near.push(option, option.toUpperCase(), ` ${option}`, `${option}\u0000`, `${option}s`);
  }
  for (const bound of [shape.min, shape.max]) {
    if (bound !== undefined) {
      near.push(bound, bound - 1, bound + 1, bound + 0.5, String(bound), String(bound + 1), ` ${bound} `);
    }
  }
  if (shape.kind === 'bool') {
    near.push(true, false, 'true', 'false', 'yes', 0, 1, 'True');
  }
  return near.length > 0 ? fc.constantFrom(...near) : scalar;
}

/**
 * A value for `shape`: `undefined` (the key unset), a near miss for its shape, anything else (wrong types, huge
 * numbers, unicode, nesting, empty strings).
 */
export function valueFor(shape: Shape): fc.Arbitrary<Json | undefined> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: nearValues(shape) },
    { weight: 4, arbitrary: scalar },
    { weight: 3, arbitrary: anyJson },
    { weight: 1, arbitrary: deepJson },
  );
}

/**
 * The raw config with `value` at `path`, as Pulumi would hand it to the program: top-level values are text
 * (structured ones JSON text, as Pulumi passes them); below the top level the value sits in the parsed object.
 * A top-level string is passed as it is (which is also how a YAML string reaches the program).
 */
export function withValue(
  raw: Readonly<Record<string, string>>,
  path: readonly string[],
  value: Json | undefined,
): Record<string, string> {
  const out = { ...raw };
  const [top, ...rest] = path;
  if (rest.length === 0) {
    if (value === undefined) {
      delete out[top];
    } else {
      out[top] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    return out;
  }
  const parsed = parseObject(out[top]);
  let cursor = parsed;
  for (const part of rest.slice(0, -1)) {
    const next = cursor[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      // Object.defineProperty keeps a key such as "__proto__" an ordinary own key, as JSON.parse makes it.
      Object.defineProperty(cursor, part, {
        value: {},
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    cursor = cursor[part] as { [key: string]: Json };
  }
  const leaf = rest[rest.length - 1];
  if (value === undefined) {
    delete cursor[leaf];
  } else {
    Object.defineProperty(cursor, leaf, { value, enumerable: true, writable: true, configurable: true });
  }
  out[top] = JSON.stringify(parsed);
  return out;
}

function parseObject(text: string | undefined): { [key: string]: Json } {
  if (text === undefined) {
    return {};
  }
  try {
    const v = JSON.parse(text) as Json;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

/** Every string leaf of a JSON value (not the keys of its objects). */
export function stringLeaves(value: Json | undefined): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  if (Array.isArray(value)) {
    return value.flatMap(stringLeaves);
  }
  if (value !== null && typeof value === 'object') {
    return Object.values(value).flatMap(stringLeaves);
  }
  return [];
}

/** Every object key inside a JSON value. */
export function objectKeys(value: Json | undefined): string[] {
  if (Array.isArray(value)) {
    return value.flatMap(objectKeys);
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [k, ...objectKeys(v)]);
  }
  return [];
}
