/**
 * Cloud environments, named as go-autorest names them (upstream resolves `cloudName` and `--cloud-name` with
 * its EnvironmentFromName): four built-in clouds, matched case-insensitively with their aliases, and
 * `AzureStackCloud`, whose endpoints come from a JSON file.
 *
 * Our fix: upstream passes the SecretProviderClass's `cloudEnvFileName` through the process-wide environment
 * variable AZURE_ENVIRONMENT_FILEPATH, so concurrent mounts can read each other's file. Here the path is an
 * argument of each call; the variable is only the fallback when the SecretProviderClass names no file, which
 * is how upstream behaves for such a request when no other mount has set the variable.
 */
import { constants, type BigIntStats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { parameterError } from '../errors.js';
import type { CloudEnvironment } from '../model.js';
import { goQuote } from './go-text.js';

/** Reads a whole text file; injectable for tests. */
export type ReadTextFile = (path: string) => Promise<string>;

/** A cloud environment file is a few hundred bytes; anything from 64 KiB up is not one. */
export const MAX_CLOUD_FILE_BYTES = 64 * 1024;
/** How long reading the file may take before the mount is answered with an error. */
export const CLOUD_FILE_TIMEOUT_MS = 2000;

/** A refusal of the file that names the rule it broke. */
class CloudFileError extends Error {}

/**
 * Reads a cloud environment file as untrusted input, since any class author names it: only a regular file
 * (a FIFO, device or socket would block a libuv pool thread until restart: four such mounts froze every
 * other mount), at most 64 KiB, within a timeout. `stat` never blocks on a FIFO; the file is then opened
 * non-blocking and checked again on the descriptor, so a swap between the two checks changes nothing.
 */
export async function readCloudFile(path: string): Promise<string> {
  const before = await stat(path);
  if (before.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  if (!before.isFile()) throw new CloudFileError('not a regular file (a cloud environment file must be one)');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new CloudFileError(`not read within ${CLOUD_FILE_TIMEOUT_MS / 1000}s`));
    }, CLOUD_FILE_TIMEOUT_MS);
  });
  const read = (async () => {
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      const opened = await handle.stat();
      if (!opened.isFile())
        throw new CloudFileError('not a regular file (a cloud environment file must be one)');
      if (opened.size > MAX_CLOUD_FILE_BYTES) throw tooLarge();
      const buffer = Buffer.alloc(MAX_CLOUD_FILE_BYTES + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length > MAX_CLOUD_FILE_BYTES) throw tooLarge();
      }
      return buffer.subarray(0, length).toString('utf8');
    } finally {
      await handle.close();
    }
  })();
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
    read.catch(() => undefined);
  }
}

function tooLarge(): CloudFileError {
  return new CloudFileError(
    `larger than ${MAX_CLOUD_FILE_BYTES} bytes (a cloud environment file is smaller)`,
  );
}

const readUtf8: ReadTextFile = readCloudFile;

/** The process environment variable upstream reads the Azure Stack file path from. */
export const environmentFilePathVariable = 'AZURE_ENVIRONMENT_FILEPATH';

function cloud(name: string, login: string, vaultSuffix: string): CloudEnvironment {
  return Object.freeze({
    name,
    activeDirectoryEndpoint: `https://${login}/`,
    keyVaultEndpoint: `https://${vaultSuffix}/`,
    keyVaultDNSSuffix: vaultSuffix,
  });
}

export const azurePublicCloud = cloud('AzurePublicCloud', 'login.microsoftonline.com', 'vault.azure.net');
export const azureUSGovernmentCloud = cloud(
  'AzureUSGovernmentCloud',
  'login.microsoftonline.us',
  'vault.usgovcloudapi.net',
);
export const azureChinaCloud = cloud('AzureChinaCloud', 'login.chinacloudapi.cn', 'vault.azure.cn');
export const azureGermanCloud = cloud(
  'AzureGermanCloud',
  'login.microsoftonline.de',
  'vault.microsoftazure.de',
);

/** The built-in clouds by upper-case name, aliases included, as go-autorest keys them. */
const namedClouds: ReadonlyMap<string, CloudEnvironment> = new Map([
  ['AZURECLOUD', azurePublicCloud],
  ['AZUREPUBLICCLOUD', azurePublicCloud],
  ['AZUREUSGOVERNMENT', azureUSGovernmentCloud],
  ['AZUREUSGOVERNMENTCLOUD', azureUSGovernmentCloud],
  ['AZURECHINACLOUD', azureChinaCloud],
  ['AZUREGERMANCLOUD', azureGermanCloud],
]);

