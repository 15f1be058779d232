/**
 * The one place that turns a driver error into a gRPC status for kubelet. Upstream answers its own
 * validation with InvalidArgument, mount-point trouble with Internal, and everything else (plain Go errors)
 * with Unknown; the texts are the error messages unchanged, which kubelet shows in its FailedMount events.
 * The stable error code also travels in the trailing metadata, for tools that want it.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { isCodedError } from '@secrets-store-csi/core';
import { driverErrorCodes } from '../errors.js';

export const ERROR_CODE_METADATA_KEY = 'x-secrets-store-error-code';

const statusByCode: Readonly<Record<string, status>> = {
  [driverErrorCodes.invalidArgument]: status.INVALID_ARGUMENT,
  [driverErrorCodes.failedToEnsureMountPoint]: status.INTERNAL,
  [driverErrorCodes.unmountFailed]: status.INTERNAL,
  [driverErrorCodes.internal]: status.INTERNAL,
};

export function grpcStatusOf(error: unknown): status {
  return isCodedError(error) ? (statusByCode[error.code] ?? status.UNKNOWN) : status.UNKNOWN;
}

export function toServiceError(error: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (isCodedError(error)) metadata.set(ERROR_CODE_METADATA_KEY, error.code);
  return {
    code: grpcStatusOf(error),
    details: error instanceof Error ? error.message : String(error),
    metadata,
  };
}

/** A status answer with a fixed text, for the edge's own validation. */
export function statusError(code: status, details: string): Partial<ServiceError> {
  return { code, details };
}
