import { mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { Mounter, TmpfsOptions } from './mounter.js';
import { libcMountSyscalls, mountFlags, type MountSyscalls } from './syscalls.js';

export interface LinuxMounterOptions {
  /** mount(2)/umount2(2); the process's own through koffi by default. Tests inject failing ones. */
  readonly syscalls?: MountSyscalls;
  /** Where to read the mount table; injectable so tests can feed a fixture. */
  readonly mountinfoPath?: string;
}

/** The mode of a target directory the mounter has to create, as upstream (kubelet usually creates it). */
export const targetDirMode = 0o750;

/**
 * Mounts real tmpfs volumes with mount(2)/umount2(2) called from this process (no `mount` child: a fork of
 * the driver per mount cost more CPU than the rest of a publish) and answers "is this a mount point" from
 * `/proc/self/mountinfo`, which is exact for bind mounts and same-device mounts where comparing `stat` device
 * numbers is not. `unmount` does not read the table: umount2 itself says EINVAL when the target is not a
 * mount point, so an unpublish reads the table once (its own `isMountPoint`).
 *
 * A target on another device than its parent directory is a mount point without reading the table (as
 * mount-utils' IsNotMountPoint, which upstream calls, answers from that comparison first): a mounted
 * volume's refresh no longer makes the kernel print a table of every mount on the node (about 20 KB with 110
 * volumes, once per republish of a rotation sweep). The table is read, synchronously (it is generated in
 * memory, with no I/O to wait for), only when the devices are the same, to find bind mounts.
 */
export class LinuxMounter implements Mounter {
  readonly #syscalls: () => MountSyscalls;
  readonly #mountinfoPath: string;

  constructor(options: LinuxMounterOptions = {}) {
    const injected = options.syscalls;
    this.#syscalls = injected === undefined ? libcMountSyscalls : () => injected;
    this.#mountinfoPath = options.mountinfoPath ?? '/proc/self/mountinfo';
  }

  async mountTmpfs(target: string, options: TmpfsOptions): Promise<void> {
    try {
      ensureDirectory(target);
      const flags = mountFlags.nosuid | mountFlags.nodev | (options.noexec ? mountFlags.noexec : 0);
      const data = options.sizeBytes === undefined ? '' : `size=${options.sizeBytes}`;
      await this.#syscalls().mount('tmpfs', target, 'tmpfs', flags, data);
    } catch (error) {
      throw new DriverError(
        driverErrorCodes.failedToMount,
        `failed to mount tmpfs at ${target} (${tmpfsMountOptions(options)}): ${failureText(error)}`,
        { cause: error },
      );
    }
  }

  async unmount(target: string): Promise<void> {
    try {
      await this.#syscalls().umount(target);
    } catch (error) {
      // Not a mount point (EINVAL) or no such path (ENOENT, ENOTDIR): nothing is mounted there.
      if (['EINVAL', 'ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) return;
      throw new DriverError(
        driverErrorCodes.unmountFailed,
        `failed to unmount ${target}: ${failureText(error)}`,
        { cause: error },
      );
    }
  }

  isMountPoint(target: string): Promise<boolean> {
    try {
      const resolved = realpathOrUndefined(target);
      if (resolved === undefined) return Promise.resolve(false);
      if (onAnotherDeviceThanItsParent(resolved)) return Promise.resolve(true);
      return Promise.resolve(hasMountPoint(readFileSync(this.#mountinfoPath, 'utf8'), resolved));
    } catch (error) {
      return Promise.reject(
        new DriverError(
          driverErrorCodes.failedToEnsureMountPoint,
          `failed to check whether ${target} is a mount point: ${failureText(error)}`,
          { cause: error },
        ),
      );
    }
  }
}

/** `nosuid,nodev[,noexec][,size=<bytes>]`, the options upstream mounts its tmpfs with. */
export function tmpfsMountOptions(options: TmpfsOptions): string {
  const list = ['nosuid', 'nodev'];
  if (options.noexec) list.push('noexec');
  if (options.sizeBytes !== undefined) list.push(`size=${options.sizeBytes}`);
  return list.join(',');
}

/**
 * The mount points (field 5) of a mountinfo table, decoded: the kernel writes space, tab, newline and
 * backslash as octal escapes (`\040`, `\011`, `\012`, `\134`).
 */
export function parseMountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) points.push(decodeMountinfoField(field));
  }
  return points;
}

/** Whether `mountPoint` is the mount point (field 5) of a line of the table. */
export function hasMountPoint(mountinfo: string, mountPoint: string): boolean {
  // The kernel escapes space, tab, newline and backslash; compare in its encoding, line by line.
  const encoded = mountPoint.replace(
    /[ \t\n\\]/g,
    (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`,
  );
  const needle = ` ${encoded} `;
  for (let at = mountinfo.indexOf(needle); at !== -1; at = mountinfo.indexOf(needle, at + 1)) {
    const lineStart = mountinfo.lastIndexOf('\n', at) + 1;
    // The needle starts at the 4th space of its line when it is field 5.
    let spaces = 0;
    for (let i = lineStart; i <= at; i++) if (mountinfo.charCodeAt(i) === 32) spaces++;
    if (spaces === 4) return true;
  }
  return false;
}

export function decodeMountinfoField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Whether a resolved path sits on another device than its parent directory: then it is a mount point. */
function onAnotherDeviceThanItsParent(resolved: string): boolean {
  const parent = dirname(resolved);
  if (parent === resolved) return false;
  const own = statSync(resolved, { throwIfNoEntry: false });
  const above = statSync(parent, { throwIfNoEntry: false });
  return own !== undefined && above !== undefined && own.dev !== above.dev;
}

/**
 * The target directory and the resolved path are made and looked up synchronously, as the mount table is
 * read: they are kubelet's directories on the node's local disk, whose metadata the kernel has cached (the
 * kubelet made them a moment before), so each call takes microseconds where a trip through libuv's thread
 * pool costs more and, under load, waits for a CPU twice.
 */
function ensureDirectory(target: string): void {
  // recursive: also creates missing parents, and succeeds when the directory already exists.
  mkdirSync(target, { recursive: true, mode: targetDirMode });
}

function realpathOrUndefined(target: string): string | undefined {
  try {
    // The C library's realpath(3): one call, where the JavaScript one makes an lstat per path element.
    return realpathSync.native(target);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) return undefined;
    throw error;
  }
}

function failureText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
