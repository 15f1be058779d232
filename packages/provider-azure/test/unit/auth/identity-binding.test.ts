import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { createTestPki, type TestPki } from '@secrets-store-csi/test-support';
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import {
  CredentialCache,
  createTokenProxyHttpClient,
  discoverSniName,
  rewriteToProxy,
  sniNameForCluster,
  validateTokenProxyUrl,
} from '../../../src/auth/index.js';
import { base32HexNoPadding, clusterIdFromSubjectAltNames } from '../../../src/auth/identity-binding.js';
import type { CloudEnvironment } from '../../../src/model.js';

/** An independent base32hex: the digest as one big number, 5 bits at a time. */
function referenceSni(clusterId: string): string {
  const digest = createHash('sha256').update(`identity-binding${clusterId}`).digest();
  let bits = [...digest].map((b) => b.toString(2).padStart(8, '0')).join('');
  bits = bits.padEnd(Math.ceil(bits.length / 5) * 5, '0');
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet.charAt(parseInt(bits.slice(i, i + 5), 2));
  return `a${out}.ests.aks`;
}

describe('identity binding: SNI and proxy URL', () => {
  it('encodes base32hex without padding (RFC 4648 vectors)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'CO'],
      ['fo', 'CPNG'],
      ['foo', 'CPNMU'],
      ['foob', 'CPNMUOG'],
      ['fooba', 'CPNMUOJ1'],
      ['foobar', 'CPNMUOJ1E8'],
    ];
    for (const [input, encoded] of vectors) expect(base32HexNoPadding(Buffer.from(input))).to.equal(encoded);
  });

  it('computes the SNI from the cluster ID, deterministically', () => {
    const sni = sniNameForCluster('65b9d2c2a3b0e70001234567');
    expect(sni).to.equal(referenceSni('65b9d2c2a3b0e70001234567'));
    expect(sni).to.match(/^a[0-9a-v]{52}\.ests\.aks$/);
    expect(sniNameForCluster('65b9d2c2a3b0e70001234567')).to.equal(sni);
    expect(sniNameForCluster('other-cluster')).to.not.equal(sni);
  });

  it('finds the cluster ID among the SANs', () => {
    expect(
      clusterIdFromSubjectAltNames(
        'DNS:kubernetes, DNS:kubernetes.default.svc, DNS:hcp-kubernetes.65b9d2c2.svc.cluster.local, IP Address:10.0.0.1',
      ),
    ).to.equal('65b9d2c2');
    expect(clusterIdFromSubjectAltNames('DNS:kubernetes.default.svc.cluster.local')).to.equal(undefined);
    expect(clusterIdFromSubjectAltNames(undefined)).to.equal(undefined);
  });

  it('rewrites token URLs to the proxy origin, proxy path and original path, query kept', () => {
    const token = 'https://login.microsoftonline.com/tenant-a/oauth2/v2.0/token?client-request-id=42';
    expect(rewriteToProxy(token, 'https://kubernetes.default.svc.cluster.local')).to.equal(
      'https://kubernetes.default.svc.cluster.local/tenant-a/oauth2/v2.0/token?client-request-id=42',
    );
    expect(rewriteToProxy(token, 'https://proxy.example:8443/aad')).to.equal(
      'https://proxy.example:8443/aad/tenant-a/oauth2/v2.0/token?client-request-id=42',
    );
    expect(rewriteToProxy(token, 'https://proxy.example:8443/aad/')).to.equal(
      'https://proxy.example:8443/aad/tenant-a/oauth2/v2.0/token?client-request-id=42',
    );
    expect(
      rewriteToProxy('https://login.example/t/v2.0/.well-known/openid-configuration', 'https://p/'),
    ).to.equal('https://p/t/v2.0/.well-known/openid-configuration');
  });

  it('accepts only https token proxy URLs without user info, query or fragment', () => {
    expect(validateTokenProxyUrl('https://kubernetes.default.svc.cluster.local')).to.equal(
      'https://kubernetes.default.svc.cluster.local/',
    );
    expect(() => validateTokenProxyUrl('http://proxy')).to.throw(/https/);
    expect(() => validateTokenProxyUrl('https://u:p@proxy')).to.throw(/user info/);
    expect(() => validateTokenProxyUrl('https://proxy/?a=b')).to.throw(/query/);
    expect(() => validateTokenProxyUrl('not a url')).to.throw(/invalid token proxy URL/);
  });
});

