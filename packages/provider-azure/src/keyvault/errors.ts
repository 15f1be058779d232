/**
 * Turns a failed Key Vault call into a ProviderError with upstream's prefix
 * (`failed to get objectType:<t>, objectName:<n>, objectVersion:<v>: …`), a stable code, and a message a
 * user can act on. An error answer reads as upstream's (the Go azcore ResponseError text): method and URL
 * without the query, `RESPONSE <status>: <status text>`, `ERROR CODE: <Key Vault code>`, and the error body,
 * between 80-dash rulers. The body is rebuilt from Key Vault's error code and message only (Key Vault's own
 * texts, which never carry a secret value; nothing else a server sent is echoed). No headers.
 */
import { STATUS_CODES } from 'node:http';
import { isRestError, type RestError } from '@azure/core-rest-pipeline';
import { isProviderError, type ProviderError } from '@secrets-store-csi/provider-sdk';
import { azureError, azureErrorCodes, type AzureErrorCode } from '../errors.js';
import { retryAfterInMs } from './retry.js';

export interface ObjectRef {
  readonly objectType: string;
  readonly objectName: string;
  readonly objectVersion: string;
  /**
   * Ours: set on every object of a class that names vaults per object (docs/multi-vault-and-optional.md), so
   * each of its errors names the vault; unset (upstream's prefix) otherwise.
   */
  readonly keyvaultName?: string;
}

export function objectPrefix(object: ObjectRef): string {
  const vault = object.keyvaultName === undefined ? '' : `, keyvaultName:${object.keyvaultName}`;
  return `failed to get objectType:${object.objectType}, objectName:${object.objectName}, objectVersion:${object.objectVersion}${vault}`;
}

/** A credential failure classified by the auth module: it already has a code and a safe message. */
export type CredentialErrorClassifier = (
  error: unknown,
) => { code: AzureErrorCode; message: string } | undefined;

function codeForStatus(status: number): AzureErrorCode {
  if (status === 404) return azureErrorCodes.objectNotFound;
  if (status === 401 || status === 403) return azureErrorCodes.accessDenied;
  if (status === 429) return azureErrorCodes.throttled;
  return status >= 500 || status === 408
    ? azureErrorCodes.storeUnavailable
    : azureErrorCodes.invalidParameter;
}

/** `in 30s (at 2026-11-22T10:00:30Z)`: when Key Vault said it would take requests again. */
export function recoveryHint(waitInMs: number | undefined, now = Date.now()): string {
  if (waitInMs === undefined) return 'Key Vault named no time; the driver retries the mount with backoff';
  const at = new Date(now + waitInMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `Key Vault expects to accept requests again in ${Math.ceil(waitInMs / 1000)}s (at ${at})`;
}

/** The Key Vault SDK's error when the challenge resource does not match the vault host. */
const CHALLENGE_MISMATCH = /^The challenge resource '[^']*' does not match the requested domain/;

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN']);

const RULE = '-'.repeat(80);
const MAX_BODY_MESSAGE = 1024;

/** Key Vault's `{"error": {"code", "message", "innererror": {"code"}}}`, from the parsed or the raw body. */
function errorBodyOf(error: RestError): { code?: string; message?: string; innerCode?: string } | undefined {
  const response = error.response as { parsedBody?: unknown; bodyAsText?: string | null } | undefined;
  let body: unknown = response?.parsedBody;
  if (body === undefined && typeof response?.bodyAsText === 'string') {
    try {
      body = JSON.parse(response.bodyAsText);
    } catch {
      return undefined;
    }
  }
  const inner = (body as { error?: unknown } | undefined)?.error;
  if (inner === null || typeof inner !== 'object') return undefined;
  const { code, message, innererror } = inner as { code?: unknown; message?: unknown; innererror?: unknown };
  const innerCode = (innererror as { code?: unknown } | null | undefined)?.code;
  return {
    ...(typeof code === 'string' && { code }),
    ...(typeof message === 'string' && { message: message.slice(0, MAX_BODY_MESSAGE) }),
    ...(typeof innerCode === 'string' && { innerCode }),
  };
}

/**
 * The Go azcore ResponseError text for a Key Vault error answer. The SDK's paging helper replaces Key
 * Vault's message with `Pagination failed with unexpected statusCode 404`; the body's message (`A secret
 * with (name/id) x was not found in this key vault`) is used instead, so a missing object says so.
 */
