/**
 * A typed reader over one level of configuration: the stack's `pavemaster:*` keys (whose values Pulumi hands the
 * program as strings, structured ones as JSON text) or a nested object inside one of them. Every getter records
 * the field as known, coerces and checks its value, and on a bad value records a problem and returns the default,
 * so that loading goes on and every problem is reported at once. `finish()` reports the fields nobody read: an
 * unknown key is a typo that would otherwise be ignored silently.
 */
import type { Check } from '../components/shared/checks';
import { Problems } from './problems';
import { suggest } from './validators';

export type { Check } from '../components/shared/checks';

/** A JSON object as found in configuration. */
export type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class Fields {
  private readonly known = new Set<string>();

  /**
   * @param prefix the key prefix used in messages: `pavemaster:` for the root, `pavemaster:monitoring.` nested.
   * @param values the raw values of this level.
   * @param problems where problems are recorded.
   * @param secretNames names whose values must never appear in messages.
   */
  constructor(
    readonly prefix: string,
    private readonly values: Readonly<Record<string, unknown>>,
    readonly problems: Problems,
    private readonly secretNames: ReadonlySet<string> = new Set(),
  ) {}

  /** The full key of a field, for messages. */
  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** The names of the fields given at this level (for maps whose keys are chosen by the user). */
  names(): string[] {
    return Object.keys(this.values);
  }

  /** True when the field was given. */
  has(name: string): boolean {
    this.known.add(name);
    return this.values[name] !== undefined;
  }

  /** Records a problem about a field. */
  fail(name: string, value: unknown, allowed: string): void {
    this.problems.add(this.key(name), this.secretNames.has(name) ? '[secret]' : value, allowed);
  }

  private raw(name: string): unknown {
    this.known.add(name);
    return this.values[name];
  }

  /** A string, optionally one of a fixed set, optionally checked. */
  string<T extends string = string>(
    name: string,
    def: T,
    opts: { oneOf?: readonly T[]; check?: Check<string> } = {},
  ): T {
    const value = this.raw(name);
    if (value === undefined) {
      return def;
    }
    if (typeof value !== 'string') {
      this.fail(
        name,
        value,
        opts.oneOf ? `one of ${opts.oneOf.map((v) => `"${v}"`).join(', ')}` : 'a string',
      );
      return def;
    }
    if (opts.oneOf && !opts.oneOf.includes(value as T)) {
      this.fail(name, value, `one of ${opts.oneOf.map((v) => `"${v}"`).join(', ')}`);
      return def;
    }
    const problem = opts.check?.(value);
    if (problem !== undefined) {
      this.fail(name, value, problem);
      return def;
    }
    return value as T;
  }

  /** An optional string: `undefined` when unset. */
  optionalString(name: string, opts: { check?: Check<string> } = {}): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === '') {
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail(name, value, 'a string');
      return undefined;
    }
    const problem = opts.check?.(value);
    if (problem !== undefined) {
      this.fail(name, value, problem);
      return undefined;
    }
    return value;
  }

  /** A number as given, or as text (Pulumi passes plain config as text); NaN when it is neither. */
  private numeric(value: unknown, text: RegExp): number {
    if (typeof value === 'number') {
      return value;
    }
    return typeof value === 'string' && text.test(value.trim()) ? Number(value) : NaN;
  }

  /** A whole number in [min, max]; strings of digits are accepted, as Pulumi passes plain config as text. */
  int(name: string, def: number, opts: { min?: number; max?: number; why?: string } = {}): number {
    const value = this.raw(name);
    if (value === undefined) {
      return def;
    }
    const parsed = this.numeric(value, /^-?\d+$/);
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      const range =
        opts.min !== undefined && opts.max !== undefined
          ? `from ${min} to ${max}`
          : opts.min !== undefined
            ? `of at least ${min}`
            : opts.max !== undefined
              ? `of at most ${max}`
              : '';
      this.fail(
        name,
        value,
        `a whole number ${range}${opts.why ? ` (${opts.why})` : ''}`.replace(/ +/g, ' ').trim(),
      );
      return def;
    }
    return parsed;
  }

  /** A number in [min, max]. */
  number(name: string, def: number, opts: { min?: number; max?: number } = {}): number {
    const value = this.raw(name);
    if (value === undefined) {
      return def;
    }
    const parsed = this.numeric(value, /^.+$/);
    const min = opts.min ?? -Infinity;
    const max = opts.max ?? Infinity;
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      this.fail(
        name,
        value,
        `a number${Number.isFinite(min) ? ` ≥ ${min}` : ''}${Number.isFinite(max) ? ` and ≤ ${max}` : ''}`,
      );
      return def;
    }
    return parsed;
  }

  /** A boolean; "true" and "false" are accepted as text. */
  bool(name: string, def: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) {
      return def;
    }
    if (value === true || value === 'true') {
      return true;
    }
    if (value === false || value === 'false') {
      return false;
    }
    this.fail(name, value, 'true or false');
    return def;
  }

  /** A nested object, read with its own Fields; an unset field reads as an empty object. */
  object(name: string, secretNames: readonly string[] = []): Fields {
    const value = this.parsed(name);
    const prefix = `${this.key(name)}.`;
    if (value === undefined) {
      return new Fields(prefix, {}, this.problems, new Set(secretNames));
    }
    if (!isObject(value)) {
      this.fail(name, value, 'an object (a YAML mapping)');
      return new Fields(prefix, {}, this.problems, new Set(secretNames));
    }
    return new Fields(prefix, value, this.problems, new Set(secretNames));
  }

  /** A map of strings to strings, each key and value checked. */
  stringMap(
    name: string,
    opts: { checkKey?: Check<string>; checkValue?: Check<string> } = {},
  ): Record<string, string> {
    const value = this.parsed(name);
    if (value === undefined) {
      return {};
    }
    if (!isObject(value)) {
      this.fail(name, value, 'a mapping of names to strings');
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      const keyProblem = opts.checkKey?.(k);
      if (keyProblem !== undefined) {
        this.problems.add(`${this.key(name)}.${k}`, k, keyProblem);
        continue;
      }
      const text = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
      if (typeof text !== 'string') {
        this.problems.add(`${this.key(name)}.${k}`, this.secretNames.has(name) ? '[secret]' : v, 'a string');
        continue;
      }
      const valueProblem = opts.checkValue?.(text);
      if (valueProblem !== undefined) {
        this.problems.add(
          `${this.key(name)}.${k}`,
          this.secretNames.has(name) ? '[secret]' : text,
          valueProblem,
        );
        continue;
      }
      out[k] = text;
    }
    return out;
  }

  /** A list of strings, each checked. */
  stringList(name: string, def: readonly string[], opts: { check?: Check<string> } = {}): string[] {
    const value = this.parsed(name);
    if (value === undefined) {
      return [...def];
    }
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      this.fail(name, value, 'a list of strings');
      return [...def];
    }
    const out: string[] = [];
    (value as string[]).forEach((item, i) => {
      const problem = opts.check?.(item);
      if (problem !== undefined) {
        this.problems.add(`${this.key(name)}[${i}]`, item, problem);
      } else {
        out.push(item);
      }
    });
    return out;
  }

  /** A list of whole numbers in [min, max] (digits as text accepted); each bad item is named by its index. */
  intList(
    name: string,
    def: readonly number[],
    opts: { min: number; max: number; what: string; item: string },
  ): number[] {
    const value = this.parsed(name);
    if (value === undefined) {
      return [...def];
    }
    if (!Array.isArray(value)) {
      this.fail(name, value, `a list of ${opts.what}`);
      return [...def];
    }
    const out: number[] = [];
    value.forEach((item: unknown, i) => {
      const n = this.numeric(item, /^\d+$/);
      if (!Number.isInteger(n) || n < opts.min || n > opts.max) {
        this.problems.add(`${this.key(name)}[${i}]`, item, `${opts.item} from ${opts.min} to ${opts.max}`);
      } else {
        out.push(n);
      }
    });
    return out;
  }

  /**
   * A list of objects (YAML sequence of mappings), each read with its own Fields whose prefix names its index
   * (`pavemaster:egress[0].`); a value that is not such a list is a problem, and reads as an empty list.
   */
  objectList(name: string): Fields[] {
    const value = this.parsed(name);
    if (value === undefined) {
      return [];
    }
    if (!Array.isArray(value) || !value.every(isObject)) {
      this.fail(name, value, 'a list of objects (a YAML sequence of mappings)');
      return [];
    }
    return value.map(
      (item, i) => new Fields(`${this.key(name)}[${i}].`, item, this.problems, this.secretNames),
    );
  }

  /** Reports every field that was given but never read, with a suggestion for likely typos. */
  finish(): void {
    const known = [...this.known];
    for (const name of Object.keys(this.values)) {
      if (!this.known.has(name)) {
        const near = suggest(name, known);
        const allowed = `no such key${near ? ` (did you mean "${this.key(near)}"?)` : ''}; known keys: ${known
          .map((k) => this.key(k))
          .join(', ')}`;
        this.problems.add(
          this.key(name),
          this.secretNames.has(name) ? '[secret]' : this.values[name],
          allowed,
        );
      }
    }
  }

  /** A structured value: given directly (nested levels) or as JSON text (top-level keys, as Pulumi passes them). */
  private parsed(name: string): unknown {
    const value = this.raw(name);
    if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    }
    return value;
  }
}
