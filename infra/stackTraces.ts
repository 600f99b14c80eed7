/**
 * Stack traces the Pulumi SDK takes for its own bookkeeping, formatted without mapping every frame.
 *
 * The language host runs the program through ts-node, which installs source-map-support: every frame of every
 * formatted stack trace is mapped back to the TypeScript source. The SDK formats one stack per resource with the
 * frame limit lifted (`Resource.callsites`, for the source position it sends the engine) and one per promise it
 * tracks (`debuggablePromise`, kept for a leak report), so a no-change preview of staging spent about 0.9 s of its
 * 5.6 s of CPU mapping frames nobody reads (4 interleaved previews each way, issue 15). This keeps the mapping
 * wherever a position is read or recorded:
 * - an error with a message (what a failed program prints): every frame mapped, as before;
 * - the SDK's resource stacks (formatted with the frame limit lifted): every frame mapped, as before: the engine
 *   records the position and the whole stack of each resource in the state;
 * - any other stack without a message (the SDK's promise bookkeeping, one per tracked promise): as V8 writes it.
 *
 * `PAVEMASTER_MAP_ALL_STACK_FRAMES=1` maps every frame of every stack again (the behaviour before; the bench's
 * baseline for this change).
 */

/** What V8 calls to format `error.stack` (the V8 stack trace API). */
export type PrepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => unknown;

/** A V8 CallSite prints itself as V8 writes the frame (@types/node's CallSite does not declare it). */
interface PrintableFrame {
  toString(): string;
}

/** One frame as V8 writes it when no `Error.prepareStackTrace` is installed. */
function plainFrame(frame: NodeJS.CallSite): string {
  return `\n    at ${(frame as unknown as PrintableFrame).toString()}`;
}

function headline(error: Error): string {
  const name = error.name || 'Error';
  return error.message ? `${name}: ${error.message}` : name;
}

/**
 * `mapped` (the installed formatter, which maps frames through source maps) limited to the stacks a person or
 * the engine reads positions from; undefined when nothing is installed or the environment asks for every frame.
 */
export function sdkStackFormatting(
  mapped: PrepareStackTrace | undefined,
  env: NodeJS.ProcessEnv,
): PrepareStackTrace | undefined {
  if (mapped === undefined || env.PAVEMASTER_MAP_ALL_STACK_FRAMES === '1') {
    return undefined;
  }
  return (error, frames) => {
    if (error.message || Error.stackTraceLimit === Number.POSITIVE_INFINITY) {
      return mapped(error, frames);
    }
    return headline(error) + frames.map(plainFrame).join('');
  };
}

// V8 calls the formatter as a method of Error.
const formatting = sdkStackFormatting(Error.prepareStackTrace?.bind(Error), process.env);
if (formatting !== undefined) {
  Error.prepareStackTrace = formatting;
}
