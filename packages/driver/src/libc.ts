/**
 * The C library through koffi (an FFI library whose npm package carries its prebuilt binary), loaded once for
 * the whole process on first use: the mounter's mount(2)/umount2(2) (mount/syscalls.ts) and the heap
 * compactor's malloc_trim(3) share it. A process that never calls into libc (tests, the standalone directory
 * mode) never loads koffi.
 */
import { createRequire } from 'node:module';

export interface KoffiFunction {
  (...args: unknown[]): unknown;
  async(...args: unknown[]): void;
}

export interface Libc {
  /** A function of the C library, by its C prototype. */
  func(signature: string): KoffiFunction;
  /** errno of the calling thread after the last synchronous call. */
  errno(): number;
}

interface Koffi {
  load(path: string): { func(signature: string): KoffiFunction };
  errno(): number;
}

let libc: Libc | undefined;

/** The process's C library; throws when koffi or libc.so.6 cannot be loaded. */
export function loadLibc(): Libc {
  if (libc !== undefined) return libc;
  // createRequire: koffi is a CommonJS package with a native addon; esbuild leaves it external.
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const library = koffi.load('libc.so.6');
  libc = {
    func: (signature) => library.func(signature),
    errno: () => koffi.errno(),
  };
  return libc;
}
