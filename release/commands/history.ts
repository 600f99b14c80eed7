/** `release history`: the stack's versions with the slot that was active and what each slot ran. */
import { parseHistory, renderHistory, ReleaseVersion } from '../history';
import { Session } from '../session';
import { ReleaseOptions } from './options';

/** Lists the stack's versions, newest first. */
export async function history(stackName: string, opts: ReleaseOptions): Promise<ReleaseVersion[]> {
  const s = await Session.open(stackName, 'history', opts);
  const versions = parseHistory(await s.history());
  s.out(renderHistory(versions));
  return versions;
}
