/** Shared bits of the kube unit tests: a logger that keeps its lines, and API errors as client-node throws them. */
import { ApiException } from '@kubernetes/client-node';
import type { LogFields, Logger } from '@secrets-store-csi/core';

export interface LogLine {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly message: string;
  readonly fields: LogFields;
}

export function recordingLogger(lines: LogLine[] = [], base: LogFields = {}): Logger & { lines: LogLine[] } {
  const write = (level: LogLine['level']) => (message: string, fields?: LogFields) => {
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

/** An `ApiException` exactly as client-node 2.0.1 builds it: the Status body is JSON text. */
export function apiException(code: number, reason: string, message: string): ApiException<string> {
  return new ApiException(
    code,
    'Unknown API Status Code!',
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }),
    { 'content-type': 'application/json' },
  );
}
