/**
 * The one place that turns a driver error into a gRPC status for kubelet. Upstream answers its own
 * validation with InvalidArgument, mount-point trouble with Internal, a failed provider call with the
 * provider's own status code (the Go error wraps the provider's status, so kubelet decides final versus
 * uncertain on it), and everything else (plain Go errors) with Unknown; the texts are the error messages
 * unchanged, which kubelet shows in its FailedMount events. The stable error code also travels in the
 * trailing metadata, for tools that want it. Codes and texts can come from a provider, so both are made safe
 * here (printable ASCII metadata, well-formed bounded text): no answer can make grpc-js throw.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { errorCodeOf, isCodedError, statusText } from '@secrets-store-csi/core';
import { driverErrorCodes, providerStatusOf } from '../errors.js';

export const ERROR_CODE_METADATA_KEY = 'x-secrets-store-error-code';

const statusByCode: Readonly<Record<string, status>> = {
  [driverErrorCodes.invalidArgument]: status.INVALID_ARGUMENT,
  [driverErrorCodes.failedToEnsureMountPoint]: status.INTERNAL,
  [driverErrorCodes.unmountFailed]: status.INTERNAL,
  [driverErrorCodes.internal]: status.INTERNAL,
};

/** The gRPC status a code number names, unless it is OK or not a code at all. */
function statusNamed(value: number | undefined): status | undefined {
  if (value === undefined || !Number.isInteger(value)) return undefined;
  const name = status[value];
  return name === undefined || name === 'OK' ? undefined : status[name as keyof typeof status];
}

export function grpcStatusOf(error: unknown): status {
  if (!isCodedError(error)) return status.UNKNOWN;
  const own = statusByCode[error.code];
  if (own !== undefined) return own;
  return statusNamed(providerStatusOf(error)) ?? status.UNKNOWN;
}

export function toServiceError(error: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (isCodedError(error)) metadata.set(ERROR_CODE_METADATA_KEY, errorCodeOf(error.code));
  return {
    code: grpcStatusOf(error),
    details: statusText(error instanceof Error ? error.message : String(error)),
    metadata,
  };
}

/** A status answer with a fixed text, for the edge's own validation. */
export function statusError(code: status, details: string): Partial<ServiceError> {
  return { code, details: statusText(details) };
}

/** The answer when a handler itself failed: INTERNAL, and the server keeps serving. */
export function internalError(error: unknown): Partial<ServiceError> {
  const message = error instanceof Error ? error.message : String(error);
  return { code: status.INTERNAL, details: statusText(`internal error: ${message}`) };
}
