/** What the release command records on a slot's Deployment, read back by kube-state-metrics and the dashboards. */

/** The Deployment annotations carrying a slot's release: its id and its time (RFC 3339 UTC). */
export const RELEASE_ID_ANNOTATION = 'pavemaster.io/release-id';
export const RELEASED_AT_ANNOTATION = 'pavemaster.io/released-at';
export const RELEASE_ANNOTATIONS: readonly string[] = [RELEASE_ID_ANNOTATION, RELEASED_AT_ANNOTATION];

/** A slot's current release, as `release deploy` writes it to the stack's config. */
export interface SlotRelease {
  /** The release id. @default none before the slot's first `release deploy` */
  readonly releaseId?: string;
  /** When it was deployed (RFC 3339 UTC). @default none */
  readonly releasedAt?: string;
}

/** The Deployment annotations of a slot's release (none before its first `release deploy`). */
export function releaseAnnotations(slot: SlotRelease): Record<string, string> {
  const out: Record<string, string> = {};
  if (slot.releaseId !== undefined) {
    out[RELEASE_ID_ANNOTATION] = slot.releaseId;
  }
  if (slot.releasedAt !== undefined) {
    out[RELEASED_AT_ANNOTATION] = slot.releasedAt;
  }
  return out;
}

/** The tag every release annotation on Grafana carries (release/annotations.ts posts them). */
export const RELEASE_ANNOTATION_TAG = 'pavemaster-release';

/**
 * The tags of one app's release annotations: the provisioned dashboards show the Grafana annotations carrying
 * all of them, so two stacks sharing a Grafana each see only their own releases.
 */
export function releaseAnnotationTags(namespace: string, app: string): string[] {
  return [RELEASE_ANNOTATION_TAG, `namespace:${namespace}`, `app:${app}`];
}
