/**
 * Unpublish as upstream does it, in an order that survives a failed or missing mount: remove the volume's
 * entries first (so the directory can go even when nothing is mounted, #545), unmount if mounted, then
 * remove the directory. A missing target path is success, which makes the call idempotent and lets a
 * restarted driver clean volumes it mounted before the restart.
 */
import { readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { Mounter } from '../mount/mounter.js';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export async function unpublishVolume(targetPath: string, mounter: Mounter): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(targetPath);
  } catch (error) {
    if (isMissing(error)) return;
    if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') {
      throw new DriverError(
        driverErrorCodes.unmountFailed,
        `failed to list ${targetPath}: ${(error as Error).message}`,
      );
    }
    entries = [];
  }
  await Promise.all(
    entries.map((entry) =>
      rm(join(targetPath, entry), { recursive: true, force: true }).catch(() => undefined),
    ),
  );
  if (await mounter.isMountPoint(targetPath)) await mounter.unmount(targetPath);
  try {
    await rmdir(targetPath).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return unlink(targetPath);
      throw error;
    });
  } catch (error) {
    if (isMissing(error)) return;
    throw new DriverError(
      driverErrorCodes.unmountFailed,
      `failed to remove ${targetPath}: ${(error as Error).message}`,
    );
  }
}
