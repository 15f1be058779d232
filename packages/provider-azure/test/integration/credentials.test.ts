/**
 * The credential cache with the real @azure/identity against the Entra ID stand-in over real HTTPS (and its
 * IMDS route over HTTP): tokens are obtained and reused, rotated secrets get a new credential, a workload
 * identity presents a real RS256 client assertion, managed identities go through IMDS, and throttling is
 * retried, then reported without tokens or secrets.
 */
import { createSign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestPki,
  issueLocalhostServing,
  startTokenEndpoint,
  trustCertificateAuthority,
  type TokenEndpoint,
} from '@secrets-store-csi/test-support';
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { CredentialCache, classifyCredentialError } from '../../src/auth/index.js';
import type { AuthConfig, CloudEnvironment } from '../../src/model.js';

const scope = 'https://vault.azure.net/.default';
const issuer = 'https://kubernetes.default.svc.cluster.local';

describe('credential cache with the real @azure/identity and the Entra ID stand-in', function () {
  this.timeout(30_000);
  let dir: string;
  let endpoint: TokenEndpoint;
  let cloud: CloudEnvironment;
  let signingKey: string;
  let previousImdsHost: string | undefined;

  const fastRetry = { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 5_000 };
  const newCache = (retry = fastRetry) => new CredentialCache({ disableInstanceDiscovery: true, retry });
  const tokenRequests = (clientId: string) => endpoint.requests.filter((r) => r.clientId === clientId);

  const serviceAccountToken = (subject: string, audience = 'api://AzureADTokenExchange'): string => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: issuer, sub: subject, aud: [audience], iat: now, nbf: now, exp: now + 600 })}`;
    return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(signingKey, 'base64url')}`;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'provider-azure-credentials-'));
    const pki = await createTestPki(dir);
    const serving = await issueLocalhostServing(pki, 'sts');
    const saKeys = await pki.keyPair('service-account');
    signingKey = await readFile(saKeys.privateKeyPath, 'utf8');
    trustCertificateAuthority(pki.caCertPath);
    endpoint = await startTokenEndpoint({ ...serving, assertionPublicKeyPaths: [saKeys.publicKeyPath] });
    cloud = {
      name: 'AzurePublicCloud',
      // With a trailing slash, as go-autorest names authorities.
      activeDirectoryEndpoint: `${endpoint.authorityHost}/`,
      keyVaultEndpoint: 'https://vault.azure.net/',
      keyVaultDNSSuffix: 'vault.azure.net',
    };
    // MSAL picks the managed identity source (and reads this variable) once per process, on first use.
    previousImdsHost = process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = endpoint.imdsEndpoint;
  });

  // A test that failed before using up its queued failures must not hand them to the next one.
  afterEach(() => {
    endpoint.clearFailures();
  });

  after(async () => {
    if (previousImdsHost === undefined) delete process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
    else process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = previousImdsHost;
    await endpoint.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gets a service principal token once and serves the second mount from the same credential', async () => {
    endpoint.addServicePrincipal({ tenantId: 'tenant-a', clientId: 'sp-1', clientSecret: 'secret-1' });
    const cache = newCache();
    const auth: AuthConfig = {
      mode: 'service-principal',
      tenantId: 'tenant-a',
      clientId: 'sp-1',
      clientSecret: 'secret-1',
    };
    const first = cache.get(auth, cloud, 'tenant-a');
    const token = await first.getToken(scope);
    expect(endpoint.decodeAccessToken(token!.token)).to.deep.include({
      aud: 'https://vault.azure.net',
      tid: 'tenant-a',
      appid: 'sp-1',
      grant: 'client-secret',
    });
    const second = cache.get({ ...auth }, cloud, 'tenant-a');
    expect(second).to.equal(first);
    expect((await second.getToken(scope))!.token).to.equal(token!.token);
    expect(tokenRequests('sp-1').map((r) => r.status)).to.deep.equal([200]);
  });

  it('builds a new credential for a rotated secret, and a wrong secret fails as AuthenticationFailed', async () => {
    endpoint.addServicePrincipal({ tenantId: 'tenant-a', clientId: 'sp-2', clientSecret: 'new-secret' });
    const cache = newCache();
    const old = cache.get(
      { mode: 'service-principal', tenantId: 'tenant-a', clientId: 'sp-2', clientSecret: 'old-secret' },
      cloud,
      'tenant-a',
    );
    const rotated = cache.get(
      { mode: 'service-principal', tenantId: 'tenant-a', clientId: 'sp-2', clientSecret: 'new-secret' },
      cloud,
      'tenant-a',
    );
    expect(rotated).to.not.equal(old);
    expect(cache.size).to.equal(2);
    expect(await rotated.getToken(scope)).to.have.property('token');
    const error = await old.getToken(scope).then(
      () => expect.fail('the old secret should be refused'),
      (e: unknown) => e,
    );
    expect(isProviderError(error)).to.be.true;
    expect(error).to.include({ code: 'AuthenticationFailed' });
    expect((error as Error).message)
      .to.include('AADSTS7000215')
      .and.not.include('old-secret');
  });

  it('exchanges the latest service-account token for a workload identity', async () => {
    endpoint.addFederatedCredential({
      tenantId: 'tenant-a',
      clientId: 'wi-1',
      issuer,
      subject: 'system:serviceaccount:team:app',
    });
    const cache = newCache();
    const auth = (serviceAccountToken: string): AuthConfig => ({
      mode: 'workload-identity',
      tenantId: 'tenant-a',
      clientId: 'wi-1',
      serviceAccountToken,
    });
    // The first mount brings a token that the stand-in refuses (wrong subject): nothing is cached.
    const refused = cache.get(
      auth(serviceAccountToken('system:serviceaccount:team:other')),
      cloud,
      'tenant-a',
      'team/app',
    );
    const error = await refused.getToken(scope).then(
      () => expect.fail('a wrong subject should be refused'),
      (e: unknown) => e,
    );
    expect((error as Error).message).to.include('AADSTS70021');
    expect((error as Error).message).to.not.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    // The next mount brings a good token: the same credential presents it.
    const credential = cache.get(
      auth(serviceAccountToken('system:serviceaccount:team:app')),
      cloud,
      'tenant-a',
      'team/app',
    );
    expect(credential).to.equal(refused);
    const token = await credential.getToken(scope);
    expect(endpoint.decodeAccessToken(token!.token)).to.deep.include({
      appid: 'wi-1',
      grant: 'client-assertion',
    });
    expect(tokenRequests('wi-1').map((r) => r.status)).to.deep.equal([401, 200]);
  });

  it('gets system- and user-assigned managed identity tokens through the IMDS route', async () => {
    endpoint.addManagedIdentity({ tenantId: 'tenant-a' });
    endpoint.addManagedIdentity({ tenantId: 'tenant-a', clientId: 'mi-user' });
    const cache = newCache();
    const system = await cache
      .get({ mode: 'vm-managed-identity', userAssignedIdentityId: undefined }, cloud, 'ignored')
      .getToken(scope);
    expect(endpoint.decodeAccessToken(system!.token)).to.deep.include({
      appid: 'system-assigned',
      aud: 'https://vault.azure.net',
      grant: 'managed-identity',
    });
    const user = await cache
      .get({ mode: 'vm-managed-identity', userAssignedIdentityId: 'mi-user' }, cloud, 'ignored')
      .getToken(scope);
    expect(endpoint.decodeAccessToken(user!.token)).to.deep.include({
      appid: 'mi-user',
      grant: 'managed-identity',
    });
    expect(cache.size).to.equal(2);
  });

  it('retries an IMDS 429 with Retry-After (the SDK default retry policy), then succeeds', async () => {
    endpoint.addManagedIdentity({ tenantId: 'tenant-a', clientId: 'mi-throttled' });
    endpoint.queueFailures({ status: 429, retryAfterSeconds: 1 });
    const token = await newCache()
      .get({ mode: 'vm-managed-identity', userAssignedIdentityId: 'mi-throttled' }, cloud, '')
      .getToken(scope);
    expect(endpoint.decodeAccessToken(token!.token)).to.deep.include({ appid: 'mi-throttled' });
    expect(tokenRequests('mi-throttled').map((r) => r.status)).to.deep.equal([429, 200]);
  });

  it('reports an IMDS 429 whose retries ran out as Throttled', async () => {
    endpoint.addManagedIdentity({ tenantId: 'tenant-a', clientId: 'mi-exhausted' });
    // MSAL picks the managed identity source once per process, with the network client (and so the retry
    // settings) of the first ManagedIdentityCredential: fastRetry's 2 retries here.
    const throttled = { status: 429, retryAfterSeconds: 1 };
    endpoint.queueFailures(throttled, throttled, throttled);
    const error = await newCache()
      .get({ mode: 'vm-managed-identity', userAssignedIdentityId: 'mi-exhausted' }, cloud, '')
      .getToken(scope)
      .then(
        () => expect.fail('the retries should run out'),
        (e: unknown) => e,
      );
    expect((error as Error).message).to.include('Entra ID throttled the token request');
    expect(tokenRequests('mi-exhausted').map((r) => r.status)).to.deep.equal([429, 429, 429]);
    expect(error).to.include({ code: 'Throttled' });
  });

  it('retries a 429 with Retry-After, then succeeds', async () => {
    endpoint.addServicePrincipal({ tenantId: 'tenant-a', clientId: 'sp-throttled', clientSecret: 's' });
    endpoint.queueFailures({ status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const token = await newCache()
      .get(
        { mode: 'service-principal', tenantId: 'tenant-a', clientId: 'sp-throttled', clientSecret: 's' },
        cloud,
        '',
      )
      .getToken(scope);
    expect(token).to.have.property('token');
    expect(Date.now() - started).to.be.at.least(950);
    expect(tokenRequests('sp-throttled').map((r) => r.status)).to.deep.equal([429, 200]);
  });

  it('retries a 5xx with backoff, then succeeds', async () => {
    endpoint.addServicePrincipal({ tenantId: 'tenant-a', clientId: 'sp-5xx', clientSecret: 's' });
    endpoint.queueFailures({ status: 503 }, { status: 500 });
    const token = await newCache()
      .get(
        { mode: 'service-principal', tenantId: 'tenant-a', clientId: 'sp-5xx', clientSecret: 's' },
        cloud,
        '',
      )
      .getToken(scope);
    expect(token).to.have.property('token');
    expect(tokenRequests('sp-5xx').map((r) => r.status)).to.deep.equal([503, 500, 200]);
  });

  it('reports a 429 whose retries ran out as Throttled, with when to expect recovery', async () => {
    endpoint.addServicePrincipal({
      tenantId: 'tenant-a',
      clientId: 'sp-exhausted',
      clientSecret: 'very-secret',
    });
    endpoint.queueFailures({ status: 429, retryAfterSeconds: 1 }, { status: 429, retryAfterSeconds: 1 });
    const credential = newCache({ ...fastRetry, maxRetries: 1 }).get(
      {
        mode: 'service-principal',
        tenantId: 'tenant-a',
        clientId: 'sp-exhausted',
        clientSecret: 'very-secret',
      },
      cloud,
      '',
    );
    const error = await credential.getToken(scope).then(
      () => expect.fail('the retries should run out'),
      (e: unknown) => e,
    );
    expect(tokenRequests('sp-exhausted').map((r) => r.status)).to.deep.equal([429, 429]);
    expect(error).to.include({ code: 'Throttled' });
    const message = (error as Error).message;
    expect(message).to.include('Entra ID throttled the token request').and.include('wait 1s (Retry-After)');
    expect(message).to.not.include('very-secret');
    // The SDK's classification of the raw error agrees.
    expect(classifyCredentialError((error as Error).cause)?.code).to.equal('Throttled');
    // MSAL holds the identity for the Retry-After time: the next attempt fails without a request, still Throttled.
    const again = await credential.getToken(scope).then(
      () => expect.fail('MSAL should hold the throttled identity'),
      (e: unknown) => e,
    );
    expect(again).to.include({ code: 'Throttled' });
    expect(tokenRequests('sp-exhausted')).to.have.length(2);
  });
});
