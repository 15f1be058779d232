/**
 * The provider's error codes. Messages keep upstream's texts (users search for them); the code is what the
 * driver records and what `serve()` maps to a gRPC status through the kind. Messages never carry a secret.
 */
import { ProviderError, type ProviderErrorKind } from '@secrets-store-csi/provider-sdk';

export const azureErrorCodes = {
  /** A SecretProviderClass parameter or the `objects` text is wrong. */
  invalidParameter: 'InvalidParameter',
  /** The identity could not be set up: missing nodePublishSecretRef keys, missing tokens. */
  invalidIdentity: 'InvalidIdentity',
  /** Entra ID (or IMDS, NMI, the token proxy) refused or failed to issue a token. */
  authenticationFailed: 'AuthenticationFailed',
  /** Key Vault has no such object or version (404), or the vault name resolves to nothing. */
  objectNotFound: 'ObjectNotFound',
  /** Key Vault refused access (401/403), including disabled versions. */
  accessDenied: 'AccessDenied',
  /** Key Vault or the token endpoint throttled the request (429) and retries ran out. */
  throttled: 'Throttled',
  /** Key Vault or the token endpoint could not be reached or answered 5xx after retries. */
  storeUnavailable: 'StoreUnavailable',
  /** What Key Vault returned could not be turned into file content (PFX, PEM, key type, encoding). */
  invalidContent: 'InvalidContent',
} as const;
export type AzureErrorCode = (typeof azureErrorCodes)[keyof typeof azureErrorCodes];

const kindOf: Record<AzureErrorCode, ProviderErrorKind> = {
  InvalidParameter: 'invalid-argument',
  InvalidIdentity: 'invalid-argument',
  AuthenticationFailed: 'permission-denied',
  ObjectNotFound: 'not-found',
  AccessDenied: 'permission-denied',
  Throttled: 'resource-exhausted',
  StoreUnavailable: 'unavailable',
  InvalidContent: 'internal',
};

export function azureError(
  code: AzureErrorCode,
  message: string,
  options?: { cause?: unknown },
): ProviderError {
  return new ProviderError(kindOf[code], code, message, options);
}

/** A bad parameter, with upstream's text. */
export function parameterError(message: string, options?: { cause?: unknown }): ProviderError {
  return azureError(azureErrorCodes.invalidParameter, message, options);
}

/** Content Key Vault returned that cannot become a file, with upstream's text. */
export function contentError(message: string, options?: { cause?: unknown }): ProviderError {
  return azureError(azureErrorCodes.invalidContent, message, options);
}
