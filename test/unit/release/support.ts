/** Helpers for the release unit tests. */
import { Fields } from '../../../stacks/fields';
import { Problems } from '../../../stacks/problems';
import { parseRelease, ReleaseSettings } from '../../../stacks/release';
import { SECRET_KEYS } from '../../../stacks/settings';

/**
 * Parses release config given as plain values (objects as Pulumi hands them: JSON text at the top level);
 * with `redactSecrets`, the secret keys' values are redacted in problems, as the loader does.
 */
export function parseReleaseFor(
  config: Record<string, unknown>,
  opts: { production?: boolean; redactSecrets?: boolean } = {},
): ReleaseSettings & { problems: Problems } {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    raw[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  const problems = new Problems();
  const root = new Fields(
    'pavemaster:',
    raw,
    problems,
    opts.redactSecrets ? new Set(SECRET_KEYS) : undefined,
  );
  const production = opts.production ?? false;
  const settings = parseRelease(root, {
    stack: production ? 'production' : 'staging',
    environment: production ? 'production' : 'staging',
    production,
    namespace: 'pavemaster-staging',
  });
  root.finish();
  return { ...settings, problems };
}
