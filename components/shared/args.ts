/**
 * Argument validation the way pulumi-awsx's `InputPropertiesError` does it: a component checks every argument it
 * cannot default, collects every bad one, and fails once with all of them, each named by its path. The checks are
 * pure functions (`check<Component>Args`) so that stacks/ can run them on the settings it produces and report the
 * same problems under their config keys before any resource is registered.
 */
import { checkWholeNumber } from './checks';

/** One bad argument. */
export interface ArgProblem {
  /** The argument's path in the component's args, e.g. "elasticsearch.heap". */
  readonly path: string;
  /** The value given. */
  readonly value: unknown;
  /** What is allowed, in words. */
  readonly allowed: string;
}

/** Collects problems; `check` runs a shared check function on one argument. */
export class ArgChecks {
  private readonly items: ArgProblem[] = [];

  /** Records a problem with an argument. */
  fail(path: string, value: unknown, allowed: string): void {
    this.items.push({ path, value, allowed });
  }

  /** Runs `check` on an argument that is set; records what it says. */
  check<T>(path: string, value: T | undefined, check: (value: T) => string | undefined): void {
    if (value === undefined) {
      return;
    }
    const problem = check(value);
    if (problem !== undefined) {
      this.fail(path, value, problem);
    }
  }

  get problems(): readonly ArgProblem[] {
    return this.items;
  }
}

/** The error a component throws for bad arguments: one line per argument. */
export class InvalidArgsError extends Error {
  constructor(
    readonly component: string,
    readonly problems: readonly ArgProblem[],
  ) {
    super(
      `${component}: invalid arguments:\n${problems
        .map((p) => `  - ${p.path} = ${JSON.stringify(p.value) ?? '(unset)'}: ${p.allowed}`)
        .join('\n')}`,
    );
    this.name = 'InvalidArgsError';
  }
}

/** Throws an {@link InvalidArgsError} when there is any problem. */
export function throwIfInvalid(component: string, problems: readonly ArgProblem[]): void {
  if (problems.length > 0) {
    throw new InvalidArgsError(component, problems);
  }
}

/**
 * Throws an {@link InvalidArgsError} for `replicas` that are not a whole number of at least 1: the one invariant
 * every replicated service component (Prometheus, Alertmanager, Grafana) keeps itself, whatever stacks/ allowed.
 */
export function throwIfNoReplicas(component: string, replicas: number): void {
  const c = new ArgChecks();
  c.check('replicas', replicas, (v) => checkWholeNumber(v, 1));
  throwIfInvalid(component, c.problems);
}

/** Options with every default applied: all fields set, except those without a default (`Unset`). */
export type Resolved<T, Unset extends keyof T = never> = Required<Omit<T, Unset>> & Pick<T, Unset>;

/** A value with every nested field optional: what a caller may leave to the defaults. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !pulumiLike(value);
}

/** Outputs and resources are values, never merged into. */
function pulumiLike(value: object): boolean {
  return (
    '__pulumiOutput' in value ||
    '__pulumiResource' in value ||
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * The defaults with what was given laid over them, field by field: nested objects merge, arrays and other values
 * replace, `undefined` keeps the default. Paths in `whole` (e.g. "grafanaPodLabels") are maps that replace their
 * default as a whole instead of merging into it.
 */
export function withDefaults<T>(
  defaults: T,
  given: NoInfer<DeepPartial<T>> | undefined,
  whole: readonly string[] = [],
  at = '',
): T {
  if (given === undefined) {
    return defaults;
  }
  if (!isPlainObject(defaults) || !isPlainObject(given) || whole.includes(at)) {
    return given as T;
  }
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(given)) {
    if (value !== undefined) {
      const path = at === '' ? key : `${at}.${key}`;
      out[key] = key in defaults ? withDefaults<unknown>(defaults[key], value, whole, path) : value;
    }
  }
  return out as T;
}
