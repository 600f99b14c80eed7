/**
 * The PaveMaster web app: a small road-maintenance API (roads, sign-in sessions, feature use, background jobs)
 * with health, readiness and metrics endpoints, the metric contract of docs/monitoring.md, switchable faults
 * and a graceful drain. server.ts wires it to a listening socket and to the signals.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics, type PoolState } from './metrics.ts';

/** What a handler answers. */
interface Reply {
  status: number;
  /** A JSON body. */
  body?: unknown;
  /** A text body of type contentType. */
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** The pattern, as the `route` label reports it. */
  pattern: string;
  regex: RegExp;
  handle: (params: string[]) => Reply;
}

/** The features whose use is counted (a fixed list: the `feature` label stays bounded). */
export const FEATURES = ['route-planner', 'defect-report', 'crew-schedule', 'material-estimate'] as const;

const ROADS = [
  { id: 'a1', name: 'Harbour Road', lengthKm: 4.2, condition: 'good', lastPaved: '2023-05-14' },
  { id: 'b7', name: 'Mill Lane', lengthKm: 1.1, condition: 'fair', lastPaved: '2019-09-02' },
  { id: 'c3', name: 'Ridge Way', lengthKm: 7.8, condition: 'poor', lastPaved: '2012-04-21' },
  { id: 'd9', name: 'Station Street', lengthKm: 0.9, condition: 'good', lastPaved: '2024-08-30' },
];

/** Sessions expire after this many milliseconds without renewal. */
const SESSION_TTL_MS = 15 * 60 * 1000;

export interface App {
  readonly metrics: Metrics;
  /** The request handler. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** The listener is open: readiness may succeed. */
  markStarted(): void;
  /** SIGTERM: readiness fails from now on, responses close their connections. */
  startDrain(): void;
  /** Requests being answered right now. */
  inFlight(): number;
  /** Stops the background timers. */
  stop(): void;
}

