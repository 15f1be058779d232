/**
 * TEST INFRASTRUCTURE, not product code: a small stand-in for Microsoft Entra ID (Azure AD) so the real
 * @azure/identity credentials can get tokens on a machine without the internet.
 *
 * It serves, over HTTPS with the test CA:
 * - `GET /<tenant>/v2.0/.well-known/openid-configuration` (what MSAL reads with `disableInstanceDiscovery`),
 * - `GET /common/discovery/instance` (MSAL's instance discovery), also as `login.microsoftonline.com` on port
 *   443 of a loopback address of its own when asked (`instanceDiscoveryServing`): MSAL Go, in upstream's Azure
 *   provider, asks that fixed host about every authority it does not know, and real Entra answers with the
 *   authority's own metadata endpoint,
 * - `POST /<tenant>/oauth2/v2.0/token` for the client-credentials grant with a client secret (service
 *   principal) or a client assertion (workload identity: a Kubernetes service-account token, whose signature,
 *   issuer, subject and audience are checked against a registered federated credential),
 * and over plain HTTP on a second port the IMDS managed-identity route
 * `GET /metadata/identity/oauth2/token` (header `Metadata: true`), for system- and user-assigned identities.
 *
 * The access token's audience is the resource of the one non-OIDC scope (`https://vault.test/.default` gives
 * `https://vault.test`): MSAL Go adds `openid offline_access profile` to every request, which Entra ignores for
 * the client-credentials grant.
 *
 * Every request is recorded, and failures (for example 429 with Retry-After) can be queued, so tests can
 * count token requests and exercise throttling.
 */