describe('identity binding over TLS', function () {
  this.timeout(20_000);
  const clusterId = '65b9d2c2a3b0e70001234567';
  const sni = sniNameForCluster(clusterId);
  let dir: string;
  let pki: TestPki;
  const servers: Server[] = [];

  const listen = async (
    certName: string,
    dnsNames: string[],
    handler: Parameters<typeof createHttpsServer>[1],
  ): Promise<number> => {
    const issued = await pki.issue({ name: certName, commonName: dnsNames[0]!, dnsNames, usage: 'server' });
    const server = createHttpsServer(
      { cert: await readFile(issued.certPath), key: await readFile(issued.keyPath) },
      handler,
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'identity-binding-'));
    pki = await createTestPki(dir);
  });

  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('discovers the SNI from the API server certificate', async () => {
    const port = await listen(
      'apiserver',
      ['localhost', `hcp-kubernetes.${clusterId}.svc.cluster.local`],
      (_req, res) => res.end(),
    );
    expect(await discoverSniName({ host: 'localhost', port, caFile: pki.caCertPath })).to.equal(sni);
  });

  it('says to use --sni-name when the certificate has no cluster SAN or the API server is unreachable', async () => {
    const port = await listen('plain', ['localhost'], (_req, res) => res.end());
    const noSan = await discoverSniName({ host: 'localhost', port, caFile: pki.caCertPath }).then(
      () => expect.fail('should fail'),
      (e: unknown) => e as Error,
    );
    expect(noSan.message).to.include('use --sni-name flag');
    const refused = await discoverSniName({ host: 'localhost', port: 1, caFile: pki.caCertPath }).then(
      () => expect.fail('should fail'),
      (e: unknown) => e as Error,
    );
    expect(refused.message).to.include('use --sni-name flag');
  });

  it('sends token requests to the proxy with the SNI and the CA file', async () => {
    const seen: { path: string; servername: unknown }[] = [];
    const port = await listen('proxy', [sni], (req, res) => {
      seen.push({ path: req.url ?? '', servername: (req.socket as TLSSocket).servername });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    const client = createTokenProxyHttpClient({
      proxyUrl: `https://127.0.0.1:${port}/aad`,
      sniName: sni,
      caFile: pki.caCertPath,
    });
    const response = await client.sendRequest(
      createPipelineRequest({
        url: 'https://login.microsoftonline.com/t/oauth2/v2.0/token?x=1',
        method: 'POST',
      }),
    );
    expect(response.status).to.equal(200);
    expect(seen).to.deep.equal([{ path: '/aad/t/oauth2/v2.0/token?x=1', servername: sni }]);
  });

  it('gets a token through the proxy with the real ClientAssertionCredential', async () => {
    const seen: { method: string; path: string; servername: unknown; assertion: string | null }[] = [];
    const port = await listen('proxy-sts', [sni], (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        seen.push({
          method: req.method ?? '',
          path: path.split('?')[0]!,
          servername: (req.socket as TLSSocket).servername,
          assertion: form.get('client_assertion'),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        if (path.startsWith('/tenant-a/v2.0/.well-known/openid-configuration')) {
          const base = 'https://login.example.test/tenant-a';
          res.end(
            JSON.stringify({
              issuer: `${base}/v2.0`,
              token_endpoint: `${base}/oauth2/v2.0/token`,
              authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
              jwks_uri: `${base}/discovery/v2.0/keys`,
            }),
          );
        } else {
          res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3600, access_token: 'proxied-token' }));
        }
      });
    });
    const cloud: CloudEnvironment = {
      name: 'AzurePublicCloud',
      activeDirectoryEndpoint: 'https://login.example.test/',
      keyVaultEndpoint: 'https://vault.azure.net/',
      keyVaultDNSSuffix: 'vault.azure.net',
    };
    const cache = new CredentialCache({
      tokenProxyUrl: `https://127.0.0.1:${port}`,
      sniName: sni,
      caFile: pki.caCertPath,
    });
    const credential = cache.get(
      { mode: 'identity-binding', tenantId: 'tenant-a', clientId: 'c', serviceAccountToken: 'sa-token' },
      cloud,
      'tenant-a',
      'ns/sa',
    );
    expect(await credential.getToken('https://vault.azure.net/.default')).to.include({
      token: 'proxied-token',
    });
    expect(seen).to.deep.equal([
      {
        method: 'GET',
        path: '/tenant-a/v2.0/.well-known/openid-configuration',
        servername: sni,
        assertion: null,
      },
      { method: 'POST', path: '/tenant-a/oauth2/v2.0/token', servername: sni, assertion: 'sa-token' },
    ]);
  });

  it('reports a failed setup only to mounts that use identity binding, and tries again later', async () => {
    const cache = new CredentialCache({
      apiServer: { host: 'localhost', port: 1 },
      caFile: join(dir, 'missing.crt'),
    });
    const cloud: CloudEnvironment = {
      name: 'AzurePublicCloud',
      activeDirectoryEndpoint: 'https://login.example.test/',
      keyVaultEndpoint: 'https://vault.azure.net/',
      keyVaultDNSSuffix: 'vault.azure.net',
    };
    // Other modes are not affected.
    cache.get({ mode: 'service-principal', tenantId: 't', clientId: 'c', clientSecret: 's' }, cloud, 't');
    const binding = cache.get(
      { mode: 'identity-binding', tenantId: 't', clientId: 'c', serviceAccountToken: 'x' },
      cloud,
      't',
      'ns/sa',
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await binding.getToken('s').then(
        () => expect.fail('should fail'),
        (e: unknown) => e as Error,
      );
      expect(isProviderError(error)).to.be.true;
      expect(error.message).to.match(/^proxy transport not available: .*use --sni-name flag/);
    }
    expect((await cache.prepareIdentityBinding())?.message).to.include('use --sni-name flag');
    const badUrl = new CredentialCache({ tokenProxyUrl: 'http://plain', sniName: 'x' });
    expect((await badUrl.prepareIdentityBinding())?.message).to.equal(
      'proxy transport not available: token proxy URL must use https, got "http:"',
    );
  });
});
