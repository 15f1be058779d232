/**
 * What the driver does once quiet after work (core's HeapCompactor decides when): one memory-reducing V8
 * collection (core's compactHeap), then glibc's malloc_trim(0), which gives back what the C heap freed (TLS,
 * HTTP/2 and gRPC buffers): without it the RSS stayed about 6 MiB above idle after everything was
 * unpublished. The trim goes through the C library the mounter loaded already (src/libc.ts), which the
 * providers' images do not ship; that is why this half stays in the driver.
 */
import { compactHeap } from '@secrets-store-csi/core';
import { loadLibc } from './libc.js';

let mallocTrim: (() => void) | null | undefined;

/** glibc's malloc_trim(0); a no-op where the C library has none or koffi cannot load. */
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

/** The driver's compaction: a memory-reducing collection, then malloc_trim. */
export function compactHeapAndMalloc(): void {
  compactHeap();
  trimMalloc();
}
