import { lstat, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import { errorCode, targetDirMode } from './linux.js';
import type { Mounter, TmpfsOptions } from './mounter.js';

/**
 * Standalone mode without root: a volume is a plain directory, so files live on the host's disk instead
 * of in memory (the standalone docs say so). A directory counts as mounted when this process "mounted" it,
 * or when it already holds a `..data` link, so a restarted process recognises the volumes it wrote.
 */
export class DirectoryMounter implements Mounter {
  readonly #mounted = new Set<string>();

  async mountTmpfs(target: string, _options: TmpfsOptions): Promise<void> {
    try {
      await mkdir(target, { recursive: true, mode: targetDirMode });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new DriverError(driverErrorCodes.failedToMount, `failed to create ${target}: ${detail}`, {
        cause: error,
      });
    }
    this.#mounted.add(path.resolve(target));
  }

  /** Only forgets the directory: its files stay, as there is no tmpfs whose removal would drop them. */
  unmount(target: string): Promise<void> {
    this.#mounted.delete(path.resolve(target));
    return Promise.resolve();
  }

  async isMountPoint(target: string): Promise<boolean> {
    if (this.#mounted.has(path.resolve(target))) return true;
    try {
      return (await lstat(path.join(target, '..data'))).isSymbolicLink();
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '')) return false;
      throw error;
    }
  }
}
