/**
 * TEST INFRASTRUCTURE, not product code: a small Azure Key Vault double. The upstream test plan used Lowkey
 * Vault (a Java Key Vault emulator), but Maven Central is not reachable from these machines, so this stands in
 * for it. It is reached by the real @azure/keyvault-* SDKs over real HTTPS and answers with the REST API's
 * JSON shapes, status codes and error bodies, so the provider under test cannot tell it from Key Vault for the
 * operations it uses: reading secrets, keys and certificates and listing versions.
 *
 * One HTTPS server serves many vaults, told apart by the Host header (`https://kv1.<dnsSuffix>/`), as real
 * vaults are. Requests without a valid bearer token get Key Vault's 401 challenge pointing at the Entra
 * stand-in (entra.ts), so the SDK's challenge authentication runs for real. Like Key Vault, the double serves
 * port 443 and its challenge resource is `https://<dnsSuffix>` without a port: the Go SDK (upstream's provider,
 * in the interop suite) requires the vault's `host:port` to end with `.<resource host:port>`. Each double
 * listens on 443 of its own random loopback address (so concurrent test processes never collide) and its vault
 * names are mapped to that address (`mapVaultHosts`, hosts.ts); the serving certificate needs the SANs
 * `*.<dnsSuffix>` and `<dnsSuffix>` (pki.ts `issueVaultServing` makes a unique suffix per certificate). Where
 * port 443 may not be bound (not root), it falls back to a random port on that address, which only clients that
 * ignore the port in the challenge (the Node SDK) accept.
 *
 * Not modelled: deletion and recovery, backup, cryptographic operations, certificate creation and policies
 * beyond what import reports, access policies/RBAC (any valid token may do anything), name case-folding of
 * ids (names are matched case-insensitively but ids use the case they were created with).
 */
import { execFileSync } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  X509Certificate,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenOnLoopback, mapHostsToLoopback, type HostsFileOptions, type LoopbackHosts } from './hosts.js';

export type ObjectKind = 'secrets' | 'keys' | 'certificates';
export type KeyType = 'RSA' | 'RSA-HSM' | 'EC' | 'EC-HSM' | 'oct' | 'oct-HSM';
export type CurveName = 'P-256' | 'P-384' | 'P-521' | 'P-256K';

export interface KeyVaultDoubleOptions {
  readonly certPath: string;
  readonly keyPath: string;
  /** Vault `kv1` is https://kv1.<dnsSuffix>. Default `vault.test`; issueVaultServing gives a unique one. */
  readonly dnsSuffix?: string;
  /** The loopback address to listen on. Default: a random one of 127.0.0.0/8 (randomLoopbackAddress). */
  readonly address?: string;
  /** Default 443, as Key Vault (0 or a refused 443 picks a free port). */
  readonly port?: number;
  /** The Entra authority host for the 401 challenge, e.g. TokenEndpoint.authorityHost; a vault may override it. */
  readonly authorityHost: string;
  /** The challenge's `resource` (tokens are requested for `<resource>/.default`). Default https://<dnsSuffix>. */
  readonly resource?: string;
  /**
   * Checks a bearer token and returns its claims, or throws (e.g. TokenEndpoint.decodeAccessToken). Without it
   * any bearer token is accepted. When the claims carry `aud` or `tid`, they must match the resource and the
   * vault's tenant, as Key Vault requires.
   */
  readonly verifyAccessToken?: (token: string) => Record<string, unknown>;
  /** Items per page of version and object lists (the client's `maxresults` may ask for fewer). Default 25. */
  readonly pageSize?: number;
  /** Artificial latency added to every request, for benchmarks. Default 0. */
  readonly latencyMs?: number;
}

export interface VaultOptions {
  readonly tenantId: string;
  /** Overrides KeyVaultDoubleOptions.authorityHost for this vault's challenge. */
  readonly authorityHost?: string;
}

