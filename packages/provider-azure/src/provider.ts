/**
 * The Azure Key Vault provider: one Mount, transport-free. Upstream's order (parse and check everything,
 * then touch the network) and texts, with what our users asked for on top:
 * - the objects of a mount are fetched concurrently, within a bound;
 * - credentials (and so tokens) and Key Vault clients are reused per identity across mounts;
 * - a coalescing cache keyed by identity and object answers repeated and concurrent requests for the same
 *   object with one Key Vault call, for at most the cache TTL (below the driver's rotation interval).
 */
import {
  CoalescingCache,
  type Logger,
  type MountRequest,
  type MountResult,
  type MountedFile,
  type ObjectVersion,
  type SecretProvider,
} from '@secrets-store-csi/provider-sdk';
import type { TokenCredential } from '@azure/identity';
import pLimit from 'p-limit';
import { certificatePem, encodeContent, publicKeyPem, secretContents } from './content/index.js';
import { contentError, parameterError } from './errors.js';
import { keyVaultError, objectPrefix, type CredentialErrorClassifier } from './keyvault/errors.js';
import type {
  KeyVaultConnector,
  KeyVaultReader,
  VaultCertificate,
  VaultKey,
  VaultObjectType,
  VaultSecret,
  VaultVersion,
} from './keyvault/port.js';
import type { KeyVaultRequestRecorder } from './metrics.js';
import type { AuthConfig, CloudEnvironment, KeyVaultObject } from './model.js';
import { fileModeOf, fileNameOf, parseMountParameters, vaultUrl } from './parameters/index.js';
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { PROVIDER_NAME, PROVIDER_VERSION, RUNTIME_NAME } from './names.js';
import { extractedFiles, pfxPasswordOf } from './shaped-files.js';

export { PROVIDER_NAME, PROVIDER_VERSION, RUNTIME_NAME } from './names.js';

/** What the provider needs from the identity side (src/auth). */
export interface Identities {
  /** The one credential of this identity; `subject` names the pod's service account (`<ns>/<name>`). */
  credentialFor(
    auth: AuthConfig,
    cloud: CloudEnvironment,
    tenantId: string,
    subject: string,
  ): TokenCredential;
  /** A key naming everything that decides Key Vault access for this identity (no raw secrets). */
  identityKey(auth: AuthConfig, subject: string): string;
  readonly classifyCredentialError: CredentialErrorClassifier;
}

export interface AzureProviderOptions {
  readonly defaultCloud: CloudEnvironment;
  readonly constructPemChain: boolean;
  readonly writeCertAndKeyInSeparateFiles: boolean;
  /** Object versions of one mount fetched at once. */
  readonly maxConcurrentFetchesPerMount: number;
  /** How long a fetched object is served from memory; 0 turns the cache off. */
  readonly objectCacheTtlInMs: number;
  readonly objectCacheMaxEntries: number;
  /** For a custom cloud file given by `cloudEnvFileName`; fs by default. */
  readonly readFile?: (path: string) => Promise<string>;
}

export interface AzureProviderDependencies {
  readonly connector: KeyVaultConnector;
  readonly identities: Identities;
  readonly recordKeyVaultRequest: KeyVaultRequestRecorder;
  readonly logger: Logger;
  readonly now?: () => number;
}

type CachedValue = VaultSecret | VaultKey | VaultCertificate | VaultVersion[];

/** One version of one object to fetch: `index` is set in history mode (`<alias>/<index>`). */
interface Planned {
  readonly object: KeyVaultObject;
  readonly version: string;
  readonly index: number | undefined;
}

/** How long a fetch shared through the cache may take: about the driver's own deadline for a mount. */
const SHARED_FETCH_TIMEOUT_IN_MS = 120_000;

const OBJECT_TYPES: ReadonlySet<string> = new Set(['secret', 'key', 'cert']);

/** `latest` means the latest everywhere (upstream sends it to Key Vault as a version in single mode). */
function requestedVersion(object: KeyVaultObject): string {
  return object.objectVersion.toLowerCase() === 'latest' ? '' : object.objectVersion;
}

export class AzureProvider implements SecretProvider {
  readonly name = PROVIDER_NAME;
  readonly runtimeName = RUNTIME_NAME;
  readonly version = PROVIDER_VERSION;
  readonly #options: AzureProviderOptions;
  readonly #deps: AzureProviderDependencies;
  readonly #cache: CoalescingCache<CachedValue> | undefined;

