/**
 * undici (the post-promotion check's and the release annotations' HTTP client), loaded on first use: nothing
 * before the switch needs it, and loading it is a tenth of the command's start (`npm run bench`, promote).
 */
import type * as Undici from 'undici';

let loaded: typeof Undici | undefined;

/** The undici module. */
export function undici(): typeof Undici {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see above
  loaded ??= require('undici') as typeof Undici;
  return loaded;
}
