/**
 * Pod identity (the deprecated aad-pod-identity): NMI on the node issues tokens for a pod's assigned identity.
 * Upstream's behaviour: one GET to `<nmi>/host/token/?resource=<Key Vault resource without trailing slash>`
 * with the pod's namespace and name as headers; the requested scopes are ignored.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { azureError, azureErrorCodes } from '../errors.js';
import { networkCause, networkCodeOf } from './credential-errors.js';
import { redactSecrets } from './redact.js';

export const defaultNmiUrl = 'http://localhost:2579';

export interface PodIdentityCredentialOptions {
  readonly podNamespace: string;
  readonly podName: string;
  /** The cloud's Key Vault resource, for example `https://vault.azure.net/`. */
  readonly keyVaultResource: string;
  /** Defaults to {@link defaultNmiUrl}. */
  readonly nmiUrl?: string;
  readonly userAgent?: string;
  /** For tests. */
  readonly now?: () => number;
}

interface NmiResponse {
  token?: { access_token?: unknown; expires_on?: unknown };
  clientid?: unknown;
}

/** Epoch seconds from NMI's `expires_on` (a JSON number or a numeric string) as epoch milliseconds, or undefined. */
export function parseExpiresOn(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : undefined;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  return undefined;
}

export class PodIdentityCredential implements TokenCredential {
  readonly #options: PodIdentityCredentialOptions;
  readonly #now: () => number;

  constructor(options: PodIdentityCredentialOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The URL NMI is asked; `resource` is not URL-encoded, as upstream sends it. */
  get tokenUrl(): string {
    const base = (this.#options.nmiUrl ?? defaultNmiUrl).replace(/\/+$/, '');
    const resource = this.#options.keyVaultResource.replace(/\/+$/, '');
    return `${base}/host/token/?resource=${resource}`;
  }

  async getToken(_scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const headers: Record<string, string> = {
      podns: this.#options.podNamespace,
      podname: this.#options.podName,
    };
    if (this.#options.userAgent !== undefined) headers['user-agent'] = this.#options.userAgent;
    let response: Response;
    try {
      response = await fetch(this.tokenUrl, {
        headers,
        ...(options?.abortSignal ? { signal: options.abortSignal as AbortSignal } : {}),
      });
    } catch (error) {
      // Upstream's Go error names the URL (`Get "<url>": dial tcp …`); say it, and the cause in words.
      const code = networkCodeOf(error);
      const host = new URL(this.tokenUrl).host;
      const cause = code !== undefined ? networkCause(code, host) : redactSecrets(errorText(error));
      throw azureError(
        azureErrorCodes.storeUnavailable,
        `failed to send request to nmi: GET ${this.tokenUrl}: ${cause} (is NMI of aad-pod-identity running on this node?)`,
        { cause: error },
      );
    }
    const body = await response.text();
    if (response.status !== 200) {
      throw azureError(
        azureErrorCodes.authenticationFailed,
        `nmi response failed with status code: ${response.status}, response body: ${redactSecrets(body)}`,
      );
    }
    let parsed: NmiResponse;
    try {
      parsed = JSON.parse(body) as NmiResponse;
    } catch (error) {
      throw azureError(
        azureErrorCodes.authenticationFailed,
        `failed to unmarshal nmi response: ${errorText(error)}`,
      );
    }
    const accessToken = parsed.token?.access_token;
    if (
      typeof accessToken !== 'string' ||
      accessToken === '' ||
      typeof parsed.clientid !== 'string' ||
      parsed.clientid === ''
    ) {
      throw azureError(
        azureErrorCodes.authenticationFailed,
        'nmi did not return expected values in response: token and clientid',
      );
    }
    // Upstream treats an unparsable expiry as an hour in the past: the token is used once, never cached.
    const expiresOnTimestamp = parseExpiresOn(parsed.token?.expires_on) ?? this.#now() - 3600_000;
    return { token: accessToken, expiresOnTimestamp, tokenType: 'Bearer' };
  }
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch says "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const reason =
    typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return reason !== '' ? `${error.message} (${reason})` : error.message;
}
