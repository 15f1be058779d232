/**
 * Structured logging for the daemons. Libraries take the small `Logger` interface; `createLogger` writes one
 * line per call (JSON or key=value text) to standard error or a given stream. Every line passes through the
 * redaction layer before it is formatted.
 *
 * Written here rather than with winston: the daemons need one synchronous line format and a level filter,
 * and loading winston (with logform, colors, fecha, readable-stream...) cost each process about 2 MiB of RSS.
 */
import type { Writable } from 'node:stream';
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

const LEVELS: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** JSON.stringify that never throws (cycles and BigInt are written as text). */
function safeJson(value: unknown): string {
  const seen = new WeakSet();
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return item.toString();
    if (typeof item === 'object' && item !== null) {
      if (seen.has(item)) return '[Circular]';
      seen.add(item);
    }
    return item;
  });
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = LEVELS[options.level];
  const stream: { write(line: string): unknown } = options.stream ?? process.stderr;
  const emit = (level: LogLevel, message: string, fields: LogFields) => {
    if (LEVELS[level] > threshold) return;
    const timestamp = new Date().toISOString();
    const redacted: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(fields)) redacted[key] = redactValue(value, options.secrets);
    const text = redactValue(message, options.secrets);
    const line =
      options.format === 'json'
        ? safeJson({ ...redacted, level, message: text, timestamp })
        : [
            timestamp,
            level,
            textValue(text),
            ...Object.entries(redacted).map(([k, v]) => `${k}=${textValue(v)}`),
          ].join(' ');
    stream.write(`${line}\n`);
  };
  return bind(emit, {});
}

function bind(emit: (level: LogLevel, message: string, fields: LogFields) => void, base: LogFields): Logger {
  const write = (level: LogLevel) => (message: string, fields?: LogFields) => {
    emit(level, message, { ...base, ...fields });
  };
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    child: (fields) => bind(emit, { ...base, ...fields }),
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
