/**
 * The errors a provider throws. A `ProviderError` has a `kind`, which `serve()` maps to a gRPC status code in
 * one place, and a stable `code` (the `error_type` a driver can record). Messages name the object and the
 * parameter at fault and never carry a secret value.
 */
import { CodedError } from '@secrets-store-csi/core';

export const providerErrorKinds = [
  'invalid-argument',
  'not-found',
  'permission-denied',
  'unavailable',
  'resource-exhausted',
  'internal',
] as const;
export type ProviderErrorKind = (typeof providerErrorKinds)[number];

export class ProviderError<Code extends string = string> extends CodedError<Code> {
  readonly kind: ProviderErrorKind;

  constructor(kind: ProviderErrorKind, code: Code, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProviderError';
    this.kind = kind;
  }
}

export function isProviderError(value: unknown): value is ProviderError {
  return (
    value instanceof Error &&
    value.name === 'ProviderError' &&
    typeof (value as { code?: unknown }).code === 'string' &&
    (providerErrorKinds as readonly unknown[]).includes((value as { kind?: unknown }).kind)
  );
}

/** Codes the SDK itself reports. */
export const sdkErrorCodes = {
  /** A field of the MountRequest is not the JSON the protocol prescribes. */
  invalidMountRequest: 'InvalidMountRequest',
  /** The provider returned a file path the driver would refuse. */
  invalidFilePath: 'InvalidFilePath',
  /** The provider returned a file mode outside 0 to 0o777. */
  invalidFileMode: 'InvalidFileMode',
  /** The provider returned no object versions. */
  missingObjectVersions: 'MissingObjectVersions',
  /** The provider returned an absent object without an id, a valid path or a one-line reason. */
  invalidAbsentObject: 'InvalidAbsentObject',
  /** The response would exceed the size the driver accepts. */
  responseTooLarge: 'ResponseTooLarge',
  /** The provider failed with an error that is not a ProviderError. */
  mountFailed: 'MountFailed',
} as const;
export type SdkErrorCode = (typeof sdkErrorCodes)[keyof typeof sdkErrorCodes];
