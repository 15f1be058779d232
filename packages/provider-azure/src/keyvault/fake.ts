/**
 * An in-memory KeyVaultConnector for unit tests of the provider: vaults of versioned secrets, keys and
 * certificates, every call counted, failures injectable. Integration tests use the real SDK against the
 * Key Vault double in test-support instead.
 */
import type { TokenCredential } from '@azure/identity';
import { RestError } from '@azure/core-rest-pipeline';
import type {
  KeyVaultConnector,
  KeyVaultReader,
  VaultAccess,
  VaultCertificate,
  VaultKey,
  VaultObjectType,
  VaultSecret,
  VaultVersion,
} from './port.js';

interface StoredVersion<T> {
  readonly value: T;
  readonly enabled: boolean;
  readonly createdOn: Date;
}

export interface FakeCall {
  readonly vaultUrl: string;
  readonly credential: TokenCredential;
  readonly operation: 'getSecret' | 'getKey' | 'getCertificate' | 'listVersions';
  readonly type: VaultObjectType;
  readonly name: string;
  readonly version: string;
}

type Stored = VaultSecret | VaultKey | VaultCertificate;
/** A stored value without its version (distributes over the union). */
type Unversioned<T> = T extends Stored ? Omit<T, 'version'> : never;

export class FakeKeyVault implements KeyVaultConnector {
  readonly calls: FakeCall[] = [];
  readonly accesses: VaultAccess[] = [];
  readonly #objects = new Map<string, StoredVersion<Stored>[]>();
  readonly #failures: { match: (call: FakeCall) => boolean; error: unknown }[] = [];
  #clock = Date.UTC(2026, 0, 1);

  /** Adds a version (newest last); returns its version id. */
  add(
    vaultUrl: string,
    type: 'secret',
    name: string,
    value: Omit<VaultSecret, 'version'>,
    options?: { enabled?: boolean; version?: string },
  ): string;
  add(
    vaultUrl: string,
    type: 'key',
    name: string,
    value: Omit<VaultKey, 'version'>,
    options?: { enabled?: boolean; version?: string },
  ): string;
  add(
    vaultUrl: string,
    type: 'cert',
    name: string,
    value: Omit<VaultCertificate, 'version'>,
    options?: { enabled?: boolean; version?: string },
  ): string;
  add(
    vaultUrl: string,
    type: VaultObjectType,
    name: string,
    value: Unversioned<Stored>,
    options: { enabled?: boolean; version?: string } = {},
  ): string {
    const key = this.#key(vaultUrl, type, name);
    const versions = this.#objects.get(key) ?? [];
    const version = options.version ?? (versions.length + 1).toString(16).padStart(32, '0');
    this.#clock += 1000;
    versions.push({
      value: { ...value, version },
      enabled: options.enabled ?? true,
      createdOn: new Date(this.#clock),
    });
    this.#objects.set(key, versions);
    return version;
  }

  /** The next call that matches fails with `error`. */
  failNext(match: (call: FakeCall) => boolean, error: unknown): void {
    this.#failures.push({ match, error });
  }

  callsOf(operation: FakeCall['operation']): FakeCall[] {
    return this.calls.filter((call) => call.operation === operation);
  }

  reader(access: VaultAccess): KeyVaultReader {
    this.accesses.push(access);
    const get = async (
      operation: FakeCall['operation'],
      type: VaultObjectType,
      name: string,
      version: string,
    ) => {
      const call: FakeCall = {
        vaultUrl: access.vaultUrl,
        credential: access.credential,
        operation,
        type,
        name,
        version,
      };
      this.calls.push(call);
      await Promise.resolve();
      const failure = this.#failures.find((f) => f.match(call));
      if (failure !== undefined) {
        this.#failures.splice(this.#failures.indexOf(failure), 1);
        throw failure.error;
      }
      const versions = this.#objects.get(this.#key(access.vaultUrl, type, name));
      if (versions === undefined)
        throw new RestError(`A ${type} with (name/id) ${name} was not found in this key vault.`, {
          statusCode: 404,
          code: `${type}NotFound`,
        });
      return versions;
    };
    const pick = async <T extends Stored>(
      operation: FakeCall['operation'],
      type: VaultObjectType,
      name: string,
      version: string,
    ): Promise<T> => {
      const versions = await get(operation, type, name, version);
      const found = version === '' ? versions.at(-1) : versions.find((v) => v.value.version === version);
      if (found === undefined)
        throw new RestError(`A ${type} with (name/id) ${name}/${version} was not found in this key vault.`, {
          statusCode: 404,
          code: `${type}NotFound`,
        });
      if (!found.enabled)
        throw new RestError(`Operation get is not allowed on a disabled ${type}.`, {
          statusCode: 403,
          code: 'Forbidden',
        });
      return found.value as T;
    };
    return {
      getSecret: (name, version) => pick<VaultSecret>('getSecret', 'secret', name, version),
      getKey: (name, version) => pick<VaultKey>('getKey', 'key', name, version),
      getCertificate: (name, version) => pick<VaultCertificate>('getCertificate', 'cert', name, version),
      listVersions: async (type, name): Promise<VaultVersion[]> => {
        const versions = await get('listVersions', type, name, '');
        return versions.map((v) => ({
          version: v.value.version,
          enabled: v.enabled,
          createdOn: v.createdOn,
        }));
      },
    };
  }

  #key(vaultUrl: string, type: VaultObjectType, name: string): string {
    return `${vaultUrl}\u0000${type}\u0000${name}`;
  }
}
