/**
 * Issue 16 §2 and §4 end to end: the provider built from real flags, served on a unix socket and called as
 * the driver calls it, reading through the real @azure/keyvault-* SDKs from the Key Vault double. Key
 * extraction (`jmesPath`), a password-protected PFX stored as a plain secret (`objectContentType`,
 * `pfxPasswordSecretKey` naming a key of the nodePublishSecretRef Secret), and a certificate's key alone
 * (`pemContent`).
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { driverMountRequest } from '@secrets-store-csi/provider-sdk/testing';
import type { KeyVaultDouble } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { objectsYaml, startWorld, TENANT, type ServedProvider, type World } from './world.js';

const run = promisify(execFile);

const CLIENT_ID = 'app';
const CLIENT_SECRET = 'app-secret-value-9d2a';
const PFX_PASSWORD = 'pfx-Pa55-SECRET-7c1e';
const DB_PASSWORD = 'db-pa55-SECRET-41b0';
const POD = {
  'csi.storage.k8s.io/pod.name': 'api-0',
  'csi.storage.k8s.io/pod.namespace': 'shop',
  'csi.storage.k8s.io/serviceAccount.name': 'api',
};

type Outcome = Awaited<ReturnType<ServedProvider['client']['mount']>>;

function files(outcome: Outcome) {
  if (!outcome.ok)
    expect.fail(`the mount failed: ${outcome.codeName} ${outcome.errorCode ?? ''} ${outcome.details}`);
  return {
    list: outcome.response.files.map((f) => ({
      path: f.path,
      mode: f.mode,
      text: Buffer.from(f.contents).toString('utf8'),
    })),
    versions: outcome.response.object_version.map(({ id, version }) => ({ id, version })),
  };
}

function failure(outcome: Outcome) {
  if (outcome.ok) expect.fail('expected the mount to fail');
  for (const secret of [PFX_PASSWORD, DB_PASSWORD, CLIENT_SECRET])
    expect(outcome.details).not.to.include(secret);
  return { code: outcome.codeName, errorCode: outcome.errorCode, details: outcome.details };
}

const pemTypes = (text: string) => [...text.matchAll(/-----BEGIN ([A-Z ]+)-----/g)].map((m) => m[1]);

describe('the Azure provider: jmesPath extraction and certificates upstream cannot serve (issue 16)', function () {
  this.timeout(30_000);
  let world: World;
  let kv: KeyVaultDouble;
  let cloudFile: string;
  let standard: ServedProvider;
  let split: ServedProvider;
  let keyPkcs8: string;
  let certDer: Buffer;
  let protectedPfx: Buffer;
  let plainPfx: Buffer;

  const mount = (served: ServedProvider, objects: readonly string[], secrets: Record<string, string> = {}) =>
    served.client.mount(
      driverMountRequest({
        parameters: {
          keyvaultName: 'kv1',
          tenantID: TENANT,
          cloudName: 'AzureStackCloud',
          cloudEnvFileName: cloudFile,
          objects: objectsYaml(...objects),
        },
        podAttributes: POD,
        secrets: { clientid: CLIENT_ID, clientsecret: CLIENT_SECRET, ...secrets },
        permission: 0o640,
      }),
    );
  const gets = (path: string) => kv.requests.filter((r) => r.authenticated && r.path === path).length;
  const latest = (name: string) => kv.versions('kv1', 'secrets', name).at(-1) ?? expect.fail(`no ${name}`);

  before(async () => {
    world = await startWorld({ prefix: 'provider-azure-shaping-', vaults: ['kv1'] });
    kv = world.kv;
    cloudFile = await world.cloudFile(kv);
    world.entra.addServicePrincipal({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    kv.createVault('kv1', { tenantId: TENANT });

    const openssl = (...args: string[]) => run('openssl', args, { cwd: world.dir });
    await openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'app.key',
      '-out',
      'app.crt',
      '-days',
      '2',
      '-subj',
      '/CN=app.shop.test',
    );
    await openssl(
      'pkcs12',
      '-export',
      '-inkey',
      'app.key',
      '-in',
      'app.crt',
      '-passout',
      `pass:${PFX_PASSWORD}`,
      '-out',
      'protected.pfx',
    );
    await openssl(
      'pkcs12',
      '-export',
      '-inkey',
      'app.key',
      '-in',
      'app.crt',
      '-passout',
      'pass:',
      '-out',
      'plain.pfx',
    );
    keyPkcs8 = createPrivateKey(await readFile(join(world.dir, 'app.key'))).export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    certDer = new X509Certificate(await readFile(join(world.dir, 'app.crt'))).raw;
    protectedPfx = await readFile(join(world.dir, 'protected.pfx'));
    plainPfx = await readFile(join(world.dir, 'plain.pfx'));

    kv.setSecret(
      'kv1',
      'db-json',
      JSON.stringify({ username: 'shop', password: DB_PASSWORD, port: 5432, replicas: ['r1', 'r2'] }),
    );
    kv.setSecret('kv1', 'db-yaml', `username: shop\npassword: ${DB_PASSWORD}\n`);
    // As Azure App Service Certificates and users who upload a PFX file as a secret store it (upstream #273, #185).
    kv.setSecret('kv1', 'app-pfx-protected', protectedPfx.toString('base64'), {
      contentType: 'application/x-pkcs12',
    });
    kv.setSecret('kv1', 'app-pfx-plain', plainPfx.toString('base64'));
    // Imported with its password: Key Vault keeps the archive without it, as the double does.
    kv.importCertificate('kv1', 'app-cert', { pfx: protectedPfx, password: PFX_PASSWORD });

    standard = await world.startProvider([]);
    split = await world.startProvider(['--write-cert-and-key-in-separate-files', '--object-cache-ttl=0s']);
  });

  after(async () => {
    await world.close();
  });

  beforeEach(() => {
    kv.clearRequests();
  });

  it('writes each jmesPath result as its own file with its own mode, beside the whole object, from one GET', async () => {
    const result = files(
      await mount(standard, [
        [
          'objectName: db-json',
          'objectType: secret',
          'filePermission: 0600',
          'jmesPath:',
          '  - path: username',
          '    objectAlias: db/username',
          '  - path: password',
          '    objectAlias: db/password',
          '    filePermission: 0400',
          '  - path: port',
          '    objectAlias: db/port',
          '  - path: replicas',
          '    objectAlias: db/replicas',
        ].join('\n'),
        'objectName: db-yaml\nobjectType: secret\njmesPath:\n  - path: password\n    objectAlias: yaml-password',
      ]),
    );
    expect(
      result.list.map((f) => [
        f.path,
        f.mode.toString(8),
        f.path === 'db-json' || f.path === 'db-yaml' ? '(whole)' : f.text,
      ]),
    ).to.deep.equal([
      ['db-json', '600', '(whole)'],
      ['db/username', '600', 'shop'],
      ['db/password', '400', DB_PASSWORD],
      ['db/port', '600', '5432'],
      ['db/replicas', '600', '["r1","r2"]'],
      ['db-yaml', '640', '(whole)'],
      ['yaml-password', '640', DB_PASSWORD],
    ]);
    expect(JSON.parse(result.list[0]?.text ?? '')).to.include({ username: 'shop' });
    // One version per object file, as before: extracted files report none of their own.
    expect(result.versions).to.deep.equal([
      { id: 'secret/db-json', version: latest('db-json') },
      { id: 'secret/db-yaml', version: latest('db-yaml') },
    ]);
    expect(gets('/secrets/db-json/')).to.equal(1);
  });

  it('fails a missing key naming the object and the path, never the value (InvalidContent)', async () => {
    const outcome = failure(
      await mount(standard, [
        'objectName: db-json\nobjectType: secret\njmesPath:\n  - path: credentials.user\n    objectAlias: user',
      ]),
    );
    expect(outcome).to.deep.include({ code: 'INTERNAL', errorCode: 'InvalidContent' });
    expect(outcome.details).to.include(
      'failed to get objectType:secret, objectName:db-json, objectVersion:: jmesPath path "credentials.user" (objectAlias "user"): selects nothing in the secret value (a missing key, or null)',
    );
  });

  it('refuses an extracted file that collides with another object, before any Key Vault call (InvalidArgument)', async () => {
    const outcome = failure(
      await mount(standard, [
        'objectName: db-yaml\nobjectType: secret',
        'objectName: db-json\nobjectType: secret\njmesPath:\n  - path: password\n    objectAlias: db-yaml',
      ]),
    );
    expect(outcome).to.deep.include({ code: 'INVALID_ARGUMENT', errorCode: 'InvalidParameter' });
    expect(outcome.details).to.include(
      'jmesPath[0].objectAlias "db-yaml" collides with the file of object db-yaml',
    );
    expect(kv.requests.filter((r) => r.authenticated)).to.deep.equal([]);
  });

  it('converts a password-protected PFX stored as a secret to PEM with the password from the nodePublishSecretRef Secret', async () => {
    const object = [
      'objectName: app-pfx-protected',
      'objectType: secret',
      'objectContentType: application/x-pkcs12',
      'pfxPasswordSecretKey: pfx-password',
    ].join('\n');
    const result = files(await mount(split, [object], { 'pfx-password': PFX_PASSWORD }));
    expect(result.list.map((f) => [f.path, pemTypes(f.text)])).to.deep.equal([
      ['app-pfx-protected.crt', ['CERTIFICATE']],
      ['app-pfx-protected.key', ['PRIVATE KEY']],
      ['app-pfx-protected', ['PRIVATE KEY', 'CERTIFICATE']],
    ]);
    expect(result.list[1]?.text).to.equal(keyPkcs8);
    expect(new X509Certificate(result.list[0]?.text ?? '').raw.equals(certDer)).to.equal(true);

    const wrong = failure(await mount(split, [object], { 'pfx-password': 'not-the-password' }));
    expect(wrong).to.deep.include({ code: 'INTERNAL', errorCode: 'InvalidContent' });
    expect(wrong.details).to.include(
      'failed to get objectType:secret, objectName:app-pfx-protected, objectVersion:: failed to decode PKCS#12: the MAC does not verify with the password from nodePublishSecretRef key "pfx-password" (wrong password?)',
    );
    expect(wrong.details).not.to.include('not-the-password');

    const missing = failure(await mount(split, [object]));
    expect(missing).to.deep.include({ code: 'INVALID_ARGUMENT', errorCode: 'InvalidParameter' });
    expect(missing.details).to.include(
      'pfxPasswordSecretKey "pfx-password": the nodePublishSecretRef Secret has no such key',
    );
  });

  it('serves a passwordless PFX stored as a plain secret as PEM only when objectContentType asks (upstream #273)', async () => {
    const asStored = files(await mount(standard, ['objectName: app-pfx-plain\nobjectType: secret']));
    expect(asStored.list.map((f) => f.text)).to.deep.equal([plainPfx.toString('base64')]);
    const asPem = files(
      await mount(standard, [
        'objectName: app-pfx-plain\nobjectType: secret\nobjectContentType: application/x-pkcs12',
      ]),
    );
    expect(pemTypes(asPem.list[0]?.text ?? '')).to.deep.equal(['PRIVATE KEY', 'CERTIFICATE']);
  });

  it("gives a certificate's private key alone, and its certificates alone (upstream #1795)", async () => {
    const result = files(
      await mount(split, [
        'objectName: app-cert\nobjectType: secret\nobjectAlias: tls.key\npemContent: key',
        'objectName: app-cert\nobjectType: secret\nobjectAlias: tls.crt\npemContent: certs',
      ]),
    );
    expect(result.list.map((f) => f.path)).to.deep.equal(['tls.key', 'tls.crt']);
    expect(result.list[0]?.text).to.equal(keyPkcs8);
    expect(new X509Certificate(result.list[1]?.text ?? '').raw.equals(certDer)).to.equal(true);
    // Both objects came from one GET of the certificate's secret.
    expect(gets('/secrets/app-cert/')).to.equal(1);

    const onCert = failure(
      await mount(standard, ['objectName: app-cert\nobjectType: cert\npemContent: key']),
    );
    expect(onCert.details).to.include('pemContent is only supported for objectType: secret');
  });
});
