/** Shared bits of the kube unit tests: a logger that keeps its lines, and API errors as client-node throws them. */
import { ApiException } from '@kubernetes/client-node';

export { recordingLogger, type LogLine } from '@secrets-store-csi/core';

/** An `ApiException` exactly as client-node 2.0.1 builds it: the Status body is JSON text. */
export function apiException(code: number, reason: string, message: string): ApiException<string> {
  return new ApiException(
    code,
    'Unknown API Status Code!',
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }),
    { 'content-type': 'application/json' },
  );
}
