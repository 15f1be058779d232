/**
 * Unpublish with upstream's outcome, in an order that survives a failed or missing mount: unmount (a no-op when
 * nothing is mounted), remove what the directory itself still holds (so it can go even when nothing was
 * mounted, #545), then remove the directory. A missing target path is success, which makes the call
 * idempotent and lets a restarted driver clean volumes it mounted before the restart.
 *
 * Upstream removes the files before unmounting; unmounting first gives the same result with a fraction of the
 * work, since the tmpfs takes its files with it: no listing and removing of each file, and no read of the
 * mount table (unpublish p50 at 32 in flight, `pnpm bench`: see the commit). A volume that cannot be unmounted
 * still loses its files, as upstream's.
 *
 * After the unmount the directory is kubelet's, on the node's local disk and empty: it is listed and removed
 * synchronously (microseconds each, where a trip through libuv's thread pool costs more and, under load,
 * waits for a CPU twice). Only the unmount, which can wait for an RCU grace period, runs on a worker thread.
 */
import { readdirSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { Mounter } from '../mount/mounter.js';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Removes the entries of `targetPath`; false when the path does not exist. */
function removeEntries(targetPath: string): boolean {
  let entries: string[];
  try {
    entries = readdirSync(targetPath);
  } catch (error) {
    if (isMissing(error)) return false;
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return true;
    throw new DriverError(
      driverErrorCodes.unmountFailed,
      `failed to list ${targetPath}: ${(error as Error).message}`,
    );
  }
  for (const entry of entries) {
    try {
      rmSync(join(targetPath, entry), { recursive: true, force: true });
    } catch {
      // what cannot be removed makes the removal of the directory fail, which is reported
    }
  }
  return true;
}

export async function unpublishVolume(targetPath: string, mounter: Mounter): Promise<void> {
  try {
    await mounter.unmount(targetPath);
  } catch (error) {
    try {
      removeEntries(targetPath);
    } catch {
      // the unmount's failure is the one to report
    }
    throw error;
  }
  if (!removeEntries(targetPath)) return;
  try {
    try {
      rmdirSync(targetPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
      unlinkSync(targetPath);
    }
  } catch (error) {
    if (isMissing(error)) return;
    throw new DriverError(
      driverErrorCodes.unmountFailed,
      `failed to remove ${targetPath}: ${(error as Error).message}`,
    );
  }
}
