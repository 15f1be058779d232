/**
 * How Key Vault calls are retried. The Azure SDK's pipeline runs the retries (its `retryPolicy`); this file
 * only decides whether and when, because the SDK's default strategy falls short where our users suffer:
 * it does not retry a 429 without Retry-After, waits whatever Retry-After says (an hour would hold a mount
 * for an hour), and adds no jitter to throttled retries, so every pod of a node retries in lock step.
 *
 * Ours: 408, 429, 500, 502, 503, 504 and connection failures are retried up to `maxRetries` times with
 * exponential backoff and full jitter; a Retry-After (seconds, HTTP date, `retry-after-ms`,
 * `x-ms-retry-after-ms`) sets the least wait, plus up to 20% jitter. A Retry-After longer than
 * `maxRetryDelayInMs` ends the retries at once: the error then says when Key Vault expects to recover.
 */
import type {
  PipelineResponse,
  RestError,
  RetryInformation,
  RetryModifiers,
  RetryStrategy,
} from '@azure/core-rest-pipeline';

export interface RetrySettings {
  /** Retries after the first try. */
  readonly maxRetries: number;
  /** The first backoff; it doubles per retry. */
  readonly retryDelayInMs: number;
  /** The longest single wait, and the longest Retry-After honoured. */
  readonly maxRetryDelayInMs: number;
}

/** Go's azcore values: 3 retries, 800 ms doubling, 60 s cap. */
export const DEFAULT_RETRY_SETTINGS: RetrySettings = Object.freeze({
  maxRetries: 3,
  retryDelayInMs: 800,
  maxRetryDelayInMs: 60_000,
});

const RETRIED_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const RETRIED_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'REQUEST_SEND_ERROR',
]);

/** The wait a response asks for, in ms; undefined when it names none. */
export function retryAfterInMs(
  response: Pick<PipelineResponse, 'headers'> | undefined,
  now = Date.now(),
): number | undefined {
  if (response === undefined) return undefined;
  for (const header of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = response.headers.get(header);
    if (value !== undefined && /^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  }
  const value = response.headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export function isRetriedStatus(status: number): boolean {
  return RETRIED_STATUSES.has(status);
}

export interface RetryStrategyOptions extends RetrySettings {
  /** A number in [0, 1); `Math.random` by default (tests pass a fixed one). */
  readonly random?: () => number;
  readonly now?: () => number;
}

/** The backoff before retry number `retryCount` (0-based): full jitter over an exponential ceiling. */
export function backoffInMs(retryCount: number, settings: RetrySettings, random: () => number): number {
  const ceiling = Math.min(settings.maxRetryDelayInMs, settings.retryDelayInMs * 2 ** retryCount);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function keyVaultRetryStrategy(options: RetryStrategyOptions): RetryStrategy {
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  return {
    name: 'secretsStoreKeyVaultRetry',
    retry({ retryCount, response, responseError }: RetryInformation): RetryModifiers {
      const status = response?.status ?? responseError?.statusCode;
      const retried =
        status !== undefined ? isRetriedStatus(status) : RETRIED_ERROR_CODES.has(responseError?.code ?? '');
      if (!retried) return responseError ? { errorToThrow: responseError } : { skipStrategy: true };
      const asked = retryAfterInMs(response ?? responseError?.response, now());
      if (asked !== undefined && asked > options.maxRetryDelayInMs) {
        // Waiting that long would hold the mount past any deadline; report it instead.
        return responseError ? { errorToThrow: responseError } : { skipStrategy: true };
      }
      const backoff = backoffInMs(retryCount, options, random);
      const wait = asked === undefined ? backoff : Math.round(asked * (1 + random() * 0.2));
      return { retryAfterInMs: wait };
    },
  };
}

export type { RestError };
