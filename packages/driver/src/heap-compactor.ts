/**
 * Gives the V8 heap's free pages back once the driver is quiet after work. V8 returns them only in a
 * memory-reducing garbage collection; its memory reducer starts one by itself only when the committed heap
 * has grown 10 MB past its level at the last such collection, so after a busy spell of a few MiB (110 volumes
 * published and unpublished: committed 12.8 -> 20.8 MiB) the pages stayed for as long as they were watched.
 * Node offers no call for that collection but `v8.queryObjects`, which collects all available garbage first
 * (as a heap snapshot does) and then counts the instances of a class that has none; we call it when no CSI
 * publish or unpublish has run for `quietMs` and the committed heap has grown by `minGrowthBytes` since
 * start-up or the last compaction (what it uses is no guide: garbage counts as used until a collection runs). It blocks the
 * event loop for one full collection (tens of milliseconds), only while nothing is asked of the driver.
 * Then glibc's malloc_trim(0) gives back what the C heap freed (TLS, HTTP/2 and gRPC buffers): without it the
 * RSS stayed about 6 MiB above idle after everything was unpublished.
 */
import * as v8 from 'node:v8';
import { loadLibc } from './libc.js';

export interface HeapCompactorOptions {
  /** How long after the last NodePublish/NodeUnpublish call the heap is compacted. */
  readonly quietMs?: number;
  /** Growth of the committed heap since start-up or the last compaction below which nothing is worth it. */
  readonly minGrowthBytes?: number;
  /** Injected in tests. */
  readonly now?: () => number;
  readonly committedHeap?: () => number;
  readonly compact?: () => void;
}

const DEFAULT_QUIET_MS = 5_000;
const CHECK_INTERVAL_MS = 1_000;
const DEFAULT_MIN_GROWTH_BYTES = 4 * 1024 * 1024;

/** A constructor with no instance: counting its instances is only the full collection before it. */
function NoInstances(): void {
  // Never called.
}

/** One memory-reducing collection. Node flags queryObjects as experimental and warns once: that warning is
 * not printed (it would be a stray non-JSON line in the log). */
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

let mallocTrim: (() => void) | null | undefined;

/**
 * glibc's malloc_trim(0) through the C library the mounter loaded already (src/libc.ts); a no-op where the C
 * library has none or koffi cannot load.
 */
export function trimMalloc(): void {
  if (mallocTrim === undefined) {
    try {
      const trim = loadLibc().func('int malloc_trim(size_t pad)');
      mallocTrim = () => {
        trim(0);
      };
    } catch {
      mallocTrim = null;
    }
  }
  mallocTrim?.();
}

/** What the daemon does when quiet: a memory-reducing collection, then malloc_trim. */
export function compactHeapAndMalloc(): void {
  compactHeap();
  trimMalloc();
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
    this.#compact = options.compact ?? compactHeapAndMalloc;
    this.#lastActivity = this.#now();
  }

  /** Marks a CSI call as started; the returned function marks it as ended. */
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

  /** Compacts when the driver has been quiet long enough and the committed heap has grown; true if so. */
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
    this.#timer ??= setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
