/**
 * The Key Vault connector on the real Azure SDK. Compared with upstream, which builds a credential and three
 * clients per mount, it reuses:
 * - one HTTP client (keep-alive connections) for every vault and identity;
 * - the secret, key and certificate clients of a (credential, vault) pair for as long as the credential
 *   lives (the credential cache hands out one credential per identity, so its tokens are reused too);
 * and it bounds the calls in flight per vault, so a node that mounts a hundred pods at once queues them
 * here instead of being throttled by Key Vault. Retries follow retry.ts.
 */
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { createDefaultHttpClient, retryPolicy, type HttpClient } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import pLimit, { type LimitFunction } from 'p-limit';
import { contentError } from '../errors.js';
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
import { keyVaultRetryStrategy, type RetrySettings } from './retry.js';

export interface AzureConnectorOptions {
  readonly retry: RetrySettings;
  /** Key Vault calls in flight per vault host; the rest wait their turn. */
  readonly maxConcurrentRequestsPerVault: number;
  /** `--custom-user-agent`, put before the SDK's own user agent. */
  readonly userAgentPrefix?: string;
  /** Tests and the benchmark pass one; a keep-alive client of the SDK otherwise. */
  readonly httpClient?: HttpClient;
}

interface Clients {
  readonly secrets: SecretClient;
  readonly keys: KeyClient;
  readonly certificates: CertificateClient;
}

export class AzureKeyVaultConnector implements KeyVaultConnector {
  readonly #options: AzureConnectorOptions;
  readonly #httpClient: HttpClient;
  /** Clients per credential (dropped with it) and vault. */
  readonly #clients = new WeakMap<TokenCredential, Map<string, Clients>>();
  readonly #limits = new Map<string, LimitFunction>();

  constructor(options: AzureConnectorOptions) {
    if (
      !Number.isInteger(options.maxConcurrentRequestsPerVault) ||
      options.maxConcurrentRequestsPerVault < 1
    ) {
      throw new RangeError('maxConcurrentRequestsPerVault must be a positive integer');
    }
    this.#options = options;
    this.#httpClient = options.httpClient ?? createDefaultHttpClient();
  }

  reader(access: VaultAccess): KeyVaultReader {
    const clients = this.#clientsFor(access);
    const host = new URL(access.vaultUrl).host;
    let limit = this.#limits.get(host);
    if (limit === undefined) {
      limit = pLimit(this.#options.maxConcurrentRequestsPerVault);
      this.#limits.set(host, limit);
    }
    return new AzureKeyVaultReader(clients, limit);
  }

  #clientsFor(access: VaultAccess): Clients {
    let byVault = this.#clients.get(access.credential);
    if (byVault === undefined) {
      byVault = new Map();
      this.#clients.set(access.credential, byVault);
    }
    const key = `${access.vaultUrl}\u0000${String(access.disableChallengeResourceVerification)}`;
    let clients = byVault.get(key);
    if (clients === undefined) {
      const { retry, userAgentPrefix } = this.#options;
      const options = {
        httpClient: this.#httpClient,
        // The SDK's own retry policy is turned off; ours runs in the same place of the pipeline.
        retryOptions: { maxRetries: 0 },
        additionalPolicies: [
          {
            policy: retryPolicy([keyVaultRetryStrategy(retry)], { maxRetries: retry.maxRetries }),
            position: 'perCall' as const,
          },
        ],
        disableChallengeResourceVerification: access.disableChallengeResourceVerification,
        ...(userAgentPrefix ? { userAgentOptions: { userAgentPrefix } } : {}),
      };
      clients = {
        secrets: new SecretClient(access.vaultUrl, access.credential, options),
        keys: new KeyClient(access.vaultUrl, access.credential, options),
        certificates: new CertificateClient(access.vaultUrl, access.credential, options),
      };
      byVault.set(key, clients);
    }
    return clients;
  }
}

/** Upstream's texts for answers that lack what a file needs. */
function required<T>(value: T | undefined | null, message: string): T {
  if (value === undefined || value === null) throw contentError(message);
  return value;
}

class AzureKeyVaultReader implements KeyVaultReader {
  readonly #clients: Clients;
  readonly #limit: LimitFunction;

  constructor(clients: Clients, limit: LimitFunction) {
    this.#clients = clients;
    this.#limit = limit;
  }

  getSecret(name: string, version: string, abortSignal: AbortSignal): Promise<VaultSecret> {
    return this.#limit(async () => {
      const secret = await this.#clients.secrets.getSecret(name, { version, abortSignal });
      return {
        value: required(secret.value, 'secret value is nil'),
        version: required(secret.properties.version, 'secret id is nil'),
        contentType: secret.properties.contentType,
        kid: secret.properties.certificateKeyId,
      };
    });
  }

  getKey(name: string, version: string, abortSignal: AbortSignal): Promise<VaultKey> {
    return this.#limit(async () => {
      const key = await this.#clients.keys.getKey(name, { version, abortSignal });
      const jwk = required(key.key, 'key value is nil');
      return {
        version: required(key.properties.version, 'key id is nil'),
        kty: jwk.kty,
        crv: jwk.crv,
        n: jwk.n,
        e: jwk.e,
        x: jwk.x,
        y: jwk.y,
      };
    });
  }

  getCertificate(name: string, version: string, abortSignal: AbortSignal): Promise<VaultCertificate> {
    return this.#limit(async () => {
      const certificate =
        version === ''
          ? await this.#clients.certificates.getCertificate(name, { abortSignal })
          : await this.#clients.certificates.getCertificateVersion(name, version, { abortSignal });
      return {
        cer: required(certificate.cer, 'certificate value is nil'),
        version: required(certificate.properties.version, 'certificate id is nil'),
      };
    });
  }

  listVersions(type: VaultObjectType, name: string, abortSignal: AbortSignal): Promise<VaultVersion[]> {
    return this.#limit(async () => {
      const pages =
        type === 'secret'
          ? this.#clients.secrets.listPropertiesOfSecretVersions(name, { abortSignal })
          : type === 'key'
            ? this.#clients.keys.listPropertiesOfKeyVersions(name, { abortSignal })
            : this.#clients.certificates.listPropertiesOfCertificateVersions(name, { abortSignal });
      const versions: VaultVersion[] = [];
      for await (const item of pages) {
        if (item.version === undefined) continue;
        // Upstream skips entries without attributes: enabled is then unknown, so they count as disabled.
        versions.push({ version: item.version, enabled: item.enabled === true, createdOn: item.createdOn });
      }
      return versions;
    });
  }
}