export interface ObjectOptions {
  readonly enabled?: boolean;
  /** Creation time (also the update time); default now. */
  readonly created?: Date;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface SecretOptions extends ObjectOptions {
  readonly contentType?: string;
}

export interface KeyOptions extends ObjectOptions {
  readonly kty: KeyType;
  /** For EC keys; default P-256. */
  readonly crv?: CurveName;
  /** For RSA keys; default 2048. */
  readonly keySize?: number;
  readonly keyOps?: readonly string[];
}

/** What importCertificate takes: a PKCS#12 file (base64 of it becomes the secret) or PEM text (key + chain). */
export type CertificateSource =
  { readonly pfx: Buffer; readonly password?: string } | { readonly pem: string };

export interface KeyVaultRequestRecord {
  readonly method: string;
  /** Undefined when the Host header named no vault of this double. */
  readonly vault: string | undefined;
  /** The URL path without the query. */
  readonly path: string;
  readonly status: number;
  readonly authenticated: boolean;
  /** What verifyAccessToken returned for the bearer token. */
  readonly claims?: Record<string, unknown>;
}

export interface KeyVaultFailure {
  /** 429 answers as Key Vault's throttling (code Throttled); 403 as an RBAC refusal; 5xx as a service error. */
  readonly status: number;
  readonly retryAfterSeconds?: number;
  /** Sent as `retry-after-ms` (which the SDK prefers) and, rounded up, as `Retry-After`. */
  readonly retryAfterMs?: number;
}

export type RequestMatch =
  | ((request: { readonly method: string; readonly vault: string; readonly path: string }) => boolean)
  | { readonly vault?: string; readonly method?: string; readonly pathPrefix?: string };

export interface KeyVaultDouble {
  /** The loopback address the double listens on (its vault names must resolve to it). */
  readonly address: string;
  /** 443 unless that port could not be bound. */
  readonly port: number;
  /** `<random>.vault.test` */
  readonly dnsSuffix: string;
  /**
   * The DNS suffix for clients that build vault URLs as https://<vault>.<suffix> (a cloud file's
   * keyVaultDNSSuffix): the dnsSuffix, with `:<port>` only when the port is not 443.
   */
  readonly dnsSuffixWithPort: string;
  readonly resource: string;
  /** Every request answered, in order (cleared in place by clearRequests). */
  readonly requests: readonly KeyVaultRequestRecord[];
  /** `<vault>.<dnsSuffix>`, the name to map to the double's address. */
  hostName(vault: string): string;
  /** Maps the host names of these vaults to the double's address in /etc/hosts (remove() undoes it). */
  mapVaultHosts(vaults: readonly string[], options?: HostsFileOptions): Promise<LoopbackHosts>;
  /** `https://<vault>.<dnsSuffix>` (with `:<port>` when not 443) */
  vaultUrl(vault: string): string;
  /** Creates an empty vault and returns its URL. */
  createVault(name: string, options: VaultOptions): string;
  /** Adds a secret version and returns its version id. */
  setSecret(vault: string, name: string, value: string, options?: SecretOptions): string;
  /** Generates a key (real RSA/EC key material; only the public JWK is kept) and returns its version id. */
  createKey(vault: string, name: string, options: KeyOptions): string;
  /**
   * Imports a certificate as Key Vault does: a certificate version plus a managed secret (the PFX or PEM, `kid`
   * set) and a managed key (the public JWK) with the same name and version. Returns the version id.
   */
  importCertificate(vault: string, name: string, source: CertificateSource, options?: ObjectOptions): string;
  /** Enables or disables a version; for certificates also its backing secret and key, as Key Vault does. */
  setEnabled(vault: string, kind: ObjectKind, name: string, version: string, enabled: boolean): void;
  /** Version ids of an object, oldest first (the last is the current version). */
  versions(vault: string, kind: ObjectKind, name: string): string[];
  clearRequests(): void;
  /** The next requests that `match` (and carry a valid token) are answered with these failures, in order. */
  queueFailures(match: RequestMatch, ...failures: KeyVaultFailure[]): void;
  setLatency(ms: number): void;
  close(): Promise<void>;
}

interface Attributes {
  enabled: boolean;
  created: number;
  updated: number;
  nbf?: number;
  exp?: number;
}

interface Version<T> {
  readonly version: string;
  readonly attributes: Attributes;
  tags?: Record<string, string>;
  /** True for the secret and key that back a certificate. */
  readonly managed: boolean;
  readonly data: T;
}

interface SecretData {
  readonly value: string;
  contentType?: string;
}

interface KeyData {
  /** Public JWK fields with the Key Vault kty (e.g. RSA-HSM), without kid and key_ops. */
  readonly jwk: Record<string, string>;
  readonly keyOps: readonly string[];
}

interface CertificateData {
  readonly cer: Buffer;
  readonly contentType: string;
  readonly subject: string;
  readonly keyProps: Record<string, unknown>;
}

interface Item<T> {
  readonly name: string;
  readonly versions: Version<T>[];
}

interface Vault {
  readonly name: string;
  readonly tenantId: string;
  readonly authorityHost: string;
  readonly secrets: Map<string, Item<SecretData>>;
  readonly keys: Map<string, Item<KeyData>>;
  readonly certificates: Map<string, Item<CertificateData>>;
}

/** An answer in Key Vault's error shape; thrown by handlers and turned into the response. */
class KeyVaultError extends Error {
  readonly status: number;
  readonly code: string;
  readonly innerCode: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    innerCode?: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.innerCode = innerCode;
    this.headers = headers;
  }
}

const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const SINGULAR = { secrets: 'secret', keys: 'key', certificates: 'certificate' } as const;
const NOT_FOUND_CODE = {
  secrets: 'SecretNotFound',
  keys: 'KeyNotFound',
  certificates: 'CertificateNotFound',
};
const RECOVERY = { recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 };
const CURVES: Record<CurveName, string> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
  'P-256K': 'secp256k1',
};
const RSA_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];
const EC_OPS = ['sign', 'verify'];
const OCT_OPS = ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'];

