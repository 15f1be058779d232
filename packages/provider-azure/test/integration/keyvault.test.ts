/**
 * The Azure provider end to end, as the driver drives it: built by `createAzureProvider` from real flags,
 * served by `serve()` on a unix socket, called by a gRPC client that encodes MountRequests as the driver does,
 * authenticating a service principal with the real @azure/identity at the Entra ID stand-in and reading
 * through the real @azure/keyvault-* SDKs from the Key Vault double, over real HTTPS, as a custom cloud
 * (`cloudName: AzureStackCloud` with a `cloudEnvFileName`).
 */
import { execFile } from 'node:child_process';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClientSecretCredential } from '@azure/identity';
import { KeyClient } from '@azure/keyvault-keys';
import { driverMountRequest, type ProviderClient } from '@secrets-store-csi/provider-sdk/testing';
import type { KeyVaultDouble } from '@secrets-store-csi/test-support';
import { createMetricsRegistry, silentLogger, type Logger } from '@secrets-store-csi/core';
import { parseFlags } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type { Histogram } from 'prom-client';
import { azureProviderFlags, createAzureProvider } from '../../src/app.js';
import { objectsYaml, startWorld, TENANT, type ServedProvider, type World } from './world.js';

const run = promisify(execFile);

const CLIENT_ID = 'app';
const CLIENT_SECRET = 'app-secret-value-1f3c';
const POD = {
  'csi.storage.k8s.io/ephemeral': 'false',
  'csi.storage.k8s.io/pod.name': 'web-0',
  'csi.storage.k8s.io/pod.namespace': 'shop',
  'csi.storage.k8s.io/pod.uid': '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
  'csi.storage.k8s.io/serviceAccount.name': 'web',
};

/** What a Mount call ends with: the response, or the gRPC status. */
type MountOutcome = Awaited<ReturnType<ProviderClient['mount']>>;

interface MountedFile {
  readonly path: string;
  readonly mode: number;
  readonly contents: Buffer;
}

interface Mounted {
  readonly files: MountedFile[];
  readonly versions: { id: string; version: string }[];
  file(path: string): MountedFile;
  text(path: string): string;
}

function mounted(outcome: MountOutcome): Mounted {
  if (!outcome.ok) {
    expect.fail(`the mount failed: ${outcome.codeName} ${outcome.errorCode ?? ''} ${outcome.details}`);
  }
  const files = outcome.response.files.map((f) => ({
    path: f.path,
    mode: f.mode,
    contents: Buffer.from(f.contents),
  }));
  const file = (path: string) => {
    const found = files.find((f) => f.path === path);
    if (found === undefined) expect.fail(`no file ${path} among ${files.map((f) => f.path).join(', ')}`);
    return found;
  };
  return {
    files,
    versions: outcome.response.object_version.map(({ id, version }) => ({ id, version })),
    file,
    text: (path) => file(path).contents.toString('utf8'),
  };
}

function failed(outcome: MountOutcome) {
  if (outcome.ok) expect.fail('expected the mount to fail');
  return { code: outcome.codeName, details: outcome.details, errorCode: outcome.errorCode };
}

/** The PEM blocks of a text, as [type, DER]. */
function pemBlocks(text: string): [string, Buffer][] {
  return [...text.matchAll(/-----BEGIN ([A-Z ]+)-----\n([\s\S]*?)-----END \1-----\n/g)].map((m) => [
    m[1] ?? '',
    Buffer.from((m[2] ?? '').replace(/\n/g, ''), 'base64'),
  ]);
}

const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });

/** Runs `openssl` in `dir` with the words of `command` (no word has spaces); returns its standard output. */
async function openssl(dir: string, command: string): Promise<string> {
  const { stdout } = await run('openssl', command.split(/\s+/).filter(Boolean), { cwd: dir });
  return stdout;
}

interface TestCert {
  readonly keyPem: string;
  readonly certPem: string;
  readonly pfx: Buffer;
  readonly der: Buffer;
}

async function readCert(dir: string, name: string): Promise<TestCert> {
  const [keyPem, certPem, pfx] = await Promise.all([
    readFile(join(dir, `${name}.key`), 'utf8'),
    readFile(join(dir, `${name}.crt`), 'utf8'),
    readFile(join(dir, `${name}.pfx`)),
  ]);
  return { keyPem, certPem, pfx, der: new X509Certificate(certPem).raw };
}

/** A self-signed certificate and key for `subject`, as PEM and as a passwordless PFX. */
async function selfSigned(dir: string, name: string, subject: string, newKey: string): Promise<TestCert> {
  await openssl(
    dir,
    `req -x509 ${newKey} -nodes -keyout ${name}.key -out ${name}.crt -days 2 -subj /CN=${subject}
     -addext subjectAltName=DNS:${subject}`,
  );
  await openssl(dir, `pkcs12 -export -inkey ${name}.key -in ${name}.crt -passout pass: -out ${name}.pfx`);
  return readCert(dir, name);
}

interface Chain {
  readonly leaf: TestCert;
  readonly intermediateDer: Buffer;
  readonly rootDer: Buffer;
  /** The certificates' DER in the order the PFX holds them. */
  readonly archiveOrder: Buffer[];
}

