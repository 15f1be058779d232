import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { expect } from 'chai';
import { startTokenEndpoint, type TokenEndpoint } from '../../src/entra.js';
import { createTestPki, issueLocalhostServing } from '../../src/pki.js';
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