import { createHmac, createVerify, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { listenOnLoopback, mapHostsToLoopback, type LoopbackHosts } from './hosts.js';

/** The host MSAL asks about authorities it does not know (instance discovery). */
export const INSTANCE_DISCOVERY_HOST = 'login.microsoftonline.com';
/** Scopes MSAL adds to token requests that name no resource; Entra ignores them for client credentials. */
const OIDC_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email']);

export interface ServicePrincipal {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface FederatedCredential {
  readonly tenantId: string;
  readonly clientId: string;
  /** The service-account token issuer (the API server's --service-account-issuer). */
  readonly issuer: string;
  /** `system:serviceaccount:<namespace>:<name>` */
  readonly subject: string;
  /** Defaults to api://AzureADTokenExchange. */
  readonly audience?: string;
}

export interface ManagedIdentity {
  /** Undefined for the system-assigned identity. */
  readonly clientId?: string;
  readonly tenantId: string;
}

export interface TokenRequestRecord {
  readonly kind: 'client-secret' | 'client-assertion' | 'managed-identity';
  readonly tenantId: string;
  readonly clientId: string | undefined;
  readonly scopeOrResource: string;
  readonly status: number;
}

export interface QueuedFailure {
  readonly status: number;
  readonly retryAfterSeconds?: number;
}

export interface TokenEndpoint {
  /** https://localhost:<port>, the `authorityHost` for @azure/identity. */
  readonly authorityHost: string;
  /** http://127.0.0.1:<port>, the IMDS host for managed identity. */
  readonly imdsEndpoint: string;
  /** Where `login.microsoftonline.com` is served, when instanceDiscoveryServing was given. */
  readonly instanceDiscoveryAddress?: string;
  readonly requests: readonly TokenRequestRecord[];
  addServicePrincipal(principal: ServicePrincipal): void;
  addFederatedCredential(credential: FederatedCredential): void;
  addManagedIdentity(identity: ManagedIdentity): void;
  /** The next token requests fail with these statuses, in order. */
  queueFailures(...failures: QueuedFailure[]): void;
  /** Drops the queued failures a test did not use up, so they cannot leak into the next one. */
  clearFailures(): void;
  /** Reads the claims of an access token this endpoint issued (tests check what the provider presented). */
  decodeAccessToken(token: string): Record<string, unknown>;
  stop(): Promise<void>;
}

export interface TokenEndpointOptions {
  readonly certPath: string;
  readonly keyPath: string;
  /** PEM public keys that may sign client assertions (the API server's service-account keys). */
  readonly assertionPublicKeyPaths?: readonly string[];
  readonly tokenLifetimeSeconds?: number;
  /**
   * A serving certificate for `login.microsoftonline.com` (issueInstanceDiscoveryServing): the stand-in then
   * also listens on port 443 of a random loopback address and maps that name to it in /etc/hosts (waiting while
   * another test process maps it), so MSAL Go's instance discovery reaches it. stop() removes the mapping.
   */
  readonly instanceDiscoveryServing?: { readonly certPath: string; readonly keyPath: string };
}

const base64url = (input: Buffer | string) => Buffer.from(input).toString('base64url');

export async function startTokenEndpoint(options: TokenEndpointOptions): Promise<TokenEndpoint> {
  const signingKey = randomBytes(32);
  const principals: ServicePrincipal[] = [];
  const federated: FederatedCredential[] = [];
  const identities: ManagedIdentity[] = [];
  const requests: TokenRequestRecord[] = [];
  const failures: QueuedFailure[] = [];
  const assertionKeys = await Promise.all(
    (options.assertionPublicKeyPaths ?? []).map((p) => readFile(p, 'utf8')),
  );
  const lifetime = options.tokenLifetimeSeconds ?? 3600;

  const issueToken = (claims: Record<string, unknown>) => {
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const now = Math.floor(Date.now() / 1000);
    const body = base64url(
      JSON.stringify({ ...claims, iat: now, nbf: now, exp: now + lifetime, jti: randomUUID() }),
    );
    const signature = createHmac('sha256', signingKey).update(`${header}.${body}`).digest('base64url');
    return `${header}.${body}.${signature}`;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const takeFailure = (res: ServerResponse): QueuedFailure | undefined => {
    const failure = failures.shift();
    if (failure === undefined) return undefined;
    send(
      res,
      failure.status,
      {
        error: failure.status === 429 ? 'too_many_requests' : 'server_error',
        error_description: 'injected by the test',
      },
      failure.retryAfterSeconds !== undefined ? { 'retry-after': String(failure.retryAfterSeconds) } : {},
    );
    return failure;
  };

  let authorityHost = '';

  const handleAuthority = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', authorityHost);
    const [tenantId = '', ...rest] = url.pathname.split('/').filter(Boolean);
    const path = rest.join('/');
    if (req.method === 'GET' && tenantId === 'common' && path === 'discovery/instance') {
      instanceDiscovery(url, res);
      return;
    }
    if (req.method === 'GET' && path === 'v2.0/.well-known/openid-configuration') {
      send(res, 200, {
        issuer: `${authorityHost}/${tenantId}/v2.0`,
        token_endpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
        authorization_endpoint: `${authorityHost}/${tenantId}/oauth2/v2.0/authorize`,
        jwks_uri: `${authorityHost}/${tenantId}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: null,
      });
      return;
    }
    if (req.method === 'POST' && path === 'oauth2/v2.0/token') {
      const form = new URLSearchParams(await readBody(req));
      const clientId = form.get('client_id') ?? undefined;
      const scope = form.get('scope') ?? '';
      const assertion = form.get('client_assertion');
      const kind = assertion !== null ? 'client-assertion' : 'client-secret';
      const record = (status: number) =>
        requests.push({ kind, tenantId, clientId, scopeOrResource: scope, status });
      const failure = takeFailure(res);
      if (failure !== undefined) {
        record(failure.status);
        return;
      }
      if (form.get('grant_type') !== 'client_credentials') {
        record(400);
        send(res, 400, {
          error: 'unsupported_grant_type',
          error_description: 'only client_credentials is served',
        });
        return;
      }
      const problem =
        assertion !== null
          ? checkAssertion(assertion, tenantId, clientId, federated, assertionKeys)
          : principals.some(
                (p) =>
                  p.tenantId === tenantId &&
                  p.clientId === clientId &&
                  p.clientSecret === form.get('client_secret'),
              )
            ? undefined
            : 'AADSTS7000215: Invalid client secret provided.';
      if (problem !== undefined) {
        record(401);
        send(res, 401, { error: 'invalid_client', error_description: problem });
        return;
      }
      const resources = scope.split(' ').filter((s) => s !== '' && !OIDC_SCOPES.has(s));
      if (resources.length !== 1) {
        record(400);
        send(res, 400, {
          error: 'invalid_scope',
          error_description: `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        });
        return;
      }
      record(200);
      const audience = (resources[0] ?? '').replace(/\/\.default$/, '');
      send(res, 200, {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: issueToken({ aud: audience, tid: tenantId, appid: clientId, grant: kind }),
      });
      return;
    }
    send(res, 404, { error: 'not_found', error_description: `no route ${req.method ?? ''} ${url.pathname}` });
  };

  /**
   * Instance discovery as Entra answers it for an authority it knows: where the authority's OpenID metadata is,
   * and the authority host as its own only alias. Any other authority is an unknown instance.
   */
  const instanceDiscovery = (url: URL, res: ServerResponse) => {
    const endpoint = url.searchParams.get('authorization_endpoint') ?? '';
    let authorization: URL | undefined;
    try {
      authorization = new URL(endpoint);
    } catch {
      // answered below
    }
    const tenant = authorization?.pathname.split('/').filter(Boolean)[0];
    const authority = new URL(authorityHost);
    if (authorization?.origin !== authority.origin || tenant === undefined) {
      send(res, 400, {
        error: 'invalid_instance',
        error_description: `AADSTS50049: Unknown or invalid instance. authorization_endpoint: ${endpoint}`,
        error_codes: [50049],
      });
      return;
    }
    send(res, 200, {
      tenant_discovery_endpoint: `${authorityHost}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [
        { preferred_network: authority.host, preferred_cache: authority.host, aliases: [authority.host] },
      ],
    });
  };

  const handleImds = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // MSAL asks for the path with a trailing slash; real IMDS answers both.
    if (url.pathname.replace(/\/$/, '') !== '/metadata/identity/oauth2/token') {
      send(res, 404, { error: 'not_found' });
      return;
    }
    const clientId = url.searchParams.get('client_id') ?? undefined;
    const resource = url.searchParams.get('resource') ?? '';
    const identity = identities.find((i) => i.clientId === clientId);
    const record = (status: number) =>
      requests.push({
        kind: 'managed-identity',
        tenantId: identity?.tenantId ?? '',
        clientId,
        scopeOrResource: resource,
        status,
      });
    if (req.headers.metadata !== 'true') {
      record(400);
      send(res, 400, {
        error: 'invalid_request',
        error_description: 'Required metadata header not specified',
      });
      return;
    }
    const failure = takeFailure(res);
    if (failure !== undefined) {
      record(failure.status);
      return;
    }
    if (identity === undefined) {
      record(400);
      send(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
      return;
    }
    record(200);
    const now = Math.floor(Date.now() / 1000);
    send(res, 200, {
      token_type: 'Bearer',
      access_token: issueToken({
        aud: resource,
        tid: identity.tenantId,
        appid: clientId ?? 'system-assigned',
        grant: 'managed-identity',
      }),
      expires_in: String(lifetime),
      expires_on: String(now + lifetime),
      resource,
    });
  };

  const [cert, key] = await Promise.all([readFile(options.certPath), readFile(options.keyPath)]);
  const onAuthority = (req: IncomingMessage, res: ServerResponse) => {
    handleAuthority(req, res).catch((error: unknown) => {
      send(res, 500, { error: 'server_error', error_description: String(error) });
    });
  };
  // Idle keep-alive sockets stay open for the whole run: with Node's 5 s default, a client that reuses one just
  // as the server closes it sees ECONNRESET, which under load turned a queued 429 into a network error.
  const keepAlive = { keepAliveTimeout: 10 * 60_000 };
  const https = createHttpsServer({ cert, key, ...keepAlive }, onAuthority);
  const http = createHttpServer(keepAlive, handleImds);
  await Promise.all([
    new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve)),
  ]);
  authorityHost = `https://localhost:${(https.address() as AddressInfo).port}`;

  // login.microsoftonline.com: the same routes (only discovery is asked there), on 443 of an address of its own.
  let discovery:
    { server: ReturnType<typeof createHttpsServer>; address: string; hosts: LoopbackHosts } | undefined;
  if (options.instanceDiscoveryServing !== undefined) {
    const serving = options.instanceDiscoveryServing;
    const [dCert, dKey] = await Promise.all([readFile(serving.certPath), readFile(serving.keyPath)]);
    const server = createHttpsServer({ cert: dCert, key: dKey }, onAuthority);
    try {
      const address = await listenOnLoopback(server, undefined, 443);
      if ((server.address() as AddressInfo).port !== 443) {
        throw new Error(
          `instance discovery needs port 443 (as root), got ${(server.address() as AddressInfo).port}`,
        );
      }
      const hosts = await mapHostsToLoopback([INSTANCE_DISCOVERY_HOST], { address });
      discovery = { server, address, hosts };
    } catch (error) {
      server.close();
      https.close();
      http.close();
      throw error;
    }
  }

  return {
    authorityHost,
    imdsEndpoint: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    ...(discovery !== undefined && { instanceDiscoveryAddress: discovery.address }),
    requests,
    addServicePrincipal: (p) => principals.push(p),
    addFederatedCredential: (c) => federated.push(c),
    addManagedIdentity: (i) => identities.push(i),
    queueFailures: (...f) => failures.push(...f),
    clearFailures: () => {
      failures.length = 0;
    },
    decodeAccessToken(token) {
      const [header = '', body = '', signature = ''] = token.split('.');
      const expected = createHmac('sha256', signingKey).update(`${header}.${body}`).digest('base64url');
      if (signature !== expected) throw new Error('not an access token issued by this endpoint');
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    },
    async stop() {
      const servers = [https, http, ...(discovery === undefined ? [] : [discovery.server])];
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      await discovery?.hosts.remove();
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Checks a workload-identity client assertion; returns what is wrong, or undefined when it is good. */
function checkAssertion(
  assertion: string,
  tenantId: string,
  clientId: string | undefined,
  federated: readonly FederatedCredential[],
  publicKeys: readonly string[],
): string | undefined {
  const [header = '', body = '', signature = ''] = assertion.split('.');
  let claims: { iss?: unknown; sub?: unknown; aud?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return 'AADSTS50027: JWT token is invalid or malformed.';
  }
  const signed = publicKeys.some((key) =>
    createVerify('RSA-SHA256').update(`${header}.${body}`).verify(key, Buffer.from(signature, 'base64url')),
  );
  if (!signed) return 'AADSTS700027: Client assertion contains an invalid signature.';
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
    return 'AADSTS700024: Client assertion is not within its valid time range.';
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const match = federated.find(
    (f) =>
      f.tenantId === tenantId &&
      f.clientId === clientId &&
      f.issuer === claims.iss &&
      f.subject === claims.sub &&
      audiences.includes(f.audience ?? 'api://AzureADTokenExchange'),
  );
  return match === undefined
    ? `AADSTS70021: No matching federated identity record found for presented assertion issuer '${String(claims.iss)}' and subject '${String(claims.sub)}'.`
    : undefined;
}