/** root CA → intermediate CA → leaf, with key identifiers; the PFX holds them as leaf, root, intermediate. */
async function certificateChain(dir: string): Promise<Chain> {
  const ids = ['subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid:always'];
  await writeFile(
    join(dir, 'ca.ext'),
    ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', ...ids, ''].join('\n'),
  );
  await writeFile(
    join(dir, 'leaf.ext'),
    ['basicConstraints=CA:FALSE', 'subjectAltName=DNS:chain.test.domain.com', ...ids, ''].join('\n'),
  );
  await openssl(dir, 'genrsa -out root.key 2048');
  await openssl(
    dir,
    `req -x509 -new -key root.key -days 2 -subj /CN=chain-root -addext basicConstraints=critical,CA:TRUE
     -addext keyUsage=critical,keyCertSign,cRLSign -out root.crt`,
  );
  const issue = async (name: string, subject: string, issuer: string, extfile: string) => {
    await openssl(dir, `genrsa -out ${name}.key 2048`);
    await openssl(dir, `req -new -key ${name}.key -subj /CN=${subject} -out ${name}.csr`);
    await openssl(
      dir,
      `x509 -req -in ${name}.csr -CA ${issuer}.crt -CAkey ${issuer}.key -CAcreateserial -days 2 -sha256
       -extfile ${extfile} -out ${name}.crt`,
    );
  };
  await issue('intermediate', 'chain-intermediate', 'root', 'ca.ext');
  await issue('chainleaf', 'chain.test.domain.com', 'intermediate', 'leaf.ext');
  const [rootPem, intermediatePem] = await Promise.all(
    ['root.crt', 'intermediate.crt'].map((name) => readFile(join(dir, name), 'utf8')),
  );
  await writeFile(join(dir, 'others.pem'), `${rootPem ?? ''}${intermediatePem ?? ''}`);
  await openssl(
    dir,
    'pkcs12 -export -inkey chainleaf.key -in chainleaf.crt -certfile others.pem -passout pass: -out chainleaf.pfx',
  );
  const listed = await openssl(dir, 'pkcs12 -in chainleaf.pfx -nokeys -passin pass:');
  return {
    leaf: await readCert(dir, 'chainleaf'),
    intermediateDer: new X509Certificate(intermediatePem ?? '').raw,
    rootDer: new X509Certificate(rootPem ?? '').raw,
    archiveOrder: pemBlocks(listed).map(([, der]) => der),
  };
}

