/**
 * Collecting configuration problems so that every bad value is reported at once, before any resource is
 * registered. Each problem names the config key, the value that was given and what is allowed.
 */

/** One invalid configuration value. */
export interface Problem {
  /** The full config key, e.g. `pavemaster:replicas` or `pavemaster:monitoring.retentionDays`. */
  key: string;
  /** The value as given (already redacted when the key holds a secret). */
  value: unknown;
  /** What would have been accepted, in words. */
  allowed: string;
}

/** Renders a value for an error message: JSON for structures, quoted strings, a marker for absent values. */
export function showValue(value: unknown): string {
  if (value === undefined) {
    return '(unset)';
  }
  const text = JSON.stringify(value);
  if (text === undefined) {
    return typeof value === 'function' || typeof value === 'symbol' ? `(${typeof value})` : '(unset)';
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The error thrown when a stack's configuration is invalid. Its message lists every problem. */
export class ConfigError extends Error {
  constructor(
    /**
     * The stack whose configuration this is. Not `stack`: that is Error's stack trace, which Node.js prints
     * for an unhandled error (the Pulumi CLI then showed `[production] {...}` instead of this message).
     */
    readonly stackName: string,
    readonly problems: readonly Problem[],
  ) {
    super(ConfigError.render(stackName, problems));
    this.name = 'ConfigError';
  }

  static render(stack: string, problems: readonly Problem[]): string {
    const count =
      problems.length === 1
        ? '1 invalid configuration value'
        : `${problems.length} invalid configuration values`;
    const lines = problems.map((p) => `  - ${p.key} = ${showValue(p.value)}: ${p.allowed}`);
    return [
      `Stack '${stack}' has ${count}; no resource was registered and nothing running was changed:`,
      ...lines,
    ].join('\n');
  }
}

/** An append-only list of problems, shared by every section parser of one configuration load. */
export class Problems {
  private readonly items: Problem[] = [];

  add(key: string, value: unknown, allowed: string): void {
    this.items.push({ key, value, allowed });
  }

  get list(): readonly Problem[] {
    return this.items;
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  /** Throws a {@link ConfigError} listing every problem, if there is any. */
  throwIfAny(stack: string): void {
    if (!this.empty) {
      throw new ConfigError(stack, this.items);
    }
  }
}
