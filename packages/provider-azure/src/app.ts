/**
 * The provider process's wiring: its own flags (upstream's names next to the SDK's standard ones, plus ours
 * for the cache and concurrency), and `createAzureProvider`, which builds the provider from the parsed flags.
 * main.ts hands both to the SDK's `runProvider`.
 */
import type { FlagValues, Logger } from '@secrets-store-csi/provider-sdk';
import type { Registry } from 'prom-client';
import { CredentialCache, classifyCredentialError, identityKey } from './auth/index.js';
import { AzureKeyVaultConnector } from './keyvault/azure.js';
import { DEFAULT_RETRY_SETTINGS } from './keyvault/retry.js';
import { keyVaultRequestRecorder } from './metrics.js';
import { cloudByName } from './parameters/index.js';
import { AzureProvider, type Identities } from './provider.js';

export const azureProviderFlags = {
  'construct-pem-chain': {
    type: 'boolean',
    default: true,
    usage: 'order the certificates of a PFX-backed secret converted to PEM leaf, intermediates, root',
  },
  'write-cert-and-key-in-separate-files': {
    type: 'boolean',
    default: false,
    usage: 'also write <file>.crt and <file>.key for certificate-backed secrets (never empty ones)',
  },
  'cloud-name': {
    type: 'string',
    default: 'AzurePublicCloud',
    usage:
      'the cloud of a SecretProviderClass without cloudName (AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, AzureGermanCloud, AzureStackCloud)',
  },
  'token-proxy-url': {
    type: 'string',
    default: '',
    usage: 'identity binding token proxy; https://kubernetes.default.svc.cluster.local when empty',
  },
  'sni-name': {
    type: 'string',
    default: '',
    usage: "identity binding TLS server name; computed from the API server's certificate when empty",
  },
  'custom-user-agent': {
    type: 'string',
    default: '',
    usage: 'text put before the user agent of every Key Vault and token request',
  },
  'enable-pprof': { type: 'boolean', default: false, usage: 'accepted for compatibility; there is no pprof' },
  'pprof-port': { type: 'integer', default: 6060, usage: 'accepted for compatibility; there is no pprof' },
  'object-cache-ttl': {
    type: 'duration',
    default: '1m',
    usage:
      "how long an object fetched for an identity answers that identity's later mounts; keep it below the driver's --rotation-poll-interval; 0s turns the cache off",
  },
  'max-concurrent-object-fetches': {
    type: 'integer',
    default: 8,
    usage: 'object versions of one mount fetched at once',
  },
  'max-concurrent-vault-requests': {
    type: 'integer',
    default: 16,
    usage: 'Key Vault requests in flight per vault from this node; the rest wait their turn',
  },
  'keyvault-max-retries': {
    type: 'integer',
    default: DEFAULT_RETRY_SETTINGS.maxRetries,
    usage: 'retries of a throttled (429) or failed (408, 5xx, connection) Key Vault or token request',
  },
  'nmi-url': {
    type: 'string',
    default: 'http://localhost:2579',
    usage: 'the aad-pod-identity NMI endpoint for usePodIdentity (deprecated)',
  },
} as const;

type Flags = FlagValues<typeof azureProviderFlags>;

/** Entries the object cache keeps; each is one object version of one identity. */
const OBJECT_CACHE_MAX_ENTRIES = 10_000;

export async function createAzureProvider(context: {
  readonly flags: Flags;
  readonly logger: Logger;
  readonly registry: Registry;
}): Promise<AzureProvider> {
  const { flags, logger, registry } = context;
  if (flags['keyvault-max-retries'] < 0) throw new Error('--keyvault-max-retries must not be negative');
  if (flags['object-cache-ttl'] < 0) throw new Error('--object-cache-ttl must not be negative');
  const defaultCloud = await cloudByName(flags['cloud-name']);
  if (flags['enable-pprof'])
    logger.warn('--enable-pprof is accepted for compatibility; this provider has no pprof');
  if (flags['construct-pem-chain']) logger.info('construct pem chain feature enabled');
  if (flags['write-cert-and-key-in-separate-files'])
    logger.info('write cert and key in separate files feature enabled');
  const retry = { ...DEFAULT_RETRY_SETTINGS, maxRetries: flags['keyvault-max-retries'] };
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
      defaultCloud,
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
      recordKeyVaultRequest: keyVaultRequestRecorder(registry),
      logger,
    },
  );
}
