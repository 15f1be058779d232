/**
 * Turns what a credential throws into an error code and a message a user can act on, without tokens or
 * secrets. What @azure/identity 4.14.1 throws:
 * - `AuthenticationError` (`statusCode`, `errorResponse.{error, errorDescription}`) from its own HTTP calls;
 * - `AuthenticationRequiredError` wrapping MSAL's `ServerError` (`errorCode`, `errorMessage`, `status`) for
 *   token-endpoint refusals of ClientSecretCredential and ClientAssertionCredential, including a 429 whose
 *   retries ran out. Neither carries the response headers, so Retry-After is recorded by our pipeline policy
 *   (credential-cache.ts) and passed in as `context`;
 * - `CredentialUnavailableError` (ManagedIdentityCredential wraps every failure in it, `cause` the original).
 */
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { azureErrorCodes, type AzureErrorCode } from '../errors.js';
import { redactSecrets } from './redact.js';

export interface ClassifiedCredentialError {
  readonly code: AzureErrorCode;
  readonly message: string;
}

/** What the credential's pipeline saw of the last throttled token request. */
export interface ThrottleContext {
  /** The status of the last throttled answer (429, or 503 with Retry-After). */
  readonly status: number;
  /** What Retry-After asked for, in ms; undefined when the answer named no time. */
  readonly retryAfterInMs: number | undefined;
  /** When that answer came (epoch ms). */
  readonly at: number;
}

const credentialErrorNames = new Set([
  'AuthenticationError',
  'AuthenticationRequiredError',
  'AggregateAuthenticationError',
  'CredentialUnavailableError',
  'ServerError',
  'AuthError',
  'ClientAuthError',
  'ClientConfigurationError',
  'NetworkError',
]);

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'network_error',
]);

