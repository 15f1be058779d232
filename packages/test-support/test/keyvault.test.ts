import { execFile } from 'node:child_process';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
  type JsonWebKey,
} from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { CertificateClient } from '@azure/keyvault-certificates';
import { KeyClient, type JsonWebKey as KeyVaultJsonWebKey } from '@azure/keyvault-keys';
import { SecretClient } from '@azure/keyvault-secrets';
import { expect } from 'chai';
import { startTokenEndpoint, type TokenEndpoint } from '../src/entra.js';
import { type LoopbackHosts } from '../src/hosts.js';
import { startKeyVaultDouble, type KeyVaultDouble } from '../src/keyvault.js';
import { createTestPki, issueLocalhostServing, issueVaultServing, type TestPki } from '../src/pki.js';
import { trustCertificateAuthority } from '../src/trust.js';

const run = promisify(execFile);
const TENANT = 'tenant-a';

interface SdkError {
  name: string;
  statusCode?: number;
  code?: string;
  message: string;
  details?: { error?: { code?: string; innerError?: { code?: string } } };
}

async function rejection(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  return expect.fail('expected the call to fail');
}

/** The SDK hands JWK fields back as bytes; node:crypto wants the base64url strings of a JWK. */
function toNodeJwk(key: KeyVaultJsonWebKey): JsonWebKey {
  const b64 = (bytes: Uint8Array | undefined) =>
    bytes ? Buffer.from(bytes).toString('base64url') : undefined;
  return key.kty?.startsWith('RSA')
    ? { kty: 'RSA', n: b64(key.n), e: b64(key.e) }
    : { kty: 'EC', crv: key.crv === 'P-256K' ? 'secp256k1' : key.crv, x: b64(key.x), y: b64(key.y) };
}

