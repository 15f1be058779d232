/**
 * Structured logging for the daemons. Libraries take the small `Logger` interface; only `createLogger` binds
 * winston. Every line passes through the redaction layer before it is formatted.
 */
import type { Writable } from 'node:stream';
import winston from 'winston';
import { redactValue, type SecretValues } from './redact.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'json' | 'text';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Known secret values to cut out of every line. */
  readonly secrets?: SecretValues;
  /** Where lines go; standard error by default. */
  readonly stream?: Writable;
}

const MESSAGE = Symbol.for('message');

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

export function createLogger(options: LoggerOptions): Logger {
  const redaction = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key !== 'level' && key !== 'timestamp') info[key] = redactValue(info[key], options.secrets);
    }
    return info;
  });
  const line =
    options.format === 'json'
      ? winston.format.json()
      : winston.format((info) => {
          const { level, message, timestamp, ...fields } = info as Record<string, unknown>;
          const pairs = Object.entries(fields).map(([k, v]) => `${k}=${textValue(v)}`);
          (info as Record<symbol, unknown>)[MESSAGE] = [timestamp, level, textValue(message), ...pairs].join(
            ' ',
          );
          return info;
        })();
  const logger = winston.createLogger({
    level: options.level,
    format: winston.format.combine(winston.format.timestamp(), redaction(), line),
    transports: [
      options.stream
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] }),
    ],
  });
  return wrap(logger, {});
}

function wrap(logger: winston.Logger, base: LogFields): Logger {
  const write = (level: LogLevel) => (message: string, fields?: LogFields) => {
    logger.log(level, message, { ...base, ...fields });
  };
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    child: (fields) => wrap(logger, { ...base, ...fields }),
  };
}

/** A logger that drops everything, for code paths and tests that do not care. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};

export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/** A logger that keeps every line in `lines` (children share it), for tests that assert on logging. */
export function recordingLogger(lines: LogLine[] = [], base: LogFields = {}): Logger & { lines: LogLine[] } {
  const write =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}) => {
      lines.push({ level, message, fields: { ...base, ...fields } });
    };
  return {
    lines,
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    child: (fields) => recordingLogger(lines, { ...base, ...fields }),
  };
}
