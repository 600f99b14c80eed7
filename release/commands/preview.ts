/** `preview`: `pulumi preview` as a pull-request report. */
import { PreviewReport, renderMarkdown, summarizePreview } from '../markdown';
import { Session } from '../session';
import { ReleaseOptions } from './options';

/** `pulumi preview` as Markdown. */
export async function preview(stackName: string, opts: ReleaseOptions): Promise<string> {
  return (await previewReport(stackName, opts)).markdown;
}

/** `pulumi preview` as a report (`--json`) and as Markdown. */
export async function previewReport(
  stackName: string,
  opts: ReleaseOptions,
): Promise<{ report: PreviewReport; markdown: string }> {
  return sessionPreview(await Session.open(stackName, 'preview', opts), opts, stackName);
}

/** An open session's `pulumi preview` (its events to `opts.onEvents`), as a report and as Markdown titled `title`. */
export async function sessionPreview(
  s: Session,
  opts: ReleaseOptions,
  title: string,
): Promise<{ report: PreviewReport; markdown: string }> {
  const events = await s.previewEvents();
  opts.onEvents?.(events);
  const report = summarizePreview(events);
  return { report, markdown: renderMarkdown(report, { stack: title }) };
}
