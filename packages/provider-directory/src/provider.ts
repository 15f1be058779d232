/**
 * The directory provider: serves files under one root directory, chosen by whoever runs the provider (the
 * `--root-dir` flag), never by a SecretProviderClass, so a pod can only read what the node's administrator
 * put there. An object's version is the SHA-256 of its content, so changing a file is a rotation the driver
 * sees.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import {
  CodedError,
  ProviderError,
  responseTooLargeError,
  type MountOptions,
  type MountRequest,
  type MountResult,
  type MountedFile,
  type ObjectVersion,
  type SecretProvider,
} from '@secrets-store-csi/provider-sdk';
import { parseObjects, type DirectoryObject } from './parameters.js';

export const PROVIDER_NAME = 'directory';
export const PROVIDER_VERSION = '0.1.0';

export const directoryErrorCodes = {
  invalidRootDirectory: 'InvalidRootDirectory',
  objectNotFound: 'ObjectNotFound',
  objectOutsideRoot: 'ObjectOutsideRoot',
  objectNotReadable: 'ObjectNotReadable',
  objectNotAFile: 'ObjectNotAFile',
} as const;

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export class DirectoryProvider implements SecretProvider {
  readonly name = PROVIDER_NAME;
  readonly version = PROVIDER_VERSION;
  /** The root directory with every symlink resolved. */
  readonly rootDir: string;
  readonly #rootPrefix: string;

  private constructor(rootDir: string) {
    this.rootDir = rootDir;
    this.#rootPrefix = rootDir.endsWith(sep) ? rootDir : rootDir + sep;
  }

  /** Checks the root directory once, at startup: it must exist, be a readable directory, not be `/`. */
  static async open(rootDir: string): Promise<DirectoryProvider> {
    const fail = (reason: string) =>
      new CodedError(
        directoryErrorCodes.invalidRootDirectory,
        `root directory ${JSON.stringify(rootDir)} ${reason} (--root-dir)`,
      );
    if (rootDir === '') {
      throw new CodedError(
        directoryErrorCodes.invalidRootDirectory,
        '--root-dir is required: the directory whose files the provider serves',
      );
    }
    if (!isAbsolute(rootDir)) throw fail('is not an absolute path');
    let real: string;
    try {
      real = await realpath(rootDir);
    } catch (error) {
      throw errnoOf(error) === 'ENOENT'
        ? fail('does not exist')
        : fail(`cannot be read: ${errnoOf(error) ?? String(error)}`);
    }
    if (!(await stat(real)).isDirectory()) throw fail('is not a directory');
    if (real === sep)
      throw fail('is the filesystem root; serve a directory that holds only what pods may read');
    try {
      await access(real, constants.R_OK | constants.X_OK);
    } catch (error) {
      throw fail(`cannot be read: ${errnoOf(error) ?? String(error)}`);
    }
    return new DirectoryProvider(real);
  }

  async mount(request: MountRequest, options: MountOptions): Promise<MountResult> {
    const objects = parseObjects(request.attributes.objects);
    const files: MountedFile[] = [];
    const objectVersions: ObjectVersion[] = [];
    let total = 0;
    for (const object of objects) {
      options.abortSignal.throwIfAborted();
      const contents = await this.#read(object, options.maxResponseSizeInBytes);
      total += contents.length;
      if (total > options.maxResponseSizeInBytes) {
        throw responseTooLargeError(
          `the content of the objects up to ${JSON.stringify(object.objectName)}`,
          total,
          options.maxResponseSizeInBytes,
        );
      }
      files.push({ path: object.objectAlias, mode: object.mode ?? request.defaultFileMode, contents });
      objectVersions.push({
        id: `file/${object.objectName}`,
        version: createHash('sha256').update(contents).digest('hex'),
      });
    }
    return { files, objectVersions };
  }

  /** Reads one object, refusing anything that is not a regular file inside the root once symlinks resolve. */
  async #read(object: DirectoryObject, limitInBytes: number): Promise<Buffer> {
    const name = JSON.stringify(object.objectName);
    const unreadable = (error: unknown) =>
      new ProviderError(
        'permission-denied',
        directoryErrorCodes.objectNotReadable,
        `object ${name} cannot be read: ${errnoOf(error) ?? String(error)}`,
      );
    let real: string;
    try {
      real = await realpath(join(this.rootDir, object.objectName));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') {
        throw new ProviderError('not-found', directoryErrorCodes.objectNotFound, `object ${name} not found`);
      }
      throw unreadable(error);
    }
    if (!real.startsWith(this.#rootPrefix)) {
      throw new ProviderError(
        'permission-denied',
        directoryErrorCodes.objectOutsideRoot,
        `object ${name} resolves to a file outside the provider's root directory`,
      );
    }
    const notAFile = () =>
      new ProviderError(
        'invalid-argument',
        directoryErrorCodes.objectNotAFile,
        `object ${name} is not a regular file`,
      );
    // A FIFO or device would block or never end: check before opening, and open without blocking.
    if (!(await stat(real)).isFile()) throw notAFile();
    let handle;
    try {
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      throw unreadable(error);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw notAFile();
      if (stats.size > limitInBytes) throw responseTooLargeError(`object ${name}`, stats.size, limitInBytes);
      const contents = await handle.readFile();
      if (contents.length > limitInBytes)
        throw responseTooLargeError(`object ${name}`, contents.length, limitInBytes);
      return contents;
    } finally {
      await handle.close();
    }
  }
}
