import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { promisify } from 'node:util';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { Mounter, TmpfsOptions } from './mounter.js';

const run = promisify(execFile);

export interface LinuxMounterOptions {
  /** The `mount` binary; `mount` from PATH by default. */
  readonly mountCommand?: string;
  /** The `umount` binary; `umount` from PATH by default. */
  readonly umountCommand?: string;
  /** Where to read the mount table; injectable so tests can feed a fixture. */
  readonly mountinfoPath?: string;
}

/** The mode of a target directory the mounter has to create, as upstream (kubelet usually creates it). */
export const targetDirMode = 0o750;

/**
 * Mounts real tmpfs volumes with the system's `mount`/`umount` (run without a shell, so paths are never
 * interpreted) and answers "is this a mount point" from `/proc/self/mountinfo`, which is exact for bind
 * mounts and same-device mounts where comparing `stat` device numbers is not.
 */
export class LinuxMounter implements Mounter {
  readonly #mountCommand: string;
  readonly #umountCommand: string;
  readonly #mountinfoPath: string;

  constructor(options: LinuxMounterOptions = {}) {
    this.#mountCommand = options.mountCommand ?? 'mount';
    this.#umountCommand = options.umountCommand ?? 'umount';
    this.#mountinfoPath = options.mountinfoPath ?? '/proc/self/mountinfo';
  }

  async mountTmpfs(target: string, options: TmpfsOptions): Promise<void> {
    try {
      await ensureDirectory(target);
      await run(this.#mountCommand, ['-t', 'tmpfs', '-o', tmpfsMountOptions(options), 'tmpfs', target]);
    } catch (error) {
      throw new DriverError(
        driverErrorCodes.failedToMount,
        `failed to mount tmpfs at ${target}: ${commandFailure(error)}`,
        { cause: error },
      );
    }
  }

  async unmount(target: string): Promise<void> {
    if (!(await this.isMountPoint(target))) return;
    try {
      await run(this.#umountCommand, [target]);
    } catch (error) {
      throw new DriverError(
        driverErrorCodes.unmountFailed,
        `failed to unmount ${target}: ${commandFailure(error)}`,
        { cause: error },
      );
    }
  }

  async isMountPoint(target: string): Promise<boolean> {
    try {
      const resolved = await realpathOrUndefined(target);
      if (resolved === undefined) return false;
      const mountPoints = parseMountPoints(await readFile(this.#mountinfoPath, 'utf8'));
      return mountPoints.includes(resolved);
    } catch (error) {
      throw new DriverError(
        driverErrorCodes.failedToEnsureMountPoint,
        `failed to check whether ${target} is a mount point: ${commandFailure(error)}`,
        { cause: error },
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

export function decodeMountinfoField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

async function ensureDirectory(target: string): Promise<void> {
  // recursive: also creates missing parents, and succeeds when the directory already exists.
  await mkdir(target, { recursive: true, mode: targetDirMode });
}

async function realpathOrUndefined(target: string): Promise<string | undefined> {
  try {
    return await realpath(target);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) return undefined;
    throw error;
  }
}

/** The command's stderr when it printed one (that is what names the cause), otherwise the error message. */
function commandFailure(error: unknown): string {
  const stderr = (error as { stderr?: unknown } | null)?.stderr;
  if (typeof stderr === 'string' && stderr.trim() !== '') return stderr.trim();
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
