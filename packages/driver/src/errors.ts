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