export function createApp(config: Config, log: Logger): App {
  let started = false;
  let draining = false;
  let inFlight = 0;
  let inFlightApi = 0;
  // Application requests seen, for spreading the injected errors evenly.
  let appRequests = 0;
  const sessions = new Map<string, number>();
  const jobs: string[] = [];

  const pool = (): PoolState => ({
    active: Math.min(inFlightApi, config.dbPoolMax),
    idle: Math.max(0, config.dbPoolMax - inFlightApi),
    waiting: Math.max(0, inFlightApi - config.dbPoolMax),
  });
  const metrics = createMetrics(config.dbPoolMax, pool);
  for (const feature of FEATURES) {
    metrics.featureUsed.inc({ feature }, 0);
  }

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, expires] of sessions) {
      if (expires <= now) {
        sessions.delete(id);
      }
    }
    metrics.activeSessions.set(sessions.size);
  }, 5000);
  sweep.unref();
  // The job worker: a few jobs every 200 ms.
  const worker = setInterval(() => {
    for (let i = 0; i < 5 && jobs.length > 0; i++) {
      jobs.shift();
      metrics.jobsProcessed.inc();
    }
  }, 200);
  worker.unref();

  const route = (method: Route['method'], pattern: string, handle: Route['handle']): Route => ({
    method,
    pattern,
    regex: new RegExp(`^${pattern.replace(/:[a-z]+/g, '([^/]+)')}$`),
    handle,
  });
  const routes: Route[] = [
    route('GET', '/', () => ({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      text:
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>PaveMaster</title></head>` +
        `<body><h1>PaveMaster</h1><p>Road maintenance planning. Release ${config.version}, slot ${config.slot}.</p>` +
        `</body></html>\n`,
    })),
    route('GET', '/api/roads', () => ({ status: 200, body: { roads: ROADS } })),
    route('GET', '/api/roads/:id', ([id]) => {
      const road = ROADS.find((r) => r.id === id);
      return road === undefined
        ? { status: 404, body: { error: `no road ${id}` } }
        : { status: 200, body: road };
    }),
    route('POST', '/api/login', () => {
      const id = randomUUID();
      sessions.set(id, Date.now() + SESSION_TTL_MS);
      metrics.logins.inc();
      metrics.activeSessions.set(sessions.size);
      return { status: 201, body: { session: id } };
    }),
    route('DELETE', '/api/sessions/:id', ([id]) => {
      const found = sessions.delete(id);
      metrics.activeSessions.set(sessions.size);
      return found ? { status: 204 } : { status: 404, body: { error: 'no such session' } };
    }),
    route('POST', '/api/features/:feature', ([feature]) => {
      if (!(FEATURES as readonly string[]).includes(feature)) {
        return { status: 404, body: { error: `unknown feature ${feature}`, features: FEATURES } };
      }
      metrics.featureUsed.inc({ feature });
      return { status: 204 };
    }),
    route('POST', '/api/jobs', () => {
      const id = randomUUID();
      jobs.push(id);
      return { status: 202, body: { job: id, queued: jobs.length } };
    }),
  ];

  /** The route of a path: its pattern and, when the method fits, the handler's reply. */
  const dispatch = (method: string, path: string): { pattern: string; reply: () => Reply } => {
    const m = method === 'HEAD' ? 'GET' : method;
    let pathMatched: Route | undefined;
    for (const r of routes) {
      const match = r.regex.exec(path);
      if (match === null) {
        continue;
      }
      pathMatched ??= r;
      if (r.method === m) {
        return { pattern: r.pattern, reply: () => r.handle(match.slice(1).map(decodeURIComponent)) };
      }
    }
    if (pathMatched !== undefined) {
      const allowed = routes.filter((r) => r.regex.test(path)).map((r) => r.method);
      return {
        pattern: pathMatched.pattern,
        reply: () => ({
          status: 405,
          body: { error: 'method not allowed' },
          headers: { Allow: allowed.join(', ') },
        }),
      };
    }
    return { pattern: 'unmatched', reply: () => ({ status: 404, body: { error: 'not found' } }) };
  };

  const injectedError = (): boolean => {
    if (config.faults.errorRate <= 0) {
      return false;
    }
    appRequests += 1;
    const rate = config.faults.errorRate;
    return Math.floor(appRequests * rate + 1e-9) > Math.floor((appRequests - 1) * rate + 1e-9);
  };

  const send = (res: ServerResponse, method: string, reply: Reply): void => {
    res.statusCode = reply.status;
    res.setHeader('X-PaveMaster-Version', config.version);
    res.setHeader('X-PaveMaster-Slot', config.slot);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (draining) {
      res.setHeader('Connection', 'close');
    }
    for (const [k, v] of Object.entries(reply.headers ?? {})) {
      res.setHeader(k, v);
    }
    let payload = '';
    if (reply.text !== undefined) {
      res.setHeader('Content-Type', reply.contentType ?? 'text/plain; charset=utf-8');
      payload = reply.text;
    } else if (reply.body !== undefined) {
      res.setHeader('Content-Type', 'application/json');
      payload = `${JSON.stringify(reply.body)}\n`;
    }
    res.setHeader('Content-Length', Buffer.byteLength(payload));
    res.end(method === 'HEAD' ? undefined : payload);
  };

  const probe = async (path: string): Promise<Reply | undefined> => {
    if (path === config.healthPath) {
      return { status: 200, body: { status: 'ok' } };
    }
    if (path === config.readyPath) {
      const reason = config.faults.neverReady
        ? 'fault: never ready'
        : draining
          ? 'draining'
          : !started
            ? 'starting'
            : undefined;
      return reason === undefined
        ? { status: 200, body: { ready: true } }
        : { status: 503, body: { ready: false, reason } };
    }
    if (path === config.metricsPath) {
      return {
        status: 200,
        contentType: metrics.registry.contentType,
        text: await metrics.registry.metrics(),
      };
    }
    return undefined;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const start = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    req.resume();
    const isProbe = path === config.healthPath || path === config.readyPath || path === config.metricsPath;
    let pattern = path;
    let reply: Reply;
    if (config.faults.failPaths.includes(path)) {
      reply = { status: 500, body: { error: 'injected fault: failing path', path } };
      if (!isProbe) {
        pattern = dispatch(method, path).pattern;
      }
    } else if (isProbe) {
      reply = (await probe(path)) ?? { status: 404 };
    } else {
      const d = dispatch(method, path);
      pattern = d.pattern;
      inFlightApi += 1;
      try {
        if (config.faults.latencyMs > 0) {
          await new Promise((r) => setTimeout(r, config.faults.latencyMs));
        }
        reply = injectedError() ? { status: 500, body: { error: 'injected fault: error rate' } } : d.reply();
      } finally {
        inFlightApi -= 1;
      }
    }
    send(res, method, reply);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (!isProbe) {
      metrics.requests.inc({ method, route: pattern, status: String(reply.status) });
      metrics.duration.observe({ route: pattern }, seconds);
    }
    const fields = {
      method,
      path,
      route: pattern,
      status: reply.status,
      duration_ms: Math.round(seconds * 1000 * 10) / 10,
      remote: req.socket.remoteAddress,
    };
    if (isProbe) {
      log.debug('request', fields);
    } else if (reply.status >= 500) {
      log.warn('request', fields);
    } else {
      log.info('request', fields);
    }
  };

  return {
    metrics,
    handle: (req, res) => {
      inFlight += 1;
      res.on('close', () => {
        inFlight -= 1;
      });
      serve(req, res).catch((err: unknown) => {
        log.error('request failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) {
          res.statusCode = 500;
        }
        res.end();
      });
    },
    markStarted() {
      started = true;
    },
    startDrain() {
      draining = true;
    },
    inFlight: () => inFlight,
    stop() {
      clearInterval(sweep);
      clearInterval(worker);
    },
  };
}
