import { CodedError } from '@secrets-store-csi/core';

/**
 * Stable codes of the driver's errors. Where upstream has one, the code equals its `error_type` metric label
 * and event reason, so existing alerts keep matching; the gRPC status of each is decided in `csi/status.ts`.
 */
export const driverErrorCodes = {
  invalidArgument: 'InvalidArgument',
  failedToEnsureMountPoint: 'FailedToEnsureMountPoint',
  failedToMount: 'FailedToMount',
  secretProviderClassNotFound: 'SecretProviderClassNotFound',
  secretProviderClassInvalid: 'SecretProviderClassInvalid',
  providerNotFound: 'ProviderNotFound',
  grpcProviderError: 'GRPCProviderError',
  providerResponseTooLarge: 'ProviderResponseTooLarge',
  fileWriteError: 'FileWriteError',
  podStatusError: 'PodStatusError',
  kubernetesForbidden: 'KubernetesForbidden',
  failedToCreateSecret: 'FailedToCreateSecret',
  unmountFailed: 'UnmountFailed',
  internal: 'Internal',
} as const;
export type DriverErrorCode = (typeof driverErrorCodes)[keyof typeof driverErrorCodes];

export class DriverError extends CodedError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DriverError';
  }
}

/**
 * A failed call to a provider: keeps the provider's gRPC status code, which the CSI edge passes on to kubelet
 * as upstream does (kubelet decides final versus uncertain on it), however the error is wrapped on the way.
 */
export class ProviderCallError extends DriverError {
  readonly providerStatus: number;

  constructor(providerStatus: number, message: string, options?: { cause?: unknown }) {
    super(driverErrorCodes.grpcProviderError, message, options);
    this.name = 'ProviderCallError';
    this.providerStatus = providerStatus;
  }
}

/** The provider's gRPC status code somewhere in `error`'s cause chain, if a provider call failed. */
export function providerStatusOf(error: unknown): number | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 16; depth += 1) {
    if (current instanceof ProviderCallError) return current.providerStatus;
    current = current.cause;
  }
  return undefined;
}
