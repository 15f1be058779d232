import { RestError, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { expect } from 'chai';
import { CredentialCache } from '../../../src/auth/index.js';
import type { AuthConfig, CloudEnvironment } from '../../../src/model.js';
import { fakeEntra } from './fake-entra.js';

const cloud: CloudEnvironment = {
  name: 'AzurePublicCloud',
  activeDirectoryEndpoint: 'https://login.example.test/',
  keyVaultEndpoint: 'https://vault.azure.net/',
  keyVaultDNSSuffix: 'vault.azure.net',
};
const sp = (clientId: string, clientSecret = 'secret'): AuthConfig => ({
  mode: 'service-principal',
  tenantId: 'tenant-a',
  clientId,
  clientSecret,
});
const wi = (serviceAccountToken: string): AuthConfig => ({
  mode: 'workload-identity',
  tenantId: 'tenant-a',
  clientId: 'wi-client',
  serviceAccountToken,
});

describe('CredentialCache', () => {
  it('hands out one credential per identity', () => {
    const cache = new CredentialCache();
    const a = cache.get(sp('a'), cloud, 'tenant-a');
    expect(cache.get(sp('a'), cloud, 'tenant-a')).to.equal(a);
    expect(cache.get(sp('b'), cloud, 'tenant-a')).to.not.equal(a);
    expect(cache.get(sp('a', 'rotated'), cloud, 'tenant-a')).to.not.equal(a);
    expect(cache.get(wi('t1'), cloud, 'tenant-a', 'ns/sa')).to.equal(
      cache.get(wi('t2'), cloud, 'tenant-a', 'ns/sa'),
    );
    expect(cache.get(wi('t1'), cloud, 'tenant-a', 'ns/sa')).to.not.equal(
      cache.get(wi('t1'), cloud, 'tenant-a', 'ns/other'),
    );
    expect(cache.size).to.equal(5);
    expect(a.mode).to.equal('service-principal');
  });

  it('keeps at most maxIdentities, dropping the least recently used', () => {
    const cache = new CredentialCache({ maxIdentities: 2 });
    const a = cache.get(sp('a'), cloud, '');
    const b = cache.get(sp('b'), cloud, '');
    expect(cache.get(sp('a'), cloud, '')).to.equal(a); // a is now the most recent
    cache.get(sp('c'), cloud, ''); // drops b
    expect(cache.size).to.equal(2);
    expect(cache.get(sp('a'), cloud, '')).to.equal(a);
    expect(cache.get(sp('b'), cloud, '')).to.not.equal(b);
  });

  it('drops identities idle longer than idleTimeoutMs', () => {
    let now = 1_000_000;
    const cache = new CredentialCache({ idleTimeoutMs: 60_000, now: () => now });
    const a = cache.get(sp('a'), cloud, '');
    now += 30_000;
    const b = cache.get(sp('b'), cloud, '');
    now += 30_000; // a idle exactly 60 s: kept
    expect(cache.get(sp('a'), cloud, '')).to.equal(a);
    now += 60_001; // both idle past the limit
    cache.get(sp('c'), cloud, '');
    expect(cache.size).to.equal(1);
    expect(cache.get(sp('b'), cloud, '')).to.not.equal(b);
    cache.clear();
    expect(cache.size).to.equal(0);
  });

  it('rejects nonsensical bounds', () => {
    expect(() => new CredentialCache({ maxIdentities: 0 })).to.throw(RangeError);
    expect(() => new CredentialCache({ idleTimeoutMs: 0 })).to.throw(RangeError);
  });

  it('presents the latest service-account token as the client assertion', async () => {
    const entra = fakeEntra();
    const cache = new CredentialCache({
      httpClient: entra,
      disableInstanceDiscovery: true,
      userAgentPrefix: 'my-agent/1',
    });
    const held = cache.get(wi('first-token'), cloud, 'tenant-a', 'ns/sa');
    expect(await held.getToken('https://vault.azure.net/.default')).to.include({ token: 'access-token-1' });
    // The second mount brings a new token; the credential is the same and its tokens are cached...
    expect(cache.get(wi('second-token'), cloud, 'tenant-a', 'ns/sa')).to.equal(held);
    expect(await held.getToken('https://vault.azure.net/.default')).to.include({ token: 'access-token-1' });
    expect(entra.tokenRequests).to.have.length(1);
    // ...and the next token request presents the new one.
    expect(await held.getToken('https://other.example/.default')).to.include({ token: 'access-token-2' });
    expect(entra.tokenRequests.map((r) => r.form.get('client_assertion'))).to.deep.equal([
      'first-token',
      'second-token',
    ]);
    const first = entra.tokenRequests[0]!;
    expect(first.url.split('?')[0]).to.equal('https://login.example.test/tenant-a/oauth2/v2.0/token');
    expect(first.form.get('client_id')).to.equal('wi-client');
    expect(first.request.headers.get('user-agent')).to.match(/^my-agent\/1 azsdk-js-identity\//);
  });

  it('uses the tenant of the parameters when the identity has none', async () => {
    const entra = fakeEntra();
    const cache = new CredentialCache({ httpClient: entra, disableInstanceDiscovery: true });
    await cache
      .get({ mode: 'service-principal', tenantId: '', clientId: 'c', clientSecret: 's' }, cloud, 'tenant-p')
      .getToken('https://vault.azure.net/.default');
    expect(entra.tokenRequests[0]!.url.split('?')[0]).to.equal(
      'https://login.example.test/tenant-p/oauth2/v2.0/token',
    );
    expect(entra.tokenRequests[0]!.form.get('client_secret')).to.equal('s');
  });

  it('merges concurrent first getToken calls of one identity into one token request (issue 12)', async () => {
    for (const auth of [sp('a'), wi('token')]) {
      const entra = fakeEntra();
      const cache = new CredentialCache({ httpClient: entra, disableInstanceDiscovery: true });
      const held = cache.get(auth, cloud, 'tenant-a', 'ns/sa');
      const tokens = await Promise.all(
        Array.from({ length: 5 }, () => held.getToken('https://vault.azure.net/.default')),
      );
      expect(tokens.map((t) => t?.token)).to.deep.equal(Array(5).fill('access-token-1'));
      expect(entra.tokenRequests).to.have.length(1);
    }
  });

  it("lets one caller's abort end only its own wait", async () => {
    const entra = fakeEntra();
    const cache = new CredentialCache({ httpClient: entra, disableInstanceDiscovery: true });
    const held = cache.get(sp('a'), cloud, 'tenant-a');
    const controller = new AbortController();
    const aborted = held.getToken('https://vault.azure.net/.default', { abortSignal: controller.signal });
    const other = held.getToken('https://vault.azure.net/.default');
    controller.abort();
    let abortError: unknown;
    await aborted.catch((error: unknown) => {
      abortError = error;
    });
    expect(abortError).to.be.instanceOf(Error);
    expect((await other)?.token).to.equal('access-token-1');
  });

  it('refuses an invalid tenant with InvalidArgument in upstream words (issue 12)', () => {
    const cache = new CredentialCache();
    for (const tenant of ['bad tenant!', 'tenant/../x']) {
      let caught: unknown;
      try {
        cache.get(
          { mode: 'service-principal', tenantId: tenant, clientId: 'a', clientSecret: 's' },
          cloud,
          tenant,
        );
      } catch (error) {
        caught = error;
      }
      expect(caught).to.have.property('kind', 'invalid-argument');
      expect((caught as Error).message).to.match(/^failed to get keyvault client: invalid tenantID/);
    }
  });

  it('names both tenants and what to change when the vault is in another tenant (issue 12)', async () => {
    const entra = fakeEntra();
    const cache = new CredentialCache({ httpClient: entra, disableInstanceDiscovery: true });
    const held = cache.get(sp('a'), cloud, 'tenant-a');
    let caught: unknown;
    await held
      .getToken('https://vault.azure.net/.default', { tenantId: 'tenant-b' })
      .catch((error: unknown) => {
        caught = error;
      });
    expect((caught as Error).message).to.equal(
      "the Key Vault belongs to tenant tenant-b, but the SecretProviderClass's tenantId is tenant-a: " +
        'set tenantId to tenant-b with an identity of that tenant, or use a vault of tenant tenant-a',
    );
    expect((caught as Error).message).not.to.include('AdditionallyAllowedTenants');
  });

  for (const [what, code, cause] of [
    ['refused', 'ECONNREFUSED', 'the connection to login.example.test was refused (ECONNREFUSED)'],
    ['DNS', 'ENOTFOUND', 'the DNS lookup of login.example.test failed (ENOTFOUND)'],
    ['TLS', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'the TLS handshake with login.example.test failed'],
  ] as const) {
    it(`names the token endpoint URL and the cause (${what}) when it cannot be reached (issue 12)`, async () => {
      const httpClient = {
        sendRequest: (request: PipelineRequest): Promise<PipelineResponse> =>
          Promise.reject(new RestError(`connect ${code}`, { code, request })),
      };
      const cache = new CredentialCache({
        httpClient,
        disableInstanceDiscovery: true,
        retry: { maxRetries: 0, retryDelayInMs: 1, maxRetryDelayInMs: 1 },
      });
      let caught: unknown;
      await cache
        .get(sp('a'), cloud, 'tenant-a')
        .getToken('https://vault.azure.net/.default')
        .catch((error: unknown) => {
          caught = error;
        });
      const message = (caught as Error).message;
      expect(caught).to.have.property('code', 'StoreUnavailable');
      expect(message).to.match(
        /^the token endpoint could not be reached: (GET|POST) https:\/\/login\.example\.test\/tenant-a\//,
      );
      expect(message).to.include(cause);
      expect(message).not.to.include('aka.ms');
    });
  }
});