const AZURE_STACK = 'AZURESTACKCLOUD';

/** Whether a cloud name means Azure Stack (any custom cloud), in any letter case. */
export function isAzureStackCloudName(name: string): boolean {
  return name.toUpperCase() === AZURE_STACK;
}

/**
 * Whether a cloud is one of the four built-in ones (compared by endpoints, so a copy counts). Anything else
 * was loaded from a file, i.e. is an Azure Stack / custom cloud.
 */
export function isNamedCloud(environment: CloudEnvironment): boolean {
  return [azurePublicCloud, azureUSGovernmentCloud, azureChinaCloud, azureGermanCloud].some(
    (named) =>
      named.name === environment.name &&
      named.activeDirectoryEndpoint === environment.activeDirectoryEndpoint &&
      named.keyVaultEndpoint === environment.keyVaultEndpoint &&
      named.keyVaultDNSSuffix === environment.keyVaultDNSSuffix,
  );
}

/** Go's text for the usual errno values, so messages read like upstream's `open <path>: <reason>`. */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
};

/** A read failure worded as Go's os.ReadFile words it (a directory fails on read, not open). */
function readFailure(path: string, error: unknown): string {
  if (error instanceof CloudFileError) return `read ${path}: ${error.message}`;
  const code = (error as { code?: unknown } | null)?.code;
  const reason = typeof code === 'string' ? ERRNO_TEXT[code] : undefined;
  if (reason === undefined) return `open ${path}: ${error instanceof Error ? error.message : String(error)}`;
  return `${code === 'EISDIR' ? 'read' : 'open'} ${path}: ${reason}`;
}

/** The JSON type name Go's encoding/json uses in "cannot unmarshal <type> into …". */
function jsonTypeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? typeof value
    : 'object';
}

const REQUIRED_FIELDS = ['name', 'activeDirectoryEndpoint', 'keyVaultEndpoint', 'keyVaultDNSSuffix'] as const;
type RequiredField = (typeof REQUIRED_FIELDS)[number];

/**
 * The four fields we use from an environment file. Keys match case-insensitively, the last match winning,
 * as Go's encoding/json fills a struct; other fields (resourceManagerEndpoint…) are ignored.
 */
function environmentFromJson(path: string, text: string): CloudEnvironment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text, which can be any file on the node: name only where parsing stopped.
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    const where = position === undefined ? '' : ` at byte offset ${position}`;
    throw new Error(`failed to parse cloud environment file ${path}: not valid JSON${where}`);
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(
      `failed to parse cloud environment file ${path}: json: cannot unmarshal ${jsonTypeOf(parsed)} into an environment object`,
    );
  }
  const fields: Record<RequiredField, string> = {
    name: '',
    activeDirectoryEndpoint: '',
    keyVaultEndpoint: '',
    keyVaultDNSSuffix: '',
  };
  for (const [key, value] of Object.entries(parsed ?? {})) {
    const field = REQUIRED_FIELDS.find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    if (field === undefined || value === null) continue;
    if (typeof value !== 'string') {
      throw new Error(
        `failed to parse cloud environment file ${path}: json: cannot unmarshal ${jsonTypeOf(value)} into field ${field} of type string`,
      );
    }
    fields[field] = value;
  }
  const missing = REQUIRED_FIELDS.filter((field) => fields[field].trim() === '');
  if (missing.length > 0) {
    throw new Error(
      `cloud environment file ${path} does not set the required field(s): ${missing.join(', ')}`,
    );
  }
  return Object.freeze({ ...fields });
}

/**
 * Environment files read by the default reader, by path, with the file's identity and times when it was read:
 * every pod of a class names the same file, and a mount then costs one stat instead of reading and parsing it
 * again. Any change of the file (a new inode, size, mtime or ctime, in nanoseconds) reads it again, as upstream
 * reads it on every mount; a file changed less than RECENT_CHANGE_NS before it was read is not kept, so a
 * rewrite within one tick of the file system's clock cannot hide behind an unchanged time stamp.
 */
export class CloudFileMemo {
  readonly #files = new Map<string, { readonly key: string; readonly environment: CloudEnvironment }>();
  readonly #now: () => number;
  readonly #maxFiles: number;

