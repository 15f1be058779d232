/**
 * A cache for values fetched from a secret store, shared by the mounts a provider serves:
 * - concurrent requests for the same (identity, object) share one fetch;
 * - a fetched value lives for `ttlInMs` at most; a failed fetch is not kept, so the next request retries;
 * - at most `maxEntries` values are kept, the least recently used going first.
 *
 * Why the identity is part of the key: the store decides who may read what. Two pods on one node may use
 * different identities (service accounts, client IDs, tenants) with different rights on the same object. A
 * value fetched with pod A's identity, handed to pod B, would let B read what the store refuses B. So every
 * entry is keyed by the identity that fetched it, and a request is served only from entries of its own
 * identity. The identity key must therefore name everything that decides access (for example tenant,
 * client ID and the service account's namespace and name), never just the object. Identity keys are hashed
 * before they are stored, so a key built from a token does not keep the token in memory.
 */
import { createHash } from 'node:crypto';

export interface CoalescingCacheOptions {
  /** How long a fetched value is served, in milliseconds; positive and finite. */
  readonly ttlInMs: number;
  /** How many values are kept; the least recently used is dropped first. */
  readonly maxEntries: number;
  /** The clock, in milliseconds; `Date.now` by default (tests pass a fake). */
  readonly now?: () => number;
}

export interface CacheGetOptions {
  /** Stops waiting for this caller; the shared fetch continues for the others. */
  readonly abortSignal?: AbortSignal;
}

export interface CacheStats {
  /** Requests answered from a kept value. */
  readonly hits: number;
  /** Requests that joined a fetch already under way. */
  readonly coalesced: number;
  /** Fetches started. */
  readonly fetches: number;
  /** Values dropped to stay under `maxEntries`. */
  readonly evictions: number;
}

interface Entry<T> {
  readonly value: T;
  readonly expiresAt: number;
}

/** The identity, hashed (fixed length, no NUL), then the object: no two (identity, object) pairs collide. */
function cacheKey(identityKey: string, objectKey: string): string {
  return `${createHash('sha256').update(identityKey).digest('base64')}\u0000${objectKey}`;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('This operation was aborted', { cause: reason });
}

export class CoalescingCache<T> {
  readonly #ttlInMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Kept values in least-recently-used order (a Map iterates in insertion order). */
  readonly #entries = new Map<string, Entry<T>>();
  readonly #inFlight = new Map<string, Promise<T>>();
  #stats = { hits: 0, coalesced: 0, fetches: 0, evictions: 0 };

  constructor(options: CoalescingCacheOptions) {
    if (!(options.ttlInMs > 0) || !Number.isFinite(options.ttlInMs)) {
      throw new RangeError('ttlInMs must be a positive, finite number of milliseconds');
    }
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RangeError('maxEntries must be a positive integer');
    }
    this.#ttlInMs = options.ttlInMs;
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  /** Number of values kept (fetches under way not counted). */
  get size(): number {
    return this.#entries.size;
  }

  get stats(): CacheStats {
    return { ...this.#stats };
  }

  /**
   * The value of `objectKey` as `identityKey` sees it: kept, being fetched, or fetched now by `fetch`.
   * `identityKey` must not be empty: a cache shared across identities is exactly what this class prevents.
   */
  async get(
    identityKey: string,
    objectKey: string,
    fetch: () => Promise<T>,
    options: CacheGetOptions = {},
  ): Promise<T> {
    if (identityKey === '') throw new TypeError('identityKey must name the identity that fetches the object');
    options.abortSignal?.throwIfAborted();
    const key = cacheKey(identityKey, objectKey);
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#entries.delete(key);
      if (entry.expiresAt > this.#now()) {
        this.#entries.set(key, entry);
        this.#stats.hits++;
        return entry.value;
      }
    }
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      this.#stats.fetches++;
      pending = this.#fetch(key, fetch);
    } else {
      this.#stats.coalesced++;
    }
    return options.abortSignal === undefined ? pending : this.#abortable(pending, options.abortSignal);
  }

  /** Forgets the value of `objectKey` for `identityKey` (a fetch under way still completes). */
  delete(identityKey: string, objectKey: string): void {
    this.#entries.delete(cacheKey(identityKey, objectKey));
  }

  clear(): void {
    this.#entries.clear();
  }

  #fetch(key: string, fetch: () => Promise<T>): Promise<T> {
    const pending = Promise.resolve()
      .then(fetch)
      .then((value) => {
        this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlInMs });
        this.#prune();
        return value;
      })
      .finally(() => {
        this.#inFlight.delete(key);
      });
    this.#inFlight.set(key, pending);
    return pending;
  }

  /** Drops expired values (so secrets do not outlive their time in memory), then the least recently used. */
  #prune(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(key);
      } else if (this.#entries.size > this.#maxEntries) {
        this.#entries.delete(key);
        this.#stats.evictions++;
      }
    }
  }

  #abortable(pending: Promise<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the fetch's own rejection, unchanged
          reject(error);
        },
      );
    });
  }
}
