/**
 * Entry point: `node src/server.ts` (Node.js 24 runs the TypeScript directly, types stripped).
 *
 * Drain on SIGTERM (or SIGINT), in this order: readiness fails at once (the endpoints drop the pod), requests
 * keep being served for `PAVEMASTER_DRAIN_DELAY_MS` (while kube-proxy and the load balancers catch up), then the
 * listener closes, idle keep-alive connections close, in-flight requests finish (their responses carry
 * `Connection: close`), and the process exits 0. If requests are still running `PAVEMASTER_DRAIN_TIMEOUT_MS`
 * after the listener closed, their connections are cut and the process exits 1.
 */
import http from 'node:http';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';

const out = (line: string): void => {
  process.stdout.write(line);
};

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    const log = createLogger('error', { service: 'pavemaster-web' }, out);
    log.error('invalid settings', { problems: err.problems.join('; ') });
    process.stderr.write(`pavemaster-web: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
const cfg = config;
const log = createLogger(
  cfg.logLevel,
  { service: 'pavemaster-web', version: cfg.version, slot: cfg.slot },
  out,
);
const app = createApp(cfg, log);
const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000 }, app.handle);

server.listen(cfg.port, () => {
  app.markStarted();
  const f = cfg.faults;
  log.info('listening', {
    port: cfg.port,
    node: process.version,
    fault_error_rate: f.errorRate,
    fault_latency_ms: f.latencyMs,
    fault_never_ready: f.neverReady,
    fault_fail_paths: f.failPaths.join(','),
  });
});
server.on('error', (err) => {
  log.error('server error', { error: err.message });
  process.exit(1);
});

let stopping = false;
function drain(signal: string): void {
  if (stopping) {
    return;
  }
  stopping = true;
  app.startDrain();
  log.info('draining', { signal, delay_ms: cfg.drainDelayMs, in_flight: app.inFlight() });
  setTimeout(() => {
    log.info('closing listener', { in_flight: app.inFlight() });
    const deadline = setTimeout(() => {
      log.error('drain timeout: closing open connections', { in_flight: app.inFlight() });
      server.closeAllConnections();
      app.stop();
      process.exit(1);
    }, cfg.drainTimeoutMs);
    server.close(() => {
      clearTimeout(deadline);
      app.stop();
      log.info('stopped', { signal });
      process.exit(0);
    });
    server.closeIdleConnections();
  }, cfg.drainDelayMs);
}
process.on('SIGTERM', () => drain('SIGTERM'));
process.on('SIGINT', () => drain('SIGINT'));
process.on('uncaughtException', (err) => {
  log.error('uncaught exception', { error: err.stack ?? err.message });
  process.exit(1);
});
