/**
 * Kubelet's service-account token manager (pkg/kubelet/token/token_manager.go) as CSI volumes use it: tokens
 * come from the TokenRequest API bound to the pod, are cached per (service account, audiences, expiration,
 * bound pod), and are fetched again once 80% of their lifetime has passed (or they are older than 24 h). A
 * failed refresh keeps serving the cached token until it expires. Kubelet's up-to-10-s random jitter on the
 * refresh point is left out, so tests are deterministic.
 */
import { ApiException, type CoreV1Api } from '@kubernetes/client-node';

const MAX_TTL_MS = 24 * 60 * 60 * 1000;

/** The text of an API error as client-go renders it (the Status message, such as `secrets "x" not found`). */
export function apiErrorText(error: unknown): string {
  if (error instanceof ApiException) {
    const raw: unknown = error.body;
    let body = raw;
    if (typeof raw === 'string') {
      try {
        body = JSON.parse(raw) as unknown;
      } catch {
        return raw || `HTTP ${error.code}`;
      }
    }
    const message = (body as { message?: unknown } | undefined)?.message;
    return typeof message === 'string' ? message : `HTTP ${error.code}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The HTTP status of an API error, if it is one. */
export function apiErrorCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export interface BoundTokenRequest {
  readonly namespace: string;
  readonly serviceAccountName: string;
  /** Empty for the API server's default audiences (a tokenRequest with audience ""). */
  readonly audiences: readonly string[];
  /** Unset: the API server's default (one hour). */
  readonly expirationSeconds: number | undefined;
  readonly podName: string;
  readonly podUid: string;
}

export interface ServiceAccountToken {
  readonly token: string;
  readonly expirationTimestamp: Date;
}

interface Cached extends ServiceAccountToken {
  readonly podUid: string;
  /** The lifetime the API server granted (the request's expirationSeconds after defaulting). */
  readonly lifetimeMs: number;
}

export class ServiceAccountTokenManager {
  readonly #core: CoreV1Api;
  readonly #now: () => Date;
  readonly #cache = new Map<string, Cached>();
  /** TokenRequest API calls made, for tests that check caching. */
  requests = 0;

  constructor(core: CoreV1Api, now: () => Date) {
    this.#core = core;
    this.#now = now;
  }

  /** `GetServiceAccountToken`: the cached token, or a new one when there is none or it needs a refresh. */
  async get(request: BoundTokenRequest): Promise<ServiceAccountToken> {
    const key = JSON.stringify([
      request.namespace,
      request.serviceAccountName,
      request.audiences,
      request.expirationSeconds ?? null,
      'v1',
      'Pod',
      request.podName,
      request.podUid,
    ]);
    const cached = this.#cache.get(key);
    if (cached && !this.#requiresRefresh(cached)) return cached;
    let fresh: Cached;
    try {
      fresh = await this.#fetch(request);
    } catch (error) {
      if (!cached) throw new Error(`failed to fetch token: ${apiErrorText(error)}`, { cause: error });
      if (this.#now().getTime() >= cached.expirationTimestamp.getTime()) {
        throw new Error(`token ${key} expired and refresh failed: ${apiErrorText(error)}`, { cause: error });
      }
      return cached;
    }
    this.#cache.set(key, fresh);
    return fresh;
  }

  /** `DeleteServiceAccountToken`: forgets the pod's tokens (kubelet does so when the pod is removed). */
  deleteForPod(podUid: string): void {
    for (const [key, cached] of this.#cache) if (cached.podUid === podUid) this.#cache.delete(key);
  }

  #requiresRefresh(cached: Cached): boolean {
    const now = this.#now().getTime();
    const expiry = cached.expirationTimestamp.getTime();
    const issuedAt = expiry - cached.lifetimeMs;
    if (now > issuedAt + MAX_TTL_MS) return true;
    return now > expiry - cached.lifetimeMs * 0.2;
  }

  async #fetch(request: BoundTokenRequest): Promise<Cached> {
    this.requests += 1;
    const answer = await this.#core.createNamespacedServiceAccountToken({
      name: request.serviceAccountName,
      namespace: request.namespace,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: [...request.audiences],
          ...(request.expirationSeconds === undefined
            ? {}
            : { expirationSeconds: request.expirationSeconds }),
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: request.podName, uid: request.podUid },
        },
      },
    });
    const token = answer.status?.token;
    const expirationTimestamp = answer.status?.expirationTimestamp;
    if (!token || !expirationTimestamp) throw new Error('the TokenRequest answer has no token');
    const expiry = new Date(expirationTimestamp);
    const grantedSeconds = answer.spec?.expirationSeconds;
    return {
      token,
      expirationTimestamp: expiry,
      podUid: request.podUid,
      lifetimeMs:
        grantedSeconds === undefined ? expiry.getTime() - this.#now().getTime() : grantedSeconds * 1000,
    };
  }
}
