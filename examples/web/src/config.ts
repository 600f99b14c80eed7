/**
 * The app's settings, all from the environment (the Deployment's env, or the image's baked-in fault variant).
 * Every value is checked at start: a bad one stops the app with every problem listed, each naming the variable,
 * the value and what is allowed, before the port is opened.
 */

/** Injected faults: how the release tests make a bad release arrive exactly as a real one would. */
export interface Faults {
  /** Share of application requests answered 500, spread evenly (0.2: requests 5, 10, 15, ... fail). */
  readonly errorRate: number;
  /** Milliseconds added to every application request. */
  readonly latencyMs: number;
  /** Readiness never succeeds (the slot never becomes available). */
  readonly neverReady: boolean;
  /** Paths answered 500 whatever they are (a probe path fails that probe). */
  readonly failPaths: readonly string[];
}

export interface Config {
  /** TCP port. `PORT`, default 8080. */
  readonly port: number;
  /** Liveness path. `PAVEMASTER_HEALTH_PATH`, default `/healthz`. */
  readonly healthPath: string;
  /** Readiness path. `PAVEMASTER_READY_PATH`, default `/readyz`. */
  readonly readyPath: string;
  /** Prometheus path. `PAVEMASTER_METRICS_PATH`, default `/metrics`. */
  readonly metricsPath: string;
  /** The release this process serves (response header `X-PaveMaster-Version`). `PAVEMASTER_VERSION`. */
  readonly version: string;
  /** The blue/green slot (response header `X-PaveMaster-Slot`). `PAVEMASTER_SLOT`, default `none`. */
  readonly slot: string;
  /** Milliseconds between SIGTERM (readiness fails) and closing the listener. `PAVEMASTER_DRAIN_DELAY_MS`. */
  readonly drainDelayMs: number;
  /** Milliseconds in-flight requests get after the listener closed, before the process exits anyway. */
  readonly drainTimeoutMs: number;
  /** Size of the (simulated) database connection pool. `PAVEMASTER_DB_POOL_MAX`, default 10. */
  readonly dbPoolMax: number;
  /** Lowest level logged: debug, info, warn, error. `LOG_LEVEL`, default info. */
  readonly logLevel: LogLevel;
  readonly faults: Faults;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Thrown with every problem of the environment at once. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid settings:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/** Reads and checks the settings; throws ConfigError listing every bad variable. */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const text = (name: string, def: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? def : v;
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = text(name, String(def));
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: an integer from ${min} to ${max}`);
      return def;
    }
    return n;
  };
  const path = (name: string, def: string): string => {
    const p = text(name, def);
    if (!PATH.test(p)) {
      problems.push(`${name}=${JSON.stringify(p)}: an absolute HTTP path such as "${def}"`);
      return def;
    }
    return p;
  };
  const bool = (name: string): boolean => {
    const raw = text(name, 'false').toLowerCase();
    if (!['true', 'false', '1', '0'].includes(raw)) {
      problems.push(`${name}=${JSON.stringify(env[name])}: true or false`);
      return false;
    }
    return raw === 'true' || raw === '1';
  };

  const errorRateRaw = text('PAVEMASTER_FAULT_ERROR_RATE', '0');
  let errorRate = Number(errorRateRaw);
  if (!/^(0|1|0?\.\d+|1\.0+)$/.test(errorRateRaw) || errorRate < 0 || errorRate > 1) {
    problems.push(
      `PAVEMASTER_FAULT_ERROR_RATE=${JSON.stringify(errorRateRaw)}: a share from 0 to 1, e.g. 0.2`,
    );
    errorRate = 0;
  }
  const failPaths = text('PAVEMASTER_FAULT_FAIL_PATHS', '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const p of failPaths) {
    if (!PATH.test(p)) {
      problems.push(`PAVEMASTER_FAULT_FAIL_PATHS: ${JSON.stringify(p)} is not an absolute HTTP path`);
    }
  }
  const logLevelRaw = text('LOG_LEVEL', 'info').toLowerCase();
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw)
    ? (logLevelRaw as LogLevel)
    : 'info';
  if (logLevel !== logLevelRaw) {
    problems.push(`LOG_LEVEL=${JSON.stringify(env.LOG_LEVEL)}: one of ${LOG_LEVELS.join(', ')}`);
  }
  const version = text('PAVEMASTER_VERSION', 'dev');
  const slot = text('PAVEMASTER_SLOT', 'none');
  for (const [name, value] of [
    ['PAVEMASTER_VERSION', version],
    ['PAVEMASTER_SLOT', slot],
  ] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/.test(value)) {
      problems.push(`${name}=${JSON.stringify(value)}: letters, digits, ".", "_", "+", "-" (at most 63)`);
    }
  }

  const config: Config = {
    port: int('PORT', 8080, 1, 65535),
    healthPath: path('PAVEMASTER_HEALTH_PATH', '/healthz'),
    readyPath: path('PAVEMASTER_READY_PATH', '/readyz'),
    metricsPath: path('PAVEMASTER_METRICS_PATH', '/metrics'),
    version,
    slot,
    drainDelayMs: int('PAVEMASTER_DRAIN_DELAY_MS', 3000, 0, 600_000),
    drainTimeoutMs: int('PAVEMASTER_DRAIN_TIMEOUT_MS', 20_000, 0, 600_000),
    dbPoolMax: int('PAVEMASTER_DB_POOL_MAX', 10, 1, 10_000),
    logLevel,
    faults: {
      errorRate,
      latencyMs: int('PAVEMASTER_FAULT_LATENCY_MS', 0, 0, 600_000),
      neverReady: bool('PAVEMASTER_FAULT_NEVER_READY'),
      failPaths,
    },
  };
  const probes = [config.healthPath, config.readyPath, config.metricsPath];
  if (new Set(probes).size !== probes.length) {
    problems.push(`the health, ready and metrics paths must differ (${probes.join(', ')})`);
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config;
}
