/** What every release command takes, and the release id of a deploy. */
import { EngineEventLike } from '../events';
import { SessionOptions } from '../session';

export interface ReleaseOptions extends SessionOptions {
  /** Commit the changed stack file (`git commit Pulumi.<stack>.yaml`). */
  commit?: boolean;
  /** Overrides `pavemaster:release.prometheusUrl`. */
  prometheusUrl?: string;
  /** Receives a preview's engine events (to record them, e.g. as test fixtures). */
  onEvents?: (events: EngineEventLike[]) => void;
}

/** A new release id: `r<yyyymmdd>-<hhmmss>` (UTC). */
export function newReleaseId(now: Date = new Date()): string {
  const iso = now.toISOString();
  return `r${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}
