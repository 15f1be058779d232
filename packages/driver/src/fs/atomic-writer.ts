import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
 *
 * The file system calls are synchronous: the target is the volume's tmpfs, in memory, where each call takes
 * microseconds, while each asynchronous call costs a trip through libuv's thread pool and a promise. A first
 * write of 3 files makes about 30 calls: asynchronous, that was a p50 of 7 ms of a 30 ms publish (1 in
 * flight, `pnpm bench`, load about 1) and most of its CPU was the calls' machinery rather than the calls.
 */
export class AtomicWriter implements VolumeWriter {
  readonly #now: () => Date;

  constructor(options: AtomicWriterOptions = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  write(targetDir: string, files: readonly PayloadFile[]): Promise<WriteOutcome> {
    try {
      return Promise.resolve(this.#write(targetDir, files));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #write(targetDir: string, files: readonly PayloadFile[]): WriteOutcome {
    validatePayload(files);
    // One listing answers what would otherwise take a failing call each (no `..data` on a first write, no
    // leftover `..data_tmp`, top-level names not there yet): a thrown error costs more than the call.
    const entries = listTarget(targetDir);
    const oldTsDir = readCurrentTsDir(targetDir, entries);
    let obsolete: string[] = [];
    if (oldTsDir !== undefined) {
      obsolete = pathsToRemove(targetDir, oldTsDir, files);
      // As upstream: a mode-only change is not a reason to write, only contents and removals are.
      if (obsolete.length === 0 && !payloadDiffers(targetDir, oldTsDir, files)) {
        return { changed: false };
      }
    }
    const tsDir = this.#createTsDir(targetDir);
    writeOrDiscard(targetDir, tsDir, () => {
      writePayload(targetDir, tsDir, files);
    });
    writeOrDiscard(targetDir, tsDir, () => {
      createUserVisibleLinks(targetDir, files, entries);
      swapDataLink(targetDir, tsDir, entries);
    });
    removeUserVisiblePaths(targetDir, obsolete);
    if (oldTsDir !== undefined) {
      attemptSync(targetDir, 'remove the old data directory', () => {
        rmSync(path.join(targetDir, oldTsDir), { recursive: true, force: true });
      });
    }
    removeAbandonedDataDirs(targetDir, entries, oldTsDir);
    return { changed: true };
  }

  inspect(targetDir: string): Promise<VolumeLayout> {
    return inspectVolumeLayout(targetDir);
  }

  /** Creates `..YYYY_MM_DD_HH_MM_SS.<random>` (UTC) in the target and returns its name. */
  #createTsDir(targetDir: string): string {
    return attemptSync(targetDir, 'create the data directory', () => {
      const dir = mkdtempSync(path.join(targetDir, timestampPrefix(this.#now())));
      // mkdtemp creates 0700; kubelet makes it 0755 so non-root containers can traverse it.
      chmodSync(dir, 0o755);
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

/** The names in the target before the write; none when it cannot be listed (the write then fails on its own). */
function listTarget(targetDir: string): ReadonlySet<string> {
  try {
    return new Set(readdirSync(targetDir));
  } catch {
    return new Set();
  }
}

/**
 * The name `..data` points at, or undefined when there is no previous version. A target that is not a plain
 * `..something` name in the target directory is treated as no previous version, so a tampered link can
 * never make the writer compare against, or delete, anything outside the volume.
 */
function readCurrentTsDir(targetDir: string, entries: ReadonlySet<string>): string | undefined {
  if (!entries.has(dataDirName)) return undefined;
  const target = attemptSync(targetDir, `read the ${dataDirName} link`, () => {
    try {
      return readlinkSync(path.join(targetDir, dataDirName));
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
function pathsToRemove(targetDir: string, oldTsDir: string, files: readonly PayloadFile[]): string[] {
  const oldPaths = attemptSync(targetDir, 'list the old data directory', () => {
    try {
      return listRecursively(path.join(targetDir, oldTsDir));
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

/** Every path under `dir`, relative and `/`-separated, directories included (not followed when links). */
function listRecursively(dir: string, prefix = '', paths: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const relative = `${prefix}${entry.name}`;
    paths.push(relative);
    if (entry.isDirectory()) listRecursively(path.join(dir, entry.name), `${relative}/`, paths);
  }
  return paths;
}

/** Whether any new file is missing from the old version or has different bytes. */
function payloadDiffers(targetDir: string, oldTsDir: string, files: readonly PayloadFile[]): boolean {
  for (const file of files) {
    const old = attemptSync(targetDir, `read the old "${file.path}"`, () => {
      try {
        return readFileSync(path.join(targetDir, oldTsDir, file.path));
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
function writePayload(targetDir: string, tsDir: string, files: readonly PayloadFile[]): void {
  const tsPath = path.join(targetDir, tsDir);
  for (const file of files) {
    const fullPath = path.join(tsPath, file.path);
    attemptSync(targetDir, `write "${file.path}"`, () => {
      // The timestamped directory exists: only nested files need their parents made.
      if (file.path.includes('/')) mkdirSync(path.dirname(fullPath), { recursive: true, mode: 0o755 });
      writeFileSync(fullPath, file.contents, { mode: file.mode });
      // The create mode is masked by the umask; chmod applies the provider's mode verbatim.
      chmodSync(fullPath, file.mode);
    });
  }
}

/**
 * Creates `<name> -> ..data/<name>` for each top-level name the payload needs. A top-level entry that is not
 * a symlink was written by a provider before this layout (upstream's migration): it is removed so the link
 * can take its place. It is done here, after the new version is safely on disk, to keep the old files for
 * as long as possible.
 */
function createUserVisibleLinks(
  targetDir: string,
  files: readonly PayloadFile[],
  entries: ReadonlySet<string>,
): void {
  const names = new Set(files.map((file) => file.path.split('/')[0] ?? file.path));
  for (const name of names) {
    const visible = path.join(targetDir, name);
    attemptSync(targetDir, `link "${name}"`, () => {
      const stats = entries.has(name) ? lstatSync(visible, { throwIfNoEntry: false }) : undefined;
      if (stats?.isSymbolicLink()) return;
      if (stats !== undefined) rmSync(visible, { recursive: true, force: true });
      symlinkSync(path.posix.join(dataDirName, name), visible);
    });
  }
}

/** Points `..data` at the new directory atomically; a `..data_tmp` left by a crash is cleared first. */
function swapDataLink(targetDir: string, tsDir: string, entries: ReadonlySet<string>): void {
  const tmpLink = path.join(targetDir, newDataDirName);
  attemptSync(targetDir, `switch ${dataDirName} to ${tsDir}`, () => {
    if (entries.has(newDataDirName)) rmSync(tmpLink, { recursive: true, force: true });
    symlinkSync(tsDir, tmpLink);
    try {
      renameSync(tmpLink, path.join(targetDir, dataDirName));
    } catch (error) {
      rmSync(tmpLink, { force: true });
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
function removeAbandonedDataDirs(
  targetDir: string,
  entries: ReadonlySet<string>,
  oldTsDir: string | undefined,
): void {
  // The listing from before the write: the directory just written is not in it, the old one is gone already.
  for (const name of entries) {
    if (name === oldTsDir || !timestampedDirPattern.test(name)) continue;
    attemptSync(targetDir, `remove the abandoned ${name}`, () => {
      rmSync(path.join(targetDir, name), { recursive: true, force: true });
    });
  }
}

/** Removes the top-level links of obsolete paths; nested ones vanish with the old directory. */
function removeUserVisiblePaths(targetDir: string, obsolete: readonly string[]): void {
  for (const p of obsolete) {
    if (p.includes('/')) continue;
    attemptSync(targetDir, `remove "${p}"`, () => {
      rmSync(path.join(targetDir, p), { force: true });
    });
  }
}

/** Runs a step that builds the new version; on failure the half-written directory is removed. */
function writeOrDiscard(targetDir: string, tsDir: string, step: () => void): void {
  try {
    step();
  } catch (error) {
    try {
      rmSync(path.join(targetDir, tsDir), { recursive: true, force: true });
    } catch {
      // the step's failure is the one to report
    }
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
    throw fileWriteError(targetDir, operation, error);
  }
}

/** {@link attempt} for a synchronous operation. */
export function attemptSync<T>(targetDir: string, operation: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw fileWriteError(targetDir, operation, error);
  }
}

function fileWriteError(targetDir: string, operation: string, error: unknown): DriverError {
  if (error instanceof DriverError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new DriverError(
    driverErrorCodes.fileWriteError,
    `failed to ${operation} in ${targetDir}: ${detail}`,
    {
      cause: error,
    },
  );
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