/** A request that never got an answer: where it went and the socket or TLS error code. */
export interface NetworkFailure {
  readonly method: string;
  /** Without the query. */
  readonly url: string;
  readonly code: string;
  readonly at: number;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** What went wrong on the way to `host`, in words a user can act on: DNS, refused, TLS, timeout, reset. */
export function networkCause(code: string, host: string): string {
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `the DNS lookup of ${host} failed (${code}); check the name and the node's DNS`;
  if (code === 'ECONNREFUSED')
    return `the connection to ${host} was refused (ECONNREFUSED); nothing listens there`;
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
    return `the connection to ${host} timed out (${code}); check firewalls and proxies`;
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return `the connection to ${host} was reset (${code}); a proxy or firewall may be cutting it`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return `${host} is unreachable from this node (${code}); check routes and network policies`;
  if (TLS_CODE.test(code))
    return `the TLS handshake with ${host} failed (${code}); its certificate is not trusted here or does not match the name`;
  return `${host} could not be reached (${code})`;
}

/** The socket or TLS error code somewhere in `error`'s cause chain, if any. */
export function networkCodeOf(error: unknown): string | undefined {
  for (const link of chainOf(error)) {
    const code = (link as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      (networkCodes.has(code) || TLS_CODE.test(code)) &&
      code !== 'network_error'
    )
      return code;
  }
  return undefined;
}

/** MSAL keeps a failed identity from asking again for this long when the answer named no Retry-After. */
export const msalDefaultThrottleSeconds = 60;

interface Facts {
  status: number | undefined;
  oauthError: string | undefined;
  network: boolean;
  credentialError: boolean;
}

function chainOf(error: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

function factsOf(chain: readonly Error[]): Facts {
  const facts: Facts = { status: undefined, oauthError: undefined, network: false, credentialError: false };
  for (const error of chain) {
    const e = error as Error & {
      statusCode?: unknown;
      status?: unknown;
      code?: unknown;
      errorCode?: unknown;
      errorResponse?: { error?: unknown };
    };
    if (credentialErrorNames.has(e.name)) facts.credentialError = true;
    if (facts.status === undefined) {
      if (typeof e.statusCode === 'number') facts.status = e.statusCode;
      else if (typeof e.status === 'number') facts.status = e.status;
    }
    if (facts.oauthError === undefined) {
      if (typeof e.errorResponse?.error === 'string') facts.oauthError = e.errorResponse.error;
      else if (typeof e.errorCode === 'string' && e.errorCode !== '') facts.oauthError = e.errorCode;
    }
    if (
      (typeof e.code === 'string' && networkCodes.has(e.code)) ||
      (typeof e.errorCode === 'string' && networkCodes.has(e.errorCode))
    ) {
      facts.network = true;
    }
  }
  return facts;
}

function isoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** When Entra ID expects to take requests again, as a sentence fragment. */
export function tokenRecoveryHint(context: ThrottleContext | undefined, now = Date.now()): string {
  if (context?.retryAfterInMs !== undefined) {
    const until = context.at + context.retryAfterInMs;
    const left = Math.max(0, Math.ceil((until - now) / 1000));
    return `it asked to wait ${Math.ceil(context.retryAfterInMs / 1000)}s (Retry-After), so expect recovery in about ${left}s (at ${isoSeconds(until)})`;
  }
  if (context !== undefined) {
    return `it named no Retry-After; the SDK holds this identity's token requests for about ${msalDefaultThrottleSeconds}s and the driver retries the mount with backoff`;
  }
  return 'the driver retries the mount with backoff';
}

/**
 * The code and a safe message for a credential failure, or undefined when `error` is not one. `context` is
 * the credential's last throttled answer, when the caller has it (the cached credentials pass it).
 */
export function classifyCredentialError(
  error: unknown,
  context?: ThrottleContext,
  now = Date.now(),
  network?: NetworkFailure,
): ClassifiedCredentialError | undefined {
  if (isProviderError(error)) return { code: error.code as AzureErrorCode, message: error.message };
  const chain = chainOf(error);
  const first = chain[0];
  if (first === undefined) return undefined;
  const facts = factsOf(chain);
  if (!facts.credentialError) return undefined;
  const detail = redactSecrets(first.message.replace(/\s+/g, ' ').trim(), 1024);
  // A recent throttled answer explains a failure that carries no status: MSAL's own throttle cache
  // refuses further requests of the identity without asking Entra ID again.
  const recentlyThrottled =
    context !== undefined && now < context.at + (context.retryAfterInMs ?? msalDefaultThrottleSeconds * 1000);
  if (facts.status === 429 || facts.oauthError === 'too_many_requests') {
    return {
      code: azureErrorCodes.throttled,
      message: `Entra ID throttled the token request (429 Too Many Requests) and the retries ran out; ${tokenRecoveryHint(context, now)}. ${detail}`,
    };
  }
  if (facts.status === undefined && recentlyThrottled && context.status === 429) {
    return {
      code: azureErrorCodes.throttled,
      message: `Entra ID throttled this identity's token requests (429 Too Many Requests) and the SDK holds new ones until it recovers; ${tokenRecoveryHint(context, now)}. ${detail}`,
    };
  }
  if (facts.network || network !== undefined) {
    // MSAL says only `network_error: See https://aka.ms/…`; the pipeline recorded where and why.
    const code = network?.code ?? networkCodeOf(error);
    if (network !== undefined && code !== undefined) {
      const host = new URL(network.url).host;
      return {
        code: azureErrorCodes.storeUnavailable,
        message: `the token endpoint could not be reached: ${network.method} ${network.url}: ${networkCause(code, host)}`,
      };
    }
    return {
      code: azureErrorCodes.storeUnavailable,
      message: `the token endpoint could not be reached: ${detail}`,
    };
  }
  if (facts.status !== undefined && (facts.status >= 500 || facts.status === 408)) {
    return {
      code: azureErrorCodes.storeUnavailable,
      message: `the token endpoint answered ${facts.status} and the retries ran out: ${detail}`,
    };
  }
  return { code: azureErrorCodes.authenticationFailed, message: detail };
}
