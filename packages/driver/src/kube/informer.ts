/**
 * A list+watch cache of one resource, keyed `namespace/name`.
 *
 * We do not use client-node's `makeInformer`/`ListWatch` (2.0.1): it cannot take a field selector through
 * `makeInformer`, it stops for good after any watch error other than 410 or a client timeout (it only calls the
 * error callbacks), it can still open a watch after `stop()` when the stop lands during its initial list, and
 * its reconnect delay is an uncancellable timer that keeps the process alive after `stop()`. This one restarts
 * after every error or end with exponential backoff, ignores late callbacks of an attempt that `stop()`
 * abandoned, and owns exactly one timer, which `stop()` clears.
 */
import type { Logger } from '@secrets-store-csi/core';
import { apiFailure } from './api-errors.js';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const defaultInformerBackoff: Backoff = { initialMs: 1_000, maxMs: 30_000 };

/** The delay before a restart that follows `failures` consecutive restarts without progress. */
export function backoffDelay(failures: number, backoff: Backoff): number {
  return Math.min(backoff.initialMs * 2 ** Math.min(failures, 30), backoff.maxMs);
}

export interface ListResult {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
}

/** The shape of client-node's `Watch.watch`: resolves once connected (or failed); `onDone` ends every watch. */
export type WatchFn = (
  path: string,
  query: Record<string, string | boolean | undefined>,
  onEvent: (type: string, object: unknown) => void,
  onDone: (error: unknown) => void,
) => Promise<{ abort(): void }>;

/** Injected in unit tests to observe the restart schedule without waiting. */
export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface InformerOptions<T> {
  /** Resource name for logs, such as `pods`. */
  readonly resource: string;
  /** Watch path, such as `/api/v1/pods`. */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly list: () => Promise<ListResult>;
  readonly watch: WatchFn;
  /** What the cache keeps of each object (a watch delivers raw JSON, a typed list delivers client models). */
  readonly convert: (object: unknown) => T;
  readonly logger: Logger;
  readonly backoff?: Backoff;
  readonly timers?: Timers;
}

interface ObjectMetaLike {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  };
}

function keyOf(object: unknown): string | undefined {
  const meta = (object as ObjectMetaLike | null)?.metadata;
  return meta?.name === undefined ? undefined : `${meta.namespace ?? ''}/${meta.name}`;
}

/** client-node aborts a watch that saw no bytes for 30 s with this error: the watch was healthy, just quiet. */
function isInactivityTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'TimeoutError';
}

export class Informer<T> {
  private readonly options: InformerOptions<T>;
  private readonly backoff: Backoff;
  private readonly timers: Timers;
  private readonly logger: Logger;
  private objects = new Map<string, T>();
  private resourceVersion = '';
  private running = false;
  private synced = false;
  private failures = 0;
  /** Incremented by start/stop: callbacks of an older attempt are ignored. */
  private generation = 0;
  private timer: unknown;
  private watchHandle: { abort(): void } | undefined;
  private syncWaiters: (() => void)[] = [];

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.backoff = options.backoff ?? defaultInformerBackoff;
    this.timers = options.timers ?? realTimers;
    this.logger = options.logger.child({ resource: options.resource });
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  get size(): number {
    return this.objects.size;
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    void this.run(++this.generation);
  }

  /** Stops the watch and the restart timer; anyone waiting for the first sync is released. */
  stop(): void {
    this.running = false;
    this.generation++;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    this.watchHandle?.abort();
    this.watchHandle = undefined;
    this.releaseSyncWaiters();
  }

  /** Resolves after the first complete list, or when the informer is stopped. */
  whenSynced(): Promise<void> {
    if (this.synced || !this.running) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private releaseSyncWaiters(): void {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async run(generation: number): Promise<void> {
    let connected = false;
    let progressed = false;
    let ended = false;
    let errorEvent: unknown;
    const current = () => generation === this.generation && !ended;
    const end = (error: unknown) => {
      if (!current()) return;
      ended = true;
      this.watchHandle = undefined;
      const healthy = connected && (progressed || error == null || isInactivityTimeout(error));
      this.scheduleRestart(error ?? errorEvent, healthy);
    };
    try {
      if (this.resourceVersion === '') {
        const list = await this.options.list();
        if (!current()) return;
        this.replaceAll(list);
      }
      const handle = await this.options.watch(
        this.options.path,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          fieldSelector: this.options.fieldSelector,
        },
        (type, object) => {
          if (!current()) return;
          if (type === 'ERROR') {
            errorEvent = object;
            // 410 Gone: our resourceVersion is too old to resume from; the next attempt lists again.
            if ((object as { code?: unknown } | null)?.code === 410) this.resourceVersion = '';
            return;
          }
          progressed = true;
          this.apply(type, object);
        },
        end,
      );
      if (!current()) {
        handle.abort();
        return;
      }
      connected = true;
      this.watchHandle = handle;
    } catch (error) {
      end(error);
    }
  }

  private replaceAll(list: ListResult): void {
    const objects = new Map<string, T>();
    for (const item of list.items) {
      const key = keyOf(item);
      const value = key === undefined ? undefined : this.convertOrSkip(item);
      if (key !== undefined && value !== undefined) objects.set(key, value);
    }
    this.objects = objects;
    this.resourceVersion = list.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      this.logger.debug('informer synced', { objects: objects.size });
      this.releaseSyncWaiters();
    }
  }

  private apply(type: string, object: unknown): void {
    const version = (object as ObjectMetaLike | null)?.metadata?.resourceVersion;
    if (version !== undefined && version !== '') this.resourceVersion = version;
    const key = keyOf(object);
    if (key === undefined) return;
    if (type === 'ADDED' || type === 'MODIFIED') {
      const value = this.convertOrSkip(object);
      if (value !== undefined) this.objects.set(key, value);
    } else if (type === 'DELETED') {
      this.objects.delete(key);
    }
  }

  private convertOrSkip(object: unknown): T | undefined {
    try {
      return this.options.convert(object);
    } catch (error) {
      this.logger.warn('informer skipped an object it could not read', {
        object: keyOf(object),
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  private scheduleRestart(error: unknown, healthy: boolean): void {
    if (!this.running) return;
    if (healthy) this.failures = 0;
    const delayMs = backoffDelay(this.failures, this.backoff);
    if (!healthy) this.failures++;
    const failure = error == null ? undefined : apiFailure(error);
    if (failure?.status === 410) this.resourceVersion = '';
    if (failure !== undefined && !isInactivityTimeout(error)) {
      this.logger.warn('watch failed; restarting', {
        error: failure.message,
        ...(failure.status !== undefined && { status: failure.status }),
        delayMs,
        relist: this.resourceVersion === '',
      });
    } else {
      this.logger.debug('watch ended; restarting', { delayMs, relist: this.resourceVersion === '' });
    }
    const generation = this.generation;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      if (generation === this.generation) void this.run(generation);
    }, delayMs);
  }
}
