/**
 * One credential per identity, reused across mounts. MSAL keeps tokens in memory per credential instance,
 * so reusing the instance is what makes the second mount of an identity skip Entra ID (upstream builds a
 * credential per mount and asks for a token every time, the root of its throttling complaints).
 *
 * Bounded: at most `maxIdentities` entries, least recently used dropped first, and entries idle longer than
 * `idleTimeoutMs` dropped. Workload identity and identity binding take the service-account token of each
 * mount; the entry keeps the latest one, and the credential's assertion callback returns it.
 */
import {
  ClientAssertionCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import { retryPolicy, type HttpClient, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { azureError, azureErrorCodes } from '../errors.js';
import {
  keyVaultRetryStrategy,
  retryAfterInMs,
  DEFAULT_RETRY_SETTINGS,
  type RetrySettings,
} from '../keyvault/retry.js';
import type { AuthConfig, AuthMode, CloudEnvironment } from '../model.js';
import { isNamedCloud } from '../parameters/clouds.js';
import {
  classifyCredentialError,
  networkCodeOf,
  type NetworkFailure,
  type ThrottleContext,
} from './credential-errors.js';
import { credentialKey, tenantOf } from './identity-key.js';
import {
  createTokenProxyHttpClient,
  defaultServiceAccountCaFile,
  defaultTokenProxyUrl,
  discoverSniName,
  validateTokenProxyUrl,
} from './identity-binding.js';
import { PodIdentityCredential } from './pod-identity.js';
import { redactSecrets } from './redact.js';

export interface CredentialOptions {
  /** `--custom-user-agent`: put before the SDK's user agent on every token request. */
  readonly userAgentPrefix?: string;
  /** `--token-proxy-url`; '' or undefined means https://kubernetes.default.svc.cluster.local. */
  readonly tokenProxyUrl?: string;
  /** `--sni-name`; '' or undefined means computed from the API server's certificate. */
  readonly sniName?: string;
  /** The token proxy's CA; defaults to the service-account CA. Used when it exists. */
  readonly caFile?: string;
  /** The aad-pod-identity NMI; defaults to http://localhost:2579. */
  readonly nmiUrl?: string;
  /** Token-request retries (429 with Retry-After, 408, 5xx, connection failures); Go azcore's values by default. */
  readonly retry?: RetrySettings;
  /** Where the SNI is discovered; kubernetes.default.svc.cluster.local:$KUBERNETES_SERVICE_PORT by default. */
  readonly apiServer?: { readonly host?: string; readonly port?: number };
  /**
   * MSAL's instance discovery for service principal and workload identity (upstream keeps it on). Tests and
   * air-gapped authority hosts turn it off. Identity binding always has it off.
   */
  readonly disableInstanceDiscovery?: boolean;
  /**
   * What sends the token requests of the SDK credentials (for identity binding: what sends them on to the
   * proxy); core-rest-pipeline's default client when undefined. Unit tests pass a fake.
   */
  readonly httpClient?: HttpClient;
}

export interface CredentialCacheOptions extends CredentialOptions {
  /** Identities kept; default 1000. */
  readonly maxIdentities?: number;
  /** An identity unused this long is dropped; default one hour. */
  readonly idleTimeoutMs?: number;
  /** For tests. */
  readonly now?: () => number;
}

interface Entry {
  readonly credential: CachedCredential;
  lastUsed: number;
  /** The latest service-account token (workload identity, identity binding), read by the assertion callback. */
  readonly latest: { assertion: string };
}

/** Throttling the token endpoint reported, kept per credential (MSAL's errors carry no headers). */
class ThrottleRecorder {
  last: ThrottleContext | undefined;
  /** The last token-endpoint request that got no answer (MSAL's NetworkError names neither URL nor cause). */
  network: NetworkFailure | undefined;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Outside the retry policy: sees the answer the retries ended with. */
  policy(): PipelinePolicy {
    return {
      name: 'secretsStoreTokenThrottleRecorder',
      sendRequest: async (request, next) => {
        let response;
        try {
          response = await next(request);
        } catch (error) {
          const code = networkCodeOf(error);
          if (code !== undefined) {
            this.network = {
              method: request.method,
              url: request.url.split('?')[0] ?? '',
              code,
              at: this.#now(),
            };
          }
          throw error;
        }
        this.network = undefined;
        const asked = retryAfterInMs(response, this.#now());
        if (response.status === 429 || (response.status === 503 && asked !== undefined)) {
          this.last = { status: response.status, retryAfterInMs: asked, at: this.#now() };
        } else if (response.status >= 200 && response.status < 300) {
          this.last = undefined;
        }
        return response;
      },
    };
  }
}

/** The credential handed out: the SDK's (or ours), with failures turned into classified ProviderErrors. */
export class CachedCredential implements TokenCredential {
  readonly mode: AuthMode;
  readonly #resolve: () => Promise<TokenCredential>;
  readonly #throttle: ThrottleRecorder;
  readonly #now: () => number;
  readonly #tenantId: string;
  /** Token requests in flight by scopes, tenant and claims: concurrent first mounts share one request. */
  readonly #inFlight = new Map<string, Promise<AccessToken | null>>();

  constructor(
    mode: AuthMode,
    resolve: () => Promise<TokenCredential>,
    throttle: ThrottleRecorder,
    now: () => number,
    tenantId = '',
  ) {
    this.mode = mode;
    this.#tenantId = tenantId;
    this.#resolve = resolve;
    this.#throttle = throttle;
    this.#now = now;
  }

  /**
   * One token request per identity, scopes, tenant and claims at a time: callers that arrive while one is
   * in flight (the first mounts of many pods of one identity) share its answer, instead of making 2-3
   * requests before MSAL's cache holds the token. The shared request runs without any one caller's abort
   * signal; each caller still stops waiting when its own signal fires.
   */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const key = JSON.stringify([scopes, options?.tenantId ?? '', options?.claims ?? '']);
    let shared = this.#inFlight.get(key);
    if (shared === undefined) {
      const { abortSignal: _ignored, ...rest } = options ?? {};
      const request = this.#getToken(scopes, rest);
      shared = request;
      this.#inFlight.set(key, request);
      const done = () => {
        if (this.#inFlight.get(key) === request) this.#inFlight.delete(key);
      };
      request.then(done, done);
    }
    const signal = options?.abortSignal;
    if (signal === undefined) return shared;
    if (signal.aborted) return Promise.reject(abortErrorOf(signal));
    return new Promise<AccessToken | null>((resolve, reject) => {
      const onAbort = () => {
        reject(abortErrorOf(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(
        (token) => {
          signal.removeEventListener('abort', onAbort);
          resolve(token);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  async #getToken(scopes: string | string[], options: GetTokenOptions): Promise<AccessToken | null> {
    // What the pipeline records from here on belongs to this request.
    this.#throttle.network = undefined;
    try {
      const inner = await this.#resolve();
      return await inner.getToken(scopes, options);
    } catch (error) {
      const network = this.#throttle.network;
      const classified = classifyCredentialError(error, this.#throttle.last, this.#now(), network);
      const otherTenant = /not configured to acquire tokens for tenant (\S+?)\.? To enable/.exec(
        error instanceof Error ? error.message : '',
      )?.[1];
      if (otherTenant !== undefined) {
        // The SDK's advice (AdditionallyAllowedTenants on the credential options) is not a setting any user
        // of the provider has: say which tenants differ and what to change.
        throw azureError(
          azureErrorCodes.authenticationFailed,
          `the Key Vault belongs to tenant ${otherTenant}, but the SecretProviderClass's tenantId is ` +
            `${this.#tenantId === '' ? '(not set)' : this.#tenantId}: set tenantId to ${otherTenant} with an identity ` +
            `of that tenant, or use a vault of tenant ${this.#tenantId}`,
          { cause: error },
        );
      }
      if (classified === undefined) {
        if (error instanceof Error && error.name === 'AbortError') throw error;
        throw azureError(
          azureErrorCodes.authenticationFailed,
          redactSecrets(error instanceof Error ? error.message : String(error), 1024),
          { cause: error },
        );
      }
      throw azureError(classified.code, classified.message, { cause: error });
    }
  }
}

function abortErrorOf(signal: object): Error {
  const reason: unknown = (signal as { reason?: unknown }).reason;
  if (reason instanceof Error) return reason;
  const error = new Error('The operation was aborted.');
  error.name = 'AbortError';
  return error;
}

/** azidentity's rule for a tenant ID (Go and JavaScript alike). */
const VALID_TENANT_ID = /^[0-9A-Za-z.-]+$/;

interface IdentityBindingSetup {
  /** Shared by every identity-binding credential, so connections to the proxy are reused. */
  readonly httpClient: HttpClient;
}

export class CredentialCache {
  readonly #options: CredentialCacheOptions;
  readonly #maxIdentities: number;
  readonly #idleTimeoutMs: number;
  readonly #now: () => number;
  readonly #retry: RetrySettings;
  /** Insertion order is recency order: a hit moves the entry to the end. */
  readonly #entries = new Map<string, Entry>();
  #identityBinding: Promise<IdentityBindingSetup> | undefined;

  constructor(options: CredentialCacheOptions = {}) {
    const maxIdentities = options.maxIdentities ?? 1000;
    const idleTimeoutMs = options.idleTimeoutMs ?? 3600_000;
    if (!Number.isInteger(maxIdentities) || maxIdentities < 1)
      throw new RangeError('maxIdentities must be a positive integer');
    if (!(idleTimeoutMs > 0)) throw new RangeError('idleTimeoutMs must be positive');
    this.#options = options;
    this.#maxIdentities = maxIdentities;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#now = options.now ?? Date.now;
    this.#retry = options.retry ?? DEFAULT_RETRY_SETTINGS;
  }

  /** Identities held now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The credential for `auth`. `tenantFromParams` is used where the mode has no tenant of its own; `subject`
   * (`<namespace>/<serviceAccountName>`) tells workload-identity and identity-binding identities apart and is
   * ignored by the other modes.
   */
  get(auth: AuthConfig, cloud: CloudEnvironment, tenantFromParams: string, subject = ''): CachedCredential {
    const now = this.#now();
    this.#sweep(now);
    const key = credentialKey(auth, cloud, tenantFromParams, subject);
    let entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#entries.delete(key);
    } else {
      entry = this.#create(auth, cloud, tenantFromParams);
      while (this.#entries.size >= this.#maxIdentities) {
        const oldest = this.#entries.keys().next();
        if (oldest.done === true) break;
        this.#entries.delete(oldest.value);
      }
    }
    entry.lastUsed = now;
    if (auth.mode === 'workload-identity' || auth.mode === 'identity-binding')
      entry.latest.assertion = auth.serviceAccountToken;
    this.#entries.set(key, entry);
    return entry.credential;
  }

  /** Drops every identity (their tokens with them). */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * Resolves the identity-binding proxy settings (the SNI may need a TLS dial to the API server). main may
   * call it at startup to log a problem early; the error is only returned, and a mount that uses identity
   * binding reports it. Returns undefined when ready.
   */
  async prepareIdentityBinding(): Promise<Error | undefined> {
    try {
      await this.#identityBindingSetup();
      return undefined;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) {
      // Recency order: the first entry that is fresh enough ends the sweep.
      if (now - entry.lastUsed <= this.#idleTimeoutMs) break;
      this.#entries.delete(key);
    }
  }

  #sdkOptions(throttle: ThrottleRecorder) {
    const { userAgentPrefix, httpClient } = this.#options;
    return {
      ...(userAgentPrefix ? { userAgentOptions: { userAgentPrefix } } : {}),
      ...(httpClient ? { httpClient } : {}),
      // The SDK's default retry policy is turned off; the SDK's retryPolicy with our strategy (the one Key
      // Vault calls use) runs in its place, and the recorder sees the answer the retries end with.
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [
        { policy: throttle.policy(), position: 'perCall' as const },
        {
          policy: retryPolicy([keyVaultRetryStrategy(this.#retry)], { maxRetries: this.#retry.maxRetries }),
          position: 'perCall' as const,
        },
      ],
    };
  }

  #create(auth: AuthConfig, cloud: CloudEnvironment, tenantFromParams: string): Entry {
    const throttle = new ThrottleRecorder(this.#now);
    // The assertion callbacks read the entry's latest token; `get` updates it on every lookup.
    const latest = { assertion: 'serviceAccountToken' in auth ? auth.serviceAccountToken : '' };
    const ready = (credential: TokenCredential) => () => Promise.resolve(credential);
    const authorityHost = cloud.activeDirectoryEndpoint;
    // Instance discovery asks Microsoft's public endpoint about the authority: custom clouds (Azure Stack,
    // AD FS, air-gapped authorities) are not known there, so it is off for them.
    const disableInstanceDiscovery = this.#options.disableInstanceDiscovery === true || !isNamedCloud(cloud);
    const tenantId = tenantOf(auth, tenantFromParams);
    if (tenantId !== '' && !VALID_TENANT_ID.test(tenantId)) {
      // Upstream's text (its keyvault client wraps azidentity's error); a parameter fault, so InvalidArgument.
      throw azureError(
        azureErrorCodes.invalidParameter,
        'failed to get keyvault client: invalid tenantID. You can locate your tenantID by following the ' +
          'instructions listed here: https://learn.microsoft.com/partner-center/find-ids-and-domain-names',
      );
    }
    let resolve: () => Promise<TokenCredential>;
    switch (auth.mode) {
      case 'service-principal':
        resolve = ready(
          new ClientSecretCredential(tenantId, auth.clientId, auth.clientSecret, {
            authorityHost,
            disableInstanceDiscovery,
            ...this.#sdkOptions(throttle),
          }),
        );
        break;
      case 'workload-identity':
        resolve = ready(
          new ClientAssertionCredential(tenantId, auth.clientId, () => Promise.resolve(latest.assertion), {
            authorityHost,
            disableInstanceDiscovery,
            ...this.#sdkOptions(throttle),
          }),
        );
        break;
      case 'vm-managed-identity': {
        const { userAgentPrefix, httpClient } = this.#options;
        // ManagedIdentityCredential sets its own additional policies (IMDS 404/410 retries), so it keeps the
        // SDK's default retry policy (429 with Retry-After, 408, 5xx), with our counts and delays.
        const options = {
          ...(userAgentPrefix ? { userAgentOptions: { userAgentPrefix } } : {}),
          ...(httpClient ? { httpClient } : {}),
          retryOptions: { ...this.#retry },
        };
        const id = auth.userAssignedIdentityId;
        resolve = ready(
          id !== undefined && id !== ''
            ? new ManagedIdentityCredential({ clientId: id, ...options })
            : new ManagedIdentityCredential(options),
        );
        break;
      }
      case 'pod-identity':
        resolve = ready(
          new PodIdentityCredential({
            podNamespace: auth.podNamespace,
            podName: auth.podName,
            keyVaultResource: cloud.keyVaultEndpoint,
            ...(this.#options.nmiUrl ? { nmiUrl: this.#options.nmiUrl } : {}),
            ...(this.#options.userAgentPrefix ? { userAgent: this.#options.userAgentPrefix } : {}),
            now: this.#now,
          }),
        );
        break;
      case 'identity-binding': {
        let built: Promise<TokenCredential> | undefined;
        resolve = () => {
          built ??= this.#identityBindingSetup().then(
            (setup) =>
              new ClientAssertionCredential(
                tenantId,
                auth.clientId,
                () => Promise.resolve(latest.assertion),
                {
                  authorityHost,
                  ...this.#sdkOptions(throttle),
                  disableInstanceDiscovery: true,
                  httpClient: setup.httpClient,
                },
              ),
          );
          // A failed setup is tried again by the next mount.
          built.catch(() => {
            built = undefined;
          });
          return built;
        };
        break;
      }
    }
    const credential = new CachedCredential(auth.mode, resolve, throttle, this.#now, tenantId);
    return { credential, lastUsed: 0, latest };
  }

  #identityBindingSetup(): Promise<IdentityBindingSetup> {
    if (this.#identityBinding === undefined) {
      const attempt = this.#resolveIdentityBinding();
      this.#identityBinding = attempt;
      attempt.catch(() => {
        if (this.#identityBinding === attempt) this.#identityBinding = undefined;
      });
    }
    return this.#identityBinding;
  }

  async #resolveIdentityBinding(): Promise<IdentityBindingSetup> {
    const caFile = this.#options.caFile || defaultServiceAccountCaFile;
    let proxyUrl: string;
    try {
      proxyUrl = validateTokenProxyUrl(this.#options.tokenProxyUrl || defaultTokenProxyUrl);
    } catch (error) {
      throw azureError(
        azureErrorCodes.invalidIdentity,
        `proxy transport not available: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    let sniName = this.#options.sniName ?? '';
    if (sniName === '') {
      try {
        sniName = await discoverSniName({ ...this.#options.apiServer, caFile });
      } catch (error) {
        throw azureError(
          azureErrorCodes.authenticationFailed,
          `proxy transport not available: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    }
    const httpClient = createTokenProxyHttpClient({
      proxyUrl,
      sniName,
      caFile,
      ...(this.#options.httpClient ? { inner: this.#options.httpClient } : {}),
    });
    return { httpClient };
  }
}
