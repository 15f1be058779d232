import { once } from 'node:events';
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { expect } from 'chai';
import { INSTANCE_DISCOVERY_HOST, startTokenEndpoint, type TokenEndpoint } from '../../src/entra.js';
import { createTestPki, issueInstanceDiscoveryServing, issueLocalhostServing } from '../../src/pki.js';
import { trustCertificateAuthority } from '../../src/trust.js';

describe('Entra token endpoint (test infrastructure) with the real @azure/identity', function () {
  let dir: string;
  let endpoint: TokenEndpoint;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'entra-test-'));
    const pki = await createTestPki(dir);
    const serving = await issueLocalhostServing(pki, 'sts');
    trustCertificateAuthority(pki.caCertPath);
    endpoint = await startTokenEndpoint(serving);
    endpoint.addServicePrincipal({ tenantId: 'tenant-a', clientId: 'app-1', clientSecret: 'right-secret' });
    endpoint.addManagedIdentity({ tenantId: 'tenant-a', clientId: 'mi-1' });
  });

  after(async () => {
    await endpoint.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('issues a Key Vault token to a service principal with the right secret', async () => {
    const credential = new ClientSecretCredential('tenant-a', 'app-1', 'right-secret', {
      authorityHost: endpoint.authorityHost,
      disableInstanceDiscovery: true,
    });
    const token = await credential.getToken('https://vault.azure.net/.default');
    expect(endpoint.decodeAccessToken(token.token)).to.deep.include({
      aud: 'https://vault.azure.net',
      tid: 'tenant-a',
      appid: 'app-1',
      grant: 'client-secret',
    });
    expect(token.expiresOnTimestamp).to.be.greaterThan(Date.now());
  });

  // MSAL Go (upstream's provider) sends "<resource>/.default openid offline_access profile"; Entra ignores the
  // OIDC scopes in a client-credentials grant, and so must the audience.
  it('takes the audience from the resource scope and ignores the OIDC scopes MSAL Go adds', async () => {
    const response = await fetch(`${endpoint.authorityHost}/tenant-a/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'app-1',
        client_secret: 'right-secret',
        scope: 'https://vault.azure.net/.default openid offline_access profile',
      }),
    });
    expect(response.status).to.equal(200);
    const { access_token: token } = (await response.json()) as { access_token: string };
    expect(endpoint.decodeAccessToken(token)).to.deep.include({ aud: 'https://vault.azure.net' });
  });

  it('answers instance discovery for its own authority, and an unknown instance otherwise', async () => {
    const discover = (authorization: string) =>
      fetch(
        `${endpoint.authorityHost}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(authorization)}`,
      );
    const known = await discover(`${endpoint.authorityHost}/tenant-a/oauth2/v2.0/authorize`);
    expect(known.status).to.equal(200);
    const host = new URL(endpoint.authorityHost).host;
    expect(await known.json()).to.deep.include({
      tenant_discovery_endpoint: `${endpoint.authorityHost}/tenant-a/v2.0/.well-known/openid-configuration`,
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
    const unknown = await discover('https://elsewhere.example/tenant-a/oauth2/v2.0/authorize');
    expect(unknown.status).to.equal(400);
    expect(await unknown.json()).to.deep.include({ error: 'invalid_instance' });
  });

  it('serves instance discovery as login.microsoftonline.com on port 443 when asked', async function () {
    if (process.getuid?.() !== 0) this.skip(); // port 443 and /etc/hosts need root
    await mkdir(join(dir, 'discovery'));
    const pki = await createTestPki(join(dir, 'discovery'));
    const withDiscovery = await startTokenEndpoint({
      ...(await issueLocalhostServing(pki, 'sts')),
      instanceDiscoveryServing: await issueInstanceDiscoveryServing(pki, 'login'),
    });
    try {
      trustCertificateAuthority(pki.caCertPath);
      const { address } = await lookup(INSTANCE_DISCOVERY_HOST, { family: 4 });
      expect(address).to.equal(withDiscovery.instanceDiscoveryAddress);
      const response = await fetch(
        `https://${INSTANCE_DISCOVERY_HOST}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${withDiscovery.authorityHost}/t/oauth2/v2.0/authorize`)}`,
      );
      expect(response.status).to.equal(200);
      expect(await response.json()).to.have.property(
        'tenant_discovery_endpoint',
        `${withDiscovery.authorityHost}/t/v2.0/.well-known/openid-configuration`,
      );
    } finally {
      await withDiscovery.stop();
    }
    expect(await readFile('/etc/hosts', 'utf8')).not.to.include(INSTANCE_DISCOVERY_HOST);
  });

  it('refuses a wrong secret with the AADSTS error the SDK surfaces', async () => {
    const credential = new ClientSecretCredential('tenant-a', 'app-1', 'wrong-secret', {
      authorityHost: endpoint.authorityHost,
      disableInstanceDiscovery: true,
    });
    try {
      await credential.getToken('https://vault.azure.net/.default');
      expect.fail('should have been refused');
    } catch (error) {
      expect((error as Error).message).to.include('AADSTS7000215');
    }
    expect(endpoint.requests.at(-1)).to.deep.include({
      kind: 'client-secret',
      clientId: 'app-1',
      status: 401,
    });
  });

  it('answers IMDS managed-identity requests only with the Metadata header and a known identity', async () => {
    const url = `${endpoint.imdsEndpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&client_id=mi-1`;
    expect((await fetch(url)).status).to.equal(400);
    const ok = await fetch(url, { headers: { Metadata: 'true' } });
    expect(ok.status).to.equal(200);
    const body = (await ok.json()) as { access_token: string };
    expect(endpoint.decodeAccessToken(body.access_token)).to.deep.include({
      aud: 'https://vault.azure.net',
      appid: 'mi-1',
    });
    const unknown = await fetch(url.replace('mi-1', 'mi-2'), { headers: { Metadata: 'true' } });
    expect(unknown.status).to.equal(400);
  });

  it('plays queued failures first, with Retry-After, and records them', async () => {
    endpoint.queueFailures({ status: 429, retryAfterSeconds: 7 });
    const url = `${endpoint.imdsEndpoint}/metadata/identity/oauth2/token?resource=r&client_id=mi-1`;
    const throttled = await fetch(url, { headers: { Metadata: 'true' } });
    expect(throttled.status).to.equal(429);
    expect(throttled.headers.get('retry-after')).to.equal('7');
    expect((await fetch(url, { headers: { Metadata: 'true' } })).status).to.equal(200);
    expect(endpoint.requests.slice(-2).map((r) => r.status)).to.deep.equal([429, 200]);
  });

  it('drops the failures a test left queued when asked', async () => {
    endpoint.queueFailures({ status: 429 }, { status: 503 });
    endpoint.clearFailures();
    const url = `${endpoint.imdsEndpoint}/metadata/identity/oauth2/token?resource=r&client_id=mi-1`;
    expect((await fetch(url, { headers: { Metadata: 'true' } })).status).to.equal(200);
  });

  it('keeps an idle keep-alive socket open longer than the Node default (5 s, plus 1 s of buffer)', async () => {
    const { port } = new URL(endpoint.imdsEndpoint);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.write(
      'GET /metadata/identity/oauth2/token?resource=r&client_id=mi-1 HTTP/1.1\r\nHost: x\r\nMetadata: true\r\n\r\n',
    );
    await once(socket, 'data');
    await delay(7_500);
    expect(closed, 'the server closed the idle socket').to.equal(false);
    socket.destroy();
  });

  it('serves the real ManagedIdentityCredential through the IMDS host override', async function () {
    // @azure/identity's IMDS source honours AZURE_POD_IDENTITY_AUTHORITY_HOST (the aad-pod-identity NMI host).
    const previous = process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = endpoint.imdsEndpoint;
    try {
      const credential = new ManagedIdentityCredential({ clientId: 'mi-1' });
      const token = await credential.getToken('https://vault.azure.net/.default');
      expect(endpoint.decodeAccessToken(token.token)).to.deep.include({
        appid: 'mi-1',
        grant: 'managed-identity',
      });
    } finally {
      if (previous === undefined) delete process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
      else process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = previous;
    }
  });
});
