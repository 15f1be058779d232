import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  chmod,
  writeFile,
} from 'node:fs/promises';
import * as path from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import { inspectVolumeLayout, type VolumeLayout } from './layout.js';
import type { PayloadFile, VolumeWriter, WriteOutcome } from './payload.js';
import { parentsOf, validatePayload } from './validate.js';

/** The user-visible symlink to the current timestamped directory; every top-level entry resolves through it. */
export const dataDirName = '..data';
/** Built next to `..data` and renamed over it, because rename(2) is the only atomic way to swap a symlink. */
export const newDataDirName = '..data_tmp';

export interface AtomicWriterOptions {
  /** Clock for the timestamped directory's name; injectable so tests can pin it. */
  readonly now?: () => Date;
}

/**
 * Writes a volume with kubelet's atomic-writer layout, so that pods (and tools written for Secret and
 * ConfigMap volumes) see either the whole old version or the whole new one, never a mix:
 *
 *   <target>/..2026_11_22_10_04_05.AbC123/   the files, real directories (0755)
 *   <target>/..data -> ..2026_11_22_10_04_05.AbC123
 *   <target>/<top-level name> -> ..data/<top-level name>
 *
 * Callers serialise writes to one target (the driver does one publish or rotation per volume at a time).
 */
export class AtomicWriter implements VolumeWriter {
  readonly #now: () => Date;

