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
  type AbsentObject,
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
import { absenceOf, keyVaultError, objectPrefix, type CredentialErrorClassifier } from './keyvault/errors.js';
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
import {
  fileModeOf,
  fileNameOf,
  ObjectsMemo,
  parseMountParameters,
  usesObjectSources,
  vaultUrl,
} from './parameters/index.js';
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
  /** The object's id in object versions (see objectIdOf). */
  readonly id: string;
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
  /** The parsed `objects` of the classes mounted lately: pods of one class send the same text. */
  readonly #objectsMemo = new ObjectsMemo();

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
        objectsMemo: this.#objectsMemo,
        ...(this.#options.readFile ? { readFile: this.#options.readFile } : {}),
      },
    );
    if (params.objects.length === 0) {
      // Upstream answers an empty success, which its driver then fails with `missing object versions`.
      throw parameterError('objects has no entries: list at least one object under objects.array');
    }
    // Ours: a class that names vaults or tenants per object gets the vault named in each object's errors.
    const objects = usesObjectSources(params.objects)
      ? params.objects.map((object) => ({
          ...object,
          keyvaultName: object.keyvaultName ?? params.keyvaultName,
        }))
      : params.objects;
    for (const object of objects) {
      if (!OBJECT_TYPES.has(object.objectType)) {
        throw parameterError(
          `${objectPrefix(object)}: Invalid vaultObjectTypes. Should be secret, key, or cert`,
        );
      }
    }
    const url = vaultUrl(params.keyvaultName, params.cloud);
    const subject = `${params.podNamespace}/${params.serviceAccountName}`;
    // Ours: the vault (and tenant) of each object; every vault name is checked before any credential is made.
    const sourceKey = (vault: string, tenant: string) => `${tenant}\u0000${vault}`;
    const sources = new Map<string, { vaultName: string; tenantId: string; url: string }>();
    const sourceOf = new Map<KeyVaultObject, string>();
    for (const object of objects) {
      const vaultName = object.keyvaultName ?? params.keyvaultName;
      const tenantId = object.tenantId ?? params.tenantId;
      let objectUrl = url;
      if (vaultName !== params.keyvaultName) {
        try {
          objectUrl = vaultUrl(vaultName, params.cloud);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          throw parameterError(`${objectPrefix(object)}: ${message}`, { cause: error });
        }
      }
      const key = sourceKey(objectUrl, tenantId);
      if (!sources.has(key)) sources.set(key, { vaultName, tenantId, url: objectUrl });
      sourceOf.set(object, key);
    }
    const { identities, logger } = this.#deps;
    const sessions = new Map<string, Session>();
    for (const [key, source] of sources) {
      const auth = authInTenant(params.auth, source.tenantId);
      const credential = identities.credentialFor(auth, params.cloud, source.tenantId, subject);
      sessions.set(key, {
        vaultName: source.vaultName,
        vaultHost: new URL(source.url).host,
        identity: identities.identityKey(auth, subject),
        reader: this.#deps.connector.reader({
          vaultUrl: source.url,
          credential,
          disableChallengeResourceVerification: params.disableChallengeResourceVerification,
        }),
        vaultUrl: source.url,
        abortSignal,
        fetched: new Map(),
      });
    }
    const sessionOf = (object: KeyVaultObject): Session => {
      const session = sessions.get(sourceOf.get(object) ?? '');
      if (session === undefined) throw new Error('no Key Vault session for an object (a bug)');
      return session;
    };
    logger.debug('mounting objects from Key Vault', {
      pod: `${params.podNamespace}/${params.podName}`,
      vault: url,
      ...(sessions.size > 1 && { vaults: sessions.size }),
      objects: objects.length,
      mode: params.auth.mode,
    });
    const limit = pLimit(this.#options.maxConcurrentFetchesPerMount);
    const idOf = (object: KeyVaultObject) => objectIdOf(object, params.keyvaultName);
    const plans = await Promise.all(
      objects.map((object) => limit(() => this.#plan(sessionOf(object), object, idOf(object)))),
    );
    const outputs = await Promise.all(
      plans.flatMap((plan) =>
        'reason' in plan
          ? [Promise.resolve(plan)]
          : plan.map((planned) =>
              limit(() =>
                this.#produce(sessionOf(planned.object), planned, request.defaultFileMode, request.secrets),
              ),
            ),
      ),
    );
    const files: MountedFile[] = [];
    const objectVersions: ObjectVersion[] = [];
    const absentObjects: AbsentObject[] = [];
    for (const output of outputs) {
      if ('reason' in output) {
        absentObjects.push(output);
        continue;
      }
      for (const file of output.files) {
        files.push(file);
        objectVersions.push(output.objectVersion);
      }
      // Extracted files (jmesPath) come from the object's version already listed: no version of their own.
      files.push(...output.extracted);
    }
    if (absentObjects.length > 0) {
      logger.info('optional objects absent from Key Vault; mounting without them', {
        pod: `${params.podNamespace}/${params.podName}`,
        absent: absentObjects.map((absent) => absent.id),
      });
      return { files, objectVersions, absentObjects };
    }
    return { files, objectVersions };
  }

  /** The versions to fetch for one object: one, or the newest enabled ones from a start version. */
  async #plan(session: Session, object: KeyVaultObject, id: string): Promise<Planned[] | AbsentObject> {
    const version = requestedVersion(object);
    if (object.objectVersionHistory <= 1) return [{ object, version, index: undefined, id }];
    const type = object.objectType as VaultObjectType;
    let listed: VaultVersion[];
    try {
      listed = (await this.#fetch(
        session,
        object,
        `versions\u0000${type}\u0000${object.objectName}`,
        (reader, signal) => reader.listVersions(type, object.objectName, signal),
      )) as VaultVersion[];
    } catch (error) {
      return absentOrThrow(error, session, object, id);
    }
    const newestFirst = listed
      .filter((entry) => entry.enabled)
      .sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
    const start = version === '' ? 0 : newestFirst.findIndex((entry) => entry.version === version);
    // As upstream: a pinned start version that is not listed (or disabled) yields no files.
    if (start < 0) return [];
    // Upstream returns N+1 versions when more than N exist; the documented N is what we return.
    return newestFirst
      .slice(start, start + object.objectVersionHistory)
      .map((entry, index) => ({ object, version: entry.version, index, id }));
  }

  async #produce(
    session: Session,
    planned: Planned,
    defaultMode: number,
    secrets: Readonly<Record<string, string>>,
  ): Promise<
    { files: MountedFile[]; extracted: MountedFile[]; objectVersion: ObjectVersion } | AbsentObject
  > {
    try {
      return await this.#produceFiles(session, planned, defaultMode, secrets);
    } catch (error) {
      return absentOrThrow(error, session, planned.object, planned.id);
    }
  }

  async #produceFiles(
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
    return { files, extracted, objectVersion: { id: `${planned.id}${suffix}`, version } };
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
  /** The vault's name as the class wrote it, for messages. */
  readonly vaultName: string;
  readonly vaultHost: string;
  readonly identity: string;
  readonly reader: KeyVaultReader;
  /** Part of every cache key: the same name in two vaults is two objects. */
  readonly vaultUrl: string;
  readonly abortSignal: AbortSignal;
  /** This mount's fetches by object key, when the shared cache is off. */
  readonly fetched: Map<string, Promise<CachedValue>>;
}

