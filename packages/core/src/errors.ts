/**
 * Errors with a stable code. Domain code throws them; each edge (gRPC, events, metrics) maps the code in one
 * place. The code doubles as the `error_type` metric label, so it is a short identifier, never free text,
 * and a message never carries a secret value.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodedError';
    this.code = code;
  }
}

export function isCodedError(value: unknown): value is CodedError {
  return value instanceof Error && typeof (value as { code?: unknown }).code === 'string';
}

/** Codes this package throws. */
export const coreErrorCodes = {
  secretProviderClassInvalid: 'SecretProviderClassInvalid',
  secretProviderClassPodStatusInvalid: 'SecretProviderClassPodStatusInvalid',
  invalidDuration: 'InvalidDuration',
} as const;
export type CoreErrorCode = (typeof coreErrorCodes)[keyof typeof coreErrorCodes];
