/**
 * The world the Azure provider's integration tests run in: the Entra ID stand-in and the Key Vault double
 * over real HTTPS with a test CA this process trusts, vault host names mapped to 127.0.0.1, a custom cloud
 * (`cloudName: AzureStackCloud` + `cloudEnvFileName`) pointing at them, and providers built by
 * `createAzureProvider` from real flags, served with `serve()` on unix sockets and called by a client that
 * dials as the driver does.
 */
import { createSign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetricsRegistry, silentLogger, type Logger } from '@secrets-store-csi/core';
import { parseFlags, serve, type ProviderServer, type SecretProvider } from '@secrets-store-csi/provider-sdk';
import { ProviderClient } from '@secrets-store-csi/provider-sdk/testing';
import {
  createTestPki,
  issueLocalhostServing,
  issueVaultServing,
  startKeyVaultDouble,
  startTokenEndpoint,
  trustCertificateAuthority,
  type IssuedCertificate,
  type KeyVaultDouble,
  type KeyVaultDoubleOptions,
  type LoopbackHosts,
  type TestPki,
  type TokenEndpoint,
} from '@secrets-store-csi/test-support';
import type { Registry } from 'prom-client';
import { azureProviderFlags, createAzureProvider } from '../../src/app.js';
import * as wiring from '../../src/wiring.js';

export const TENANT = 'tenant-a';
export const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** One provider process's worth: the provider, its server on a socket, its registry, a driver-like client. */
export interface ServedProvider {
  readonly provider: SecretProvider;
  readonly server: ProviderServer;
  readonly registry: Registry;
  readonly socketPath: string;
  readonly client: ProviderClient;
  stop(): Promise<void>;
}

export interface World {
  readonly dir: string;
  readonly pki: TestPki;
  readonly entra: TokenEndpoint;
  readonly kv: KeyVaultDouble;
  /** The serving certificate of `*.<kv.dnsSuffix>`. */
  readonly vaultServing: IssuedCertificate;
  /** Writes a cloud environment file for a double and returns its path. */
  cloudFile(double: KeyVaultDouble, name?: string): Promise<string>;
  /**
   * Starts another Key Vault double (names of its own, on its own loopback address) with `vaults` mapped to it,
   * closed with the world.
   */
  startDouble(options?: Partial<KeyVaultDoubleOptions>, vaults?: readonly string[]): Promise<KeyVaultDouble>;
  /**
   * Builds a provider from command-line flags (as main.ts would parse them) and serves it, with a healthz
   * listener on a free port when asked.
   */
  startProvider(
    argv?: readonly string[],
    options?: { readonly logger?: Logger; readonly healthz?: boolean },
  ): Promise<ServedProvider>;
  /** A Kubernetes service-account token for `system:serviceaccount:<namespace>:<name>`, RS256-signed. */
  serviceAccountToken(namespace: string, name: string): string;
  close(): Promise<void>;
}

export async function startWorld(options: {
  readonly prefix: string;
  readonly vaults: readonly string[];
}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), options.prefix));
  const closers: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    const pki = await createTestPki(dir);
    const sts = await issueLocalhostServing(pki, 'sts');
    const vaultServing = await issueVaultServing(pki, 'vault');
    const saKeys = await pki.keyPair('service-account');
    const signingKey = await readFile(saKeys.privateKeyPath, 'utf8');
    trustCertificateAuthority(pki.caCertPath);
    const entra = await startTokenEndpoint({ ...sts, assertionPublicKeyPaths: [saKeys.publicKeyPath] });
    closers.push(() => entra.stop());
    let doubles = 0;
    const startDouble = async (
      extra: Partial<KeyVaultDoubleOptions> = {},
      vaults: readonly string[] = [],
    ) => {
      // The first double uses the world's certificate; each other one its own names (a unique DNS suffix), as
      // every double listens on its own loopback address.
      const serving = doubles++ === 0 ? vaultServing : await issueVaultServing(pki, `vault-${doubles}`);
      const double = await startKeyVaultDouble({
        ...serving,
        authorityHost: entra.authorityHost,
        verifyAccessToken: (token) => entra.decodeAccessToken(token),
        ...extra,
      });
      closers.push(() => double.close());
      if (vaults.length > 0) {
        const mapped = await double.mapVaultHosts(vaults);
        closers.push(() => mapped.remove());
      }
      return double;
    };
    const kv = await startDouble();
    const hosts: LoopbackHosts = await kv.mapVaultHosts(options.vaults);
    closers.push(() => hosts.remove());
    let files = 0;
    let sockets = 0;

    return {
      dir,
      pki,
      entra,
      kv,
      vaultServing,
      startDouble,
      async cloudFile(double, name = 'AzureStackCloud') {
        const path = join(dir, `cloud-${++files}.json`);
        await writeFile(
          path,
          JSON.stringify({
            name,
            // With a trailing slash, as go-autorest names authorities.
            activeDirectoryEndpoint: `${entra.authorityHost}/`,
            keyVaultEndpoint: `https://${double.dnsSuffix}/`,
            keyVaultDNSSuffix: double.dnsSuffixWithPort,
            resourceManagerEndpoint: 'https://management.invalid/',
          }),
        );
        return path;
      },
      async startProvider(argv = [], { logger = silentLogger, healthz = false } = {}) {
        const flags = parseFlags(azureProviderFlags, argv);
        const registry = createMetricsRegistry();
        const provider = await createAzureProvider({
          flags,
          logger,
          registry,
          loadWiring: () => Promise.resolve(wiring),
        });
        const socketPath = join(dir, `azure-${++sockets}.sock`);
        const server = await serve(provider, {
          endpoint: `unix://${socketPath}`,
          registry,
          logger,
          signals: [],
          ...(healthz ? { healthz: { port: 0, host: '127.0.0.1' } } : {}),
        });
        const client = new ProviderClient(socketPath);
        let stopped = false;
        const stop = async () => {
          if (stopped) return;
          stopped = true;
          client.close();
          await server.shutdown();
        };
        closers.push(stop);
        return { provider, server, registry, socketPath, client, stop };
      },
      serviceAccountToken(namespace, name) {
        const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          iss: SA_ISSUER,
          sub: `system:serviceaccount:${namespace}:${name}`,
          aud: ['api://AzureADTokenExchange'],
          iat: now,
          nbf: now,
          exp: now + 3600,
        };
        const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
        return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(signingKey, 'base64url')}`;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The `objects` parameter: YAML with one text block per object, as a SecretProviderClass writes it. */
export function objectsYaml(...entries: readonly string[]): string {
  const blocks = entries.map(
    (entry) =>
      `  - |\n${entry
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n')}`,
  );
  return `array:\n${blocks.join('\n')}\n`;
}
