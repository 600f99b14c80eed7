/** `release preview`: `pulumi preview` as a pull-request report. */
import { renderMarkdown, summarizePreview } from '../markdown';
import { Session } from '../session';
import { ReleaseOptions } from './options';

/** `pulumi preview` as Markdown (or plain text). */
export async function preview(stackName: string, opts: ReleaseOptions): Promise<string> {
  const s = await Session.open(stackName, 'preview', opts);
  const events = await s.previewEvents();
  opts.onEvents?.(events);
  return renderMarkdown(summarizePreview(events), { stack: stackName });
}