  constructor(options: AtomicWriterOptions = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async write(targetDir: string, files: readonly PayloadFile[]): Promise<WriteOutcome> {
    validatePayload(files);
    const oldTsDir = await readCurrentTsDir(targetDir);
    let obsolete: string[] = [];
    if (oldTsDir !== undefined) {
      obsolete = await pathsToRemove(targetDir, oldTsDir, files);
      // As upstream: a mode-only change is not a reason to write, only contents and removals are.
      if (obsolete.length === 0 && !(await payloadDiffers(targetDir, oldTsDir, files))) {
        return { changed: false };
      }
    }
    const tsDir = await this.#createTsDir(targetDir);
    await writeOrDiscard(targetDir, tsDir, () => writePayload(targetDir, tsDir, files));
    await writeOrDiscard(targetDir, tsDir, async () => {
      await createUserVisibleLinks(targetDir, files);
      await swapDataLink(targetDir, tsDir);
    });
    await removeUserVisiblePaths(targetDir, obsolete);
    if (oldTsDir !== undefined) {
      await attempt(targetDir, 'remove the old data directory', () =>
        rm(path.join(targetDir, oldTsDir), { recursive: true, force: true }),
      );
    }
    await removeAbandonedDataDirs(targetDir, tsDir);
    return { changed: true };
  }

  inspect(targetDir: string): Promise<VolumeLayout> {
    return inspectVolumeLayout(targetDir);
  }

  /** Creates `..YYYY_MM_DD_HH_MM_SS.<random>` (UTC) in the target and returns its name. */
  async #createTsDir(targetDir: string): Promise<string> {
    return attempt(targetDir, 'create the data directory', async () => {
      const dir = await mkdtemp(path.join(targetDir, timestampPrefix(this.#now())));
      // mkdtemp creates 0700; kubelet makes it 0755 so non-root containers can traverse it.
      await chmod(dir, 0o755);
      return path.basename(dir);
    });
  }
}

/** kubelet's prefix, Go layout `..2006_01_02_15_04_05.`, in UTC. */
export function timestampPrefix(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = `${date.getUTCFullYear()}_${two(date.getUTCMonth() + 1)}_${two(date.getUTCDate())}`;
  const time = `${two(date.getUTCHours())}_${two(date.getUTCMinutes())}_${two(date.getUTCSeconds())}`;
  return `..${day}_${time}.`;
}

/**
 * The name `..data` points at, or undefined when there is no previous version. A target that is not a plain
 * `..something` name in the target directory is treated as no previous version, so a tampered link can
 * never make the writer compare against, or delete, anything outside the volume.
 */
async function readCurrentTsDir(targetDir: string): Promise<string | undefined> {
  const target = await attempt(targetDir, `read the ${dataDirName} link`, async () => {
    try {
      return await readlink(path.join(targetDir, dataDirName));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  });
  if (target === undefined || target.includes('/') || !target.startsWith('..') || target === '..') {
    return undefined;
  }
  if (target === dataDirName || target === newDataDirName) return undefined;
  return target;
}

/**
 * Paths of the old version (files and directories, relative) that the new payload does not have. The new
 * files' parent directories are kept off the list so that only whole obsolete subtrees are named.
 */
async function pathsToRemove(
  targetDir: string,
  oldTsDir: string,
  files: readonly PayloadFile[],
): Promise<string[]> {
  const oldPaths = await attempt(targetDir, 'list the old data directory', async () => {
    try {
      return await readdir(path.join(targetDir, oldTsDir), { recursive: true });
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
  });
  const kept = new Set<string>();
  for (const file of files) {
    kept.add(file.path);
    for (const parent of parentsOf(file.path)) kept.add(parent);
  }
  return oldPaths.filter((p) => !kept.has(p));
}

/** Whether any new file is missing from the old version or has different bytes. */
async function payloadDiffers(
  targetDir: string,
  oldTsDir: string,
  files: readonly PayloadFile[],
): Promise<boolean> {
  for (const file of files) {
    const old = await attempt(targetDir, `read the old "${file.path}"`, async () => {
      try {
        return await readFile(path.join(targetDir, oldTsDir, file.path));
      } catch (error) {
        // Missing, or a directory where the new version has a file: either way it has to be written.
        if (['ENOENT', 'ENOTDIR', 'EISDIR'].includes(errorCode(error) ?? '')) return undefined;
        throw error;
      }
    });
    if (old === undefined || !old.equals(file.contents)) return true;
  }
  return false;
}

/** Writes every file into the new timestamped directory, creating parents and applying modes. */
async function writePayload(targetDir: string, tsDir: string, files: readonly PayloadFile[]): Promise<void> {
  for (const file of files) {
    const fullPath = path.join(targetDir, tsDir, file.path);
    await attempt(targetDir, `write "${file.path}"`, async () => {
      await mkdir(path.dirname(fullPath), { recursive: true, mode: 0o755 });
      await writeFile(fullPath, file.contents, { mode: file.mode });
      // The create mode is masked by the umask; chmod applies the provider's mode verbatim.
      await chmod(fullPath, file.mode);
    });
  }
}

/**
 * Creates `<name> -> ..data/<name>` for each top-level name the payload needs. A top-level entry that is not
 * a symlink was written by a provider before this layout (upstream's migration): it is removed so the link
 * can take its place. It is done here, after the new version is safely on disk, to keep the old files for
 * as long as possible.
 */
async function createUserVisibleLinks(targetDir: string, files: readonly PayloadFile[]): Promise<void> {
  const names = new Set(files.map((file) => file.path.split('/')[0] ?? file.path));
  for (const name of names) {
    const visible = path.join(targetDir, name);
    await attempt(targetDir, `link "${name}"`, async () => {
      const stats = await lstatOrUndefined(visible);
      if (stats?.isSymbolicLink()) return;
      if (stats !== undefined) await rm(visible, { recursive: true, force: true });
      await symlink(path.posix.join(dataDirName, name), visible);
    });
  }
}

/** Points `..data` at the new directory atomically; a `..data_tmp` left by a crash is cleared first. */
async function swapDataLink(targetDir: string, tsDir: string): Promise<void> {
  const tmpLink = path.join(targetDir, newDataDirName);
  await attempt(targetDir, `switch ${dataDirName} to ${tsDir}`, async () => {
    await rm(tmpLink, { recursive: true, force: true });
    await symlink(tsDir, tmpLink);
    try {
      await rename(tmpLink, path.join(targetDir, dataDirName));
    } catch (error) {
      await rm(tmpLink, { force: true });
      throw error;
    }
  });
}

/** `..2026_11_22_10_04_05.AbC123`: a name `#createTsDir` makes. */
const timestampedDirPattern = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\./;

/**
 * Removes timestamped directories other than the current one: what a write killed before its swap (or
 * before removing the old version) left behind. They are never visible to the pod, but would stay in the
 * tmpfs, using its memory, for as long as the volume is mounted.
 */
async function removeAbandonedDataDirs(targetDir: string, currentTsDir: string): Promise<void> {
  const names = await attempt(targetDir, 'list the volume', () => readdir(targetDir));
  for (const name of names) {
    if (name === currentTsDir || !timestampedDirPattern.test(name)) continue;
    await attempt(targetDir, `remove the abandoned ${name}`, () =>
      rm(path.join(targetDir, name), { recursive: true, force: true }),
    );
  }
}

/** Removes the top-level links of obsolete paths; nested ones vanish with the old directory. */
async function removeUserVisiblePaths(targetDir: string, obsolete: readonly string[]): Promise<void> {
  for (const p of obsolete) {
    if (p.includes('/')) continue;
    await attempt(targetDir, `remove "${p}"`, () => rm(path.join(targetDir, p), { force: true }));
  }
}

/** Runs a step that builds the new version; on failure the half-written directory is removed. */
async function writeOrDiscard(targetDir: string, tsDir: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    await rm(path.join(targetDir, tsDir), { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

async function lstatOrUndefined(p: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(p);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Runs one fs operation and turns its failure into `FileWriteError` naming the target and the operation.
 * Node's messages carry the syscall and the path only, never file contents, so they are safe to keep.
 */
export async function attempt<T>(targetDir: string, operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DriverError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new DriverError(
      driverErrorCodes.fileWriteError,
      `failed to ${operation} in ${targetDir}: ${detail}`,
      { cause: error },
    );
  }
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