describe('the Azure provider against the Key Vault double, driven as the driver drives it', function () {
  this.timeout(30_000);
  let world: World;
  let kv: KeyVaultDouble;
  let cloudFile: string;
  /** Default flags: the object cache on (1m), 3 retries, chain ordering on. */
  let standard: ServedProvider;
  /** --write-cert-and-key-in-separate-files and --object-cache-ttl=0s. */
  let split: ServedProvider;
  /** --keyvault-max-retries=1 */
  let oneRetry: ServedProvider;
  /** --keyvault-max-retries=0 */
  let noRetry: ServedProvider;
  const keys = {} as Record<'key1' | 'rsahsmkey1' | 'echsmkey1', KeyObject>;
  let pemCert: TestCert;
  let eccCert: TestCert;
  let chain: Chain;

  const parameters = (extra: Record<string, string> = {}) => ({
    keyvaultName: 'kv1',
    tenantID: TENANT,
    cloudName: 'AzureStackCloud',
    cloudEnvFileName: cloudFile,
    ...extra,
  });

  const mount = (
    served: ServedProvider,
    objects: readonly string[],
    options: {
      parameters?: Record<string, string>;
      secrets?: Record<string, string>;
      permission?: number;
    } = {},
  ) =>
    served.client.mount(
      driverMountRequest({
        parameters: parameters({ objects: objectsYaml(...objects), ...options.parameters }),
        podAttributes: POD,
        secrets: options.secrets ?? { clientid: CLIENT_ID, clientsecret: CLIENT_SECRET },
        ...(options.permission === undefined ? {} : { permission: options.permission }),
      }),
    );

  /** Authenticated requests the double answered for one path, as their statuses. */
  const statusesOf = (path: string, double: KeyVaultDouble = kv) =>
    double.requests.filter((r) => r.authenticated && r.path === path).map((r) => r.status);

  const latest = (kind: 'secrets' | 'keys' | 'certificates', name: string) =>
    kv.versions('kv1', kind, name).at(-1) ?? expect.fail(`no version of ${name}`);

  before(async () => {
    world = await startWorld({
      prefix: 'provider-azure-keyvault-',
      vaults: ['kv1', 'stackkv', 'otherkv'],
    });
    kv = world.kv;
    cloudFile = await world.cloudFile(kv);
    world.entra.addServicePrincipal({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    world.entra.addServicePrincipal({ tenantId: TENANT, clientId: 'seeder', clientSecret: 'seed' });
    kv.createVault('kv1', { tenantId: TENANT });
    kv.setSecret('kv1', 'secret1', 'test');

    // Keys imported from known key pairs, so the mounted public keys can be compared with the real ones.
    const keyClient = new KeyClient(
      kv.vaultUrl('kv1'),
      new ClientSecretCredential(TENANT, 'seeder', 'seed', {
        authorityHost: world.entra.authorityHost,
        disableInstanceDiscovery: true,
      }),
    );
    const pairs = {
      key1: { pair: generateKeyPairSync('rsa', { modulusLength: 2048 }), hsm: false },
      rsahsmkey1: { pair: generateKeyPairSync('rsa', { modulusLength: 2048 }), hsm: true },
      echsmkey1: { pair: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), hsm: true },
    };
    for (const [name, { pair, hsm }] of Object.entries(pairs)) {
      const jwk = pair.publicKey.export({ format: 'jwk' });
      const bytes = (field: string | undefined) => (field ? Buffer.from(field, 'base64url') : undefined);
      await keyClient.importKey(
        name,
        {
          kty: jwk.kty === 'RSA' ? 'RSA' : 'EC',
          n: bytes(jwk.n),
          e: bytes(jwk.e),
          crv: jwk.crv,
          x: bytes(jwk.x),
          y: bytes(jwk.y),
        },
        { hardwareProtected: hsm },
      );
      keys[name as keyof typeof keys] = pair.publicKey;
    }
    expect(
      kv.requests.filter((r) => r.method === 'PUT' && r.authenticated).map((r) => r.status),
    ).to.deep.equal([200, 200, 200]);

    pemCert = await selfSigned(world.dir, 'pemcert', 'test.domain.com', '-newkey rsa:2048');
    eccCert = await selfSigned(
      world.dir,
      'ecccert',
      'ecc.test.domain.com',
      '-newkey ec -pkeyopt ec_paramgen_curve:P-256',
    );
    chain = await certificateChain(world.dir);
    kv.importCertificate('kv1', 'pemcert1', { pem: pemCert.keyPem + pemCert.certPem });
    kv.importCertificate('kv1', 'pkcs12cert1', { pfx: pemCert.pfx });
    kv.importCertificate('kv1', 'ecccert1', { pfx: eccCert.pfx });
    kv.importCertificate('kv1', 'chaincert1', { pfx: chain.leaf.pfx });

    standard = await world.startProvider([]);
    split = await world.startProvider(['--write-cert-and-key-in-separate-files', '--object-cache-ttl=0s']);
    oneRetry = await world.startProvider(['--keyvault-max-retries=1']);
    noRetry = await world.startProvider(['--keyvault-max-retries', '0', '--object-cache-ttl=0s']);
  });

  after(async () => {
    await world.close();
  });

  beforeEach(() => {
    kv.clearRequests();
  });

  it('mounts a plain secret and an alias of it, with upstream object version ids and the default mode', async () => {
    const result = mounted(
      await mount(standard, [
        'objectName: secret1\nobjectType: secret',
        'objectName: secret1\nobjectType: secret\nobjectAlias: SECRET_1',
      ]),
    );
    expect(result.files.map((f) => [f.path, f.mode, f.contents.toString()])).to.deep.equal([
      ['secret1', 0o644, 'test'],
      ['SECRET_1', 0o644, 'test'],
    ]);
    const version = latest('secrets', 'secret1');
    expect(result.versions).to.deep.equal([
      { id: 'secret/secret1', version },
      { id: 'secret/secret1', version },
    ]);
    // One identity, one object: the second object was served by the first fetch.
    expect(statusesOf('/secrets/secret1/')).to.deep.equal([200]);
  });

  it('mounts RSA, RSA-HSM and EC-HSM P-256 keys as PUBLIC KEY PEM of the keys in the vault', async () => {
    const result = mounted(
      await mount(standard, [
        'objectName: key1\nobjectType: key',
        'objectName: rsahsmkey1\nobjectType: key\nobjectAlias: KEY_HSM',
        'objectName: echsmkey1\nobjectType: key',
      ]),
    );
    expect(result.files.map((f) => f.path)).to.deep.equal(['key1', 'KEY_HSM', 'echsmkey1']);
    for (const [path, name] of [
      ['key1', 'key1'],
      ['KEY_HSM', 'rsahsmkey1'],
      ['echsmkey1', 'echsmkey1'],
    ] as const) {
      const text = result.text(path);
      expect(
        pemBlocks(text).map(([type]) => type),
        path,
      ).to.deep.equal(['PUBLIC KEY']);
      expect(spki(createPublicKey(text)).equals(spki(keys[name])), `${path} is the key of ${name}`).to.be
        .true;
    }
    expect(createPublicKey(result.text('echsmkey1')).asymmetricKeyDetails).to.deep.include({
      namedCurve: 'prime256v1',
    });
    expect(result.versions).to.deep.equal([
      { id: 'key/key1', version: latest('keys', 'key1') },
      { id: 'key/rsahsmkey1', version: latest('keys', 'rsahsmkey1') },
      { id: 'key/echsmkey1', version: latest('keys', 'echsmkey1') },
    ]);
  });

  it('mounts certificates as their leaf CERTIFICATE, and the public key of a certificate', async () => {
    const result = mounted(
      await mount(standard, [
        'objectName: pemcert1\nobjectType: cert',
        'objectName: ecccert1\nobjectType: cert',
        'objectName: chaincert1\nobjectType: cert',
        'objectName: pkcs12cert1\nobjectType: key\nobjectAlias: pkcs12cert1.pub',
      ]),
    );
    for (const [path, der] of [
      ['pemcert1', pemCert.der],
      ['ecccert1', eccCert.der],
      ['chaincert1', chain.leaf.der],
    ] as const) {
      const blocks = pemBlocks(result.text(path));
      expect(
        blocks.map(([type]) => type),
        path,
      ).to.deep.equal(['CERTIFICATE']);
      expect(blocks[0]?.[1].equals(der), `${path} is the leaf`).to.be.true;
    }
    expect(new X509Certificate(result.text('pemcert1')).subjectAltName).to.equal('DNS:test.domain.com');
    expect(
      spki(createPublicKey(result.text('pkcs12cert1.pub'))).equals(
        spki(new X509Certificate(pemCert.certPem).publicKey),
      ),
    ).to.be.true;
    expect(result.versions.map((v) => v.id)).to.deep.equal([
      'cert/pemcert1',
      'cert/ecccert1',
      'cert/chaincert1',
      'key/pkcs12cert1',
    ]);
    expect(result.versions[0]?.version).to.equal(latest('certificates', 'pemcert1'));
  });

  it('mounts certificate-backed secrets: PEM as imported, PFX as PKCS#8 keys then the chain leaf → root', async () => {
    // The archive holds leaf, root, intermediate: ordering has work to do.
    expect(chain.archiveOrder.map((der) => der.equals(chain.rootDer))).to.deep.equal([false, true, false]);
    const result = mounted(
      await mount(standard, [
        'objectName: pemcert1\nobjectType: secret',
        'objectName: pkcs12cert1\nobjectType: secret',
        'objectName: chaincert1\nobjectType: secret',
        'objectName: ecccert1\nobjectType: secret',
      ]),
    );
    expect(result.text('pemcert1')).to.equal(pemCert.keyPem + pemCert.certPem);

    const pkcs12 = pemBlocks(result.text('pkcs12cert1'));
    expect(pkcs12.map(([type]) => type)).to.deep.equal(['PRIVATE KEY', 'CERTIFICATE']);
    expect(pkcs12[1]?.[1].equals(pemCert.der)).to.be.true;
    const pkcs12Key = createPrivateKey({
      key: pkcs12[0]?.[1] ?? Buffer.alloc(0),
      format: 'der',
      type: 'pkcs8',
    });
    expect(new X509Certificate(pemCert.certPem).checkPrivateKey(pkcs12Key)).to.be.true;

    const chained = pemBlocks(result.text('chaincert1'));
    expect(chained.map(([type]) => type)).to.deep.equal([
      'PRIVATE KEY',
      'CERTIFICATE',
      'CERTIFICATE',
      'CERTIFICATE',
    ]);
    const order = chained.slice(1).map(([, der]) => der);
    expect(
      order.map((der, i) =>
        der.equals([chain.leaf.der, chain.intermediateDer, chain.rootDer][i] ?? Buffer.alloc(0)),
      ),
    ).to.deep.equal([true, true, true]);
    const chainKey = createPrivateKey({
      key: chained[0]?.[1] ?? Buffer.alloc(0),
      format: 'der',
      type: 'pkcs8',
    });
    expect(new X509Certificate(chain.leaf.certPem).checkPrivateKey(chainKey)).to.be.true;

    const ecc = pemBlocks(result.text('ecccert1'));
    expect(ecc.map(([type]) => type)).to.deep.equal(['PRIVATE KEY', 'CERTIFICATE']);
    expect(
      createPrivateKey({ key: ecc[0]?.[1] ?? Buffer.alloc(0), format: 'der', type: 'pkcs8' })
        .asymmetricKeyType,
    ).to.equal('ec');
    expect(result.versions).to.deep.include({
      id: 'secret/chaincert1',
      version: latest('secrets', 'chaincert1'),
    });
  });

  it('mounts a PFX-backed secret with objectFormat pfx as the stored base64 text, and as binary with base64 encoding', async () => {
    const result = mounted(
      await mount(standard, [
        'objectName: pkcs12cert1\nobjectType: secret\nobjectFormat: pfx\nobjectAlias: cert.pfx.b64',
        'objectName: pkcs12cert1\nobjectType: secret\nobjectFormat: PFX\nobjectEncoding: base64\nobjectAlias: cert.pfx',
      ]),
    );
    expect(result.text('cert.pfx.b64')).to.equal(pemCert.pfx.toString('base64'));
    expect(result.file('cert.pfx').contents.equals(pemCert.pfx)).to.be.true;
    // The binary is a PFX openssl reads without a password.
    const pfxPath = join(world.dir, 'mounted.pfx');
    await writeFile(pfxPath, result.file('cert.pfx').contents);
    const listed = await openssl(world.dir, `pkcs12 -in ${pfxPath} -nokeys -passin pass:`);
    expect(pemBlocks(listed).map(([, der]) => der.equals(pemCert.der))).to.deep.equal([true]);
  });

  it('with --write-cert-and-key-in-separate-files writes .crt, .key and the main file, and only the main file for pfx', async () => {
    const result = mounted(
      await mount(split, [
        'objectName: chaincert1\nobjectType: secret\nfilePermission: 0640',
        'objectName: pemcert1\nobjectType: secret\nobjectAlias: tls',
        'objectName: pkcs12cert1\nobjectType: secret\nobjectFormat: pfx',
        'objectName: secret1\nobjectType: secret',
        'objectName: pemcert1\nobjectType: cert\nobjectAlias: tls-cert',
      ]),
    );
    expect(result.files.map((f) => f.path)).to.deep.equal([
      'chaincert1.crt',
      'chaincert1.key',
      'chaincert1',
      'tls.crt',
      'tls.key',
      'tls',
      'pkcs12cert1',
      'secret1',
      'tls-cert',
    ]);
    expect(result.files.slice(0, 3).map((f) => f.mode)).to.deep.equal([0o640, 0o640, 0o640]);
    const crt = pemBlocks(result.text('chaincert1.crt'));
    expect(crt.map(([, der]) => der)).to.deep.equal([chain.leaf.der, chain.intermediateDer, chain.rootDer]);
    expect(pemBlocks(result.text('chaincert1.key')).map(([type]) => type)).to.deep.equal(['PRIVATE KEY']);
    expect(result.text('chaincert1')).to.equal(result.text('chaincert1.key') + result.text('chaincert1.crt'));
    expect(result.text('tls.crt')).to.equal(pemCert.certPem);
    expect(result.text('tls.key')).to.equal(pemCert.keyPem);
    expect(
      new X509Certificate(result.text('tls.crt')).checkPrivateKey(createPrivateKey(result.text('tls.key'))),
    ).to.be.true;
    expect(result.text('pkcs12cert1')).to.equal(pemCert.pfx.toString('base64'));
    // Every file of an object reports that object's version.
    const chainVersion = latest('secrets', 'chaincert1');
    expect(result.versions.slice(0, 3)).to.deep.equal(
      Array(3).fill({ id: 'secret/chaincert1', version: chainVersion }),
    );
  });

  it('applies objectEncoding utf-8, base64 and hex, and filePermission over the request permission', async () => {
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x0a]);
    kv.setSecret('kv1', 'unicode', 'grüße ✓');
    kv.setSecret('kv1', 'b64', binary.toString('base64'));
    kv.setSecret('kv1', 'hexed', binary.toString('hex'));
    const result = mounted(
      await mount(
        standard,
        [
          'objectName: unicode\nobjectType: secret\nobjectEncoding: utf-8',
          'objectName: b64\nobjectType: secret\nobjectEncoding: base64\nfilePermission: 0600',
          'objectName: hexed\nobjectType: secret\nobjectEncoding: HEX\nfilePermission: "0755"',
        ],
        { permission: 0o440 },
      ),
    );
    expect(result.file('unicode').contents.equals(Buffer.from('grüße ✓', 'utf8'))).to.be.true;
    expect(result.file('b64').contents.equals(binary)).to.be.true;
    expect(result.file('hexed').contents.equals(binary)).to.be.true;
    expect(result.files.map((f) => [f.path, f.mode])).to.deep.equal([
      ['unicode', 0o440],
      ['b64', 0o600],
      ['hexed', 0o755],
    ]);
  });

  it('mounts a pinned version, and objectVersionHistory as the N newest enabled versions', async () => {
    const hour = 3600_000;
    const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * hour);
    const v1 = kv.setSecret('kv1', 'versioned', 'one', { created: at(4) });
    const v2 = kv.setSecret('kv1', 'versioned', 'two', { created: at(3), enabled: false });
    const v3 = kv.setSecret('kv1', 'versioned', 'three', { created: at(2) });
    const v4 = kv.setSecret('kv1', 'versioned', 'four', { created: at(1) });
    expect(v2).to.not.equal(v1);

    const pinned = mounted(
      await mount(split, [`objectName: versioned\nobjectType: secret\nobjectVersion: ${v1}`]),
    );
    expect(pinned.text('versioned')).to.equal('one');
    expect(pinned.versions).to.deep.equal([{ id: 'secret/versioned', version: v1 }]);

    const two = mounted(
      await mount(split, [
        'objectName: versioned\nobjectType: secret\nobjectAlias: V\nobjectVersionHistory: 2',
      ]),
    );
    expect(two.files.map((f) => [f.path, f.contents.toString()])).to.deep.equal([
      ['V/0', 'four'],
      ['V/1', 'three'],
    ]);
    expect(two.versions).to.deep.equal([
      { id: 'secret/versioned/0', version: v4 },
      { id: 'secret/versioned/1', version: v3 },
    ]);

    // More than there are: every enabled version, the disabled one skipped.
    const all = mounted(
      await mount(split, ['objectName: versioned\nobjectType: secret\nobjectVersionHistory: 5']),
    );
    expect(all.files.map((f) => [f.path, f.contents.toString()])).to.deep.equal([
      ['versioned/0', 'four'],
      ['versioned/1', 'three'],
      ['versioned/2', 'one'],
    ]);
    expect(all.versions.map((v) => v.version)).to.deep.equal([v4, v3, v1]);

    // From a pinned start version.
    const fromV3 = mounted(
      await mount(split, [
        `objectName: versioned\nobjectType: secret\nobjectVersion: ${v3}\nobjectVersionHistory: 2`,
      ]),
    );
    expect(fromV3.versions.map((v) => v.version)).to.deep.equal([v3, v1]);
    // One list per history mount, then one GET per version.
    expect(statusesOf('/secrets/versioned/versions')).to.deep.equal([200, 200, 200]);
    expect(statusesOf(`/secrets/versioned/${v2}`)).to.deep.equal([]);
  });

  it('pins and lists versions of keys and certificates too', async () => {
    const hoursAgo = (hours: number) => ({ created: new Date(Date.now() - hours * 3600_000) });
    const k1 = kv.createKey('kv1', 'rotkey', { kty: 'EC', ...hoursAgo(2) });
    const k2 = kv.createKey('kv1', 'rotkey', { kty: 'RSA', ...hoursAgo(1) });
    const c1 = kv.importCertificate('kv1', 'rotcert', { pfx: pemCert.pfx }, hoursAgo(2));
    const c2 = kv.importCertificate('kv1', 'rotcert', { pfx: chain.leaf.pfx }, hoursAgo(1));
    const result = mounted(
      await mount(split, [
        'objectName: rotkey\nobjectType: key\nobjectVersionHistory: 2',
        `objectName: rotkey\nobjectType: key\nobjectVersion: ${k1}\nobjectAlias: first-key`,
        'objectName: rotcert\nobjectType: cert\nobjectVersionHistory: 3',
        `objectName: rotcert\nobjectType: cert\nobjectVersion: ${c1}\nobjectAlias: first-cert`,
      ]),
    );
    expect(result.versions).to.deep.equal([
      { id: 'key/rotkey/0', version: k2 },
      { id: 'key/rotkey/1', version: k1 },
      { id: 'key/rotkey', version: k1 },
      { id: 'cert/rotcert/0', version: c2 },
      { id: 'cert/rotcert/1', version: c1 },
      { id: 'cert/rotcert', version: c1 },
    ]);
    expect(createPublicKey(result.text('rotkey/0')).asymmetricKeyType).to.equal('rsa');
    expect(createPublicKey(result.text('rotkey/1')).asymmetricKeyType).to.equal('ec');
    expect(result.text('first-key')).to.equal(result.text('rotkey/1'));
    const der = (path: string) => pemBlocks(result.text(path))[0]?.[1];
    expect(der('rotcert/0')?.equals(chain.leaf.der)).to.be.true;
    expect(der('rotcert/1')?.equals(pemCert.der)).to.be.true;
    expect(der('first-cert')?.equals(pemCert.der)).to.be.true;
    expect(statusesOf('/keys/rotkey/versions')).to.deep.equal([200]);
    expect(statusesOf('/certificates/rotcert/versions')).to.deep.equal([200]);
  });

  it('rotation: a new version in the vault is mounted with its new version id (cache off)', async () => {
    const first = kv.setSecret('kv1', 'rotating', 'before');
    const before = mounted(await mount(split, ['objectName: rotating\nobjectType: secret']));
    expect(before.text('rotating')).to.equal('before');
    expect(before.versions).to.deep.equal([{ id: 'secret/rotating', version: first }]);
    const second = kv.setSecret('kv1', 'rotating', 'after');
    const after = mounted(await mount(split, ['objectName: rotating\nobjectType: secret']));
    expect(after.text('rotating')).to.equal('after');
    expect(after.versions).to.deep.equal([{ id: 'secret/rotating', version: second }]);
    expect(statusesOf('/secrets/rotating/')).to.deep.equal([200, 200]);
  });

  it('fails a missing object with NotFound, upstream text and the ObjectNotFound code', async () => {
    const outcome = failed(
      await mount(standard, [
        'objectName: secret1\nobjectType: secret',
        'objectName: nope\nobjectType: secret',
      ]),
    );
    expect(outcome.code).to.equal('NOT_FOUND');
    expect(outcome.errorCode).to.equal('ObjectNotFound');
    expect(outcome.details).to.match(
      /^failed to mount objects, error: failed to get objectType:secret, objectName:nope, objectVersion:: /,
    );
    expect(outcome.details).to.include('RESPONSE 404: 404 Not Found');
    expect(outcome.details).to.include('ERROR CODE: SecretNotFound');
    expect(statusesOf('/secrets/nope/')).to.deep.equal([404]);
  });

  it("reads as the Go SDK's ResponseError: URL, RESPONSE, ERROR CODE and Key Vault's body (issue 12)", async () => {
    const outcome = failed(await mount(noRetry, ['objectName: nope\nobjectType: secret']));
    const rule = '-'.repeat(80);
    expect(outcome.details).to.match(
      new RegExp(
        '^failed to mount objects, error: failed to get objectType:secret, objectName:nope, objectVersion:: ' +
          `GET https://kv1\\.${kv.dnsSuffix.replaceAll('.', '\\.')}/secrets/nope/\\n${rule}\\n` +
          `RESPONSE 404: 404 Not Found\\nERROR CODE: SecretNotFound\\n${rule}\\n`,
      ),
    );
    expect(outcome.details).not.to.include('api-version');
  });

  it('says not found for objectVersionHistory of a missing object (issue 12)', async () => {
    const outcome = failed(
      await mount(noRetry, ['objectName: neverexisted\nobjectType: secret\nobjectVersionHistory: 3']),
    );
    expect(outcome).to.include({ code: 'NOT_FOUND', errorCode: 'ObjectNotFound' });
    expect(outcome.details).not.to.include('Pagination failed');
    expect(outcome.details).to.include('RESPONSE 404: 404 Not Found');
    expect(outcome.details).to.match(/neverexisted was not found/);
  });

  it("names both tenants when the vault is in another tenant than the class's (issue 12)", async () => {
    kv.createVault('otherkv', { tenantId: 'tenant-other' });
    kv.setSecret('otherkv', 'elsewhere', 'v');
    const outcome = failed(
      await mount(noRetry, ['objectName: elsewhere\nobjectType: secret'], {
        parameters: { keyvaultName: 'otherkv' },
      }),
    );
    expect(outcome.details).to.include(
      `the Key Vault belongs to tenant tenant-other, but the SecretProviderClass's tenantId is ${TENANT}: ` +
        `set tenantId to tenant-other with an identity of that tenant, or use a vault of tenant ${TENANT}`,
    );
    expect(outcome.details).not.to.include('AdditionallyAllowedTenants');
  });

  it('names the token endpoint URL and the cause when Entra ID cannot be reached (issue 12)', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const unreachable = join(world.dir, 'unreachable-entra.json');
    const cloud = JSON.parse(await readFile(cloudFile, 'utf8')) as Record<string, string>;
    await writeFile(
      unreachable,
      JSON.stringify({ ...cloud, activeDirectoryEndpoint: `https://127.0.0.1:${port}/` }),
    );
    const outcome = failed(
      await mount(noRetry, ['objectName: secret1\nobjectType: secret'], {
        parameters: { cloudEnvFileName: unreachable },
        secrets: { clientid: 'unreachable-app', clientsecret: CLIENT_SECRET },
      }),
    );
    expect(outcome.errorCode).to.equal('StoreUnavailable');
    expect(outcome.details).to.match(
      new RegExp(
        `the token endpoint could not be reached: (GET|POST) https://127\\.0\\.0\\.1:${port}/${TENANT}/\\S+: ` +
          `the connection to 127\\.0\\.0\\.1:${port} was refused \\(ECONNREFUSED\\)`,
      ),
    );
    expect(outcome.details).not.to.include('aka.ms');
  });

  it('answers mounts naming a FIFO as cloudEnvFileName at once, while other mounts go on (issue 12)', async () => {
    const fifo = join(world.dir, 'cloud.fifo');
    await run('mkfifo', [fifo]);
    const started = performance.now();
    const fifoMounts = Array.from({ length: 8 }, () =>
      mount(noRetry, ['objectName: secret1\nobjectType: secret'], { parameters: { cloudEnvFileName: fifo } }),
    );
    const normal = mount(noRetry, ['objectName: secret1\nobjectType: secret']);
    const answers = await Promise.all(fifoMounts);
    const fifoMs = performance.now() - started;
    for (const answer of answers) {
      const outcome = failed(answer);
      expect(outcome).to.include({ code: 'INVALID_ARGUMENT', errorCode: 'InvalidParameter' });
      expect(outcome.details).to.include(`read ${fifo}: not a regular file`);
    }
    const ok = await normal;
    expect(ok.ok, ok.ok ? '' : ok.details).to.equal(true);
    console.log(
      `      8 FIFO mounts answered in ${fifoMs.toFixed(0)} ms; the concurrent normal mount succeeded`,
    );
  });

  it('fails a disabled latest version with PermissionDenied and AccessDenied', async () => {
    kv.setSecret('kv1', 'disabledlatest', 'old');
    kv.setSecret('kv1', 'disabledlatest', 'new', { enabled: false });
    const outcome = failed(await mount(standard, ['objectName: disabledlatest\nobjectType: secret']));
    expect(outcome).to.include({ code: 'PERMISSION_DENIED', errorCode: 'AccessDenied' });
    expect(outcome.details).to.match(
      /^failed to mount objects, error: failed to get objectType:secret, objectName:disabledlatest, objectVersion:: GET https:\/\/kv1\.\S+\/secrets\/disabledlatest\/\n-+\nRESPONSE 403: 403 Forbidden\nERROR CODE: \w+\n[\s\S]*disabled secret/,
    );
  });

  it('fails a vault whose host does not resolve with NotFound, at once with no retries', async () => {
    const started = Date.now();
    const outcome = failed(
      await mount(noRetry, ['objectName: secret1\nobjectType: secret'], {
        parameters: { keyvaultName: 'kv-unmapped' },
      }),
    );
    expect(outcome).to.include({ code: 'NOT_FOUND', errorCode: 'ObjectNotFound' });
    expect(outcome.details).to.include(
      `the vault host kv-unmapped.${kv.dnsSuffixWithPort} does not resolve (ENOTFOUND); check keyvaultName and cloudName`,
    );
    expect(Date.now() - started).to.be.below(3_000);
  });

  it('fails a wrong client secret with AuthenticationFailed and keeps the secret out of the message', async () => {
    const wrong = 'wrong-client-secret-9d8e7f';
    const tokenRequests = world.entra.requests.length;
    const outcome = failed(
      await mount(noRetry, ['objectName: secret1\nobjectType: secret'], {
        secrets: { clientid: CLIENT_ID, clientsecret: wrong },
      }),
    );
    expect(outcome).to.include({ code: 'PERMISSION_DENIED', errorCode: 'AuthenticationFailed' });
    expect(outcome.details).to.match(
      /^failed to mount objects, error: failed to get objectType:secret, objectName:secret1/,
    );
    expect(outcome.details).to.include('AADSTS7000215').and.not.include(wrong);
    expect(world.entra.requests.slice(tokenRequests).map((r) => r.status)).to.include(401);
    expect(statusesOf('/secrets/secret1/')).to.deep.equal([]);
  });

  it('waits out a 429 with Retry-After and then mounts', async () => {
    kv.setSecret('kv1', 'throttleok', 'patience');
    kv.queueFailures(
      { vault: 'kv1', pathPrefix: '/secrets/throttleok/' },
      { status: 429, retryAfterSeconds: 1 },
    );
    const started = Date.now();
    const result = mounted(await mount(standard, ['objectName: throttleok\nobjectType: secret']));
    expect(result.text('throttleok')).to.equal('patience');
    expect(Date.now() - started).to.be.at.least(950);
    expect(statusesOf('/secrets/throttleok/')).to.deep.equal([429, 200]);
  });

  it('reports 429s beyond the retries as ResourceExhausted with when Key Vault expects to recover', async () => {
    kv.setSecret('kv1', 'throttlefail', 'never');
    const throttled = { status: 429, retryAfterSeconds: 1 };
    kv.queueFailures({ vault: 'kv1', pathPrefix: '/secrets/throttlefail/' }, throttled, throttled, throttled);
    const outcome = failed(await mount(oneRetry, ['objectName: throttlefail\nobjectType: secret']));
    expect(outcome).to.include({ code: 'RESOURCE_EXHAUSTED', errorCode: 'Throttled' });
    expect(outcome.details)
      .to.match(
        /^failed to mount objects, error: failed to get objectType:secret, objectName:throttlefail, objectVersion:: /,
      )
      .and.include('Key Vault throttled the request')
      .and.include('expects to accept requests again in 1s');
    // One try and one retry; the third failure is still queued.
    expect(statusesOf('/secrets/throttlefail/')).to.deep.equal([429, 429]);
    expect(
      mounted(await mount(oneRetry, ['objectName: throttlefail\nobjectType: secret'])).text('throttlefail'),
    ).to.equal('never');
  });

  it('answers repeated mounts of an identity from the cache, other identities with their own GET, and counts real calls', async () => {
    world.entra.addServicePrincipal({
      tenantId: TENANT,
      clientId: 'cache-app',
      clientSecret: 'cache-secret-1',
    });
    world.entra.addServicePrincipal({
      tenantId: TENANT,
      clientId: 'cache-app',
      clientSecret: 'cache-secret-2',
    });
    world.entra.addServicePrincipal({
      tenantId: TENANT,
      clientId: 'other-app',
      clientSecret: 'other-secret',
    });
    const original = kv.setSecret('kv1', 'cached', 'v1');
    const objects = ['objectName: cached\nobjectType: secret', 'objectName: key1\nobjectType: key'];
    const as = (clientid: string, clientsecret: string) => ({ secrets: { clientid, clientsecret } });

    const first = mounted(await mount(standard, objects, as('cache-app', 'cache-secret-1')));
    kv.setSecret('kv1', 'cached', 'v2');
    const second = mounted(await mount(standard, objects, as('cache-app', 'cache-secret-1')));
    // Within the TTL the same identity gets what the first mount fetched.
    expect(second.text('cached')).to.equal('v1');
    expect(second.versions).to.deep.equal(first.versions);
    expect(first.versions[0]).to.deep.equal({ id: 'secret/cached', version: original });
    expect(statusesOf('/secrets/cached/')).to.deep.equal([200]);
    expect(statusesOf('/keys/key1/')).to.deep.equal([200]);

    // A rotated client secret is another identity, and so is another service principal.
    expect(
      mounted(await mount(standard, objects, as('cache-app', 'cache-secret-2'))).text('cached'),
    ).to.equal('v2');
    expect(mounted(await mount(standard, objects, as('other-app', 'other-secret'))).text('cached')).to.equal(
      'v2',
    );
    expect(statusesOf('/secrets/cached/')).to.deep.equal([200, 200, 200]);
    expect(statusesOf('/keys/key1/')).to.deep.equal([200, 200, 200]);

    const histogram = standard.registry.getSingleMetric('keyvault_request') as Histogram | undefined;
    if (histogram === undefined) expect.fail('no keyvault_request metric in the registry');
    const counts = (await histogram.get()).values.filter((v) => v.metricName === 'keyvault_request_count');
    const count = (name: string, error: string) =>
      counts.find((v) => v.labels.object_name === name && v.labels.error === error)?.value ?? 0;
    expect(count('cached', '')).to.equal(3);
    expect(counts.find((v) => v.labels.object_name === 'cached')?.labels).to.deep.include({
      object_type: 'secret',
      provider: 'azure',
      service_name: 'csi-secrets-store-provider-azure',
    });
    // Failed calls carry their error code.
    failed(await mount(standard, ['objectName: nope2\nobjectType: secret']));
    const after = (await histogram.get()).values.filter((v) => v.metricName === 'keyvault_request_count');
    expect(after.find((v) => v.labels.object_name === 'nope2')?.labels.error).to.equal('ObjectNotFound');
  });

  it('refuses bad flags at startup and warns about the pprof flag it only accepts', async () => {
    const create = (argv: string[], logger: Logger = silentLogger) =>
      createAzureProvider({
        flags: parseFlags(azureProviderFlags, argv),
        logger,
        registry: createMetricsRegistry(),
      }).then(
        () => 'started',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
    expect(await create(['--keyvault-max-retries=-1'])).to.equal(
      '--keyvault-max-retries must not be negative',
    );
    expect(await create(['--object-cache-ttl=-1s'])).to.equal('--object-cache-ttl must not be negative');
    expect(await create(['--cloud-name=Mars'])).to.equal(
      'autorest/azure: There is no cloud environment matching the name "MARS"',
    );
    const warnings: string[] = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (message) => {
        warnings.push(message);
      },
    };
    expect(await create(['--enable-pprof', '--custom-user-agent=csi-e2e'], logger)).to.equal('started');
    expect(warnings).to.deep.equal([
      '--enable-pprof is accepted for compatibility; this provider has no pprof',
    ]);
  });

  describe('a custom cloud whose Key Vault challenge names another resource', () => {
    let stack: KeyVaultDouble;
    let stackCloud: string;
    const resource = 'https://vault.azurestack.example';

    before(async () => {
      stack = await world.startDouble({ resource }, ['stackkv']);
      stack.createVault('stackkv', { tenantId: TENANT });
      stack.setSecret('stackkv', 'secret1', 'from the stack');
      stackCloud = await world.cloudFile(stack);
    });

    const stackMount = (extra: Record<string, string>) =>
      mount(standard, ['objectName: secret1\nobjectType: secret'], {
        parameters: { keyvaultName: 'stackkv', cloudEnvFileName: stackCloud, ...extra },
      });

    it('fails with the SDK challenge message when resource verification is on', async () => {
      const outcome = failed(await stackMount({}));
      expect(outcome.details)
        .to.match(
          /^failed to mount objects, error: failed to get objectType:secret, objectName:secret1, objectVersion:: /,
        )
        .and.include('vault.azurestack.example')
        .and.include('does not match the requested domain');
      // No token was sent to the vault.
      expect(stack.requests.filter((r) => r.authenticated)).to.deep.equal([]);
    });

    // The SDK's challenge error is a plain Error; keyVaultError recognises it: a setting, not an outage.
    it('reports the challenge mismatch as a parameter problem (InvalidParameter), not as an unavailable store', async () => {
      const outcome = failed(await stackMount({}));
      expect(outcome).to.include({ code: 'INVALID_ARGUMENT', errorCode: 'InvalidParameter' });
    });

    it('mounts with disableChallengeResourceVerification "true", with a token for the challenge resource', async () => {
      const result = mounted(await stackMount({ disableChallengeResourceVerification: 'true' }));
      expect(result.text('secret1')).to.equal('from the stack');
      expect(result.versions).to.deep.equal([
        { id: 'secret/secret1', version: stack.versions('stackkv', 'secrets', 'secret1').at(-1) },
      ]);
      const served = stack.requests.filter((r) => r.authenticated);
      expect(served.map((r) => r.status)).to.deep.equal([200]);
      expect(served[0]?.claims).to.deep.include({ aud: resource, tid: TENANT, appid: CLIENT_ID });
    });
  });
});