function responseErrorText(error: RestError, status: number, object: ObjectRef): string {
  const body = errorBodyOf(error);
  const errorCode =
    body?.code ?? (typeof error.code === 'string' && error.code !== '' ? error.code : undefined);
  let message = body?.message ?? error.message;
  if (/^Pagination failed with unexpected statusCode/.test(message) && status === 404) {
    message = `A ${object.objectType === 'cert' ? 'certificate' : object.objectType} with (name/id) ${object.objectName} was not found in this key vault.`;
  }
  const request = error.request;
  const lines: string[] = [
    request !== undefined && request.url !== ''
      ? `${request.method} ${request.url.split('?')[0] ?? ''}`
      : 'Request information not available',
    RULE,
    `RESPONSE ${status}: ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(),
    errorCode === undefined ? 'ERROR CODE UNAVAILABLE' : `ERROR CODE: ${errorCode}`,
    RULE,
    JSON.stringify({ error: { code: errorCode ?? '', message } }, null, 2),
    RULE,
    '',
  ];
  return lines.join('\n');
}

export function keyVaultError(
  error: unknown,
  object: ObjectRef,
  vaultHost: string,
  classifyCredentialError: CredentialErrorClassifier,
  now = Date.now(),
): ProviderError {
  const prefix = objectPrefix(object);
  if (isProviderError(error)) return azureError(error.code as AzureErrorCode, `${prefix}: ${error.message}`);
  if (isRestError(error)) {
    const status = error.statusCode;
    if (status === undefined) {
      if (DNS_CODES.has(error.code ?? '')) {
        return azureError(
          azureErrorCodes.objectNotFound,
          `${prefix}: the vault host ${vaultHost} does not resolve (${error.code ?? ''}); check keyvaultName and cloudName, and the node's DNS for private endpoints`,
          { cause: error },
        );
      }
      return azureError(
        azureErrorCodes.storeUnavailable,
        `${prefix}: Key Vault ${vaultHost} could not be reached: ${error.message}`,
        { cause: error },
      );
    }
    if (status === 429) {
      return azureError(
        azureErrorCodes.throttled,
        `${prefix}: Key Vault throttled the request (429 Too Many Requests) and retries ran out; ${recoveryHint(retryAfterInMs(error.response, now), now)}`,
        { cause: error },
      );
    }
    return azureError(codeForStatus(status), `${prefix}: ${responseErrorText(error, status, object)}`, {
      cause: error,
    });
  }
  if (error instanceof Error && CHALLENGE_MISMATCH.test(error.message)) {
    // The SDK refuses a vault whose host does not end with the challenge's resource: a setting, not an outage.
    return azureError(
      azureErrorCodes.invalidParameter,
      `${prefix}: ${error.message} (for a custom cloud, set disableChallengeResourceVerification: "true" in the SecretProviderClass parameters)`,
      { cause: error },
    );
  }
  const credential = classifyCredentialError(error);
  if (credential !== undefined)
    return azureError(credential.code, `${prefix}: ${credential.message}`, { cause: error });
  if (error instanceof Error && error.name === 'AbortError') {
    return azureError(
      azureErrorCodes.storeUnavailable,
      `${prefix}: the mount was cancelled before Key Vault answered`,
      {
        cause: error,
      },
    );
  }
  return azureError(
    azureErrorCodes.storeUnavailable,
    `${prefix}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}

/** Why Key Vault does not have an object: what `optional: true` forgives. */
export type Absence = 'not-found' | 'disabled';

const NOT_FOUND_CODES = /^(?:secret|key|cert|certificate)NotFound$/i;
const DISABLED_MESSAGE = /not allowed on a disabled/i;

/**
 * Whether a failed Key Vault call (or a ProviderError made from one, through its causes) says that the object
 * or version does not exist (404 with a Secret/Key/CertificateNotFound code) or is disabled (403 with a
 * `…Disabled` inner code, or Key Vault's "not allowed on a disabled" text). Anything else is not an absence:
 * a vault that does not resolve, access refused by policy or RBAC, throttling, outages, bad content.
 */
export function absenceOf(error: unknown): Absence | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (isRestError(current)) {
      const body = errorBodyOf(current);
      const code = body?.code ?? current.code ?? '';
      if (current.statusCode === 404 && NOT_FOUND_CODES.test(code)) return 'not-found';
      if (
        current.statusCode === 403 &&
        (/Disabled$/.test(body?.innerCode ?? '') || DISABLED_MESSAGE.test(body?.message ?? current.message))
      ) {
        return 'disabled';
      }
      return undefined;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