  constructor(options: { now?: () => number; maxFiles?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxFiles = options.maxFiles ?? 16;
  }

  /** A stat, and the file read (readCloudFile) and parsed only when it is new or has changed. */
  async load(path: string): Promise<CloudEnvironment> {
    let stats: BigIntStats | undefined;
    try {
      stats = await stat(path, { bigint: true });
    } catch {
      // readCloudFile stats again and words the failure.
    }
    const key = stats?.isFile() === true ? statKey(stats) : undefined;
    const known = this.#files.get(path);
    if (key !== undefined && known?.key === key) return known.environment;
    let text: string;
    try {
      text = await readCloudFile(path);
    } catch (error) {
      throw new Error(readFailure(path, error));
    }
    const environment = environmentFromJson(path, text);
    const nowNs = BigInt(Math.floor(this.#now())) * 1_000_000n;
    if (
      stats !== undefined &&
      key !== undefined &&
      nowNs - stats.mtimeNs > RECENT_CHANGE_NS &&
      nowNs - stats.ctimeNs > RECENT_CHANGE_NS
    ) {
      this.#files.delete(path);
      this.#files.set(path, { key, environment });
      for (const oldest of this.#files.keys()) {
        if (this.#files.size <= this.#maxFiles) break;
        this.#files.delete(oldest);
      }
    }
    return environment;
  }

  get size(): number {
    return this.#files.size;
  }
}

const RECENT_CHANGE_NS = 2_000_000_000n;

function statKey(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** The default reader's memo (environmentFromJson freezes what it returns: shared safely). */
const cloudFiles = new CloudFileMemo();

/**
 * Loads an Azure Stack environment file. An empty path fails as Go's os.ReadFile("") does, without asking
 * the file system.
 */
async function loadEnvironmentFile(path: string, readFile: ReadTextFile): Promise<CloudEnvironment> {
  if (path === '') throw new Error('open : no such file or directory');
  if (readFile === readUtf8) return cloudFiles.load(path);
  let text: string;
  try {
    text = await readFile(path);
  } catch (error) {
    throw new Error(readFailure(path, error));
  }
  return environmentFromJson(path, text);
}

/**
 * go-autorest's EnvironmentFromName with the file path passed in: the built-in clouds by name or alias in
 * any case, or the file's environment for `AzureStackCloud`.
 * @throws ProviderError with the bare reason, e.g. `autorest/azure: There is no cloud environment matching
 * the name "AZURECLOUD1"` or `open /etc/cloud.json: no such file or directory`; callers add their context.
 */
export async function lookupCloud(
  name: string,
  envFilePath: string,
  readFile: ReadTextFile = readUtf8,
): Promise<CloudEnvironment> {
  try {
    if (isAzureStackCloudName(name)) return await loadEnvironmentFile(envFilePath, readFile);
    const upper = name.toUpperCase();
    const named = namedClouds.get(upper);
    if (named === undefined) {
      throw new Error(`autorest/azure: There is no cloud environment matching the name ${goQuote(upper)}`);
    }
    return named;
  } catch (error) {
    throw parameterError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/**
 * The cloud of one mount: `defaultCloud` (from `--cloud-name`) when the SecretProviderClass names none,
 * else the named cloud. For `AzureStackCloud` the file is the SecretProviderClass's `cloudEnvFileName`
 * (`envFilePath`), or AZURE_ENVIRONMENT_FILEPATH from `env` when that is empty.
 */
export async function resolveCloud(
  name: string,
  envFilePath: string,
  defaultCloud: CloudEnvironment,
  readFile: ReadTextFile = readUtf8,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<CloudEnvironment> {
  if (name === '') return defaultCloud;
  const path = envFilePath !== '' ? envFilePath : (env[environmentFilePathVariable] ?? '');
  return lookupCloud(name, path, readFile);
}

/**
 * The cloud for `--cloud-name`, checked at startup as upstream does (an empty name is refused too);
 * `AzureStackCloud` reads the file named by AZURE_ENVIRONMENT_FILEPATH.
 */
export async function cloudByName(
  name: string,
  options: { readFile?: ReadTextFile; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<CloudEnvironment> {
  const env = options.env ?? process.env;
  return lookupCloud(name, env[environmentFilePathVariable] ?? '', options.readFile ?? readUtf8);
}
