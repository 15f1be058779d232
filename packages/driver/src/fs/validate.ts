import * as path from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { PayloadFile } from './payload.js';

/** Linux PATH_MAX, the limit kubelet's atomic writer applies to a whole relative path (in bytes). */
export const maxPathLength = 4096;
/** Linux NAME_MAX, the limit kubelet's atomic writer applies to each path element (in bytes). */
export const maxFileNameLength = 255;
/** The highest permission bits a file may carry (no setuid, setgid or sticky bits). */
export const maxFileMode = 0o777;

/**
 * Checks a provider's payload before anything touches the disk, with kubelet's atomic-writer rules plus the
 * stricter ones this driver adds: paths must already be clean (kubelet silently cleans them, which can make
 * two different paths collide), no duplicates (the publisher resolves a provider's duplicates first, with
 * `lastWriteWins`), and no path that is both a file and another file's parent.
 * Throws `FileWriteError` naming the offending path; contents never appear in messages.
 */
export function validatePayload(files: readonly PayloadFile[]): void {
  const seen = new Set<string>();
  for (const file of files) {
    validatePath(file.path);
    validateMode(file);
    if (seen.has(file.path)) throw invalid(file.path, 'is listed more than once');
    seen.add(file.path);
  }
  for (const file of files) {
    for (const parent of parentsOf(file.path)) {
      if (seen.has(parent))
        throw invalid(parent, `is a file and also the parent directory of "${file.path}"`);
    }
  }
}

/**
 * A provider's files with each path kept once, its last occurrence winning (mode and contents), as upstream's
 * driver keys the payload by path: a class listing one object twice, or giving two objects one alias, mounts
 * there. `duplicates` names each path that occurred more than once, in order of first occurrence.
 */
export function lastWriteWins(files: readonly PayloadFile[]): {
  readonly files: readonly PayloadFile[];
  readonly duplicates: readonly string[];
} {
  const byPath = new Map<string, PayloadFile>();
  const duplicates = new Set<string>();
  for (const file of files) {
    if (byPath.has(file.path)) duplicates.add(file.path);
    byPath.set(file.path, file);
  }
  return duplicates.size === 0
    ? { files, duplicates: [] }
    : { files: [...byPath.values()], duplicates: [...duplicates] };
}

/** The rules for one relative path; exported so callers can check a single key the same way. */
export function validatePath(filePath: string): void {
  if (filePath === '') throw invalid(filePath, 'must not be empty');
  if (filePath.includes('\0')) throw invalid(filePath, 'must not contain a NUL byte');
  if (path.posix.isAbsolute(filePath)) throw invalid(filePath, 'must be a relative path');
  if (Buffer.byteLength(filePath) > maxPathLength) {
    throw invalid(filePath, `must be at most ${maxPathLength} bytes long`);
  }
  const elements = filePath.split('/');
  for (const element of elements) {
    if (element === '..') throw invalid(filePath, "must not contain '..'");
    if (Buffer.byteLength(element) > maxFileNameLength) {
      throw invalid(filePath, `must not have an element longer than ${maxFileNameLength} bytes`);
    }
  }
  // `..data`, `..data_tmp` and the timestamped directories live at the top level: names starting with `..`
  // are reserved for the writer.
  if (elements[0]?.startsWith('..')) throw invalid(filePath, "must not start with '..'");
  if (filePath === '.' || path.posix.normalize(filePath) !== filePath || filePath.endsWith('/')) {
    throw invalid(filePath, 'must be a clean path (no ".", empty or trailing elements)');
  }
}

function validateMode(file: PayloadFile): void {
  if (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > maxFileMode) {
    throw invalid(file.path, `has mode ${formatMode(file.mode)}, which is not between 0 and 0o777`);
  }
}

function formatMode(mode: number): string {
  return Number.isInteger(mode) && mode >= 0 ? `0o${mode.toString(8)}` : String(mode);
}

/** `a/b/c` → `a`, `a/b`: the directories a file needs. */
export function parentsOf(filePath: string): string[] {
  const parents: string[] = [];
  let index = filePath.indexOf('/');
  while (index !== -1) {
    parents.push(filePath.slice(0, index));
    index = filePath.indexOf('/', index + 1);
  }
  return parents;
}

function invalid(filePath: string, reason: string): DriverError {
  return new DriverError(driverErrorCodes.fileWriteError, `invalid file path "${filePath}": ${reason}`);
}
