/**
 * Structured logs: one JSON object per line on stdout (what the logging stack's Logstash parses: `level`, `msg`,
 * `time` are lifted; access lines carry `path`, so the pipeline can drop probe noise).
 */
import { LOG_LEVELS, type LogLevel } from './config.ts';

export type Fields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export function createLogger(level: LogLevel, base: Fields, write: (line: string) => void): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at =
    (l: LogLevel) =>
    (msg: string, fields: Fields = {}): void => {
      if (LOG_LEVELS.indexOf(l) >= min) {
        write(`${JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...base, ...fields })}\n`);
      }
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