/**
 * The id of an object in object versions: upstream's `<type>/<name>`, prefixed with `<vault>/` for an object
 * of a vault other than the class's, so two vaults' objects of one name stay apart in the pod status.
 */
function objectIdOf(object: KeyVaultObject, classVault: string): string {
  const id = `${object.objectType}/${object.objectName}`;
  const vault = object.keyvaultName;
  return vault === undefined || vault.toLowerCase() === classVault.toLowerCase() ? id : `${vault}/${id}`;
}

/** The class's identity asking `tenantId` for tokens: the same identity, in the object's own tenant. */
function authInTenant(auth: AuthConfig, tenantId: string): AuthConfig {
  switch (auth.mode) {
    case 'service-principal':
    case 'workload-identity':
    case 'identity-binding':
      return auth.tenantId === tenantId ? auth : { ...auth, tenantId };
    case 'vm-managed-identity':
    case 'pod-identity':
      return auth;
  }
}

const TYPE_WORDS: Readonly<Record<string, string>> = { secret: 'secret', key: 'key', cert: 'certificate' };

/**
 * For an object marked `optional: true` whose fetch failed because Key Vault does not have it (not found or
 * disabled): the absent object to report. Any other failure, or a failure of a required object, is thrown.
 */
function absentOrThrow(error: unknown, session: Session, object: KeyVaultObject, id: string): AbsentObject {
  const absence = object.optional === true ? absenceOf(error) : undefined;
  if (absence === undefined) throw error;
  const version = object.objectVersion === '' ? '' : ` version ${object.objectVersion}`;
  const what = `optional ${TYPE_WORDS[object.objectType] ?? object.objectType} ${object.objectName}${version}`;
  return {
    id,
    path: fileNameOf(object),
    reason:
      absence === 'not-found'
        ? `${what} was not found in vault ${session.vaultName}`
        : `${what} is disabled in vault ${session.vaultName}`,
  };
}
