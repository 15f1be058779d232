/**
 * The provider process's wiring: its own flags (upstream's names next to the SDK's standard ones, plus ours
 * for the cache and concurrency), and `createAzureProvider`, which builds the provider from the parsed flags.
 * main.ts hands both to the SDK's `runProvider`.
 */
import { HeapCompactor } from '@secrets-store-csi/core';
import type { FlagValues, Logger, SecretProvider } from '@secrets-store-csi/provider-sdk';
import type { Registry } from 'prom-client';
import { DEFAULT_RETRY_SETTINGS } from './keyvault/retry.js';
import { keyVaultRequestRecorder } from './metrics.js';
import { PROVIDER_NAME, PROVIDER_VERSION, RUNTIME_NAME } from './names.js';
// clouds.ts directly: the parameters index would bring the YAML parser (objects.ts) into the idle process.
import { cloudByName } from './parameters/clouds.js';
import type * as WiringModuleNamespace from './wiring.js';
import type { AzureProviderWiring } from './wiring.js';

type WiringModule = typeof WiringModuleNamespace;

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

export type AzureProviderFlags = FlagValues<typeof azureProviderFlags>;

/**
 * Checks the flags and registers the metrics now, so a bad flag stops the process at start; the Azure SDK
 * (@azure/identity with MSAL, the Key Vault clients, the REST pipeline: about 20 MiB of RSS) is loaded and the
 * provider built on the first mount, so an idle node pays only for the gRPC server.
 */
export async function createAzureProvider(context: {
  readonly flags: AzureProviderFlags;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * How the Azure half is loaded on the first mount: a dynamic import by default. Tests that already hold
   * the module pass it, so the test runner never holds two instances of the same sources.
   */
  readonly loadWiring?: () => Promise<WiringModule>;
  /**
   * Gives the V8 heap's free pages back once no mount has run for a few seconds (a rotation sweep grows the
   * committed heap by several MiB that V8 keeps otherwise); a real one from the first mount on by default.
   */
  readonly heapCompactor?: Pick<HeapCompactor, 'start' | 'callStarted'>;
}): Promise<SecretProvider> {
  const { flags, logger, registry, loadWiring = () => import('./wiring.js') } = context;
  const heapCompactor = context.heapCompactor ?? new HeapCompactor();
  if (flags['keyvault-max-retries'] < 0) throw new Error('--keyvault-max-retries must not be negative');
  if (flags['object-cache-ttl'] < 0) throw new Error('--object-cache-ttl must not be negative');
  if (flags['max-concurrent-vault-requests'] < 1) {
    throw new Error('--max-concurrent-vault-requests must be a positive integer');
  }
  const defaultCloud = await cloudByName(flags['cloud-name']);
  if (flags['enable-pprof'])
    logger.warn('--enable-pprof is accepted for compatibility; this provider has no pprof');
  if (flags['construct-pem-chain']) logger.info('construct pem chain feature enabled');
  if (flags['write-cert-and-key-in-separate-files'])
    logger.info('write cert and key in separate files feature enabled');
  const wiring: AzureProviderWiring = {
    flags,
    logger,
    defaultCloud,
    retry: { ...DEFAULT_RETRY_SETTINGS, maxRetries: flags['keyvault-max-retries'] },
    recordKeyVaultRequest: keyVaultRequestRecorder(registry),
  };
  let provider: Promise<SecretProvider> | undefined;
  const load = () => {
    provider ??= loadWiring().then((module) => module.buildAzureProvider(wiring));
    // A failed load (it should not happen) is retried by the next mount.
    provider.catch(() => {
      provider = undefined;
    });
    return provider;
  };
  return {
    name: PROVIDER_NAME,
    runtimeName: RUNTIME_NAME,
    version: PROVIDER_VERSION,
    mount: async (request, options) => {
      heapCompactor.start();
      const ended = heapCompactor.callStarted();
      try {
        return await (await load()).mount(request, options);
      } finally {
        ended();
      }
    },
  };
}