describe('Key Vault double (test infrastructure) with the real Azure SDK', function () {
  let dir: string;
  let pki: TestPki;
  let entra: TokenEndpoint;
  let kv: KeyVaultDouble;
  let hosts: LoopbackHosts;
  let credential: ClientSecretCredential;
  let secrets: SecretClient;
  let keys: KeyClient;
  let certificates: CertificateClient;
  let leaf: { certPath: string; keyPath: string; pem: string; pfx: Buffer; der: Buffer };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyvault-test-'));
    pki = await createTestPki(dir);
    const sts = await issueLocalhostServing(pki, 'sts');
    const serving = await issueVaultServing(pki, 'vault');
    trustCertificateAuthority(pki.caCertPath);
    entra = await startTokenEndpoint(sts);
    entra.addServicePrincipal({ tenantId: TENANT, clientId: 'app-1', clientSecret: 's3cret' });
    entra.addServicePrincipal({ tenantId: 'tenant-b', clientId: 'app-2', clientSecret: 's3cret' });
    kv = await startKeyVaultDouble({
      ...serving,
      authorityHost: entra.authorityHost,
      verifyAccessToken: (token) => entra.decodeAccessToken(token),
    });
    kv.createVault('kv1', { tenantId: TENANT });
    hosts = await kv.mapVaultHosts(['kv1', 'nosuchvault']);
    credential = new ClientSecretCredential(TENANT, 'app-1', 's3cret', {
      authorityHost: entra.authorityHost,
      disableInstanceDiscovery: true,
    });
    const clientOptions = { retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 } };
    secrets = new SecretClient(kv.vaultUrl('kv1'), credential, clientOptions);
    keys = new KeyClient(kv.vaultUrl('kv1'), credential, clientOptions);
    certificates = new CertificateClient(kv.vaultUrl('kv1'), credential, clientOptions);

    // A leaf certificate with its chain, as PEM (key + certificate) and as PFX without a password.
    const issued = await pki.issue({
      name: 'app',
      commonName: 'app.example',
      dnsNames: ['app.example'],
      usage: 'server',
    });
    const [certPem, keyPem] = await Promise.all([
      readFile(issued.certPath, 'utf8'),
      readFile(issued.keyPath, 'utf8'),
    ]);
    const pfx = await readFile(await pki.pkcs12(issued, 'app', ''));
    leaf = {
      ...issued,
      pem: `${keyPem}${certPem}`,
      pfx,
      der: new X509Certificate(certPem).raw,
    };
  });

  after(async () => {
    await hosts.remove();
    await kv.close();
    await entra.stop();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    kv.clearRequests();
  });

  it('answers without a token with the 401 challenge, then serves the token the SDK fetched from it', async () => {
    kv.setSecret('kv1', 'challenge', 'v');
    const tokensBefore = entra.requests.length;
    const fresh = new SecretClient(kv.vaultUrl('kv1'), credential);
    expect((await fresh.getSecret('challenge')).value).to.equal('v');
    expect(kv.requests.map((r) => [r.status, r.authenticated])).to.deep.equal([
      [401, false],
      [200, true],
    ]);
    expect(kv.requests[1]?.claims).to.deep.include({
      aud: kv.resource,
      tid: TENANT,
      appid: 'app-1',
    });
    expect(entra.requests.length).to.equal(tokensBefore + 1);

    const raw = await fetch(`${kv.vaultUrl('kv1')}/secrets/challenge?api-version=7.5`);
    expect(raw.status).to.equal(401);
    expect(raw.headers.get('www-authenticate')).to.equal(
      `Bearer authorization="${entra.authorityHost}/${TENANT}", resource="${kv.resource}"`,
    );
  });

  // Upstream's Go provider (azsecrets) refuses a challenge unless the vault's host:port ends with
  // ".<resource host:port>"; Key Vault serves port 443 with the resource https://vault.azure.net.
  it('serves its vaults on port 443 with a challenge resource the Go SDK accepts', () => {
    const vault = new URL(kv.vaultUrl('kv1'));
    const resource = new URL(kv.resource);
    expect(kv.port).to.equal(443);
    expect(vault.port).to.equal('');
    expect(resource.port).to.equal('');
    expect(vault.host.endsWith(`.${resource.host}`)).to.equal(true);
    expect(kv.dnsSuffixWithPort).to.equal(kv.dnsSuffix);
    expect(kv.address).to.match(/^127\.\d+\.\d+\.\d+$/);
  });

  it('gets the latest secret version and a given one, with ids and attributes as Key Vault reports them', async () => {
    const created = new Date('2024-01-02T03:04:05Z');
    const v1 = kv.setSecret('kv1', 'db-password', 'one', { created, contentType: 'text/plain' });
    const v2 = kv.setSecret('kv1', 'db-password', 'two', { tags: { team: 'a' } });
    expect(v1).to.match(/^[0-9a-f]{32}$/);

    const latest = await secrets.getSecret('db-password');
    expect(latest.value).to.equal('two');
    expect(latest.properties).to.deep.include({
      name: 'db-password',
      version: v2,
      vaultUrl: kv.vaultUrl('kv1'),
      enabled: true,
      tags: { team: 'a' },
    });
    expect(latest.properties.id).to.equal(`${kv.vaultUrl('kv1')}/secrets/db-password/${v2}`);

    const first = await secrets.getSecret('db-password', { version: v1 });
    expect(first.value).to.equal('one');
    expect(first.properties.contentType).to.equal('text/plain');
    expect(first.properties.createdOn?.toISOString()).to.equal(created.toISOString());
    expect(first.properties.recoveryLevel).to.equal('Recoverable+Purgeable');
  });

  it('sets and updates secrets through the SDK', async () => {
    const set = await secrets.setSecret('from-sdk', 'hello', { contentType: 'text/plain', tags: { a: 'b' } });
    expect(kv.versions('kv1', 'secrets', 'from-sdk')).to.deep.equal([set.properties.version]);
    const updated = await secrets.updateSecretProperties('from-sdk', set.properties.version!, {
      enabled: false,
      contentType: 'application/json',
    });
    expect(updated.enabled).to.equal(false);
    expect(updated.contentType).to.equal('application/json');
    const error = await rejection(secrets.getSecret('from-sdk'));
    expect(error.statusCode).to.equal(403);
  });

  it('backs an imported PFX certificate with a managed secret (kid, application/x-pkcs12) and key', async () => {
    const version = kv.importCertificate('kv1', 'tls-pfx', { pfx: leaf.pfx });
    const secret = await secrets.getSecret('tls-pfx');
    expect(secret.value).to.equal(leaf.pfx.toString('base64'));
    expect(secret.properties).to.deep.include({
      contentType: 'application/x-pkcs12',
      certificateKeyId: `${kv.vaultUrl('kv1')}/keys/tls-pfx/${version}`,
      managed: true,
      version,
    });
    const key = await keys.getKey('tls-pfx');
    const fromKeyVault = createPublicKey({ key: toNodeJwk(key.key!), format: 'jwk' });
    expect(fromKeyVault.equals(new X509Certificate(leaf.der).publicKey)).to.equal(true);
    expect(key.properties.managed).to.equal(true);
  });

  it('backs an imported PEM certificate with a secret holding the PEM text (application/x-pem-file)', async () => {
    const version = kv.importCertificate('kv1', 'tls-pem', { pem: leaf.pem });
    const secret = await secrets.getSecret('tls-pem', { version });
    expect(secret.value).to.equal(leaf.pem);
    expect(secret.properties.contentType).to.equal('application/x-pem-file');
    expect(secret.properties.certificateKeyId).to.equal(`${kv.vaultUrl('kv1')}/keys/tls-pem/${version}`);
    const certificateOnly = leaf.pem.slice(leaf.pem.indexOf('-----BEGIN CERTIFICATE'));
    expect(() => kv.importCertificate('kv1', 'no-key', { pem: certificateOnly })).to.throw(
      /Private key is not specified/,
    );
  });

  it('imports PFX (with a password) and PEM certificates through the SDK', async () => {
    const protectedPfx = await run('openssl', [
      'pkcs12',
      '-export',
      '-in',
      leaf.certPath,
      '-inkey',
      leaf.keyPath,
      '-passout',
      'pass:pw',
      '-out',
      join(dir, 'pw.p12'),
    ]).then(() => readFile(join(dir, 'pw.p12')));
    const imported = await certificates.importCertificate('sdk-pfx', protectedPfx, { password: 'pw' });
    expect(Buffer.from(imported.cer!).equals(leaf.der)).to.equal(true);
    const pfxSecret = await secrets.getSecret('sdk-pfx');
    expect(pfxSecret.properties.contentType).to.equal('application/x-pkcs12');
    // Stored without the password, as Key Vault does: openssl reads it with an empty one.
    await writeFile(join(dir, 'stored.p12'), Buffer.from(pfxSecret.value!, 'base64'));
    const { stdout } = await run('openssl', [
      'pkcs12',
      '-in',
      join(dir, 'stored.p12'),
      '-nodes',
      '-passin',
      'pass:',
    ]);
    expect(stdout).to.include('BEGIN PRIVATE KEY');
    expect(stdout).to.include('BEGIN CERTIFICATE');

    const pem = await certificates.importCertificate('sdk-pem', Buffer.from(leaf.pem), {
      policy: { contentType: 'application/x-pem-file', issuerName: 'Unknown', subject: 'CN=app.example' },
    });
    expect(pem.properties.version).to.match(/^[0-9a-f]{32}$/);
    const pemSecret = await secrets.getSecret('sdk-pem');
    expect(pemSecret.value).to.equal(leaf.pem);
    expect(pemSecret.properties.contentType).to.equal('application/x-pem-file');

    const bad = await rejection(certificates.importCertificate('sdk-bad', Buffer.from('not a pfx')));
    expect(bad.statusCode).to.equal(400);
  });

  it('returns RSA and EC public JWKs that node:crypto accepts', async () => {
    kv.createKey('kv1', 'rsa-key', { kty: 'RSA-HSM', keySize: 3072 });
    kv.createKey('kv1', 'ec-key', { kty: 'EC', crv: 'P-384' });
    kv.createKey('kv1', 'k1-key', { kty: 'EC', crv: 'P-256K' });
    const rsa = await keys.getKey('rsa-key');
    expect(rsa.keyType).to.equal('RSA-HSM');
    expect(rsa.key?.kid).to.equal(rsa.id);
    expect(rsa.id).to.equal(`${kv.vaultUrl('kv1')}/keys/rsa-key/${rsa.properties.version!}`);
    const rsaKey = createPublicKey({ key: toNodeJwk(rsa.key!), format: 'jwk' });
    expect(rsaKey.asymmetricKeyDetails?.modulusLength).to.equal(3072);

    const ec = await keys.getKey('ec-key');
    expect(ec.key?.crv).to.equal('P-384');
    expect(
      createPublicKey({ key: toNodeJwk(ec.key!), format: 'jwk' }).asymmetricKeyDetails?.namedCurve,
    ).to.equal('secp384r1');
    const k1 = await keys.getKey('k1-key');
    expect(k1.key?.crv).to.equal('P-256K');
    expect(createPublicKey({ key: toNodeJwk(k1.key!), format: 'jwk' }).asymmetricKeyType).to.equal('ec');
  });

  it('creates and imports keys through the SDK, keeping only the public half', async () => {
    const created = await keys.createEcKey('sdk-ec', { curve: 'P-256' });
    expect(created.key?.crv).to.equal('P-256');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' });
    const imported = await keys.importKey('sdk-imported', {
      kty: 'RSA',
      n: Buffer.from(jwk.n!, 'base64url'),
      e: Buffer.from(jwk.e!, 'base64url'),
      d: Buffer.from(jwk.d!, 'base64url'),
      p: Buffer.from(jwk.p!, 'base64url'),
      q: Buffer.from(jwk.q!, 'base64url'),
      dp: Buffer.from(jwk.dp!, 'base64url'),
      dq: Buffer.from(jwk.dq!, 'base64url'),
      qi: Buffer.from(jwk.qi!, 'base64url'),
    });
    expect(imported.key?.d).to.equal(undefined);
    const fetched = await keys.getKey('sdk-imported');
    expect(createPublicKey({ key: toNodeJwk(fetched.key!), format: 'jwk' }).equals(publicKey)).to.equal(true);
  });

  it('returns the certificate DER (cer), its x5t and the ids of the backing key and secret', async () => {
    const version = kv.importCertificate('kv1', 'cert', { pfx: leaf.pfx });
    const cert = await certificates.getCertificate('cert');
    const x509 = new X509Certificate(Buffer.from(cert.cer!));
    expect(x509.subject).to.equal('CN=app.example');
    expect(x509.raw.equals(leaf.der)).to.equal(true);
    expect(Buffer.from(cert.properties.x509Thumbprint!).toString('hex')).to.equal(
      createHash('sha1').update(leaf.der).digest('hex'),
    );
    expect(cert.keyId).to.equal(`${kv.vaultUrl('kv1')}/keys/cert/${version}`);
    expect(cert.secretId).to.equal(`${kv.vaultUrl('kv1')}/secrets/cert/${version}`);
    expect(cert.policy?.contentType).to.equal('application/x-pkcs12');
    const byVersion = await certificates.getCertificateVersion('cert', version);
    expect(byVersion.properties.version).to.equal(version);
  });

  it('imports an EC certificate from PEM with an EC backing key', async () => {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'ec.key'),
      '-out',
      join(dir, 'ec.crt'),
      '-subj',
      '/CN=ec.example',
      '-days',
      '1',
    ]);
    const pem = (await readFile(join(dir, 'ec.key'), 'utf8')) + (await readFile(join(dir, 'ec.crt'), 'utf8'));
    kv.importCertificate('kv1', 'ec-cert', { pem });
    const key = await keys.getKey('ec-cert');
    expect(key.keyType).to.equal('EC');
    expect(key.key?.crv).to.equal('P-256');
  });

  it('lists secret versions in pages linked by nextLink with a $skiptoken', async () => {
    const made = Array.from({ length: 5 }, (_, i) => kv.setSecret('kv1', 'paged', `v${i}`));
    kv.setEnabled('kv1', 'secrets', 'paged', made[0]!, false);
    const pages: string[][] = [];
    for await (const page of secrets.listPropertiesOfSecretVersions('paged').byPage({ maxPageSize: 2 })) {
      pages.push(page.map((p) => p.version!));
    }
    expect(pages).to.deep.equal([made.slice(0, 2), made.slice(2, 4), made.slice(4)]);
    const paths = kv.requests.filter((r) => r.status === 200).map((r) => r.path);
    expect(paths).to.deep.equal(Array(3).fill('/secrets/paged/versions'));

    const all: boolean[] = [];
    for await (const p of secrets.listPropertiesOfSecretVersions('paged')) all.push(p.enabled!);
    expect(all).to.deep.equal([false, true, true, true, true]);
  });

  it('pages with the configured page size when the client asks for none', async () => {
    const small = await startKeyVaultDouble({
      ...(await issueVaultServing(pki, 'vault-small')),
      authorityHost: entra.authorityHost,
      pageSize: 2,
    });
    const smallHosts = await small.mapVaultHosts(['kv1']);
    try {
      small.createVault('kv1', { tenantId: TENANT });
      for (let i = 0; i < 3; i++) small.createKey('kv1', 'k', { kty: 'oct' });
      const client = new KeyClient(small.vaultUrl('kv1'), credential);
      const versions: string[] = [];
      for await (const p of client.listPropertiesOfKeyVersions('k')) versions.push(p.version!);
      expect(versions).to.deep.equal(small.versions('kv1', 'keys', 'k'));
      expect(small.requests.filter((r) => r.status === 200)).to.have.length(2);
      const names: string[] = [];
      for await (const p of client.listPropertiesOfKeys()) names.push(p.name);
      expect(names).to.deep.equal(['k']);
    } finally {
      await small.close();
      await smallHosts.remove();
    }
  });

  it('refuses a disabled secret or key version with 403 Forbidden (SecretDisabled / KeyDisabled)', async () => {
    const version = kv.setSecret('kv1', 'off', 'x');
    kv.setEnabled('kv1', 'secrets', 'off', version, false);
    const error = await rejection(secrets.getSecret('off', { version }));
    expect(error.name).to.equal('RestError');
    expect(error.statusCode).to.equal(403);
    expect(error.code).to.equal('Forbidden');
    expect(error.message).to.equal('Operation get is not allowed on a disabled secret.');
    expect(error.details?.error?.innerError?.code).to.equal('SecretDisabled');

    const keyVersion = kv.createKey('kv1', 'off-key', { kty: 'EC', enabled: false });
    const keyError = await rejection(keys.getKey('off-key', { version: keyVersion }));
    expect([keyError.statusCode, keyError.details?.error?.innerError?.code]).to.deep.equal([
      403,
      'KeyDisabled',
    ]);
  });

  it('answers 404 SecretNotFound, KeyNotFound and CertificateNotFound for what does not exist', async () => {
    const secret = await rejection(secrets.getSecret('missing'));
    expect([secret.name, secret.statusCode, secret.code]).to.deep.equal(['RestError', 404, 'SecretNotFound']);
    expect(secret.message).to.match(/^A secret with \(name\/id\) missing was not found in this key vault\./);
    kv.setSecret('kv1', 'exists', 'x');
    const version = await rejection(secrets.getSecret('exists', { version: '0'.repeat(32) }));
    expect(version.statusCode).to.equal(404);
    expect((await rejection(keys.getKey('missing'))).code).to.equal('KeyNotFound');
    expect((await rejection(certificates.getCertificate('missing'))).code).to.equal('CertificateNotFound');
    const list = await rejection(secrets.listPropertiesOfSecretVersions('missing').next());
    expect(list.statusCode).to.equal(404);
  });

  it('plays a queued 429 with Retry-After, which the SDK waits out and retries', async () => {
    kv.setSecret('kv1', 'throttled', 'finally');
    kv.queueFailures(
      { vault: 'kv1', pathPrefix: '/secrets/throttled' },
      { status: 429, retryAfterSeconds: 1 },
    );
    const started = Date.now();
    expect((await secrets.getSecret('throttled')).value).to.equal('finally');
    expect(Date.now() - started).to.be.at.least(950);
    expect(kv.requests.map((r) => r.status)).to.deep.equal([429, 200]);

    kv.queueFailures(
      (r) => r.path.startsWith('/secrets/throttled'),
      { status: 503, retryAfterMs: 20 },
      { status: 500 },
    );
    expect((await secrets.getSecret('throttled')).value).to.equal('finally');
    expect(kv.requests.slice(2).map((r) => r.status)).to.deep.equal([503, 500, 200]);

    const raw = await fetch(`${kv.vaultUrl('kv1')}/secrets/throttled?api-version=7.5`, {
      headers: {
        authorization: `Bearer ${(await credential.getToken(`${kv.resource}/.default`)).token}`,
      },
    });
    expect(raw.status).to.equal(200);
    kv.queueFailures({}, { status: 429, retryAfterSeconds: 3 });
    const throttled = await fetch(`${kv.vaultUrl('kv1')}/secrets/throttled?api-version=7.5`, {
      headers: {
        authorization: `Bearer ${(await credential.getToken(`${kv.resource}/.default`)).token}`,
      },
    });
    expect(throttled.status).to.equal(429);
    expect(throttled.headers.get('retry-after')).to.equal('3');
    expect(await throttled.json()).to.have.nested.property('error.code', 'Throttled');
  });

  it('rejects tokens the Entra stand-in did not issue, or issued for another tenant', async () => {
    kv.setSecret('kv1', 'guarded', 'x');
    const forged: TokenCredential = {
      getToken: () =>
        Promise.resolve({ token: 'forged.token.value', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const error = await rejection(new SecretClient(kv.vaultUrl('kv1'), forged).getSecret('guarded'));
    expect(error.statusCode).to.equal(401);
    expect(kv.requests.every((r) => !r.authenticated)).to.equal(true);

    const otherTenant = new ClientSecretCredential('tenant-b', 'app-2', 's3cret', {
      authorityHost: entra.authorityHost,
      disableInstanceDiscovery: true,
    });
    const token = (await otherTenant.getToken(`${kv.resource}/.default`)).token;
    const raw = await fetch(`${kv.vaultUrl('kv1')}/secrets/guarded?api-version=7.5`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(raw.status).to.equal(401);
    expect(await raw.json())
      .to.have.nested.property('error.message')
      .that.matches(/^AKV10032: Invalid issuer/);
  });

  it('answers an unknown vault host with 404 and a missing api-version with 400', async () => {
    const unknown = await fetch(`${kv.vaultUrl('nosuchvault')}/secrets/x?api-version=7.5`);
    expect(unknown.status).to.equal(404);
    expect(kv.requests.at(-1)?.vault).to.equal(undefined);
    const token = (await credential.getToken(`${kv.resource}/.default`)).token;
    const noVersion = await fetch(`${kv.vaultUrl('kv1')}/secrets/x`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(noVersion.status).to.equal(400);
    expect(await noVersion.json()).to.have.nested.property('error.code', 'BadParameter');
  });

  it('adds the configured latency to every request', async () => {
    kv.setSecret('kv1', 'slow', 'x');
    await secrets.getSecret('slow');
    kv.setLatency(150);
    try {
      const started = Date.now();
      await secrets.getSecret('slow');
      expect(Date.now() - started).to.be.at.least(140);
    } finally {
      kv.setLatency(0);
    }
  });
});
