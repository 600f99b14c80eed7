/**
 * Secret config values as Pulumi secret outputs. The SDK is loaded when the first one is wrapped: the program
 * has it loaded already, and the release command, which reads the same settings (stacks/settings.ts), starts
 * without it (`npm run bench`: loading `@pulumi/pulumi` is most of a `pavemaster promote` process's start) unless
 * the stack holds a secret value.
 */
import type * as pulumi from '@pulumi/pulumi';

/** `pulumi.secret(value)`. */
export function secretOutput<T>(value: T): pulumi.Output<pulumi.Unwrap<T>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  const sdk = require('@pulumi/pulumi') as typeof pulumi;
  return sdk.secret(value);
}
