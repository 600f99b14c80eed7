/** What every section parser knows about the stack it is reading config for. */

/** The environments a stack can be. Each has a profile of defaults (see `profiles.ts`). */
export const ENVIRONMENTS = ['staging', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Passed to every section parser. */
export interface ParseContext {
  /** The Pulumi stack name. */
  stack: string;
  /** The environment whose profile supplies the defaults. */
  environment: Environment;
  /** True for production: stricter validation, protected stateful data, high availability. */
  production: boolean;
  /** The application namespace; other namespaces are derived from it. */
  namespace: string;
}
