/**
 * mount(2) and umount2(2) called straight from the driver process through koffi (an FFI library whose npm
 * package carries its prebuilt binary), instead of running `mount`/`umount`: spawning a child forks the whole
 * driver on the event-loop thread and copies its page tables, which cost 31 % of the CPU of a publish round
 * and grew with RSS. umount2 runs on koffi's worker threads, so an unmount waiting for an RCU grace period
 * does not stall the event loop and several run at once. errno is per thread and koffi's asynchronous calls
 * do not return it, so an unmount that fails is made once more synchronously to read it: the retry sees the
 * same state (EINVAL: not mounted; EBUSY: busy). mount(2) of a tmpfs waits for nothing (no device, no grace
 * period: tens of microseconds), so it is called synchronously on the event loop, its errno read right after:
 * a trip to a worker thread and back cost more than the call, and under load each thread wake-up waits for a
 * CPU.
 *
 * koffi and libc are loaded on the first call (src/libc.ts, shared with the heap compactor), so a process
 * that never mounts (tests, the standalone directory mode) never pays for them.
 */
import { getSystemErrorName } from 'node:util';
import { loadLibc, type KoffiFunction, type Libc } from '../libc.js';

/** A failed system call: `code` is the errno name (`EPERM`, `EINVAL`...), as Node's own fs errors carry it. */
export class SyscallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, errno: number) {
    const code = errnoName(errno);
    super(`${syscall}: ${code} (${errnoMessage(errno)})`);
    this.name = 'SyscallError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** The seam the mounter calls; tests inject failing ones. */
export interface MountSyscalls {
  /** mount(2); rejects with a SyscallError. */
  mount(source: string, target: string, fsType: string, flags: number, data: string): Promise<void>;
  /** umount2(2) with no flags; rejects with a SyscallError. */
  umount(target: string): Promise<void>;
}

/** Mount flags of <sys/mount.h>. */
export const mountFlags = { nosuid: 0x2, nodev: 0x4, noexec: 0x8 } as const;

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

const errnoMessages: Readonly<Record<string, string>> = {
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  EBUSY: 'target is busy',
  EINVAL: 'invalid argument',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  ENOMEM: 'out of memory',
  ENODEV: 'filesystem type not supported by the kernel',
};

function errnoMessage(errno: number): string {
  return errnoMessages[errnoName(errno)] ?? 'system call failed';
}

/** Calls `fn` here; rejects with its errno when it returns -1. */
function callHere(c: Libc, name: string, fn: KoffiFunction, args: unknown[]): Promise<void> {
  if (fn(...args) === 0) return Promise.resolve();
  return Promise.reject(new SyscallError(name, c.errno()));
}

/** Calls `fn` on a worker thread; on -1 calls it again here to read errno (see the module comment). */
function call(c: Libc, name: string, fn: KoffiFunction, args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (error: unknown, result: unknown) => {
      if (error !== null && error !== undefined) {
        reject(error instanceof Error ? error : new Error(`${name} could not be called`, { cause: error }));
      } else if (result === 0 || fn(...args) === 0) {
        resolve();
      } else {
        reject(new SyscallError(name, c.errno()));
      }
    });
  });
}

let mountSyscalls: MountSyscalls | undefined;

/** The process's own mount(2)/umount2(2), through koffi over the C library. */
export function libcMountSyscalls(): MountSyscalls {
  if (mountSyscalls !== undefined) return mountSyscalls;
  const c = loadLibc();
  const mount = c.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  );
  const umount2 = c.func('int umount2(const char *target, int flags)');
  mountSyscalls = {
    mount: (source, target, fsType, flags, data) =>
      callHere(c, 'mount', mount, [source, target, fsType, flags, data]),
    umount: (target) => call(c, 'umount2', umount2, [target, 0]),
  };
  return mountSyscalls;
}
