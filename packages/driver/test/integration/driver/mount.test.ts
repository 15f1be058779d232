/**
 * The driver as a process, driven by a kubelet stand-in with pods in a real API server: mounting, the
 * SecretProviderClassPodStatus, Secret sync with garbage collection, a class created after the pod, and
 * unpublish of a path the driver never mounted.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CsiNodeClient, waitUntil, type KubeletPod } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { isMounted, volumeOf, useDriverFixture } from '../support.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('the driver process publishing volumes for a kubelet', function () {
  this.timeout(60_000);
  const fixture = useDriverFixture('mount', async (f) => {
    await mkdir(join(f.directoryRoot, 'db'));
    await writeFile(join(f.directoryRoot, 'db', 'password'), 'hunter2');
    await writeFile(join(f.directoryRoot, 'config.txt'), 'level=debug');
    await writeFile(join(f.directoryRoot, 'api-key'), 'k-123');
  });

  it('mounts the provider files with their content and mode, and records the pod status upstream names', async () => {
    await fixture().directorySpc('dir-a', [
      { objectName: 'db/password', objectAlias: 'password', filePermission: '0400' },
      { objectName: 'config.txt' },
    ]);
    const pod = await fixture().runPod('reader', [{ name: 'secrets', spc: 'dir-a' }]);
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    const target = volume.targetPath;

    expect(await isMounted(target)).to.equal(true);
    expect(await readFile(join(target, 'password'), 'utf8')).to.equal('hunter2');
    expect(await readFile(join(target, 'config.txt'), 'utf8')).to.equal('level=debug');
    expect((await stat(join(target, 'password'))).mode & 0o777).to.equal(0o400);
    expect((await stat(join(target, 'config.txt'))).mode & 0o777).to.equal(0o644);
    // kubelet's atomic-writer layout: user-visible names are links into ..data
    expect((await lstat(join(target, 'password'))).isSymbolicLink()).to.equal(true);
    expect(await readlink(join(target, 'password'))).to.equal('..data/password');

    const podName = 'reader';
    const uid = pod.pod.metadata?.uid;
    const status = await fixture().podStatus(`${podName}-${fixture().namespace}-dir-a`);
    expect(status.metadata.labels).to.deep.include({
      'internal.secrets-store.csi.k8s.io/node-name': fixture().nodeName,
    });
    expect(status.metadata.ownerReferences).to.have.length(1);
    expect(status.metadata.ownerReferences?.[0]).to.deep.include({
      apiVersion: 'v1',
      kind: 'Pod',
      name: podName,
      uid,
    });
    expect(status.status).to.deep.include({
      podName,
      secretProviderClassName: 'dir-a',
      mounted: true,
      targetPath: target,
    });
    expect(status.status.objects).to.deep.equal([
      { id: 'file/config.txt', version: sha256('level=debug') },
      { id: 'file/db/password', version: sha256('hunter2') },
    ]);
  });

  it('mounts two volumes of one pod from two SecretProviderClasses, each with its own pod status', async () => {
    await fixture().directorySpc('dir-b1', [{ objectName: 'config.txt' }]);
    await fixture().directorySpc('dir-b2', [{ objectName: 'api-key', objectAlias: 'key' }]);
    const pod = await fixture().runPod('two-volumes', [
      { name: 'first', spc: 'dir-b1' },
      { name: 'second', spc: 'dir-b2' },
    ]);
    const first = volumeOf(pod, 'first');
    const second = volumeOf(pod, 'second');
    expect([first.lastResult?.ok, second.lastResult?.ok]).to.deep.equal([true, true]);
    expect(first.targetPath).to.not.equal(second.targetPath);
    expect(await readFile(join(first.targetPath, 'config.txt'), 'utf8')).to.equal('level=debug');
    expect(await readFile(join(second.targetPath, 'key'), 'utf8')).to.equal('k-123');
    expect(await isMounted(first.targetPath)).to.equal(true);
    expect(await isMounted(second.targetPath)).to.equal(true);

    const one = await fixture().podStatus(`two-volumes-${fixture().namespace}-dir-b1`);
    const two = await fixture().podStatus(`two-volumes-${fixture().namespace}-dir-b2`);
    expect(one.status.targetPath).to.equal(first.targetPath);
    expect(two.status.targetPath).to.equal(second.targetPath);
    expect(two.status.objects).to.deep.equal([{ id: 'file/api-key', version: sha256('k-123') }]);

    await fixture().kubelet.deletePod(pod);
    expect(await isMounted(first.targetPath)).to.equal(false);
    expect(await isMounted(second.targetPath)).to.equal(false);
  });

  it('syncs secretObjects to a Secret owned by the pod owner, which garbage collection removes with it', async function () {
    this.timeout(120_000);
    await fixture().directorySpc(
      'dir-sync',
      [{ objectName: 'db/password', objectAlias: 'password' }],
      [
        {
          secretName: 'owned-secret',
          type: 'Opaque',
          labels: { team: 'payments' },
          data: [{ objectName: 'password', key: 'pw' }],
        },
      ],
    );
    // A real object as the pod's owner, as a ReplicaSet would be, so the garbage collector can act on it.
    const owner = await fixture().core.createNamespacedConfigMap({
      namespace: fixture().namespace,
      body: { metadata: { name: 'pod-owner' } },
    });
    const ownerRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'pod-owner', uid: owner.metadata!.uid! };
    const pod = await fixture().runPod('owned', [{ name: 'secrets', spc: 'dir-sync' }], [ownerRef]);
    expect(volumeOf(pod).lastResult).to.deep.include({ ok: true });

    const secret = await fixture().secret('owned-secret');
    expect(secret.type).to.equal('Opaque');
    expect(decode(secret.data?.pw)).to.equal('hunter2');
    expect(secret.metadata?.labels).to.deep.include({
      'secrets-store.csi.k8s.io/managed': 'true',
      team: 'payments',
    });
    expect(secret.metadata?.ownerReferences).to.have.length(1);
    expect(secret.metadata?.ownerReferences?.[0]).to.deep.include(ownerRef);

    await fixture().core.deleteNamespacedConfigMap({ name: 'pod-owner', namespace: fixture().namespace });
    await waitUntil(async () => (await fixture().secretOrUndefined('owned-secret')) === undefined, {
      description: 'the synced Secret to be garbage-collected with its owner',
      timeoutMs: 100_000,
      intervalMs: 500,
    });
  });

  it('gives the Secret of a bare pod the pod status as its owner', async () => {
    await fixture().directorySpc(
      'dir-bare',
      [{ objectName: 'api-key' }],
      [{ secretName: 'bare-secret', type: 'Opaque', data: [{ objectName: 'api-key', key: 'key' }] }],
    );
    const pod = await fixture().runPod('bare', [{ name: 'secrets', spc: 'dir-bare' }]);
    expect(volumeOf(pod).lastResult).to.deep.include({ ok: true });
    const status = await fixture().podStatus(`bare-${fixture().namespace}-dir-bare`);
    const secret = await fixture().secret('bare-secret');
    expect(decode(secret.data?.key)).to.equal('k-123');
    expect(secret.metadata?.labels).to.deep.include({ 'secrets-store.csi.k8s.io/managed': 'true' });
    expect(secret.metadata?.ownerReferences).to.have.length(1);
    expect(secret.metadata?.ownerReferences?.[0]).to.deep.include({
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClassPodStatus',
      name: `bare-${fixture().namespace}-dir-bare`,
      uid: status.metadata.uid,
    });
  });

  it('fails a volume whose SecretProviderClass does not exist, then mounts it once the class is created', async () => {
    const pod: KubeletPod = await fixture().runPod('early', [{ name: 'secrets', spc: 'dir-later' }]);
    const failed = volumeOf(pod);
    expect(failed.state).to.equal('unmounted');
    expect(failed.lastResult?.ok).to.equal(false);
    if (failed.lastResult?.ok !== false) return;
    expect(failed.lastResult.codeName).to.equal('UNKNOWN');
    expect(failed.lastResult.details).to.equal(
      `failed to get secretproviderclass ${fixture().namespace}/dir-later, error: ` +
        'SecretProviderClass.secrets-store.csi.x-k8s.io "dir-later" not found',
    );
    expect(await isMounted(failed.targetPath)).to.equal(false);

    await fixture().directorySpc('dir-later', [{ objectName: 'config.txt' }]);
    const [retried] = await fixture().kubelet.republish(pod);
    expect(retried?.operation).to.equal('mount');
    expect(retried?.result).to.deep.include({ ok: true });
    expect(await isMounted(failed.targetPath)).to.equal(true);
    expect(await readFile(join(failed.targetPath, 'config.txt'), 'utf8')).to.equal('level=debug');
  });

  it('answers OK to an unpublish of a path it never mounted, and removes an empty directory there', async () => {
    const client = new CsiNodeClient(fixture().driver.socketPath);
    try {
      const missing = join(
        fixture().kubeletRoot,
        'pods',
        'no-such-pod',
        'volumes',
        'kubernetes.io~csi',
        'v',
        'mount',
      );
      expect(await client.unpublish({ volume_id: 'csi-never', target_path: missing })).to.deep.include({
        ok: true,
      });
      const empty = join(fixture().dir, 'never-mounted');
      await mkdir(empty);
      expect(await client.unpublish({ volume_id: 'csi-never', target_path: empty })).to.deep.include({
        ok: true,
      });
      expect(await stat(empty).catch(() => undefined)).to.equal(undefined);
    } finally {
      client.close();
    }
  });

  it('mounts the last file of a path a provider returns twice, as upstream, with a Warning event naming it', async () => {
    await fixture().createSpc('twice', { provider: 'rogue', parameters: { any: 'thing' } });
    fixture().rogue.respond = () => ({
      object_version: [
        { id: 'rogue/db', version: 'v1' },
        { id: 'rogue/db', version: 'v1' },
      ],
      files: [
        { path: 'db', mode: 0o644, contents: Buffer.from('listed-first') },
        { path: 'db', mode: 0o600, contents: Buffer.from('listed-last') },
      ],
    });
    const pod = await fixture().runPod('twice', [{ name: 'secrets', spc: 'twice' }]);
    const volume = volumeOf(pod);
    expect(volume.lastResult?.ok).to.equal(true);
    expect(await readFile(join(volume.targetPath, 'db'), 'utf8')).to.equal('listed-last');
    expect((await stat(join(volume.targetPath, 'db'))).mode & 0o777).to.equal(0o600);
    const event = await fixture().waitForEvent('twice', 'Warning', 'DuplicateFilePath');
    expect(event.message).to.contain('"db"').and.not.to.contain('listed-');
  });
});
