/**
 * Config-only checks: the environment's rules for images, and the typo suggestion for unknown keys. The checks of
 * values Kubernetes and registries accept are shared with the components (components/shared/checks.ts and
 * components/shared/image.ts).
 */
import { IMAGE_REFERENCE_FORM, parseImageReference } from '../components/shared/image';

/**
 * Checks an image reference for an environment: well formed always; in production never `latest` or untagged,
 * and pinned by digest when `requireDigest` is set.
 */
export function checkImage(
  text: string,
  opts: { production: boolean; requireDigest: boolean },
): string | undefined {
  const ref = parseImageReference(text);
  if (!ref) {
    return IMAGE_REFERENCE_FORM;
  }
  if (opts.production && (ref.tag === 'latest' || (ref.tag === undefined && ref.digest === undefined))) {
    return 'an image with an explicit version tag or digest: "latest" (or no tag, which means latest) is not allowed in production';
  }
  if (opts.requireDigest && ref.digest === undefined) {
    return 'an image pinned by digest ("repository:tag@sha256:<64 hex>"), as production requires';
  }
  return undefined;
}

/** The Levenshtein distance, used to suggest the key a typo meant. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** The closest of `candidates` to `name`, when it is close enough to be a likely typo. */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}
