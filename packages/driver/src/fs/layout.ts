/**
 * Whether a mounted volume holds a complete version in the atomic-writer layout, for a driver that finds a
 * volume mounted that it does not remember (it was restarted, possibly killed in the middle of a write).
 *
 * The list of files to check is the data directory itself. The writer makes a version visible only by
 * renaming `..data` over to it after its last file is written, and a killed process performs no further
 * system call, so a `..data` that resolves to a directory proves that directory holds the whole payload of
 * that version; what remains is that each of its top-level names is visible to the pod through its
 * `<name> -> ..data/<name>` link (made before the swap). No other list would do better: the pod status lists
 * objects, not files (aliases, one object to several files), and is shared by two volumes of one pod using
 * the same class; a manifest written into the data directory would show up in `..data/` for the pod, and a
 * volume written by upstream's driver (the same layout, no manifest) would then never count as complete.
 *
 * A volume without `..data` whose user-visible entries resolve was written by a provider itself (the legacy
 * path, files left out of the response): the driver cannot know that provider's list and keeps the volume as
 * it is, as before. Everything else without `..data` (an empty tmpfs, only a timestamped directory or
 * `..data_tmp`, only dangling links) is an interrupted first write.
 */
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { attempt, dataDirName, errorCode } from './atomic-writer.js';

export type VolumeLayout =
  /** `..data` resolves to a directory and each of its top-level names is linked from the target. */
  | { readonly kind: 'complete' }
  /** No `..data`, but entries a pod can read: files a provider wrote itself. */
  | { readonly kind: 'providerWritten' }
  /** What an interrupted write leaves; `reason` names the missing piece (names only, never contents). */
  | { readonly kind: 'incomplete'; readonly reason: string };

/**
 * Inspects `targetDir` (read only). Throws `FileWriteError` when the directory cannot be read at all, so a
 * caller never takes an unreadable volume for a complete one.
 */
export async function inspectVolumeLayout(targetDir: string): Promise<VolumeLayout> {
  const entries = await attempt(targetDir, 'list the volume', () => readdir(targetDir));
  const dataTarget = await attempt(targetDir, `read the ${dataDirName} link`, async () => {
    try {
      return await readlink(path.join(targetDir, dataDirName));
    } catch (error) {
      // ENOENT: no link; EINVAL: something that is not a link sits there.
      if (['ENOENT', 'EINVAL'].includes(errorCode(error) ?? '')) return undefined;
      throw error;
    }
  });
  if (dataTarget === undefined) return withoutDataLink(targetDir, entries);
  if (dataTarget.includes('/') || !dataTarget.startsWith('..') || dataTarget === '..') {
    return incomplete(`${dataDirName} points outside the volume`);
  }
  const dataDir = path.join(targetDir, dataTarget);
  const dataStats = await lstatOrUndefined(targetDir, dataDir);
  if (dataStats === undefined || !dataStats.isDirectory()) {
    return incomplete(`${dataDirName} points at a missing directory`);
  }
  const names = await attempt(targetDir, `list ${dataTarget}`, () => readdir(dataDir));
  for (const name of names) {
    const visible = path.join(targetDir, name);
    const link = await attempt(targetDir, `read the link "${name}"`, async () => {
      try {
        return await readlink(visible);
      } catch (error) {
        if (['ENOENT', 'EINVAL'].includes(errorCode(error) ?? '')) return undefined;
        throw error;
      }
    });
    if (link !== path.posix.join(dataDirName, name)) return incomplete(`"${name}" is not linked`);
  }
  return { kind: 'complete' };
}

async function withoutDataLink(targetDir: string, entries: readonly string[]): Promise<VolumeLayout> {
  for (const name of entries) {
    if (name.startsWith('..')) continue;
    // A link to `..data/<name>` dangles here (made by a write that never swapped): not the pod's content.
    const resolved = await attempt(targetDir, `stat "${name}"`, async () => {
      try {
        return await stat(path.join(targetDir, name));
      } catch (error) {
        if (['ENOENT', 'ELOOP'].includes(errorCode(error) ?? '')) return undefined;
        throw error;
      }
    });
    if (resolved !== undefined) return { kind: 'providerWritten' };
  }
  return incomplete(entries.length === 0 ? 'the volume is empty' : `no ${dataDirName}`);
}

function incomplete(reason: string): VolumeLayout {
  return { kind: 'incomplete', reason };
}

async function lstatOrUndefined(
  targetDir: string,
  p: string,
): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  return attempt(targetDir, `stat ${path.basename(p)}`, async () => {
    try {
      return await lstat(p);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  });
}