  constructor(options: AzureProviderOptions, deps: AzureProviderDependencies) {
    if (!Number.isInteger(options.maxConcurrentFetchesPerMount) || options.maxConcurrentFetchesPerMount < 1) {
      throw new RangeError('maxConcurrentFetchesPerMount must be a positive integer');
    }
    this.#options = options;
    this.#deps = deps;
    this.#cache =
      options.objectCacheTtlInMs > 0
        ? new CoalescingCache<CachedValue>({
            ttlInMs: options.objectCacheTtlInMs,
            maxEntries: options.objectCacheMaxEntries,
            ...(deps.now ? { now: deps.now } : {}),
          })
        : undefined;
  }

  /** Hits, coalesced requests and Key Vault fetches of the object cache (undefined when it is off). */
  get cacheStats() {
    return this.#cache?.stats;
  }

  async mount(request: MountRequest, { abortSignal }: { abortSignal: AbortSignal }): Promise<MountResult> {
    const params = await parseMountParameters(
      { attributes: request.attributes, secrets: request.secrets },
      {
        defaultCloud: this.#options.defaultCloud,
        ...(this.#options.readFile ? { readFile: this.#options.readFile } : {}),
      },
    );
    if (params.objects.length === 0) {
      // Upstream answers an empty success, which its driver then fails with `missing object versions`.
      throw parameterError('objects has no entries: list at least one object under objects.array');
    }
    for (const object of params.objects) {
      if (!OBJECT_TYPES.has(object.objectType)) {
        throw parameterError(
          `${objectPrefix(object)}: Invalid vaultObjectTypes. Should be secret, key, or cert`,
        );
      }
    }
    const url = vaultUrl(params.keyvaultName, params.cloud);
    const subject = `${params.podNamespace}/${params.serviceAccountName}`;
    const { identities, logger } = this.#deps;
    const credential = identities.credentialFor(params.auth, params.cloud, params.tenantId, subject);
    const session: Session = {
      vaultHost: new URL(url).host,
      identity: identities.identityKey(params.auth, subject),
      reader: this.#deps.connector.reader({
        vaultUrl: url,
        credential,
        disableChallengeResourceVerification: params.disableChallengeResourceVerification,
      }),
      vaultUrl: url,
      abortSignal,
      fetched: new Map(),
    };
    logger.debug('mounting objects from Key Vault', {
      pod: `${params.podNamespace}/${params.podName}`,
      vault: url,
      objects: params.objects.length,
      mode: params.auth.mode,
    });
    const limit = pLimit(this.#options.maxConcurrentFetchesPerMount);
    const plans = await Promise.all(params.objects.map((object) => limit(() => this.#plan(session, object))));
    const outputs = await Promise.all(
      plans
        .flat()
        .map((planned) =>
          limit(() => this.#produce(session, planned, request.defaultFileMode, request.secrets)),
        ),
    );
    const files: MountedFile[] = [];
    const objectVersions: ObjectVersion[] = [];
    for (const output of outputs) {
      for (const file of output.files) {
        files.push(file);
        objectVersions.push(output.objectVersion);
      }
      // Extracted files (jmesPath) come from the object's version already listed: no version of their own.
      files.push(...output.extracted);
    }
    return { files, objectVersions };
  }

  /** The versions to fetch for one object: one, or the newest enabled ones from a start version. */
  async #plan(session: Session, object: KeyVaultObject): Promise<Planned[]> {
    const version = requestedVersion(object);
    if (object.objectVersionHistory <= 1) return [{ object, version, index: undefined }];
    const type = object.objectType as VaultObjectType;
    const listed = (await this.#fetch(
      session,
      object,
      `versions\u0000${type}\u0000${object.objectName}`,
      (reader, signal) => reader.listVersions(type, object.objectName, signal),
    )) as VaultVersion[];
    const newestFirst = listed
      .filter((entry) => entry.enabled)
      .sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
    const start = version === '' ? 0 : newestFirst.findIndex((entry) => entry.version === version);
    // As upstream: a pinned start version that is not listed (or disabled) yields no files.
    if (start < 0) return [];
    // Upstream returns N+1 versions when more than N exist; the documented N is what we return.
    return newestFirst
      .slice(start, start + object.objectVersionHistory)
      .map((entry, index) => ({ object, version: entry.version, index }));
  }

  async #produce(
    session: Session,
    planned: Planned,
    defaultMode: number,
    secrets: Readonly<Record<string, string>>,
  ): Promise<{ files: MountedFile[]; extracted: MountedFile[]; objectVersion: ObjectVersion }> {
    const { object, index } = planned;
    const suffix = index === undefined ? '' : `/${index}`;
    const fileName = `${fileNameOf(object)}${suffix}`;
    const mode = fileModeOf(object, defaultMode);
    const ref = { ...object, objectVersion: planned.version === '' ? object.objectVersion : planned.version };
    const objectKey = `${object.objectType}\u0000${object.objectName}\u0000${planned.version}`;
    const name = object.objectName;
    let version: string;
    let texts: { suffix: string; text: string }[];
    let extracted: MountedFile[] = [];
    if (object.objectType === 'secret') {
      const secret = (await this.#fetch(session, ref, objectKey, (r, signal) =>
        r.getSecret(name, planned.version, signal),
      )) as VaultSecret;
      version = secret.version;
      texts = this.#convert(ref, () =>
        secretContents(
          secret,
          object,
          {
            constructPemChain: this.#options.constructPemChain,
            writeCertAndKeyInSeparateFiles: this.#options.writeCertAndKeyInSeparateFiles,
          },
          this.#deps.logger,
          pfxPasswordOf(object, secrets),
        ),
      );
      extracted = this.#convert(ref, () => extractedFiles(secret.value, object, mode));
    } else if (object.objectType === 'key') {
      const key = (await this.#fetch(session, ref, objectKey, (r, signal) =>
        r.getKey(name, planned.version, signal),
      )) as VaultKey;
      version = key.version;
      texts = this.#convert(ref, () => [{ suffix: '', text: publicKeyPem(key) }]);
    } else {
      const cert = (await this.#fetch(session, ref, objectKey, (r, signal) =>
        r.getCertificate(name, planned.version, signal),
      )) as VaultCertificate;
      version = cert.version;
      texts = this.#convert(ref, () => [{ suffix: '', text: certificatePem(cert.cer) }]);
    }
    const files = texts.map(({ suffix: fileSuffix, text }) => ({
      path: `${fileName}${fileSuffix}`,
      mode,
      // Encoding errors carry no object prefix upstream; kept.
      contents: encodeContent(text, object.objectEncoding),
    }));
    return {
      files,
      extracted,
      objectVersion: { id: `${object.objectType}/${object.objectName}${suffix}`, version },
    };
  }

  #convert<T>(ref: KeyVaultObject, convert: () => T): T {
    try {
      return convert();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw contentError(`${objectPrefix(ref)}: ${message}`, { cause: error });
    }
  }

  /** One Key Vault call, through the cache, timed and mapped to a ProviderError. */
  #fetch(
    session: Session,
    object: KeyVaultObject,
    objectKey: string,
    call: (reader: KeyVaultReader, signal: AbortSignal) => Promise<CachedValue>,
  ): Promise<CachedValue> {
    const cache = this.#cache;
    // A fetch the cache shares between mounts must not die with the first caller's deadline; it gets its own.
    const signal =
      cache === undefined ? session.abortSignal : AbortSignal.timeout(SHARED_FETCH_TIMEOUT_IN_MS);
    const run = async () => {
      const started = performance.now();
      let errorCode = '';
      try {
        return await call(session.reader, signal);
      } catch (error) {
        const mapped = keyVaultError(
          error,
          object,
          session.vaultHost,
          this.#deps.identities.classifyCredentialError,
        );
        errorCode = mapped.code;
        throw mapped;
      } finally {
        this.#deps.recordKeyVaultRequest({
          objectType: object.objectType,
          objectName: object.objectName,
          error: errorCode,
          seconds: (performance.now() - started) / 1000,
        });
      }
    };
    if (cache === undefined) {
      // Without the cache, an object listed twice in one mount (two aliases, two formats) is still fetched
      // once per mount.
      let shared = session.fetched.get(objectKey);
      if (shared === undefined) {
        shared = run();
        session.fetched.set(objectKey, shared);
      }
      return shared;
    }
    return cache
      .get(session.identity, `${session.vaultUrl}\u0000${objectKey}`, run, {
        abortSignal: session.abortSignal,
      })
      .catch((error: unknown) => {
        throw isProviderError(error)
          ? error
          : keyVaultError(error, object, session.vaultHost, this.#deps.identities.classifyCredentialError);
      });
  }
}

interface Session {
  readonly vaultHost: string;
  readonly identity: string;
  readonly reader: KeyVaultReader;
  /** Part of every cache key: the same name in two vaults is two objects. */
  readonly vaultUrl: string;
  readonly abortSignal: AbortSignal;
  /** This mount's fetches by object key, when the shared cache is off. */
  readonly fetched: Map<string, Promise<CachedValue>>;
}
