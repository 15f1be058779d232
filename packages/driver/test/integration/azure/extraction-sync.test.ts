/**
 * Issue 16 §2 and §4 through the driver, the real API server and kubelet's volume calls: files extracted
 * by `jmesPath` and a password-protected PFX turned into PEM (its password in the pod's nodePublishSecretRef
 * Secret) are ordinary files of the volume, so `secretObjects` name them by their `objectAlias` and sync
 * them into Opaque and `kubernetes.io/tls` Secrets.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { volumeOf } from '../support.js';
import { TENANT_ID, USED_LABEL, useAzureWorld } from './world.js';

const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');
const PFX_PASSWORD = 'pfx-pa55-SECRET-e2e';

describe('the driver with the Azure Key Vault provider: extracted keys and password PFX in secretObjects', function () {
  this.timeout(60_000);
  const { fixture, azure } = useAzureWorld('azure-extract');

  it('mounts jmesPath files with their modes and a password PFX as PEM, and syncs them by objectAlias', async () => {
    const { keyVault, vault, entra } = azure();
    const { pki } = fixture().world;
    const issued = await pki.issue({
      name: `extract-${fixture().nodeName}`,
      commonName: 'api.example',
      dnsNames: ['api.example'],
      usage: 'server',
    });
    const [keyPem, certPem, pfx] = await Promise.all([
      readFile(issued.keyPath, 'utf8'),
      readFile(issued.certPath, 'utf8'),
      pki.pkcs12(issued, `extract-${fixture().nodeName}`, PFX_PASSWORD).then((path) => readFile(path)),
    ]);
    entra.addServicePrincipal({
      tenantId: TENANT_ID,
      clientId: 'extract-app',
      clientSecret: 'extract-s3cret',
    });
    keyVault.setSecret(vault, 'db', JSON.stringify({ username: 'shop', password: 'db-pa55', port: 5432 }));
    keyVault.setSecret(vault, 'api-pfx', pfx.toString('base64'), { contentType: 'application/x-pkcs12' });
    await fixture().core.createNamespacedSecret({
      namespace: fixture().namespace,
      body: {
        metadata: { name: 'extract-creds', labels: USED_LABEL },
        type: 'Opaque',
        stringData: { clientid: 'extract-app', clientsecret: 'extract-s3cret', 'pfx-password': PFX_PASSWORD },
      },
    });
    await azure().createSpc('extracting', {
      identity: { mode: 'service-principal' },
      objects: [
        {
          objectName: 'db',
          objectType: 'secret',
          jmesPath: [
            { path: 'username', objectAlias: 'db-username' },
            { path: 'password', objectAlias: 'db-password', filePermission: '0600' },
          ],
        },
        {
          objectName: 'api-pfx',
          objectType: 'secret',
          objectAlias: 'api-tls',
          objectContentType: 'application/x-pkcs12',
          pfxPasswordSecretKey: 'pfx-password',
        },
      ],
      secretObjects: [
        {
          secretName: 'db-creds',
          type: 'Opaque',
          data: [
            { objectName: 'db-username', key: 'username' },
            { objectName: 'db-password', key: 'password' },
          ],
        },
        {
          secretName: 'api-tls',
          type: 'kubernetes.io/tls',
          data: [
            { objectName: 'api-tls', key: 'tls.key' },
            { objectName: 'api-tls', key: 'tls.crt' },
          ],
        },
      ],
    });

    const pod = await azure().runPod('api', { spc: 'extracting', nodePublishSecretRef: 'extract-creds' });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    const target = volume.targetPath;
    expect(await readFile(join(target, 'db-username'), 'utf8')).to.equal('shop');
    expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('db-pa55');
    expect((await stat(join(target, 'db-password'))).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(join(target, 'db'), 'utf8'))).to.include({ port: 5432 });
    const pem = await readFile(join(target, 'api-tls'), 'utf8');
    expect(createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' })).to.equal(
      createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem' }),
    );

    const opaque = await fixture().secret('db-creds');
    expect(
      Object.fromEntries(Object.entries(opaque.data ?? {}).map(([k, v]) => [k, decode(v)])),
    ).to.deep.equal({
      username: 'shop',
      password: 'db-pa55',
    });
    const tls = await fixture().secret('api-tls');
    expect(tls.type).to.equal('kubernetes.io/tls');
    const leaf = new X509Certificate(certPem);
    const synced = decode(tls.data?.['tls.crt']);
    expect(new X509Certificate(synced).fingerprint256).to.equal(leaf.fingerprint256);
    expect(leaf.checkPrivateKey(createPrivateKey(decode(tls.data?.['tls.key'])))).to.equal(true);
    for (const secret of [opaque, tls]) expect(JSON.stringify(secret)).not.to.include(PFX_PASSWORD);

    const status = await fixture().podStatus(`api-${fixture().namespace}-extracting`);
    // One entry per object: the extracted files add none.
    expect(status.status.objects.map((o) => o.id)).to.have.members(['secret/db', 'secret/api-pfx']);
    expect(status.status.objects).to.have.length(2);
  });
});
