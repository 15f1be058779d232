/**
 * Interop, driver side: our driver with upstream's Azure provider v1.8.2, and upstream's driver v1.6.0 with our
 * Azure provider, each driven by a kubelet stand-in against the real API server: the mount and its files, the
 * SecretProviderClassPodStatus, Secret sync, rotation of a new Key Vault version into the file, the status and
 * the Secret, and unmount. Both pairings run the same scenario and must see the same.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { waitUntil, type KubeletPod } from '@secrets-store-csi/test-support';
import { makeCertificates, type Chain } from './certificates.js';
import { TENANT_ID, useInteropWorld, type Pairing } from './world.js';

const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');
const pemCertificates = (text: string) =>
  (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? []).map(
    (block) => new X509Certificate(block).fingerprint256,
  );

describe('interop: each driver with the other Azure provider (kubelet stand-in, real API server)', function () {
  this.timeout(120_000);
  const { fixture, interop } = useInteropWorld('interop-drv');
  let chain: Chain;

  before(async function () {
    this.timeout(120_000);
    ({ chain } = await makeCertificates(fixture().world.pki, join(fixture().dir, 'interop-certs')));
  });

  const pairings: { pairing: Pairing; label: string }[] = [
    { pairing: 'our driver + upstream provider', label: 'ou' },
    { pairing: 'upstream driver + our provider', label: 'uo' },
  ];

  for (const { pairing, label } of pairings) {
    it(`${pairing}: mounts, records the pod status, syncs Secrets, rotates and unmounts`, async () => {
      const world = interop();
      const { keyVault: kv, vault } = world;
      const secretName = `${label}-password`;
      const certName = `${label}-tls`;
      const first = kv.setSecret(vault, secretName, 'first value');
      const certVersion = kv.importCertificate(vault, certName, { pfx: chain.legacyPfx });
      const keyVersion = kv.createKey(vault, `${label}-key`, { kty: 'EC', crv: 'P-256' });
      const spc = `${label}-spc`;
      await world.createSpc(
        spc,
        [
          { objectName: secretName, objectType: 'secret', objectAlias: 'password' },
          { objectName: certName, objectType: 'secret', objectAlias: 'tls.pem' },
          { objectName: certName, objectType: 'cert', objectAlias: 'tls.crt' },
          { objectName: `${label}-key`, objectType: 'key', objectAlias: 'key.pub' },
        ],
        [
          {
            secretName: `${label}-opaque`,
            type: 'Opaque',
            labels: { app: label },
            data: [{ objectName: 'password', key: 'password' }],
          },
          {
            secretName: `${label}-tls-secret`,
            type: 'kubernetes.io/tls',
            data: [
              { objectName: 'tls.pem', key: 'tls.key' },
              { objectName: 'tls.pem', key: 'tls.crt' },
            ],
          },
        ],
      );

      // mount
      const podName = `${label}-pod`;
      const pod: KubeletPod = await world.runPod(pairing, podName, spc);
      const volume = pod.volumes[0];
      expect(volume?.lastResult, JSON.stringify(volume?.lastResult)).to.deep.include({ ok: true });
      const target = volume?.targetPath ?? '';
      const visible = (await readdir(target)).filter((name) => !name.startsWith('..')).sort();
      expect(visible).to.deep.equal(['key.pub', 'password', 'tls.crt', 'tls.pem']);
      for (const file of visible) expect((await stat(join(target, file))).mode & 0o777).to.equal(0o644);
      expect(await readFile(join(target, 'password'), 'utf8')).to.equal('first value');
      const tlsPem = await readFile(join(target, 'tls.pem'), 'utf8');
      expect(tlsPem).to.include('PRIVATE KEY');
      expect(pemCertificates(tlsPem)).to.deep.equal(
        [chain.leafPem, chain.intermediatePem, chain.rootPem].map(
          (p) => new X509Certificate(p).fingerprint256,
        ),
      );
      expect(pemCertificates(await readFile(join(target, 'tls.crt'), 'utf8'))).to.deep.equal([
        new X509Certificate(chain.leafPem).fingerprint256,
      ]);
      expect(createPublicKey(await readFile(join(target, 'key.pub'), 'utf8')).asymmetricKeyType).to.equal(
        'ec',
      );

      // the pod status
      const statusName = `${podName}-${world.fixture.namespace}-${spc}`;
      const status = await world.podStatus(statusName);
      expect(status?.status).to.deep.include({
        podName,
        secretProviderClassName: spc,
        mounted: true,
        targetPath: target,
      });
      const objects = [...(status?.status.objects ?? [])].sort((a, b) => a.id.localeCompare(b.id));
      expect(objects).to.deep.equal(
        [
          { id: `cert/${certName}`, version: certVersion },
          { id: `key/${label}-key`, version: keyVersion },
          { id: `secret/${certName}`, version: certVersion },
          { id: `secret/${secretName}`, version: first },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );

      // Secret sync
      const fx = world.fixture;
      await waitUntil(async () => (await fx.secretOrUndefined(`${label}-opaque`)) !== undefined, {
        description: `the synced Secret ${label}-opaque`,
        timeoutMs: 30_000,
      });
      const opaque = await fx.secret(`${label}-opaque`);
      expect(opaque.type).to.equal('Opaque');
      expect(decode(opaque.data?.password)).to.equal('first value');
      expect(opaque.metadata?.labels).to.deep.include({
        app: label,
        'secrets-store.csi.k8s.io/managed': 'true',
      });
      await waitUntil(async () => (await fx.secretOrUndefined(`${label}-tls-secret`)) !== undefined, {
        description: `the synced Secret ${label}-tls-secret`,
        timeoutMs: 30_000,
      });
      const tls = await fx.secret(`${label}-tls-secret`);
      expect(tls.type).to.equal('kubernetes.io/tls');
      expect(pemCertificates(decode(tls.data?.['tls.crt']))).to.deep.equal(pemCertificates(tlsPem));
      expect(decode(tls.data?.['tls.key'])).to.include('PRIVATE KEY');

      // rotation: a new version reaches the file, the status and the Secret on kubelet's republish
      const second = kv.setSecret(vault, secretName, 'second value');
      const kubelet = world.kubelet(pairing);
      await waitUntil(
        async () => {
          for (const result of await kubelet.republish(pod)) {
            if (!result.result.ok) throw new Error(`republish failed: ${result.result.message}`);
          }
          return (await readFile(join(target, 'password'), 'utf8')) === 'second value';
        },
        { description: 'the rotated secret in the mounted file', timeoutMs: 30_000, intervalMs: 500 },
      );
      await waitUntil(
        async () =>
          (await world.podStatus(statusName))?.status.objects.some(
            (o) => o.id === `secret/${secretName}` && o.version === second,
          ) === true,
        { description: 'the rotated version in the pod status', timeoutMs: 30_000 },
      );
      await waitUntil(
        async () => decode((await fx.secret(`${label}-opaque`)).data?.password) === 'second value',
        { description: 'the rotated value in the synced Secret', timeoutMs: 60_000, intervalMs: 500 },
      );

      // unmount
      const deleted = await kubelet.deletePod(pod);
      expect(deleted.volumes.map((v) => v.result.ok)).to.deep.equal([true]);
      expect(
        await stat(target).then(
          () => 'exists',
          () => 'gone',
        ),
      ).to.equal('gone');
      await waitUntil(async () => (await world.podStatus(statusName)) === undefined, {
        description: 'the pod status to be deleted with the pod',
        timeoutMs: 30_000,
      });
    });

    it(`${pairing}: an optional object that is missing`, async () => {
      const world = interop();
      const { keyVault: kv, vault } = world;
      kv.setSecret(vault, `${label}-present`, 'here');
      await world.createSpc(`${label}-optional`, [
        { objectName: `${label}-present`, objectType: 'secret' },
        { objectName: `${label}-missing`, objectType: 'secret', optional: true },
      ]);
      const pod = await world.runPod(pairing, `${label}-optional-pod`, `${label}-optional`);
      const volume = pod.volumes[0];
      if (pairing === 'our driver + upstream provider') {
        // Upstream's provider ignores `optional` (yaml.v3 skips unknown keys): the missing object fails the mount.
        expect(volume?.lastResult).to.deep.include({ ok: false });
        expect(JSON.stringify(volume?.lastResult)).to.include(`${label}-missing`);
        await world.kubelet(pairing).deletePod(pod);
        return;
      }
      // Upstream's driver skips MountResponse field 1000 and mounts what our provider returned.
      expect(volume?.lastResult, JSON.stringify(volume?.lastResult)).to.deep.include({ ok: true });
      const target = volume?.targetPath ?? '';
      expect((await readdir(target)).filter((name) => !name.startsWith('..'))).to.deep.equal([
        `${label}-present`,
      ]);
      const deleted = await world.kubelet(pairing).deletePod(pod);
      expect(deleted.volumes.map((v) => v.result.ok)).to.deep.equal([true]);
    });

    it(`${pairing}: mounts with workload identity (the pod's service-account token exchanged by MSAL)`, async () => {
      const world = interop();
      const { keyVault: kv, vault, entra } = world;
      const fx = world.fixture;
      const account = `${label}-workload`;
      const clientId = `${label}-wi-app`;
      await fx.core.createNamespacedServiceAccount({
        namespace: fx.namespace,
        body: { metadata: { name: account } },
      });
      entra.addFederatedCredential({
        tenantId: TENANT_ID,
        clientId,
        issuer: fx.world.kube.serviceAccountIssuer,
        subject: `system:serviceaccount:${fx.namespace}:${account}`,
      });
      kv.setSecret(vault, `${label}-wi-secret`, 'from workload identity');
      await world.createSpc(
        `${label}-wi`,
        [{ objectName: `${label}-wi-secret`, objectType: 'secret' }],
        undefined,
        {
          clientID: clientId,
        },
      );
      const pod = await world.runPod(pairing, `${label}-wi-pod`, `${label}-wi`, {
        serviceAccountName: account,
      });
      const volume = pod.volumes[0];
      expect(volume?.lastResult, JSON.stringify(volume?.lastResult)).to.deep.include({ ok: true });
      expect(await readFile(join(volume?.targetPath ?? '', `${label}-wi-secret`), 'utf8')).to.equal(
        'from workload identity',
      );
      const assertions = entra.requests.filter((r) => r.clientId === clientId);
      expect(assertions.length).to.be.greaterThan(0);
      expect(assertions.every((r) => r.kind === 'client-assertion' && r.tenantId === TENANT_ID)).to.equal(
        true,
      );
      expect(assertions.some((r) => r.status === 200)).to.equal(true);
      const deleted = await world.kubelet(pairing).deletePod(pod);
      expect(deleted.volumes.map((v) => v.result.ok)).to.deep.equal([true]);
    });
  }
});
