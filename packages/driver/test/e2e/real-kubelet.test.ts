/**
 * The users' scenarios in real pods: a real kubelet calls our driver for a pod whose container (containerd,
 * runc) reads the mounted files. The cluster is described in ./cluster.ts and docs/testing.md.
 *
 * The scenarios share one cluster (starting it costs most of the time) and run in order: the last two check
 * what the earlier ones leave (every tmpfs gone once the pods are deleted, and the metrics of the session).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { waitUntil } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { objectsParameter } from '../integration/support.js';
import { E2eCluster, MOUNT_PATH, ROTATION_POLL_INTERVAL_SECONDS, TENANT_ID } from './cluster.js';

const USED_LABEL = { 'secrets-store.csi.k8s.io/used': 'true' };

describe('end to end with a real kubelet and containerd: the users’ scenarios in real pods', function () {
  this.timeout(180_000);
  let cluster: E2eCluster | undefined;
  /** Every pod this file started, with its number of volumes. */
  const podVolumes = new Map<string, number>();
  /** What the scenarios that ran did, for the metrics scenario (any of them can run alone with -g). */
  const session = { keyVaultObjects: new Set<string>(), syncedClasses: 0, failedMounts: 0, rotations: 0 };

  const c = (): E2eCluster => {
    if (cluster === undefined) throw new Error('the cluster has not started');
    return cluster;
  };

  before(async function () {
    this.timeout(600_000);
    cluster = await E2eCluster.start();
    cluster.world.entra.addServicePrincipal({
      tenantId: TENANT_ID,
      clientId: 'e2e-sp',
      clientSecret: 'e2e-sp-secret',
    });
    cluster.keyVault.setSecret(cluster.vault, 'db-password', 'p@ss-from-key-vault');
    await cluster.core.createNamespacedSecret({
      namespace: cluster.namespace,
      body: {
        metadata: { name: 'sp-creds', labels: USED_LABEL },
        type: 'Opaque',
        stringData: { clientid: 'e2e-sp', clientsecret: 'e2e-sp-secret' },
      },
    });
  });

  after(async function () {
    this.timeout(300_000);
    if (cluster === undefined) return;
    const left = await cluster.stop();
    expect(left.runningContainers, 'containers running after every pod was deleted').to.deep.equal([]);
    expect(left.processes, 'processes left running from the cluster directory').to.deep.equal([]);
    expect(left.mounts, 'mounts left below kubelet’s pods directory').to.deep.equal([]);
  });

  const runPod = async (name: string, spec: Parameters<E2eCluster['runPod']>[1]) => {
    podVolumes.set(name, spec.volumes.length);
    await c().runPod(name, spec);
  };

  const secretValue = async (name: string, key: string): Promise<string | undefined> => {
    const secret: V1Secret = await c().core.readNamespacedSecret({ namespace: c().namespace, name });
    const data = secret.data?.[key];
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  };

  it('1. mounts a Key Vault secret as a file with service-principal credentials from a labelled nodePublishSecretRef', async () => {
    await c().azureSpc('sp-spc', [{ objectName: 'db-password', objectType: 'secret', objectAlias: 'db' }]);
    await runPod('sp-pod', {
      volumes: [{ name: 'secrets', spc: 'sp-spc', nodePublishSecretRef: 'sp-creds' }],
    });
    await c().waitForRunning('sp-pod');

    expect(await c().readInContainer('sp-pod', `${MOUNT_PATH}/db`)).to.equal('p@ss-from-key-vault');
    session.keyVaultObjects.add('db-password');
    // What the container sees is the driver's tmpfs at kubelet's target path for this pod.
    const mounts = await c().podMounts('sp-pod');
    expect(
      mounts.filter((m) => m.type === 'tmpfs' && m.path.endsWith('/volumes/kubernetes.io~csi/secrets/mount')),
    ).to.have.length(1);
  });

  it("2. mounts with workload identity: kubelet's service-account token from the CSIDriver's tokenRequests, exchanged at the token endpoint", async () => {
    const { world } = c();
    await c().core.createNamespacedServiceAccount({
      namespace: c().namespace,
      body: { metadata: { name: 'workload' } },
    });
    world.entra.addFederatedCredential({
      tenantId: TENANT_ID,
      clientId: 'e2e-wi',
      issuer: world.kube.serviceAccountIssuer,
      subject: `system:serviceaccount:${c().namespace}:workload`,
    });
    c().keyVault.setSecret(c().vault, 'api-key', 'k-workload-identity');
    await c().azureSpc('wi-spc', [{ objectName: 'api-key', objectType: 'secret' }], {
      parameters: { clientID: 'e2e-wi' },
    });
    const assertionsBefore = world.entra.requests.filter(
      (r) => r.clientId === 'e2e-wi' && r.kind === 'client-assertion' && r.status === 200,
    ).length;

    await runPod('wi-pod', { serviceAccountName: 'workload', volumes: [{ name: 'secrets', spc: 'wi-spc' }] });
    await c().waitForRunning('wi-pod');

    expect(await c().readInContainer('wi-pod', `${MOUNT_PATH}/api-key`)).to.equal('k-workload-identity');
    session.keyVaultObjects.add('api-key');
    const assertions = world.entra.requests.filter(
      (r) => r.clientId === 'e2e-wi' && r.kind === 'client-assertion' && r.status === 200,
    );
    expect(assertions.length, 'token exchanges of the pod’s service-account token').to.be.greaterThan(
      assertionsBefore,
    );
  });

  it('3. secretObjects creates a Secret that a container environment variable reads; it is garbage-collected with its owners', async () => {
    await c().azureSpc('sync-spc', [{ objectName: 'db-password', objectType: 'secret' }], {
      secretObjects: [
        { secretName: 'synced-db', type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] },
      ],
    });
    await runPod('sync-pod', {
      volumes: [{ name: 'secrets', spc: 'sync-spc', nodePublishSecretRef: 'sp-creds' }],
      env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'synced-db', key: 'password' } } }],
    });
    await c().waitForRunning('sync-pod');

    expect(await c().exec('sync-pod', ['sh', '-c', 'echo "$DB_PASSWORD"'])).to.equal('p@ss-from-key-vault\n');
    expect(await secretValue('synced-db', 'password')).to.equal('p@ss-from-key-vault');
    session.keyVaultObjects.add('db-password');
    session.syncedClasses += 1;

    await c().deletePod('sync-pod');
    await waitUntil(
      () =>
        c()
          .core.readNamespacedSecret({ namespace: c().namespace, name: 'synced-db' })
          .then(
            () => false,
            (error: unknown) => (error as { code?: number }).code === 404,
          ),
      { description: 'the synced Secret to be garbage-collected', timeoutMs: 90_000, intervalMs: 1000 },
    );
  });

  it('4. rotation: a new Key Vault version reaches the running container’s file and the synced Secret, with a Normal event', async () => {
    c().keyVault.setSecret(c().vault, 'rotating', 'version-one');
    await c().azureSpc('rotate-spc', [{ objectName: 'rotating', objectType: 'secret' }], {
      secretObjects: [
        { secretName: 'rotate-synced', type: 'Opaque', data: [{ objectName: 'rotating', key: 'value' }] },
      ],
    });
    await runPod('rotate-pod', {
      volumes: [{ name: 'secrets', spc: 'rotate-spc', nodePublishSecretRef: 'sp-creds' }],
    });
    await c().waitForRunning('rotate-pod');
    expect(await c().readInContainer('rotate-pod', `${MOUNT_PATH}/rotating`)).to.equal('version-one');
    session.keyVaultObjects.add('rotating');
    session.syncedClasses += 1;

    c().keyVault.setSecret(c().vault, 'rotating', 'version-two');
    const rotatedAt = Date.now();
    await waitUntil(
      async () => (await c().readInContainer('rotate-pod', `${MOUNT_PATH}/rotating`)) === 'version-two',
      {
        description: 'the rotated value in the container',
        // Poll interval, jitter, the provider's 1 s cache and exec: 7-11 s seen here; 6 polls leave room under load.
        timeoutMs: ROTATION_POLL_INTERVAL_SECONDS * 6_000,
        intervalMs: 500,
      },
    );
    const seenAfterMs = Date.now() - rotatedAt;
    await waitUntil(async () => (await secretValue('rotate-synced', 'value')) === 'version-two', {
      description: 'the rotated value in the synced Secret',
      timeoutMs: ROTATION_POLL_INTERVAL_SECONDS * 6_000,
      intervalMs: 500,
    });
    session.rotations += 1;
    const event = await c().waitForEvent('rotate-pod', 'MountRotationComplete');
    expect(event.type).to.equal('Normal');
    expect(event.message ?? '').to.not.include('version-');
    console.log(`      (rotation seen in the container after ${String(seenAfterMs)} ms)`);
  });

  it('5. a pod naming a missing SecretProviderClass waits in ContainerCreating with our FailedMount message, and starts once it exists', async () => {
    await runPod('late-pod', {
      volumes: [{ name: 'secrets', spc: 'late-spc', nodePublishSecretRef: 'sp-creds' }],
    });
    const event = await c().waitForEvent('late-pod', 'FailedMount', 90_000);
    expect(event.type).to.equal('Warning');
    expect(event.source?.component ?? event.reportingComponent).to.equal('kubelet');
    expect(event.message).to.include(
      `failed to get secretproviderclass ${c().namespace}/late-spc, error: SecretProviderClass.secrets-store.csi.x-k8s.io "late-spc" not found`,
    );
    const pod = await c().core.readNamespacedPod({ namespace: c().namespace, name: 'late-pod' });
    session.failedMounts += 1;
    expect(pod.status?.phase).to.equal('Pending');
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason).to.equal('ContainerCreating');

    c().keyVault.setSecret(c().vault, 'late-secret', 'worth-the-wait');
    await c().azureSpc('late-spc', [{ objectName: 'late-secret', objectType: 'secret' }]);
    // Kubelet retries with its exponential backoff (0.5 s doubling); a few failures in, that is seconds.
    await c().waitForRunning('late-pod', 150_000);
    expect(await c().readInContainer('late-pod', `${MOUNT_PATH}/late-secret`)).to.equal('worth-the-wait');
    session.keyVaultObjects.add('late-secret');
  });

  it('6. a pod with two CSI volumes from two SecretProviderClasses, and a pod of the directory provider alone', async () => {
    await writeFile(join(c().directoryRoot, 'app.conf'), 'mode=production\n');
    await c().azureSpc('two-spc', [{ objectName: 'db-password', objectType: 'secret', objectAlias: 'db' }]);
    await c().createSpc('dir-spc', {
      provider: 'directory',
      parameters: { objects: objectsParameter([{ objectName: 'app.conf', objectAlias: 'config' }]) },
    });
    await runPod('two-pod', {
      volumes: [
        { name: 'secrets', spc: 'two-spc', nodePublishSecretRef: 'sp-creds' },
        { name: 'config', spc: 'dir-spc' },
      ],
    });
    await runPod('dir-pod', { volumes: [{ name: 'secrets', spc: 'dir-spc' }] });
    await Promise.all([c().waitForRunning('two-pod'), c().waitForRunning('dir-pod')]);

    expect(await c().readInContainer('two-pod', `${MOUNT_PATH}/db`)).to.equal('p@ss-from-key-vault');
    expect(await c().readInContainer('two-pod', `${MOUNT_PATH}-config/config`)).to.equal('mode=production\n');
    expect(await c().readInContainer('dir-pod', `${MOUNT_PATH}/config`)).to.equal('mode=production\n');
    const tmpfs = (await c().podMounts('two-pod')).filter(
      (m) => m.type === 'tmpfs' && m.path.includes('kubernetes.io~csi'),
    );
    expect(tmpfs.map((m) => m.path.split('/').at(-2)).sort()).to.deep.equal(['config', 'secrets']);
  });

  it('7. deleting the pods unmounts every tmpfs, and the driver logs no unmount failure', async () => {
    await c().deleteAllPods();

    const left = (await c().csiMounts()).map((m) => m.path);
    expect(left, 'CSI volume mounts left in /proc/mounts').to.deep.equal([]);
    const log = await readFile(c().driver.process.logPath, 'utf8');
    // Text log lines: `<timestamp> <level> <message> key=value...`.
    const unmountFailures = log
      .split('\n')
      .filter(
        (line) => ['error', 'warn'].includes(line.split(' ')[1] ?? '') && /unmount|unpublish/i.test(line),
      );
    expect(unmountFailures).to.deep.equal([]);
  });

  it("8. the driver's and the provider's metrics carry upstream's names with counts that match the session", async function () {
    if (podVolumes.size === 0) this.skip(); // it checks what the scenarios above did: run it with them
    // Every volume of every pod (all deleted by now) was unpublished exactly once.
    const volumesTornDown = [...podVolumes.values()].reduce((sum, n) => sum + n, 0);
    expect(await c().driverMetric('node_unpublish_total')).to.equal(volumesTornDown);
    expect(await c().driverMetric('node_unpublish_error_total')).to.equal(0);
    // Each volume was published at least once (kubelet republishes requiresRepublish volumes on every sync).
    expect(await c().driverMetric('node_publish_total')).to.be.at.least(volumesTornDown);
    // Failures: the missing SecretProviderClass, as often as kubelet retried it, and nothing else.
    const failures = await c().driverMetric('node_publish_error_total');
    if (session.failedMounts === 0) expect(failures).to.equal(0);
    else expect(failures).to.be.at.least(session.failedMounts);
    expect(await c().driverMetric('sync_k8s_secret_total')).to.be.at.least(session.syncedClasses);
    expect(await c().driverMetric('rotation_reconcile_total', { rotated: 'true' })).to.be.at.least(
      session.rotations,
    );

    // The provider: Mount calls answered, and each Key Vault call counted under its object.
    expect(
      await c().providerAzureMetric('grpc_request_count', {
        grpc_method: '/v1alpha1.CSIDriverProvider/Mount',
      }),
    ).to.be.at.least(session.keyVaultObjects.size);
    for (const name of session.keyVaultObjects) {
      expect(
        await c().providerAzureMetric('keyvault_request_count', { object_name: name }),
        name,
      ).to.be.at.least(1);
    }
    expect(await c().providerAzureMetric('keyvault_request_count', { error: '' })).to.equal(
      c().keyVault.requests.filter((r) => r.vault === c().vault && r.authenticated && r.status === 200)
        .length,
    );
  });
});
