/**
 * The provider built from its flags: one credential cache, one Key Vault connector, the provider. Imported by
 * app.ts on the first mount, so the Azure SDK is loaded only when a node mounts from Key Vault.
 */
import type { Logger } from '@secrets-store-csi/provider-sdk';
import type { AzureProviderFlags } from './app.js';
import { CredentialCache, classifyCredentialError, identityKey } from './auth/index.js';
import { AzureKeyVaultConnector } from './keyvault/azure.js';
import type { RetrySettings } from './keyvault/retry.js';
import type { KeyVaultRequestRecorder } from './metrics.js';
import type { CloudEnvironment } from './model.js';
import { AzureProvider, type Identities } from './provider.js';

/** Entries the object cache keeps; each is one object version of one identity. */
const OBJECT_CACHE_MAX_ENTRIES = 10_000;

export interface AzureProviderWiring {
  readonly flags: AzureProviderFlags;
  readonly logger: Logger;
  readonly defaultCloud: CloudEnvironment;
  readonly retry: RetrySettings;
  readonly recordKeyVaultRequest: KeyVaultRequestRecorder;
}

export function buildAzureProvider(wiring: AzureProviderWiring): AzureProvider {
  const { flags, logger, retry } = wiring;
  const userAgentPrefix = flags['custom-user-agent'] || undefined;
  const credentials = new CredentialCache({
    retry,
    nmiUrl: flags['nmi-url'],
    tokenProxyUrl: flags['token-proxy-url'],
    sniName: flags['sni-name'],
    ...(userAgentPrefix ? { userAgentPrefix } : {}),
  });
  const identities: Identities = {
    credentialFor: (auth, cloud, tenantId, subject) => credentials.get(auth, cloud, tenantId, subject),
    identityKey,
    classifyCredentialError: (error) => classifyCredentialError(error),
  };
  return new AzureProvider(
    {
      defaultCloud: wiring.defaultCloud,
      constructPemChain: flags['construct-pem-chain'],
      writeCertAndKeyInSeparateFiles: flags['write-cert-and-key-in-separate-files'],
      maxConcurrentFetchesPerMount: flags['max-concurrent-object-fetches'],
      objectCacheTtlInMs: flags['object-cache-ttl'],
      objectCacheMaxEntries: OBJECT_CACHE_MAX_ENTRIES,
    },
    {
      connector: new AzureKeyVaultConnector({
        retry,
        maxConcurrentRequestsPerVault: flags['max-concurrent-vault-requests'],
        ...(userAgentPrefix ? { userAgentPrefix } : {}),
      }),
      identities,
      recordKeyVaultRequest: wiring.recordKeyVaultRequest,
      logger,
    },
  );
}
