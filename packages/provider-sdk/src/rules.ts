/**
 * The rules every provider response keeps, so that the driver (ours or upstream's) accepts it:
 * - file paths as the driver's atomic writer wants them: relative, clean, no `..` element, not starting with
 *   `..` (names the writer reserves for itself), at most 4096 bytes, each element at most 255 bytes;
 * - no path that is both a file and the directory of another file (one path twice is allowed: a class may list
 *   an object twice or give two objects one alias, and drivers mount the last file of the path);
 * - modes within 0 to 0o777;
 * - at least one object version (the driver fails a mount without: `missing object versions`), unless the
 *   provider reports absent optional objects (ours; each with an id, a valid path and a one-line reason);
 * - a response no larger than the driver's receive limit, `--max-call-recv-msg-size` (4 MiB by default).
 */
import type { AbsentObject, MountResult } from './contract.js';
import { ProviderError, sdkErrorCodes } from './errors.js';

export const MAX_PATH_LENGTH_IN_BYTES = 4096;
export const MAX_PATH_ELEMENT_LENGTH_IN_BYTES = 255;
export const MAX_FILE_MODE = 0o777;
/** The driver's default `--max-call-recv-msg-size`: the largest response it accepts. */
export const DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES = 4 * 1024 * 1024;
/** Above this, upstream's driver warns that syncing the files into a Kubernetes Secret may fail. */
export const SECRET_SYNC_SIZE_WARNING_IN_BYTES = 1024 * 1024;
/** The provider flag that sets the response limit (see `standardProviderFlags`). */
export const MAX_RESPONSE_SIZE_FLAG = '--max-response-size';

/**
 * What is wrong with `path` as a file path in a mount response, or undefined when it is fine. The text
 * completes a sentence such as `invalid file path "<path>": <problem>`.
 */
export function checkFilePath(path: string): string | undefined {
  if (path === '') return 'must not be empty';
  if (path.includes('\0')) return 'must not contain a NUL character';
  if (path.startsWith('/')) return 'must be a relative path';
  if (Buffer.byteLength(path) > MAX_PATH_LENGTH_IN_BYTES) {
    return `must be at most ${MAX_PATH_LENGTH_IN_BYTES} bytes long`;
  }
  const elements = path.split('/');
  if (elements.includes('..')) return "must not contain '..'";
  if (elements.some((element) => Buffer.byteLength(element) > MAX_PATH_ELEMENT_LENGTH_IN_BYTES)) {
    return `must not have an element longer than ${MAX_PATH_ELEMENT_LENGTH_IN_BYTES} bytes`;
  }
  if (path.startsWith('..')) return "must not start with '..' (the driver reserves such names)";
  if (elements.some((element) => element === '' || element === '.')) {
    return "must be clean (no empty or '.' elements, no trailing '/')";
  }
  return undefined;
}

/** What is wrong with `mode` as a file mode, or undefined when it is fine. */
export function checkFileMode(mode: number): string | undefined {
  return Number.isInteger(mode) && mode >= 0 && mode <= MAX_FILE_MODE
    ? undefined
    : `must be an integer between 0 and 0o777 (511)`;
}

function pathError(path: string, problem: string): ProviderError {
  return new ProviderError(
    'invalid-argument',
    sdkErrorCodes.invalidFilePath,
    `invalid file path ${JSON.stringify(path)}: ${problem}`,
  );
}

/** Throws a ProviderError for the first rule `result` breaks. */
export function checkMountResult(result: MountResult): void {
  const absentObjects = result.absentObjects ?? [];
  if (result.objectVersions.length === 0 && absentObjects.length === 0) {
    throw new ProviderError(
      'internal',
      sdkErrorCodes.missingObjectVersions,
      'the provider returned no object versions; the driver refuses such a mount (missing object versions)',
    );
  }
  for (const [index, objectVersion] of result.objectVersions.entries()) {
    if (objectVersion.id === '') {
      throw new ProviderError(
        'internal',
        sdkErrorCodes.missingObjectVersions,
        `object version ${index} has an empty id`,
      );
    }
  }
  checkAbsentObjects(absentObjects);
  const files = new Set<string>();
  const directories = new Set<string>();
  for (const file of result.files) {
    const problem = checkFilePath(file.path);
    if (problem !== undefined) throw pathError(file.path, problem);
    if (directories.has(file.path)) throw pathError(file.path, 'is also the directory of another file');
    const elements = file.path.split('/');
    for (let end = 1; end < elements.length; end++) {
      const directory = elements.slice(0, end).join('/');
      if (files.has(directory)) {
        throw pathError(file.path, `needs ${JSON.stringify(directory)} to be a directory, but it is a file`);
      }
      directories.add(directory);
    }
    files.add(file.path);
    if (!(file.contents instanceof Uint8Array)) {
      throw new ProviderError(
        'internal',
        sdkErrorCodes.invalidFileMode,
        `invalid contents for file ${JSON.stringify(file.path)}: must be a Uint8Array (or Buffer)`,
      );
    }
    const modeProblem = checkFileMode(file.mode);
    if (modeProblem !== undefined) {
      throw new ProviderError(
        'internal',
        sdkErrorCodes.invalidFileMode,
        `invalid mode ${file.mode} for file ${JSON.stringify(file.path)}: ${modeProblem}`,
      );
    }
  }
}

/** The longest `AbsentObject.reason` accepted: it becomes an event message and a condition message. */
export const MAX_ABSENT_REASON_LENGTH = 1024;

/** Each absent object needs an id, a valid path and a short one-line reason. */
function checkAbsentObjects(absentObjects: readonly AbsentObject[]): void {
  for (const [index, absent] of absentObjects.entries()) {
    const problem =
      absent.id === ''
        ? 'has an empty id'
        : checkFilePath(absent.path) !== undefined
          ? `has an invalid path ${JSON.stringify(absent.path)}: ${checkFilePath(absent.path) ?? ''}`
          : absent.reason === '' ||
              absent.reason.length > MAX_ABSENT_REASON_LENGTH ||
              // eslint-disable-next-line no-control-regex
              /[\u0000-\u001f\u007f]/.test(absent.reason)
            ? `needs a reason of 1 to ${MAX_ABSENT_REASON_LENGTH} characters on one line`
            : undefined;
    if (problem !== undefined) {
      throw new ProviderError(
        'internal',
        sdkErrorCodes.invalidAbsentObject,
        `absent object ${index} ${problem}`,
      );
    }
  }
}

/**
 * The error for content over the response limit. `subject` names what is too big: `the mount response`
 * (what serve() checks) or, from a provider that checks early, `object "big"`.
 */
export function responseTooLargeError(
  subject: string,
  sizeInBytes: number,
  limitInBytes: number,
): ProviderError {
  return new ProviderError(
    'resource-exhausted',
    sdkErrorCodes.responseTooLarge,
    `${subject} is ${sizeInBytes} bytes, over the ${limitInBytes}-byte limit on a mount response; ` +
      `the driver accepts at most its --max-call-recv-msg-size (4 MiB by default): to send more, raise it ` +
      `on the driver and ${MAX_RESPONSE_SIZE_FLAG} on this provider to the same value`,
  );
}
