/**
 * A bounded load loop from the host through a Service's ClusterIP (kube-proxy's rules on the real node): one
 * request at a time on a new connection, so kube-proxy picks an endpoint for every request, and what it saw
 * (requests, failures, the longest gap without an answer, the version header's changes). Shared by the release
 * tests on real pods (releaseE2e, kubeletPromote).
 */
import { hostGet } from './realnode';

/** One request of the load loop. */
export interface Answer {
  start: number;
  end: number;
  status?: number;
  error?: string;
  version?: string;
}

/** What a load loop saw. */
export interface LoadReport {
  sent: number;
  /** Connection errors, timeouts and 5xx answers. */
  failed: number;
  errors: number;
  serverErrors: number;
  /** The longest time without a successful answer, in ms. */
  longestGapMs: number;
  /** The version header of the answers, consecutive repeats folded: one entry per switch plus the first. */
  versions: string[];
  durationMs: number;
}

export function summarize(answers: readonly Answer[]): LoadReport {
  let longestGapMs = 0;
  let lastOk: number | undefined;
  const versions: string[] = [];
  for (const a of answers) {
    const ok = a.error === undefined && a.status !== undefined && a.status < 500;
    if (ok) {
      longestGapMs = Math.max(longestGapMs, a.end - (lastOk ?? a.start));
      lastOk = a.end;
      if (a.version !== undefined && versions[versions.length - 1] !== a.version) {
        versions.push(a.version);
      }
    }
  }
  const errors = answers.filter((a) => a.error !== undefined).length;
  const serverErrors = answers.filter((a) => (a.status ?? 0) >= 500).length;
  return {
    sent: answers.length,
    failed: errors + serverErrors,
    errors,
    serverErrors,
    longestGapMs,
    versions,
    durationMs: answers.length ? answers[answers.length - 1].end - answers[0].start : 0,
  };
}

/**
 * A load loop through a URL: one request at a time on a new connection, a short pause between them, bounded
 * in count and time (it stops by itself at either bound). `stop()` ends it and returns what it saw.
 */
export function startLoad(url: string, bounds = { maxRequests: 30_000, maxMs: 10 * 60 * 1000, pauseMs: 20 }) {
  const answers: Answer[] = [];
  let stopped = false;
  const deadline = Date.now() + bounds.maxMs;
  const done = (async () => {
    while (!stopped && answers.length < bounds.maxRequests && Date.now() < deadline) {
      const start = Date.now();
      const r = await hostGet(url, 3000);
      const end = Date.now();
      if ('error' in r) {
        answers.push({ start, end, error: r.error });
      } else {
        const v = r.headers['x-pavemaster-version'];
        answers.push({ start, end, status: r.status, version: typeof v === 'string' ? v : undefined });
      }
      await new Promise((res) => setTimeout(res, bounds.pauseMs));
    }
  })();
  return {
    answers,
    async stop(): Promise<LoadReport> {
      stopped = true;
      await done;
      return summarize(answers);
    },
  };
}
