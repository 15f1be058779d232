/**
 * mount(2) and umount2(2) called straight from the driver process through koffi (an FFI library whose npm
 * package carries its prebuilt binary), instead of running `mount`/`umount`: spawning a child forks the whole
 * driver on the event-loop thread and copies its page tables, which cost 31 % of the CPU of a publish round
 * and grew with RSS. The calls are synchronous: a tmpfs mount plus unmount takes about 0.5 ms, and koffi's
 * asynchronous calls run on another thread, where the caller can no longer read errno.
 *
 * koffi and libc are loaded on the first call, so a process that never mounts (tests, the standalone
 * directory mode) never pays for them.
 */
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

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
  /** mount(2); throws a SyscallError. */
  mount(source: string, target: string, fsType: string, flags: number, data: string): void;
  /** umount2(2) with no flags; throws a SyscallError. */
  umount(target: string): void;
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

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  errno(): number;
}

let libc: MountSyscalls | undefined;

/** The process's own mount(2)/umount2(2), through koffi over the C library. */
export function libcMountSyscalls(): MountSyscalls {
  if (libc !== undefined) return libc;
  // createRequire: koffi is a CommonJS package with a native addon; esbuild leaves it external.
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const library = koffi.load('libc.so.6');
  const mount = library.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  );
  const umount2 = library.func('int umount2(const char *target, int flags)');
  libc = {
    mount(source, target, fsType, flags, data) {
      if (mount(source, target, fsType, flags, data) !== 0) throw new SyscallError('mount', koffi.errno());
    },
    umount(target) {
      if (umount2(target, 0) !== 0) throw new SyscallError('umount2', koffi.errno());
    },
  };
  return libc;
}
