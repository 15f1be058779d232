/**
 * Reading failures from @kubernetes/client-node. Its `ApiException` carries the HTTP status as `code` and the
 * response body as the raw JSON *text* of a `Status` (not a parsed object), and its message embeds the whole
 * body and every response header; the watch reports `statusCode` instead. Callers only need the status code,
 * the Status `reason` (to tell AlreadyExists from Conflict, both 409) and the API server's one-line message.
 */
import { DriverError, driverErrorCodes } from '../errors.js';

export interface ApiFailure {
  /** HTTP status, when the API server answered. */
  readonly status?: number;
  /** `Status.reason`, such as `NotFound`, `AlreadyExists`, `Conflict`, `Forbidden`. */
  readonly reason?: string;
  /** The API server's `Status.message`, or the transport error's message. */
  readonly message: string;
}

export function apiFailure(error: unknown): ApiFailure {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const fields = error as {
    kind?: unknown;
    code?: unknown;
    statusCode?: unknown;
    body?: unknown;
    message?: unknown;
  };
  const status =
    typeof fields.code === 'number'
      ? fields.code
      : typeof fields.statusCode === 'number'
        ? fields.statusCode
        : undefined;
  // A watch ERROR event carries the Status object itself.
  const body = fields.kind === 'Status' ? statusBody(error) : statusBody(fields.body);
  const fallback = typeof fields.message === 'string' ? fields.message : 'unknown error';
  const message =
    body?.message ?? (status !== undefined ? `the API server answered HTTP ${status}` : fallback);
  return {
    ...(status !== undefined && { status }),
    ...(body?.reason !== undefined && { reason: body.reason }),
    message,
  };
}

function statusBody(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { reason, message } = value as { reason?: unknown; message?: unknown };
  return {
    ...(typeof reason === 'string' && reason !== '' && { reason }),
    ...(typeof message === 'string' && message !== '' && { message }),
  };
}

export const isNotFound = (f: ApiFailure): boolean => f.status === 404;
export const isForbidden = (f: ApiFailure): boolean => f.status === 403;
/** 409 from a create: the object exists. */
export const isAlreadyExists = (f: ApiFailure): boolean =>
  f.status === 409 && (f.reason === undefined || f.reason === 'AlreadyExists');
/** 409 from an update: the resourceVersion we sent is no longer current. */
export const isConflict = (f: ApiFailure): boolean => f.status === 409 && f.reason !== 'AlreadyExists';

/** A 403 as the driver reports it: which verb on which resource its RBAC role lacks, then the server's text. */
export function forbiddenError(
  verb: string,
  resource: string,
  namespace: string,
  failure: ApiFailure,
  hint?: string,
): DriverError {
  const message = [
    `the driver's RBAC role does not allow it to ${verb} ${resource} in namespace ${namespace}: ${failure.message}.`,
    hint,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
  return new DriverError(driverErrorCodes.kubernetesForbidden, message);
}

/** How many times a write is retried after a 409 Conflict (a newer version was written meanwhile). */
export const CONFLICT_RETRIES = 3;