const newVersion = () => randomBytes(16).toString('hex');
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export async function startKeyVaultDouble(options: KeyVaultDoubleOptions): Promise<KeyVaultDouble> {
  const dnsSuffix = (options.dnsSuffix ?? 'vault.test').toLowerCase();
  const resource = options.resource ?? `https://${dnsSuffix}`;
  const pageSize = options.pageSize ?? 25;
  let latencyMs = options.latencyMs ?? 0;
  const vaults = new Map<string, Vault>();
  const requests: KeyVaultRequestRecord[] = [];
  const failures: { match: RequestMatch; failure: KeyVaultFailure }[] = [];
  let port = 0;
  const hostPort = () => (port === 443 ? '' : `:${port}`);

  const baseUrl = (vault: Vault) => `https://${vault.name}.${dnsSuffix}${hostPort()}`;
  const vaultNamed = (name: string): Vault => {
    const vault = vaults.get(name.toLowerCase());
    if (vault === undefined)
      throw new Error(`no vault ${name} in the Key Vault double; call createVault first`);
    return vault;
  };

  // ---- the data model, shared by the seeding API and the REST routes ----

  function addVersion<T>(
    map: Map<string, Item<T>>,
    name: string,
    data: T,
    opts: ObjectOptions & { version?: string; managed?: boolean; nbf?: number; exp?: number },
  ): string {
    if (!NAME.test(name))
      throw new KeyVaultError(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
    const item = map.get(name.toLowerCase()) ?? { name, versions: [] };
    map.set(name.toLowerCase(), item);
    const created = seconds(opts.created ?? new Date());
    const version = opts.version ?? newVersion();
    item.versions.push({
      version,
      attributes: { enabled: opts.enabled ?? true, created, updated: created, nbf: opts.nbf, exp: opts.exp },
      tags: opts.tags === undefined ? undefined : { ...opts.tags },
      managed: opts.managed ?? false,
      data,
    });
    return version;
  }

  function lookup<T>(
    map: Map<string, Item<T>>,
    kind: ObjectKind,
    name: string,
    version: string | undefined,
  ): { item: Item<T>; v: Version<T> } {
    const item = map.get(name.toLowerCase());
    const v = version ? item?.versions.find((x) => x.version === version) : item?.versions.at(-1);
    if (item === undefined || v === undefined) {
      const id = version ? `${name}/${version}` : name;
      throw new KeyVaultError(
        404,
        NOT_FOUND_CODE[kind],
        `A ${SINGULAR[kind]} with (name/id) ${id} was not found in this key vault. If you recently deleted this ${SINGULAR[kind]} you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    }
    return { item, v };
  }

  function readable<T>(kind: 'secrets' | 'keys', found: Version<T>): Version<T> {
    if (!found.attributes.enabled) {
      const type = SINGULAR[kind];
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation get is not allowed on a disabled ${type}.`,
        kind === 'secrets' ? 'SecretDisabled' : 'KeyDisabled',
      );
    }
    return found;
  }

  function setEnabled(vault: Vault, kind: ObjectKind, name: string, version: string, enabled: boolean): void {
    const kinds: ObjectKind[] = kind === 'certificates' ? ['certificates', 'secrets', 'keys'] : [kind];
    for (const k of kinds) {
      const attributes = lookup<unknown>(vault[k], k, name, version).v.attributes;
      attributes.enabled = enabled;
      attributes.updated = seconds(new Date());
    }
  }

  function importCertificate(
    vault: Vault,
    name: string,
    source: CertificateSource,
    opts: ObjectOptions,
  ): { version: string } {
    const parsed = parseCertificateSource(source);
    const version = newVersion();
    const nbf = seconds(new Date(parsed.leaf.validFrom));
    const exp = seconds(new Date(parsed.leaf.validTo));
    const common = { ...opts, version, nbf, exp };
    const jwk = publicJwk(parsed.leaf.publicKey);
    const ec = jwk.kty === 'EC';
    addVersion(
      vault.certificates,
      name,
      {
        cer: parsed.leaf.raw,
        contentType: parsed.contentType,
        subject: parsed.leaf.subject.split('\n').join(', '),
        keyProps: ec
          ? { exportable: true, kty: 'EC', crv: jwk.crv, reuse_key: false }
          : {
              exportable: true,
              kty: 'RSA',
              key_size: parsed.leaf.publicKey.asymmetricKeyDetails?.modulusLength,
              reuse_key: false,
            },
      },
      common,
    );
    addVersion(
      vault.secrets,
      name,
      { value: parsed.secretValue, contentType: parsed.contentType },
      { ...common, managed: true },
    );
    addVersion(vault.keys, name, { jwk, keyOps: ec ? EC_OPS : RSA_OPS }, { ...common, managed: true });
    return { version };
  }

  // ---- JSON as the REST API answers it ----

  const attributesJson = (a: Attributes) => ({ ...a, ...RECOVERY });

  function secretJson(vault: Vault, item: Item<SecretData>, v: Version<SecretData>, withValue: boolean) {
    return {
      ...(withValue ? { value: v.data.value } : {}),
      id: `${baseUrl(vault)}/secrets/${item.name}/${v.version}`,
      contentType: v.data.contentType,
      ...(v.managed ? { kid: `${baseUrl(vault)}/keys/${item.name}/${v.version}`, managed: true } : {}),
      attributes: attributesJson(v.attributes),
      tags: v.tags,
    };
  }

  function keyJson(vault: Vault, item: Item<KeyData>, v: Version<KeyData>) {
    return {
      key: { kid: `${baseUrl(vault)}/keys/${item.name}/${v.version}`, ...v.data.jwk, key_ops: v.data.keyOps },
      attributes: { ...attributesJson(v.attributes), exportable: false },
      tags: v.tags,
      ...(v.managed ? { managed: true } : {}),
    };
  }

  /** Like Key Vault, a certificate bundle carries the policy the certificate was imported under. */
  function certificateJson(vault: Vault, item: Item<CertificateData>, v: Version<CertificateData>) {
    const base = baseUrl(vault);
    return {
      id: `${base}/certificates/${item.name}/${v.version}`,
      kid: `${base}/keys/${item.name}/${v.version}`,
      sid: `${base}/secrets/${item.name}/${v.version}`,
      x5t: createHash('sha1').update(v.data.cer).digest('base64url'),
      cer: v.data.cer.toString('base64'),
      attributes: attributesJson(v.attributes),
      tags: v.tags,
      policy: {
        id: `${base}/certificates/${item.name}/policy`,
        key_props: v.data.keyProps,
        secret_props: { contentType: v.data.contentType },
        x509_props: { subject: v.data.subject, validity_months: 12 },
        issuer: { name: 'Unknown' },
        attributes: { enabled: true, created: v.attributes.created, updated: v.attributes.updated },
      },
    };
  }

  /** A list item: the item's id (with the version when listing versions), attributes, tags. */
  function listItem(
    vault: Vault,
    kind: ObjectKind,
    item: Item<unknown>,
    v: Version<unknown>,
    withVersion: boolean,
  ) {
    const id = `${baseUrl(vault)}/${kind}/${item.name}${withVersion ? `/${v.version}` : ''}`;
    const common = {
      attributes: attributesJson(v.attributes),
      tags: v.tags,
      ...(v.managed ? { managed: true } : {}),
    };
    if (kind === 'keys') return { kid: id, ...common };
    if (kind === 'secrets') return { id, contentType: (v.data as SecretData).contentType, ...common };
    return {
      id,
      x5t: createHash('sha1')
        .update((v.data as CertificateData).cer)
        .digest('base64url'),
      ...common,
    };
  }

  function page(url: URL, vault: Vault, all: readonly unknown[]) {
    // Key Vault allows clients 1 to 25 items a page; the double's own page size may be anything.
    const maxresults = url.searchParams.get('maxresults');
    const asked = maxresults === null ? pageSize : Number(maxresults);
    if (maxresults !== null && (!Number.isInteger(asked) || asked < 1 || asked > 25)) {
      throw new KeyVaultError(400, 'BadParameter', 'maxresults must be an integer between 1 and 25');
    }
    const size = Math.min(asked, pageSize);
    const token = url.searchParams.get('$skiptoken');
    const offset = token === null ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(offset) || offset < 0)
      throw new KeyVaultError(400, 'BadParameter', 'Invalid $skiptoken');
    const next = offset + size;
    const nextLink =
      next < all.length
        ? `${baseUrl(vault)}${url.pathname}?api-version=${url.searchParams.get('api-version') ?? ''}&$skiptoken=${Buffer.from(String(next)).toString('base64url')}&maxresults=${size}`
        : null;
    return { value: all.slice(offset, next), nextLink };
  }

  // ---- the REST routes ----

  function route(method: string, url: URL, vault: Vault, body: Record<string, unknown>): unknown {
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const [kind, name, third] = segments as [string | undefined, string | undefined, string | undefined];
    if (segments.length > 3 || (kind !== 'secrets' && kind !== 'keys' && kind !== 'certificates')) {
      throw notImplemented(method, url);
    }
    if (name !== undefined && !NAME.test(name)) {
      throw new KeyVaultError(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
    }
    const map: Map<string, Item<unknown>> = vault[kind];
    if (method === 'GET' && name === undefined) {
      const latest = [...map.values()].flatMap((item) => item.versions.slice(-1).map((v) => ({ item, v })));
      return page(
        url,
        vault,
        latest.map(({ item, v }) => listItem(vault, kind, item, v, false)),
      );
    }
    if (name === undefined) throw notImplemented(method, url);
    if (method === 'GET' && third === 'versions') {
      const { item } = lookup(map, kind, name, undefined);
      return page(
        url,
        vault,
        item.versions.map((v) => listItem(vault, kind, item, v, true)),
      );
    }
    if (method === 'GET') return render(vault, kind, name, third, 'get');
    if (method === 'PATCH') {
      const { v } = lookup(map, kind, name, third);
      const attributes = (body.attributes ?? {}) as Record<string, unknown>;
      if (typeof attributes.enabled === 'boolean')
        setEnabled(vault, kind, name, v.version, attributes.enabled);
      for (const field of ['nbf', 'exp'] as const) {
        if (typeof attributes[field] === 'number') v.attributes[field] = attributes[field];
      }
      if (body.tags !== undefined) v.tags = tagsOf(body.tags);
      if (kind === 'secrets' && typeof body.contentType === 'string') {
        (v.data as SecretData).contentType = body.contentType;
      }
      v.attributes.updated = seconds(new Date());
      return render(vault, kind, name, v.version, 'update');
    }
    const common = { ...attributeOptions(body.attributes), tags: tagsOf(body.tags) };
    if (method === 'PUT' && kind === 'secrets' && third === undefined) {
      if (typeof body.value !== 'string')
        throw new KeyVaultError(400, 'BadParameter', 'Property value is required');
      const data = { value: body.value, contentType: optionalString(body.contentType) };
      return render(vault, kind, name, addVersion(vault.secrets, name, data, common), 'write');
    }
    if (method === 'POST' && kind === 'keys' && third === 'create') {
      return render(vault, kind, name, addVersion(vault.keys, name, keyFromCreate(body), common), 'write');
    }
    if (method === 'PUT' && kind === 'keys' && third === undefined) {
      return render(vault, kind, name, addVersion(vault.keys, name, keyFromImport(body), common), 'write');
    }
    if (method === 'POST' && kind === 'certificates' && third === 'import') {
      if (typeof body.value !== 'string')
        throw new KeyVaultError(400, 'BadParameter', 'Property value is required');
      // The policy says which format the value is in, but @azure/keyvault-certificates 4.10 drops the policy
      // from import requests, so PEM text is also recognised by its armour.
      const policy = body.policy as { secret_props?: { contentType?: unknown } } | undefined;
      const contentType = policy?.secret_props?.contentType;
      const source: CertificateSource =
        contentType === 'application/x-pem-file' ||
        (contentType === undefined && body.value.trimStart().startsWith('-----BEGIN'))
          ? { pem: body.value }
          : { pfx: Buffer.from(body.value, 'base64'), password: optionalString(body.pwd) };
      return render(vault, kind, name, importCertificate(vault, name, source, common).version, 'write');
    }
    throw notImplemented(method, url);
  }

  /**
   * The bundle of one version. GET refuses disabled secrets and keys (not certificates, which are public);
   * answers to writes do not, and an update answers without the secret's value, like Key Vault.
   */
  function render(
    vault: Vault,
    kind: ObjectKind,
    name: string,
    version: string | undefined,
    answer: 'get' | 'write' | 'update',
  ) {
    if (kind === 'secrets') {
      const { item, v } = lookup(vault.secrets, kind, name, version);
      return secretJson(vault, item, answer === 'get' ? readable(kind, v) : v, answer !== 'update');
    }
    if (kind === 'keys') {
      const { item, v } = lookup(vault.keys, kind, name, version);
      return keyJson(vault, item, answer === 'get' ? readable(kind, v) : v);
    }
    const { item, v } = lookup(vault.certificates, kind, name, version);
    return certificateJson(vault, item, v);
  }

  // ---- the HTTP side: vault by Host, challenge, injected failures, recording ----

  function vaultOf(req: IncomingMessage): Vault | undefined {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (!host.endsWith(`.${dnsSuffix}`)) return undefined;
    return vaults.get(host.slice(0, -dnsSuffix.length - 1));
  }

  /** Returns the token's claims ({} without a verifier); throws the 401 challenge for a missing or bad token. */
  function authenticate(req: IncomingMessage, vault: Vault): Record<string, unknown> {
    const challenge = {
      'www-authenticate': `Bearer authorization="${vault.authorityHost}/${vault.tenantId}", resource="${resource}"`,
    };
    const unauthorized = (message: string) =>
      new KeyVaultError(401, 'Unauthorized', message, undefined, challenge);
    const match = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '');
    if (match?.[1] === undefined) throw unauthorized('AKV10000: Request is missing a Bearer or PoP token.');
    if (options.verifyAccessToken === undefined) return {};
    let claims: Record<string, unknown>;
    try {
      claims = options.verifyAccessToken(match[1]);
    } catch {
      throw unauthorized('AKV10022: Invalid token: the signature could not be validated.');
    }
    const audience = typeof claims.aud === 'string' ? claims.aud.replace(/\/$/, '') : undefined;
    if (audience !== undefined && audience !== resource.replace(/\/$/, '')) {
      throw unauthorized(`AKV10022: Invalid audience. Expected ${resource}, found: ${audience}.`);
    }
    if (typeof claims.tid === 'string' && claims.tid !== vault.tenantId) {
      throw unauthorized(
        `AKV10032: Invalid issuer. Expected one of ${vault.authorityHost}/${vault.tenantId}/, found: ${claims.tid}.`,
      );
    }
    return claims;
  }

  function takeFailure(method: string, vault: Vault, path: string): KeyVaultFailure | undefined {
    const index = failures.findIndex(({ match }) =>
      typeof match === 'function'
        ? match({ method, vault: vault.name, path })
        : (match.vault === undefined || match.vault.toLowerCase() === vault.name) &&
          (match.method === undefined || match.method.toUpperCase() === method) &&
          (match.pathPrefix === undefined || path.startsWith(match.pathPrefix)),
    );
    return index < 0 ? undefined : failures.splice(index, 1)[0]?.failure;
  }

  function failureError(failure: KeyVaultFailure): KeyVaultError {
    const headers: Record<string, string> = {};
    if (failure.retryAfterMs !== undefined) {
      headers['retry-after-ms'] = String(failure.retryAfterMs);
      headers['retry-after'] = String(Math.ceil(failure.retryAfterMs / 1000));
    }
    if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
    if (failure.status === 429) {
      return new KeyVaultError(
        429,
        'Throttled',
        'Request was not processed because too many requests were received. Reason: injected by the test',
        undefined,
        headers,
      );
    }
    if (failure.status === 403) {
      // Key Vault's refusal by RBAC: the caller may not read the object (not a disabled object).
      return new KeyVaultError(
        403,
        'Forbidden',
        'Caller is not authorized to perform action on resource. Injected by the test.',
        'ForbiddenByRbac',
        headers,
      );
    }
    const code = failure.status === 503 ? 'ServiceUnavailable' : 'InternalServerError';
    return new KeyVaultError(failure.status, code, 'Injected by the test.', undefined, headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req);
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://double.invalid');
    const vault = vaultOf(req);
    let claims: Record<string, unknown> | undefined;
    let status = 200;
    let body: unknown;
    let headers: Record<string, string> = {};
    try {
      if (vault === undefined) {
        throw new KeyVaultError(
          404,
          'VaultNotFound',
          `No vault of this Key Vault double serves host ${req.headers.host ?? ''}.`,
        );
      }
      claims = authenticate(req, vault);
      if (!/^(7\.\d|\d{4}-\d{2}-\d{2}(-preview)?)$/.test(url.searchParams.get('api-version') ?? '')) {
        throw new KeyVaultError(
          400,
          'BadParameter',
          'The request URI contains an invalid or missing api-version parameter.',
        );
      }
      const failure = takeFailure(method, vault, url.pathname);
      if (failure !== undefined) throw failureError(failure);
      body = route(method, url, vault, jsonObject(text));
    } catch (error) {
      if (!(error instanceof KeyVaultError)) throw error;
      status = error.status;
      headers = error.headers;
      body = {
        error: {
          code: error.code,
          message: error.message,
          ...(error.innerCode === undefined ? {} : { innererror: { code: error.innerCode } }),
        },
      };
    }
    requests.push({
      method,
      vault: vault?.name,
      path: url.pathname,
      status,
      authenticated: claims !== undefined,
      ...(claims === undefined || options.verifyAccessToken === undefined ? {} : { claims }),
    });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-request-id': randomUUID(),
      'x-ms-keyvault-service-version': '1.9.0.0',
      ...headers,
    });
    res.end(JSON.stringify(body));
  }

  const [cert, key] = await Promise.all([readFile(options.certPath), readFile(options.keyPath)]);
  const server = createServer({ cert, key }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'InternalServerError', message: String(error) } }));
    });
  });
  const address = await listenOnLoopback(server, options.address, options.port ?? 443);
  port = (server.address() as AddressInfo).port;
  const hostName = (vault: string) => `${vault.toLowerCase()}.${dnsSuffix}`;

  return {
    address,
    port,
    dnsSuffix,
    dnsSuffixWithPort: `${dnsSuffix}${hostPort()}`,
    resource,
    requests,
    hostName,
    mapVaultHosts: (vaults, hostsOptions = {}) =>
      mapHostsToLoopback(vaults.map(hostName), { ...hostsOptions, address }),
    vaultUrl: (vault) => `https://${hostName(vault)}${hostPort()}`,
    createVault(name, vaultOptions) {
      if (!/^[a-z0-9]([a-z0-9-]{1,22})[a-z0-9]$/i.test(name))
        throw new Error(`not a valid vault name: ${name}`);
      const vault: Vault = {
        name: name.toLowerCase(),
        tenantId: vaultOptions.tenantId,
        authorityHost: vaultOptions.authorityHost ?? options.authorityHost,
        secrets: new Map(),
        keys: new Map(),
        certificates: new Map(),
      };
      vaults.set(vault.name, vault);
      return baseUrl(vault);
    },
    setSecret: (vault, name, value, opts = {}) =>
      addVersion(vaultNamed(vault).secrets, name, { value, contentType: opts.contentType }, opts),
    createKey: (vault, name, opts) =>
      addVersion(
        vaultNamed(vault).keys,
        name,
        keyFromCreate({ kty: opts.kty, crv: opts.crv, key_size: opts.keySize, key_ops: opts.keyOps }),
        opts,
      ),
    importCertificate: (vault, name, source, opts = {}) =>
      importCertificate(vaultNamed(vault), name, source, opts).version,
    setEnabled: (vault, kind, name, version, enabled) => {
      setEnabled(vaultNamed(vault), kind, name, version, enabled);
    },
    versions: (vault, kind, name) =>
      ((vaultNamed(vault)[kind] as Map<string, Item<unknown>>).get(name.toLowerCase())?.versions ?? []).map(
        (v) => v.version,
      ),
    clearRequests: () => {
      requests.length = 0;
    },
    queueFailures: (match, ...added) => {
      failures.push(...added.map((failure) => ({ match, failure })));
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---- helpers without state ----

function notImplemented(method: string, url: URL): KeyVaultError {
  return new KeyVaultError(
    400,
    'BadParameter',
    `${method} ${url.pathname} is not served by the Key Vault test double.`,
  );
}

/** The request body as a JSON object ({} when empty, as the challenge request is). */
function jsonObject(text: string): Record<string, unknown> {
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // answered below
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new KeyVaultError(400, 'BadParameter', 'The request body is not a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function tagsOf(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new KeyVaultError(400, 'BadParameter', 'Tags must be an object of strings.');
  }
  return { ...(value as Record<string, string>) };
}

function attributeOptions(value: unknown): { enabled?: boolean; nbf?: number; exp?: number } {
  const a = (value ?? {}) as Record<string, unknown>;
  return {
    enabled: typeof a.enabled === 'boolean' ? a.enabled : undefined,
    nbf: typeof a.nbf === 'number' ? a.nbf : undefined,
    exp: typeof a.exp === 'number' ? a.exp : undefined,
  };
}

/** The public JWK fields of a key, with Key Vault's names (kty as given, e.g. RSA-HSM; curve P-256K). */
function publicJwk(key: KeyObject, kty?: string): Record<string, string> {
  const jwk = key.export({ format: 'jwk' });
  const curve = jwk.crv === 'secp256k1' ? 'P-256K' : jwk.crv;
  const fields: Record<string, string | undefined> =
    jwk.kty === 'RSA' ? { n: jwk.n, e: jwk.e } : { crv: curve, x: jwk.x, y: jwk.y };
  return {
    kty: kty ?? jwk.kty ?? '',
    ...(Object.fromEntries(Object.entries(fields).filter(([, v]) => v)) as Record<string, string>),
  };
}

function keyFromCreate(body: Record<string, unknown>): KeyData {
  const kty = body.kty;
  if (
    kty !== 'RSA' &&
    kty !== 'RSA-HSM' &&
    kty !== 'EC' &&
    kty !== 'EC-HSM' &&
    kty !== 'oct' &&
    kty !== 'oct-HSM'
  ) {
    throw new KeyVaultError(400, 'BadParameter', `The key type ${String(kty)} is not supported.`);
  }
  const crv = body.crv ?? 'P-256';
  if (typeof crv !== 'string' || !(crv in CURVES))
    throw new KeyVaultError(400, 'BadParameter', `Unsupported curve ${JSON.stringify(crv)}.`);
  const keySize = typeof body.key_size === 'number' ? body.key_size : 2048;
  if (kty.startsWith('RSA') && ![2048, 3072, 4096].includes(keySize)) {
    throw new KeyVaultError(400, 'BadParameter', `Unsupported key size ${keySize}.`);
  }
  const ops = Array.isArray(body.key_ops) ? (body.key_ops as string[]) : undefined;
  const { publicKey } = kty.startsWith('RSA')
    ? generateKeyPairSync('rsa', { modulusLength: keySize })
    : kty.startsWith('EC')
      ? generateKeyPairSync('ec', { namedCurve: CURVES[crv as CurveName] })
      : { publicKey: undefined };
  if (publicKey === undefined) return { jwk: { kty }, keyOps: ops ?? OCT_OPS };
  return { jwk: publicJwk(publicKey, kty), keyOps: ops ?? (kty.startsWith('RSA') ? RSA_OPS : EC_OPS) };
}

function keyFromImport(body: Record<string, unknown>): KeyData {
  const jwk = (body.key ?? {}) as JsonWebKey & { key_ops?: string[] };
  const hsm = body.Hsm === true;
  const ops = Array.isArray(jwk.key_ops) ? jwk.key_ops : undefined;
  if (jwk.kty === 'oct' || jwk.kty === 'oct-HSM') {
    if (typeof jwk.k !== 'string')
      throw new KeyVaultError(400, 'BadParameter', 'The key material k is required.');
    return { jwk: { kty: hsm ? 'oct-HSM' : 'oct' }, keyOps: ops ?? OCT_OPS };
  }
  const base = jwk.kty?.replace(/-HSM$/, '');
  if (base !== 'RSA' && base !== 'EC')
    throw new KeyVaultError(400, 'BadParameter', `The key type ${String(jwk.kty)} is not supported.`);
  try {
    const crv = jwk.crv === 'P-256K' ? 'secp256k1' : jwk.crv;
    // Only the public half is kept: the private fields are checked by parsing, then dropped.
    const key =
      jwk.d !== undefined
        ? createPublicKey(createPrivateKey({ key: { ...jwk, kty: base, crv }, format: 'jwk' }))
        : createPublicKey({ key: { ...jwk, kty: base, crv }, format: 'jwk' });
    return {
      jwk: publicJwk(key, hsm ? `${base}-HSM` : base),
      keyOps: ops ?? (base === 'RSA' ? RSA_OPS : EC_OPS),
    };
  } catch (error) {
    throw new KeyVaultError(
      400,
      'BadParameter',
      `The key is not a valid JSON web key: ${(error as Error).message}`,
    );
  }
}

interface ParsedCertificate {
  readonly leaf: X509Certificate;
  readonly secretValue: string;
  readonly contentType: 'application/x-pkcs12' | 'application/x-pem-file';
}

/**
 * Finds the leaf (the certificate whose public key matches the private key) in a PFX or PEM bundle. PKCS#12 is
 * read with the openssl command (Node cannot read it), which the test PKI needs anyway. A password-protected
 * PFX is stored without its password, as Key Vault stores it; otherwise the secret holds the bytes as given.
 */
function parseCertificateSource(source: CertificateSource): ParsedCertificate {
  try {
    return parseCertificateContent(source);
  } catch (error) {
    if (error instanceof KeyVaultError) throw error;
    throw new KeyVaultError(
      400,
      'BadParameter',
      `The certificate content is invalid: ${(error as Error).message}`,
    );
  }
}

function parseCertificateContent(source: CertificateSource): ParsedCertificate {
  const pem = 'pem' in source ? source.pem : pfxToPem(source.pfx, source.password ?? '');
  const certificates = (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
  const keyBlock = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/.exec(pem)?.[0];
  if (keyBlock === undefined) {
    throw new KeyVaultError(
      400,
      'BadParameter',
      'Private key is not specified in the specified X.509 PEM certificate content. Please specify private key in the X.509 PEM certificate content.',
    );
  }
  const privateKey = createPrivateKey(keyBlock);
  const leaf = certificates.find((c) => c.checkPrivateKey(privateKey));
  if (leaf === undefined) {
    throw new KeyVaultError(
      400,
      'BadParameter',
      'No certificate with a private key matching the specified key was found.',
    );
  }
  if ('pem' in source) return { leaf, secretValue: source.pem, contentType: 'application/x-pem-file' };
  const pfx = source.password ? withoutPassword(pem) : source.pfx;
  return { leaf, secretValue: pfx.toString('base64'), contentType: 'application/x-pkcs12' };
}

function pfxToPem(pfx: Buffer, password: string): string {
  const args = ['pkcs12', '-nodes', '-passin', `pass:${password}`];
  try {
    return openssl(args, pfx).toString('utf8');
  } catch {
    try {
      // PFX files from older tools use RC2/3DES, which OpenSSL 3 only reads with its legacy provider.
      return openssl([...args, '-legacy'], pfx).toString('utf8');
    } catch (error) {
      throw new KeyVaultError(
        400,
        'BadParameter',
        `The PKCS#12 content could not be read: ${(error as Error).message}`,
      );
    }
  }
}

/** A PKCS#12 file without a password (openssl reads key and certificates from one file, so not stdin). */
function withoutPassword(pem: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'kv-double-pfx-'));
  try {
    writeFileSync(join(dir, 'in.pem'), pem, { mode: 0o600 });
    return openssl(['pkcs12', '-export', '-in', join(dir, 'in.pem'), '-passout', 'pass:'], Buffer.alloc(0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(args: readonly string[], input: Buffer): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
