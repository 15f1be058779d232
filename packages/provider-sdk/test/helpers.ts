import { execFile } from 'node:child_process';
import type { LogFields, Logger } from '@secrets-store-csi/core';

/** Leaves a socket file at `path` that no process listens on, as a provider killed with SIGKILL does. */
export function leaveStaleSocket(path: string): Promise<void> {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], () => {
      resolve();
    });
  });
}

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: LogFields;
}

/** A Logger that keeps every line. */
export function recordingLogger(lines: LogLine[] = [], base: LogFields = {}): Logger & { lines: LogLine[] } {
  const write =
    (level: string) =>
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
