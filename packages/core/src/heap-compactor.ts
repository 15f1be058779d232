/**
 * Gives the V8 heap's free pages back once a daemon is quiet after work (the generic part of the driver's
 * heap compactor, shared with the providers). V8 returns pages only in a memory-reducing garbage collection;
 * its memory reducer starts one by itself only when the committed heap has grown 10 MB past its level at the
 * last such collection, so after a busy spell of a few MiB the pages stay for as long as they are watched.
 * Node offers no call for that collection but `v8.queryObjects`, which collects all available garbage first
 * (as a heap snapshot does) and then counts the instances of a class that has none; the compactor calls it
 * when no call has run for `quietMs` and the committed heap has grown by `minGrowthBytes` since start-up or
 * the last compaction (what the heap uses is no guide: garbage counts as used until a collection runs). It
 * blocks the event loop for one full collection (tens of milliseconds), only while nothing is asked.
 *
 * A process that can also trim the C heap (glibc's malloc_trim through an FFI library) passes its own
 * `compact` that calls compactHeap() first; nothing here loads native code.
 */
import * as v8 from 'node:v8';

export interface HeapCompactorOptions {
  /** How long after the last call the heap is compacted. */
  readonly quietMs?: number;
  /** Growth of the committed heap since start-up or the last compaction below which nothing is worth it. */
  readonly minGrowthBytes?: number;
  /** What a compaction does: compactHeap() by default. */
  readonly compact?: () => void;
  /** Injected in tests. */
  readonly now?: () => number;
  readonly committedHeap?: () => number;
}

export const DEFAULT_QUIET_MS = 5_000;
const CHECK_INTERVAL_MS = 1_000;
export const DEFAULT_MIN_GROWTH_BYTES = 4 * 1024 * 1024;

/** A constructor with no instance: counting its instances is only the full collection before it. */
function NoInstances(): void {
  // Never called.
}

/**
 * One memory-reducing collection. Node flags queryObjects as experimental and warns once: that warning is
 * not printed (it would be a stray non-JSON line in the log).
 */
export function compactHeap(): void {
  const api = v8 as { queryObjects?: (ctor: unknown, options: { format: 'count' }) => number };
  if (api.queryObjects === undefined) return;
  const emitWarning = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  process.emitWarning = () => undefined;
  try {
    api.queryObjects(NoInstances, { format: 'count' });
  } finally {
    if (emitWarning === undefined) Reflect.deleteProperty(process, 'emitWarning');
    else Object.defineProperty(process, 'emitWarning', emitWarning);
  }
}

function committedHeapNow(): number {
  return v8.getHeapStatistics().total_heap_size;
}

export class HeapCompactor {
  readonly #quietMs: number;
  readonly #minGrowthBytes: number;
  readonly #now: () => number;
  readonly #committedHeap: () => number;
  #baseline: number;
  readonly #compact: () => void;
  #inFlight = 0;
  #lastActivity: number;
  /** Whether a call ran since the last compaction (nothing to give back otherwise). */
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  compactions = 0;

  constructor(options: HeapCompactorOptions = {}) {
    this.#quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
    this.#minGrowthBytes = options.minGrowthBytes ?? DEFAULT_MIN_GROWTH_BYTES;
    this.#now = options.now ?? Date.now;
    this.#committedHeap = options.committedHeap ?? committedHeapNow;
    this.#baseline = this.#committedHeap();
    this.#compact = options.compact ?? compactHeap;
    this.#lastActivity = this.#now();
  }

  /** Marks a call as started; the returned function marks it as ended. */
  callStarted(): () => void {
    this.#inFlight++;
    this.#dirty = true;
    this.#lastActivity = this.#now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#inFlight--;
      this.#lastActivity = this.#now();
    };
  }

  /** Compacts when the process has been quiet long enough and the committed heap has grown; true if so. */
  check(): boolean {
    if (!this.#dirty || this.#inFlight > 0 || this.#now() - this.#lastActivity < this.#quietMs) return false;
    if (this.#committedHeap() - this.#baseline < this.#minGrowthBytes) return false;
    this.#dirty = false;
    this.#compact();
    this.#baseline = this.#committedHeap();
    this.compactions++;
    return true;
  }

  /** Checks every second (an unref'd timer: it keeps no process alive). */
  start(): void {
    if (this.#timer !== undefined) return; // the provider calls it on every mount
    this.#timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
