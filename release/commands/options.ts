/** What every release command takes, the release id of a deploy, and the production confirmation. */
import { EngineEventLike } from '../events';
import { prog } from '../prog';
import { EXIT, ReleaseError, Session, SessionOptions } from '../session';

export interface ReleaseOptions extends SessionOptions {
  /** Commit the changed stack file (`git commit Pulumi.<stack>.yaml`). */
  commit?: boolean;
  /** Overrides `pavemaster:release.prometheusUrl`. */
  prometheusUrl?: string;
  /** Receives a preview's engine events (to record them, e.g. as test fixtures). */
  onEvents?: (events: EngineEventLike[]) => void;
  /** Do not ask before changing production (`--yes`). */
  yes?: boolean;
  /**
   * Asks the operator a yes/no question (a terminal prompt). Without it, and without `yes`, a production
   * promote or rollback is refused: nobody could have confirmed it.
   */
  confirm?: (question: string) => Promise<boolean>;
}

/** A new release id: `r<yyyymmdd>-<hhmmss>` (UTC). */
export function newReleaseId(now: Date = new Date()): string {
  const iso = now.toISOString();
  return `r${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

/**
 * Production promote, rollback and rollback --to show what will change and ask first, unless `--yes`. With no
 * terminal to ask on, `--yes` is required (a CI job states its approval in the command line).
 */
export async function confirmProduction(
  s: Session,
  opts: ReleaseOptions,
  step: string,
  changes: readonly string[],
): Promise<void> {
  if (!s.settings.production || opts.yes) {
    return;
  }
  const what = `${step} on production stack ${s.name}`;
  if (opts.confirm === undefined) {
    s.log.write('confirm', 'failed', { detail: `${what}: no terminal to confirm on and no --yes` });
    throw new ReleaseError(
      `${what} needs confirmation and there is no terminal to ask on: re-run with --yes (\`${prog()} ${step} ${s.name} --yes\`)`,
      EXIT.usage,
    );
  }
  s.out(`${what} will change:`);
  for (const c of changes) {
    s.out(`  ${c}`);
  }
  if (!(await opts.confirm(`${step} ${s.name}?`))) {
    s.log.write('confirm', 'failed', { detail: `${what}: declined` });
    throw new ReleaseError(`${what} not confirmed: nothing was changed`, EXIT.failed);
  }
  s.log.write('confirm', 'succeeded', { detail: `${what}: confirmed on the terminal` });
}
