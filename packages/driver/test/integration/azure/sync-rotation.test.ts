/**
 * End to end with the Azure Key Vault provider (see world.ts): `secretObjects` turning Key Vault secrets and
 * certificate-backed secrets (PEM and PFX) into the Kubernetes Secrets a pod's environment reads, and a new
 * Key Vault secret version reaching the mounted file and the synced Secret through rotation.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { waitUntil } from '@secrets-store-csi/test-support';
import { ROTATION_POLL_INTERVAL_MS, volumeOf } from '../support.js';
import { OBJECT_CACHE_TTL, TENANT_ID, useAzureWorld } from './world.js';

const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64');
const pemCertificates = (text: string) =>
  (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
const fingerprints = (certificates: readonly X509Certificate[]) => certificates.map((c) => c.fingerprint256);

describe('the driver with the Azure Key Vault provider: Secret sync and rotation', function () {
  this.timeout(60_000);
  const { fixture, azure } = useAzureWorld('azure-sync');
  /** A leaf certificate issued by the test CA: its key (PKCS#8 PEM), certificate and the CA's. */
  let leaf: { keyPem: string; cert: X509Certificate; ca: X509Certificate; pem: string; pfx: Buffer };

  before(async () => {
    const { pki } = fixture().world;
    const issued = await pki.issue({
      name: `azure-app-${fixture().nodeName}`,
      commonName: 'app.example',
      dnsNames: ['app.example'],
      usage: 'server',
    });
    const [keyPem, certPem, caPem] = await Promise.all([
      readFile(issued.keyPath, 'utf8'),
      readFile(issued.certPath, 'utf8'),
      readFile(pki.caCertPath, 'utf8'),
    ]);
    // The PFX holds the CA too (the -certfile of pki.pkcs12), as an exported chain would.
    const pfx = await readFile(await pki.pkcs12(issued, `azure-app-${fixture().nodeName}`, ''));
    leaf = {
      keyPem,
      cert: new X509Certificate(certPem),
      ca: new X509Certificate(caPem),
      pem: `${keyPem}${certPem}${caPem}`,
      pfx,
    };
  });

  it('syncs secretObjects to an Opaque Secret a pod environment reads and to kubernetes.io/tls Secrets from PEM and PFX certificates', async () => {
    const { keyVault, vault, entra } = azure();
    entra.addServicePrincipal({ tenantId: TENANT_ID, clientId: 'sync-app', clientSecret: 'sync-s3cret' });
    keyVault.setSecret(vault, 'db-password', 'p4ss-from-key-vault');
    const pemVersion = keyVault.importCertificate(vault, 'tls-pem', { pem: leaf.pem });
    const pfxVersion = keyVault.importCertificate(vault, 'tls-pfx', { pfx: leaf.pfx });
    keyVault.importCertificate(vault, 'tls-pfx-raw', { pfx: leaf.pfx });
    await azure().createServicePrincipalSecret('sync-creds', 'sync-app', 'sync-s3cret');
    const tls = (secretName: string, objectName: string) => ({
      secretName,
      type: 'kubernetes.io/tls',
      data: [
        { objectName, key: 'tls.key' },
        { objectName, key: 'tls.crt' },
      ],
    });
    await azure().createSpc('synced', {
      identity: { mode: 'service-principal' },
      objects: [
        { objectName: 'db-password', objectType: 'secret' },
        { objectName: 'tls-pem', objectType: 'secret' },
        { objectName: 'tls-pfx', objectType: 'secret' },
        // the PFX as stored, written as binary: the driver reads the PKCS#12 archive itself
        { objectName: 'tls-pfx-raw', objectType: 'secret', objectFormat: 'pfx', objectEncoding: 'base64' },
      ],
      secretObjects: [
        {
          secretName: 'app-secrets',
          type: 'Opaque',
          labels: { app: 'web' },
          data: [{ objectName: 'db-password', key: 'password' }],
        },
        tls('tls-from-pem', 'tls-pem'),
        tls('tls-from-pfx', 'tls-pfx'),
        tls('tls-from-pfx-raw', 'tls-pfx-raw'),
      ],
    });

    const pod = await azure().runPod('web', {
      spc: 'synced',
      nodePublishSecretRef: 'sync-creds',
      env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secrets', key: 'password' } } }],
    });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    const target = volume.targetPath;

    // the mounted files
    expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('p4ss-from-key-vault');
    expect(await readFile(join(target, 'tls-pem'), 'utf8')).to.equal(leaf.pem);
    const pfxAsPem = await readFile(join(target, 'tls-pfx'), 'utf8');
    expect(createPrivateKey(pfxAsPem).export({ type: 'pkcs8', format: 'pem' })).to.equal(
      createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem' }),
    );
    expect(fingerprints(pemCertificates(pfxAsPem))).to.deep.equal(fingerprints([leaf.cert, leaf.ca]));
    expect((await readFile(join(target, 'tls-pfx-raw'))).equals(leaf.pfx)).to.equal(true);

    // the Secret the pod's environment variable names, read as kubelet would resolve it
    const stored = await fixture().core.readNamespacedPod({ name: 'web', namespace: fixture().namespace });
    const ref = stored.spec?.containers[0]?.env?.find((e) => e.name === 'DB_PASSWORD')?.valueFrom
      ?.secretKeyRef;
    expect(ref).to.deep.include({ name: 'app-secrets', key: 'password' });
    const opaque = await fixture().secret(ref?.name ?? '');
    expect(opaque.type).to.equal('Opaque');
    expect(decode(opaque.data?.[ref?.key ?? '']).toString('utf8')).to.equal('p4ss-from-key-vault');
    expect(Object.keys(opaque.data ?? {})).to.deep.equal(['password']);
    expect(opaque.metadata?.labels).to.deep.include({
      app: 'web',
      'secrets-store.csi.k8s.io/managed': 'true',
    });

    // kubernetes.io/tls: the key as PKCS#1 (what upstream writes), the chain leaf first
    const pkcs1 = createPrivateKey(leaf.keyPem).export({ type: 'pkcs1', format: 'pem' });
    for (const name of ['tls-from-pem', 'tls-from-pfx', 'tls-from-pfx-raw']) {
      const secret = await fixture().secret(name);
      expect(secret.type, name).to.equal('kubernetes.io/tls');
      expect(Object.keys(secret.data ?? {}).sort(), name).to.deep.equal(['tls.crt', 'tls.key']);
      const key = decode(secret.data?.['tls.key']).toString('utf8');
      const certificates = pemCertificates(decode(secret.data?.['tls.crt']).toString('utf8'));
      expect(key, name).to.equal(pkcs1);
      expect(fingerprints(certificates), name).to.deep.equal(fingerprints([leaf.cert, leaf.ca]));
      expect(certificates[0]?.checkPrivateKey(createPrivateKey(key)), name).to.equal(true);
    }

    const status = await fixture().podStatus(`web-${fixture().namespace}-synced`);
    expect(status.status.objects).to.deep.include.members([
      { id: 'secret/tls-pem', version: pemVersion },
      { id: 'secret/tls-pfx', version: pfxVersion },
    ]);
  });

  it('brings a new Key Vault secret version to the mounted file and the synced Secret on rotation', async () => {
    const { keyVault, vault, entra } = azure();
    // The provider's object cache must expire before the driver's next refresh, or rotation would be late.
    expect(Number.parseFloat(OBJECT_CACHE_TTL) * 1000).to.be.below(ROTATION_POLL_INTERVAL_MS);
    await azure().createServiceAccount('rotating');
    entra.addFederatedCredential({
      tenantId: TENANT_ID,
      clientId: 'rotation-app',
      issuer: fixture().world.kube.serviceAccountIssuer,
      subject: azure().subject('rotating'),
    });
    const first = keyVault.setSecret(vault, 'rotating-secret', 'version-one');
    await azure().createSpc('rotating', {
      identity: { mode: 'workload-identity', clientID: 'rotation-app' },
      objects: [{ objectName: 'rotating-secret', objectType: 'secret', objectAlias: 'current' }],
      secretObjects: [
        { secretName: 'rotated-secret', type: 'Opaque', data: [{ objectName: 'current', key: 'value' }] },
      ],
    });
    const pod = await azure().runPod('rotated', { spc: 'rotating', serviceAccountName: 'rotating' });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    const file = join(volume.targetPath, 'current');
    expect(await readFile(file, 'utf8')).to.equal('version-one');
    expect(decode((await fixture().secret('rotated-secret')).data?.value).toString('utf8')).to.equal(
      'version-one',
    );
    const statusName = `rotated-${fixture().namespace}-rotating`;
    expect((await fixture().podStatus(statusName)).status.objects).to.deep.equal([
      { id: 'secret/rotating-secret', version: first },
    ]);

    const second = keyVault.setSecret(vault, 'rotating-secret', 'version-two');
    await fixture().republishUntil(
      pod,
      async () => (await readFile(file, 'utf8')) === 'version-two',
      'the mounted file to show the new Key Vault version',
    );
    expect(decode((await fixture().secret('rotated-secret')).data?.value).toString('utf8')).to.equal(
      'version-two',
    );
    // The pod status is written after the files and the Secret.
    await waitUntil(
      async () =>
        JSON.stringify((await fixture().podStatus(statusName)).status.objects) ===
        JSON.stringify([{ id: 'secret/rotating-secret', version: second }]),
      { description: 'the pod status to record the new version', timeoutMs: 5_000 },
    );
    const event = await fixture().waitForEvent('rotated', 'Normal', 'MountRotationComplete');
    expect(event.message).to.equal(
      `successfully rotated mounted contents for spc ${fixture().namespace}/rotating`,
    );
    // Every token exchange presented the pod's service-account token and was accepted.
    const exchanges = entra.requests.filter((r) => r.clientId === 'rotation-app');
    expect(exchanges).to.not.be.empty;
    expect(exchanges.every((r) => r.kind === 'client-assertion' && r.status === 200)).to.equal(true);
  });
});
