/**
 * Installed as users install it: the charts from a chart repository folder (`helm repo add`, then the
 * walkthrough's `helm install`), the images built by scripts/images.sh imported into the node's containerd,
 * and kubelet running the driver and providers as DaemonSet pods (privileged where the chart says so,
 * Bidirectional propagation into kubelet's pods directory, sockets on host paths, the chart's resource
 * limits). No driver or provider runs as a host process. The users' scenarios run through those pods:
 * a directory-provider secret before and after `helm upgrade` changes the rotation interval; Key Vault
 * secrets with service-principal and workload-identity credentials; a synced Secret read as an environment
 * variable and garbage-collected with its pod; metrics scraped from the pods' ports; rotation; a missing
 * SecretProviderClass; two volumes from two classes in one pod; what upstream cannot do (two vaults, keys
 * extracted from JSON, a password PFX and an optional object in one pod, explained by `kubectl secrets-store`);
 * a clean unmount of every volume; each
 * container's peak memory against its chart limit; and `helm uninstall`, which leaves no socket, mount or
 * CSIDriver. The scenarios share the node and run in order (later ones check what earlier ones left).
 *
 * The node: kubelet's root directory is a shared mount (Bidirectional propagation requires it), the
 * daemonset controller runs, and the test binds the DaemonSets' pods to the node (there is no scheduler). The driver and directory provider pods use the
 * host network (`linux.hostNetwork`: the node has no pod network) and reach the API server on 127.0.0.1.
 * node-driver-registrar and livenessprobe cannot be built here: the `test-sidecars` image stands in for
 * both through the chart's sidecar image values.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  StorageV1Api,
  type KubernetesObject,
  type V1EnvVar,
} from '@kubernetes/client-node';
import {
  artifact,
  buildBusyboxImage,
  CsiNodeClient,
  freePort,
  mountsBelow,
  serveChartRepository,
  sharedTestWorld,
  startContainerd,
  startKeyVaultCloud,
  startKubeletNode,
  unmountBelow,
  waitUntil,
  type ChartRepository,
  type Containerd,
  type KeyVaultCloud,
  type KubeletNode,
  type TestWorld,
} from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { metricSum, parsePrometheusText } from '../helpers.js';
import { customCloudParameters, type AzureObject } from '../integration/azure/world.js';
import { DRIVER_NAME, inlineCsiVolume, objectsParameter } from '../integration/support.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const IMAGES_DIR = join(REPO_ROOT, 'dist/images');
const IMAGES = ['driver', 'provider-azure', 'provider-directory', 'test-sidecars'] as const;
const NODE_NAME = 'helm-node';
const BUSYBOX = 'docker.io/local/busybox:latest';
const REPO = 'csi-secrets-store-provider-azure';
const NAMESPACE = 'helm-e2e';
const VAULT = 'kv-helm';
/** A second vault of the same tenant (issue 16: several vaults in one class). */
const VAULT_B = 'kv-helm-b';
const TENANT_ID = 'tenant-helm';
const PFX_PASSWORD = 'pfx-pa55-helm-e2e';
const PLUGIN_DIR = join(REPO_ROOT, 'packages/kubectl-plugin');

/** A Kubernetes memory quantity in bytes (the binary and decimal suffixes the charts use). */
const quantityBytes = (quantity: string): number => {
  const match = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (match === null) return Number.NaN;
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
};

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * Objects of the charts that other suites of this run create from deploy/ (not through helm) would make
 * `helm install` refuse to adopt them: they go first (the other suites create them again when they start).
 */
async function removeUnmanagedDriverObjects(world: TestWorld): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(world.kube.kubeConfig);
  const rbac = 'rbac.authorization.k8s.io/v1';
  const objects: KubernetesObject[] = [
    { apiVersion: 'storage.k8s.io/v1', kind: 'CSIDriver', metadata: { name: DRIVER_NAME } },
    ...[
      'secretproviderclasses-role',
      'secretproviderclasses-admin-role',
      'secretproviderclasses-viewer-role',
      'secretproviderclasspodstatuses-viewer-role',
      'secretprovidersyncing-role',
    ].map((name) => ({ apiVersion: rbac, kind: 'ClusterRole', metadata: { name } })),
    ...['secretproviderclasses-rolebinding', 'secretprovidersyncing-rolebinding'].map((name) => ({
      apiVersion: rbac,
      kind: 'ClusterRoleBinding',
      metadata: { name },
    })),
    ...['secrets-store-csi-driver', 'csi-secrets-store-provider-azure'].map((name) => ({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: 'kube-system' },
    })),
  ];
  for (const object of objects) {
    const current = await api.read(object as never).catch(() => undefined);
    const managedBy = current?.metadata?.labels?.['app.kubernetes.io/managed-by'];
    if (current !== undefined && managedBy !== 'Helm') await api.delete(object);
  }
}

/** A volume of an app pod: an inline CSI volume of `spc`, mounted read-only at `mountPath`. */
interface AppVolume {
  readonly name: string;
  readonly spc: string;
  readonly mountPath: string;
  /** The nodePublishSecretRef (a service principal's credentials). */
  readonly secretRef?: string;
}

/** The usual volume: `spc` at /mnt/secrets-store. */
const secretsVolume = (spc: string, secretRef?: string): AppVolume => ({
  name: 'secrets',
  spc,
  mountPath: '/mnt/secrets-store',
  ...(secretRef !== undefined && { secretRef }),
});

describe('end to end through helm: DaemonSet pods installed from the chart repository', function () {
  this.timeout(300_000);
  let world: TestWorld;
  let dir: string | undefined;
  let containerd: Containerd | undefined;
  let kubelet: KubeletNode | undefined;
  let cloud: KeyVaultCloud | undefined;
  let repository: ChartRepository | undefined;
  let binder: ReturnType<typeof setInterval> | undefined;
  let helmEnv: NodeJS.ProcessEnv;
  let core: CoreV1Api;
  const paths = { root: '', providers: '', secrets: '', repo: '' };
  /** The pods' CSI volumes that the upgraded driver (see the helm upgrade scenario) unpublished. */
  const session = { upgraded: false, volumesTornDown: 0 };
  const ports = { driverMetrics: 0, azureMetrics: 0 };

  /** A SecretProviderClass in the test namespace; with `ifAbsent`, one that already exists is kept. */
  const createClass = async (
    name: string,
    spec: { provider: string; parameters: Record<string, string>; secretObjects?: readonly object[] },
    options: { ifAbsent?: boolean } = {},
  ): Promise<void> => {
    await KubernetesObjectApi.makeApiClient(world.kube.kubeConfig)
      .create({
        apiVersion: 'secrets-store.csi.x-k8s.io/v1',
        kind: 'SecretProviderClass',
        metadata: { name, namespace: NAMESPACE },
        spec,
      } as KubernetesObject)
      .catch((error: unknown) => {
        if (options.ifAbsent !== true || (error as { code?: number }).code !== 409) throw error;
      });
  };
  const createAzureClass = (
    name: string,
    objects: readonly AzureObject[],
    extra: { parameters?: Record<string, string>; secretObjects?: readonly object[] } = {},
  ): Promise<void> =>
    createClass(name, {
      provider: 'azure',
      parameters: {
        ...customCloudParameters(VAULT, TENANT_ID, cloud!.cloudEnvFile, objects),
        ...extra.parameters,
      },
      ...(extra.secretObjects !== undefined && { secretObjects: extra.secretObjects }),
    });
  /** The directory provider's class of the node's db-password. */
  const createNodeSecretsClass = (): Promise<void> =>
    createClass(
      'node-secrets',
      { provider: 'directory', parameters: { objects: objectsParameter([{ objectName: 'db-password' }]) } },
      { ifAbsent: true },
    );
  /** A busybox pod on the node with `volumes`; resolves once it runs. */
  const startPod = async (
    name: string,
    volumes: readonly AppVolume[],
    options: { serviceAccount?: string; env?: readonly V1EnvVar[] } = {},
  ): Promise<void> => {
    await core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: { name },
        spec: {
          nodeName: NODE_NAME,
          hostNetwork: true,
          terminationGracePeriodSeconds: 0,
          ...(options.serviceAccount !== undefined && { serviceAccountName: options.serviceAccount }),
          containers: [
            {
              name: 'app',
              image: BUSYBOX,
              imagePullPolicy: 'Never',
              command: ['sleep', '86400'],
              ...(options.env !== undefined && { env: [...options.env] }),
              volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: true })),
            },
          ],
          volumes: volumes.map((v) => inlineCsiVolume(v.name, v.spc, v.secretRef)),
        },
      },
    });
    await waitUntil(
      async () => (await core.readNamespacedPod({ namespace: NAMESPACE, name })).status?.phase === 'Running',
      { description: `pod ${name} to run`, timeoutMs: 150_000, intervalMs: 1000, process: kubelet!.process },
    );
  };
  /** A service-principal pod reading `spc` at /mnt/secrets-store, its class created first. */
  const runApp = async (
    name: string,
    spc: string,
    objects: readonly AzureObject[],
    options: { createClass?: boolean } = {},
  ): Promise<void> => {
    if (options.createClass !== false) await createAzureClass(spc, objects);
    await startPod(name, [secretsVolume(spc, 'sp-creds')]);
  };
  /** What the pod's app container sees: a command's output. */
  const execIn = async (pod: string, command: readonly string[]): Promise<string> => {
    const id = await containerd!.containerOf(NAMESPACE, pod, 'app');
    if (id === undefined) throw new Error(`no app container in ${pod}`);
    return containerd!.exec(id, [...command]);
  };
  const readApp = (pod: string, file: string, mountPath = '/mnt/secrets-store'): Promise<string> =>
    execIn(pod, ['cat', `${mountPath}/${file}`]);
  const podUid = async (name: string): Promise<string> =>
    (await core.readNamespacedPod({ namespace: NAMESPACE, name })).metadata?.uid ?? '?';
  /** Deletes the pod and waits until kubelet has torn it down (its directory, volumes and all, gone). */
  const deleteApp = async (name: string, volumes = 1): Promise<void> => {
    const uid = await podUid(name);
    await core.deleteNamespacedPod({ namespace: NAMESPACE, name, gracePeriodSeconds: 0 });
    await waitUntil(async () => !(await exists(join(paths.root, 'pods', uid))), {
      description: `kubelet to tear down ${name}`,
      timeoutMs: 120_000,
      intervalMs: 1000,
      process: kubelet!.process,
    });
    if (session.upgraded) session.volumesTornDown += volumes;
  };
  const metric = async (port: number, name: string): Promise<number> => {
    const response = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
    return metricSum(parsePrometheusText(await response.text()), name, {});
  };

  const helm = async (args: readonly string[]): Promise<string> => {
    try {
      const { stdout } = await run(await artifact('helm'), [...args], {
        env: helmEnv,
        maxBuffer: 32 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      throw new Error(`helm ${args.join(' ')}: ${(error as { stderr?: string }).stderr ?? String(error)}`);
    }
  };

  before(async function () {
    this.timeout(600_000);
    for (const image of IMAGES) {
      if (!(await exists(join(IMAGES_DIR, `${image}.oci.tar`)))) {
        this.skip(); // reason: the images are not built; `sudo bash scripts/images.sh` (scripts/test.sh does)
      }
    }
    world = await sharedTestWorld();
    core = world.kube.kubeConfig.makeApiClient(CoreV1Api);
    dir = await mkdtemp(join(tmpdir(), 'sscsi-helm-e2e-'));
    paths.root = join(dir, 'kubelet', 'root');
    paths.providers = join(dir, 'providers');
    paths.secrets = join(dir, 'directory-secrets');
    paths.repo = join(dir, 'repo');
    await Promise.all(Object.values(paths).map((p) => mkdir(p, { recursive: true })));
    await writeFile(join(paths.secrets, 'db-password'), 'p@ss-from-the-node');
    // Bidirectional propagation needs kubelet's directory on a shared mount, as on a systemd host.
    await run('mount', ['--bind', paths.root, paths.root]);
    await run('mount', ['--make-rshared', paths.root]);

    containerd = await startContainerd({ dir: join(dir, 'containerd'), sandboxImage: BUSYBOX });
    await containerd.importImage(
      await buildBusyboxImage(join(dir, 'busybox'), ['sleep', '86400']),
      'docker.io/local/busybox',
    );
    for (const image of IMAGES) {
      await containerd.importImage(
        join(IMAGES_DIR, `${image}.oci.tar`),
        `docker.io/secrets-store-csi/${image}`,
      );
    }
    kubelet = await startKubeletNode({
      dir: join(dir, 'kubelet'),
      nodeName: NODE_NAME,
      pki: world.pki,
      kube: world.kube,
      containerdAddress: containerd.address,
      syncFrequency: '5s',
    });
    // The scheduler's one job here: bind the DaemonSets' pods to the node.
    binder = setInterval(() => {
      void core
        .listNamespacedPod({ namespace: 'kube-system', fieldSelector: 'spec.nodeName=' })
        .then(async (list) => {
          for (const pod of list.items) {
            const name = pod.metadata?.name ?? '';
            await core
              .createNamespacedPodBinding({
                name,
                namespace: 'kube-system',
                body: { metadata: { name }, target: { kind: 'Node', name: NODE_NAME } },
              })
              .catch(() => undefined);
          }
        })
        .catch(() => undefined);
    }, 500);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } }).catch(() => undefined);
    await removeUnmanagedDriverObjects(world);
    // Key Vault behind a custom cloud whose authority is the test world's Entra ID.
    cloud = await startKeyVaultCloud({
      dir,
      name: 'helm',
      pki: world.pki,
      entra: world.entra,
      vaults: [
        { name: VAULT, tenantId: TENANT_ID },
        { name: VAULT_B, tenantId: TENANT_ID },
      ],
    });

    helmEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      HELM: await artifact('helm'),
      HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
      HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
      HELM_DATA_HOME: join(dir, 'helm', 'data'),
      KUBECONFIG: world.kube.adminKubeconfigPath,
    };
    repository = await serveChartRepository(paths.repo, helmEnv);
    await helm(['repo', 'add', REPO, repository.url]);
  });

  after(async function () {
    this.timeout(300_000);
    if (binder !== undefined) clearInterval(binder);
    await repository?.close();
    await helm(['uninstall', 'csi', '--namespace', 'kube-system', '--wait', '--timeout', '120s']).catch(
      () => '',
    );
    await helm(['uninstall', 'dir', '--namespace', 'kube-system', '--wait', '--timeout', '120s']).catch(
      () => '',
    );
    await kubelet?.stop();
    await containerd?.stop();
    await cloud?.stop();
    if (dir !== undefined) {
      await unmountBelow(dir);
      await run('umount', [paths.root]).catch(() => undefined);
      // SSCSI_KEEP_TEST_WORLD keeps the pods' logs (under kubelet/pod-logs) with the control plane's.
      if (process.env.SSCSI_KEEP_TEST_WORLD === undefined) await rm(dir, { recursive: true, force: true });
    }
  });

  it('helm install with the walkthrough values runs the driver and provider DaemonSets on the node', async () => {
    ports.driverMetrics = await freePort();
    ports.azureMetrics = await freePort();
    const apiPort = new URL(world.kube.server).port;
    await helm([
      'install',
      'csi',
      `${REPO}/csi-secrets-store-provider-azure`,
      '--namespace',
      'kube-system',
      '--set',
      'secrets-store-csi-driver.syncSecret.enabled=true',
      '--set',
      'secrets-store-csi-driver.enableSecretRotation=true',
      '--set',
      'secrets-store-csi-driver.rotationPollInterval=2m',
      // This node: kubelet's root, a private providers directory, the sidecar stand-ins, the host network.
      '--set',
      `secrets-store-csi-driver.linux.kubeletRootDir=${paths.root}`,
      '--set',
      `secrets-store-csi-driver.linux.providersDir=${paths.providers}`,
      '--set-json',
      'secrets-store-csi-driver.linux.additionalProvidersDirs=[]',
      '--set',
      `linux.providersDir=${paths.providers}`,
      '--set',
      'secrets-store-csi-driver.linux.registrarImage.repository=secrets-store-csi/test-sidecars',
      '--set',
      'secrets-store-csi-driver.linux.registrarImage.tag=0.1.0',
      '--set',
      'secrets-store-csi-driver.linux.livenessProbeImage.repository=secrets-store-csi/test-sidecars',
      '--set',
      'secrets-store-csi-driver.linux.livenessProbeImage.tag=0.1.0',
      '--set',
      'secrets-store-csi-driver.linux.hostNetwork=true',
      '--set',
      `secrets-store-csi-driver.livenessProbe.port=${String(await freePort())}`,
      '--set',
      `secrets-store-csi-driver.linux.metricsAddr=:${String(ports.driverMetrics)}`,
      '--set-json',
      `secrets-store-csi-driver.linux.env=${JSON.stringify([
        { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' },
        { name: 'KUBERNETES_SERVICE_PORT', value: apiPort },
      ])}`,
      '--set',
      `linux.healthzPort=${String(await freePort())}`,
      '--set',
      `metricsAddr=${String(ports.azureMetrics)}`,
      // Below the rotation interval the upgrade sets, so a rotated version is fetched at the next poll.
      '--set-json',
      'linux.extraArgs=["--object-cache-ttl=1s"]',
      // The stand-ins' test CA, and the custom cloud's environment file, from the node.
      '--set-json',
      `linux.env=${JSON.stringify([{ name: 'NODE_EXTRA_CA_CERTS', value: world.pki.caCertPath }])}`,
      '--set-json',
      `linux.volumes=${JSON.stringify([
        { name: 'test-ca', hostPath: { path: world.pki.caCertPath, type: 'File' } },
        { name: 'cloud-env', hostPath: { path: cloud!.cloudEnvFile, type: 'File' } },
      ])}`,
      '--set-json',
      `linux.volumeMounts=${JSON.stringify([
        { name: 'test-ca', mountPath: world.pki.caCertPath, readOnly: true },
        { name: 'cloud-env', mountPath: cloud!.cloudEnvFile, readOnly: true },
      ])}`,
    ]);
    await helm([
      'install',
      'dir',
      `${REPO}/csi-secrets-store-provider-directory`,
      '--namespace',
      'kube-system',
      '--set',
      `linux.rootDir=${paths.secrets}`,
      '--set',
      `linux.providersDir=${paths.providers}`,
      '--set',
      'linux.hostNetwork=true',
      '--set',
      `linux.healthzPort=${String(await freePort())}`,
      '--set',
      `linux.metricsPort=${String(await freePort())}`,
    ]);
    const apps = world.kube.kubeConfig.makeApiClient(AppsV1Api);
    await waitUntil(
      async () => {
        const sets = (await apps.listNamespacedDaemonSet({ namespace: 'kube-system' })).items;
        return sets.length === 3 && sets.every((s) => (s.status?.numberReady ?? 0) === 1);
      },
      {
        description: 'the three DaemonSets to have a ready pod',
        timeoutMs: 240_000,
        intervalMs: 1000,
        process: kubelet!.process,
      },
    ).catch(async (error: unknown) => {
      const pods = (await core.listNamespacedPod({ namespace: 'kube-system' })).items.map(
        (p) =>
          `${p.metadata?.name ?? ''} ${p.status?.phase ?? ''} ${JSON.stringify(p.status?.containerStatuses?.map((c) => [c.name, c.ready, c.state]))}`,
      );
      throw new Error(`${(error as Error).message}\n${pods.join('\n')}`);
    });
    const storage = world.kube.kubeConfig.makeApiClient(StorageV1Api);
    await waitUntil(
      async () =>
        (await storage.readCSINode({ name: NODE_NAME })).spec.drivers.some((d) => d.name === DRIVER_NAME),
      { description: `CSINode ${NODE_NAME} to list ${DRIVER_NAME}`, timeoutMs: 60_000 },
    );
    expect(await exists(join(paths.providers, 'azure.sock'))).to.equal(true);
    expect(await exists(join(paths.providers, 'directory.sock'))).to.equal(true);
  });

  it('a pod mounts a directory-provider secret through the DaemonSet pods, before and after helm upgrade', async () => {
    await createNodeSecretsClass();
    await waitUntil(
      () =>
        core.readNamespacedServiceAccount({ namespace: NAMESPACE, name: 'default' }).then(
          () => true,
          () => false,
        ),
      { description: 'the default ServiceAccount', timeoutMs: 30_000 },
    );
    await startPod('app', [secretsVolume('node-secrets')]);
    const read = (): Promise<string> => readApp('app', 'db-password');
    expect(await read()).to.equal('p@ss-from-the-node');

    await helm([
      'upgrade',
      'csi',
      `${REPO}/csi-secrets-store-provider-azure`,
      '--namespace',
      'kube-system',
      '--reuse-values',
      '--set',
      'secrets-store-csi-driver.rotationPollInterval=5s',
    ]);
    const apps = world.kube.kubeConfig.makeApiClient(AppsV1Api);
    await waitUntil(
      async () => {
        const ds = await apps.readNamespacedDaemonSet({
          namespace: 'kube-system',
          name: 'secrets-store-csi-driver',
        });
        return (
          (ds.status?.updatedNumberScheduled ?? 0) === 1 &&
          (ds.status?.numberReady ?? 0) === 1 &&
          (ds.status?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 1)
        );
      },
      { description: 'the upgraded driver pod to be ready', timeoutMs: 180_000, intervalMs: 1000 },
    );
    const upgraded = await apps.readNamespacedDaemonSet({
      namespace: 'kube-system',
      name: 'secrets-store-csi-driver',
    });
    expect(upgraded.spec?.template.spec?.containers.find((c) => c.name === 'secrets-store')?.args).to.include(
      '--rotation-poll-interval=5s',
    );
    session.upgraded = true;
    // Serving: one driver pod left, answering CSI Probe on the socket kubelet uses.
    const socket = join(paths.root, 'plugins', 'csi-secrets-store', 'csi.sock');
    await waitUntil(
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: 'kube-system',
          labelSelector: 'app=secrets-store-csi-driver',
        });
        if (pods.items.length !== 1) return false;
        const client = new CsiNodeClient(socket);
        const outcome = await client.probe({ deadline: Date.now() + 2000 });
        client.close();
        return outcome.ok;
      },
      { description: 'the upgraded driver to serve', timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(await read()).to.equal('p@ss-from-the-node');
    // Deleted, and torn down by kubelet while the upgraded driver runs.
    await deleteApp('app');
  });

  it('Key Vault secrets mount through the Azure provider pod: service principal and workload identity', async () => {
    world.entra.addServicePrincipal({
      tenantId: TENANT_ID,
      clientId: 'helm-sp',
      clientSecret: 'helm-sp-secret',
    });
    cloud!.keyVault.setSecret(VAULT, 'db-password', 'p@ss-from-key-vault');
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'sp-creds', labels: { 'secrets-store.csi.k8s.io/used': 'true' } },
        type: 'Opaque',
        stringData: { clientid: 'helm-sp', clientsecret: 'helm-sp-secret' },
      },
    });
    await core.createNamespacedServiceAccount({
      namespace: NAMESPACE,
      body: { metadata: { name: 'workload' } },
    });
    world.entra.addFederatedCredential({
      tenantId: TENANT_ID,
      clientId: 'helm-wi',
      issuer: world.kube.serviceAccountIssuer,
      subject: `system:serviceaccount:${NAMESPACE}:workload`,
    });
    const objects = [{ objectName: 'db-password', objectType: 'secret', objectAlias: 'db' }] as const;
    await createAzureClass('kv-sp', objects);
    await createAzureClass('kv-wi', objects, { parameters: { clientID: 'helm-wi' } });
    await startPod('sp-app', [secretsVolume('kv-sp', 'sp-creds')]);
    await startPod('wi-app', [secretsVolume('kv-wi')], { serviceAccount: 'workload' });
    for (const pod of ['sp-app', 'wi-app']) {
      expect(await readApp(pod, 'db')).to.equal('p@ss-from-key-vault');
      await deleteApp(pod);
    }
  });

  it('secretObjects sync a Secret that a container environment variable reads (syncSecret.enabled)', async () => {
    await createAzureClass('kv-sync', [{ objectName: 'db-password', objectType: 'secret' }], {
      secretObjects: [
        { secretName: 'synced-db', type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] },
      ],
    });
    await startPod('sync-app', [secretsVolume('kv-sync', 'sp-creds')], {
      env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'synced-db', key: 'password' } } }],
    });
    expect(await execIn('sync-app', ['sh', '-c', 'echo "$DB_PASSWORD"'])).to.equal('p@ss-from-key-vault\n');
    await deleteApp('sync-app');
  });

  it("metrics are scraped from the pods' ports with upstream's names", async () => {
    // Since the upgrade restarted the driver: the Key Vault pods and the synced one, each published and gone.
    expect(await metric(ports.driverMetrics, 'node_publish_total')).to.be.at.least(3);
    expect(await metric(ports.driverMetrics, 'node_unpublish_total')).to.be.at.least(3);
    expect(await metric(ports.driverMetrics, 'node_publish_error_total')).to.equal(0);
    expect(await metric(ports.driverMetrics, 'sync_k8s_secret_total')).to.be.at.least(1);
    expect(await metric(ports.azureMetrics, 'keyvault_request_count')).to.be.at.least(1);
    expect(await metric(ports.azureMetrics, 'grpc_request_count')).to.be.at.least(3);
  });

  it('rotation: a new Key Vault version reaches the running container through the pods (interval set by helm upgrade)', async () => {
    cloud!.keyVault.setSecret(VAULT, 'rotating', 'version-one');
    await runApp('rot-app', 'kv-rot', [{ objectName: 'rotating', objectType: 'secret' }]);
    expect(await readApp('rot-app', 'rotating')).to.equal('version-one');
    cloud!.keyVault.setSecret(VAULT, 'rotating', 'version-two');
    // kubelet republishes every 5 s (syncFrequency); the driver refreshes after its 5 s poll interval.
    await waitUntil(async () => (await readApp('rot-app', 'rotating')) === 'version-two', {
      description: 'the rotated version in the container',
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    await deleteApp('rot-app');
  });

  it('a pod naming a missing SecretProviderClass waits with a FailedMount event and starts once it exists', async () => {
    const pod = runApp('late-app', 'kv-late', [{ objectName: 'late-secret', objectType: 'secret' }], {
      createClass: false,
    });
    await waitUntil(
      async () =>
        (
          await core.listNamespacedEvent({
            namespace: NAMESPACE,
            fieldSelector: 'involvedObject.name=late-app,reason=FailedMount',
          })
        ).items.some((e) => e.message?.includes('"kv-late" not found') ?? false),
      { description: 'the FailedMount event', timeoutMs: 90_000, intervalMs: 1000 },
    );
    cloud!.keyVault.setSecret(VAULT, 'late-secret', 'worth-the-wait');
    await createAzureClass('kv-late', [{ objectName: 'late-secret', objectType: 'secret' }]);
    await pod;
    expect(await readApp('late-app', 'late-secret')).to.equal('worth-the-wait');
    await deleteApp('late-app');
  });

  it('a pod with two CSI volumes from two classes (Azure and directory); its synced Secret is garbage-collected after the pod is deleted', async () => {
    await createAzureClass(
      'kv-two',
      [{ objectName: 'db-password', objectType: 'secret', objectAlias: 'db' }],
      {
        secretObjects: [
          { secretName: 'two-synced', type: 'Opaque', data: [{ objectName: 'db', key: 'password' }] },
        ],
      },
    );
    // The directory class of the upgrade scenario (it mounts the node's db-password), if that ran.
    await createNodeSecretsClass();
    await startPod('two-app', [
      secretsVolume('kv-two', 'sp-creds'),
      { name: 'config', spc: 'node-secrets', mountPath: '/mnt/config' },
    ]);
    expect(await readApp('two-app', 'db')).to.equal('p@ss-from-key-vault');
    expect(await readApp('two-app', 'db-password', '/mnt/config')).to.equal('p@ss-from-the-node');
    // One tmpfs of the driver per volume, at kubelet's target paths for this pod.
    const uid = await podUid('two-app');
    const tmpfs = (await mountsBelow(join(paths.root, 'pods', uid))).filter(
      (m) => m.type === 'tmpfs' && m.path.includes('/volumes/kubernetes.io~csi/'),
    );
    expect(tmpfs.map((m) => m.path.split('/').at(-2)).sort()).to.deep.equal(['config', 'secrets']);
    const synced = await core.readNamespacedSecret({ namespace: NAMESPACE, name: 'two-synced' });
    expect(Buffer.from(synced.data?.password ?? '', 'base64').toString('utf8')).to.equal(
      'p@ss-from-key-vault',
    );

    await deleteApp('two-app', 2);
    await waitUntil(
      () =>
        core.readNamespacedSecret({ namespace: NAMESPACE, name: 'two-synced' }).then(
          () => false,
          (error: unknown) => (error as { code?: number }).code === 404,
        ),
      { description: 'the synced Secret to be garbage-collected', timeoutMs: 120_000, intervalMs: 1000 },
    );
  });

  it('beyond upstream: two vaults, extracted keys, a password PFX and an optional object absent then created in one pod; kubectl secrets-store explains it', async () => {
    const keyVault = cloud!.keyVault;
    keyVault.setSecret(VAULT, 'db-credentials', JSON.stringify({ username: 'shop', password: 'db-pa55' }));
    keyVault.setSecret(VAULT_B, 'api-key', 'key-from-vault-b');
    const issued = await world.pki.issue({
      name: 'helm-e2e-pfx',
      commonName: 'api.example',
      dnsNames: ['api.example'],
      usage: 'server',
    });
    const pfx = await readFile(await world.pki.pkcs12(issued, 'helm-e2e-pfx', PFX_PASSWORD));
    keyVault.setSecret(VAULT, 'app-pfx', pfx.toString('base64'), { contentType: 'application/x-pkcs12' });
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: 'sp-creds-pfx', labels: { 'secrets-store.csi.k8s.io/used': 'true' } },
        type: 'Opaque',
        stringData: { clientid: 'helm-sp', clientsecret: 'helm-sp-secret', 'pfx-password': PFX_PASSWORD },
      },
    });
    await createAzureClass(
      'kv-beyond',
      [
        {
          objectName: 'db-credentials',
          objectType: 'secret',
          jmesPath: [
            { path: 'username', objectAlias: 'db-username' },
            { path: 'password', objectAlias: 'db-password', filePermission: '0400' },
          ],
        },
        { objectName: 'api-key', objectType: 'secret', keyvaultName: VAULT_B },
        { objectName: 'feature-flag', objectType: 'secret', keyvaultName: VAULT_B, optional: true },
        {
          objectName: 'app-pfx',
          objectType: 'secret',
          objectAlias: 'app-tls.pem',
          objectContentType: 'application/x-pkcs12',
          pfxPasswordSecretKey: 'pfx-password',
        },
      ],
      {
        secretObjects: [
          {
            secretName: 'beyond-synced',
            type: 'Opaque',
            data: [
              { objectName: 'db-password', key: 'password' },
              { objectName: 'feature-flag', key: 'flag' },
            ],
          },
        ],
      },
    );
    await startPod('beyond-app', [secretsVolume('kv-beyond', 'sp-creds-pfx')], {
      env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'beyond-synced', key: 'password' } } }],
    });

    // The files: keys extracted from one vault, a secret of the other, the PFX as PEM; no optional file yet.
    expect(await readApp('beyond-app', 'db-username')).to.equal('shop');
    expect(await readApp('beyond-app', 'db-password')).to.equal('db-pa55');
    expect(await readApp('beyond-app', 'api-key')).to.equal('key-from-vault-b');
    const pem = await readApp('beyond-app', 'app-tls.pem');
    expect(pem).to.include('PRIVATE KEY-----').and.include('-----BEGIN CERTIFICATE-----');
    expect((await execIn('beyond-app', ['ls', '/mnt/secrets-store'])).split(/\s+/)).not.to.include(
      'feature-flag',
    );
    expect(await execIn('beyond-app', ['sh', '-c', 'echo "$DB_PASSWORD"'])).to.equal('db-pa55\n');
    const synced = async () =>
      (await core.readNamespacedSecret({ namespace: NAMESPACE, name: 'beyond-synced' })).data ?? {};
    expect(Object.keys(await synced())).to.deep.equal(['password']);

    // The absence, where users look: the pod status condition and a Warning event.
    const statuses = world.kube.kubeConfig.makeApiClient(CustomObjectsApi);
    const condition = async () => {
      const status = (await statuses.getNamespacedCustomObject({
        group: 'secrets-store.csi.x-k8s.io',
        version: 'v1',
        namespace: NAMESPACE,
        plural: 'secretproviderclasspodstatuses',
        name: `beyond-app-${NAMESPACE}-kv-beyond`,
      })) as {
        status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
      };
      return status.status?.conditions?.find((c) => c.type === 'OptionalObjectsPresent');
    };
    expect(await condition()).to.include({ status: 'False', reason: 'OptionalObjectAbsent' });
    expect((await condition())?.message).to.include(`${VAULT_B}/secret/feature-flag`);
    await waitUntil(
      async () =>
        (
          await core.listNamespacedEvent({
            namespace: NAMESPACE,
            fieldSelector: 'involvedObject.name=beyond-app,reason=OptionalObjectAbsent',
          })
        ).items.length > 0,
      { description: 'the OptionalObjectAbsent event', timeoutMs: 30_000, intervalMs: 500 },
    );

    // kubectl secrets-store explain, as a user runs it against this pod.
    const { stdout } = await run(
      process.execPath,
      [
        '--conditions=source',
        '--import=tsx',
        'src/cli.ts',
        'explain',
        'pod/beyond-app',
        '-n',
        NAMESPACE,
        '--kubeconfig',
        world.kube.adminKubeconfigPath,
        '--rotation-poll-interval=5s',
        '-o',
        'json',
      ],
      { cwd: PLUGIN_DIR },
    );
    for (const value of ['db-pa55', 'key-from-vault-b', PFX_PASSWORD, 'PRIVATE KEY']) {
      expect(stdout, 'explain never prints a secret').not.to.include(value);
    }
    const report = JSON.parse(stdout) as {
      kind: string;
      volumes: {
        state: string;
        objects: { id: string; version: string }[];
        podStatus?: { node?: string };
        problems: { reason: string; diagnosis?: { id: string } }[];
        refresh: { estimated: boolean; intervalSeconds: number };
      }[];
    };
    expect(report.kind).to.equal('PodExplanation');
    const [volume] = report.volumes;
    expect(volume?.state).to.equal('Mounted');
    expect(volume?.podStatus?.node).to.equal(NODE_NAME);
    expect(volume?.objects.map((o) => o.id)).to.include.members([
      'secret/db-credentials',
      'secret/app-pfx',
      `${VAULT_B}/secret/api-key`,
    ]);
    expect(volume?.objects.every((o) => o.version !== '')).to.equal(true);
    expect(
      volume?.problems.filter((p) => p.reason === 'OptionalObjectAbsent').map((p) => p.diagnosis?.id),
    ).to.include('optional-object-absent');
    expect(volume?.refresh).to.include({ estimated: true, intervalSeconds: 5 });

    // Created in the vault: the next rotation brings the file, the Secret key and the condition True.
    keyVault.setSecret(VAULT_B, 'feature-flag', 'on');
    await waitUntil(async () => (await readApp('beyond-app', 'feature-flag').catch(() => '')) === 'on', {
      description: 'the optional object in the container',
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    await waitUntil(async () => (await synced()).flag !== undefined, {
      description: 'the synced Secret to gain the optional key',
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    expect(Buffer.from((await synced()).flag ?? '', 'base64').toString('utf8')).to.equal('on');
    expect(await condition()).to.include({ status: 'True' });
    await deleteApp('beyond-app');
  });

  it("every volume unmounts cleanly: no CSI tmpfs left, no unmount error in the driver pod's log, and the driver's metrics count each publish and unpublish", async function () {
    if (!session.upgraded) this.skip(); // reason: it checks the upgraded driver's session: run it with the scenarios above
    const left = (await mountsBelow(paths.root)).filter((m) => m.path.includes('kubernetes.io~csi'));
    expect(
      left.map((m) => m.path),
      'CSI volume mounts left in /proc/mounts',
    ).to.deep.equal([]);

    // The driver pods' logs (kubelet's CRI files: `<time> <stream> <tag> <line>`), text lines
    // `<time> <level> <message> key=value...`.
    const logsDir = join(dir!, 'kubelet', 'pod-logs');
    const driverPods = (await readdir(logsDir)).filter((d) =>
      d.startsWith('kube-system_secrets-store-csi-driver-'),
    );
    const lines: string[] = [];
    for (const pod of driverPods) {
      const container = join(logsDir, pod, 'secrets-store');
      for (const file of await readdir(container).catch(() => [])) {
        lines.push(...(await readFile(join(container, file), 'utf8')).split('\n').filter((l) => l !== ''));
      }
    }
    expect(lines.length, "the driver pods' log lines").to.be.greaterThan(0);
    const unmountFailures = lines
      .map((line) => line.split(' ').slice(3))
      .filter(
        (words) => ['error', 'warn'].includes(words[1] ?? '') && /unmount|unpublish/i.test(words.join(' ')),
      );
    expect(unmountFailures.map((words) => words.join(' '))).to.deep.equal([]);

    // The upgraded driver unpublished every volume torn down since it started exactly once, without error, and
    // published each at least once (kubelet republishes requiresRepublish volumes on every sync).
    expect(await metric(ports.driverMetrics, 'node_unpublish_total')).to.equal(session.volumesTornDown);
    expect(await metric(ports.driverMetrics, 'node_unpublish_error_total')).to.equal(0);
    expect(await metric(ports.driverMetrics, 'node_publish_total')).to.be.at.least(session.volumesTornDown);
    console.log(
      `      (${String(session.volumesTornDown)} volumes published and unpublished by the upgraded driver)`,
    );
  });

  it('every DaemonSet container stays under its memory limit (peak printed against the limit)', async () => {
    const lines: string[] = [];
    for (const pod of (await core.listNamespacedPod({ namespace: 'kube-system' })).items) {
      for (const c of pod.spec?.containers ?? []) {
        const id = await containerd!.containerOf('kube-system', pod.metadata?.name ?? '', c.name);
        if (id === undefined) continue;
        const { stdout } = await run('ctr', [
          '--address',
          containerd!.address,
          '--namespace',
          'k8s.io',
          'tasks',
          'metrics',
          '--format',
          'json',
          id,
        ]);
        const usage = (JSON.parse(stdout) as { memory?: { usage?: { max?: number; limit?: number } } }).memory
          ?.usage;
        const peak = usage?.max ?? 0;
        const limit = usage?.limit ?? 0;
        const chartLimit = c.resources?.limits?.memory ?? '';
        const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
        lines.push(
          `${pod.metadata?.labels?.app ?? ''}/${c.name}: peak ${mib(peak)} MiB of ${mib(limit)} MiB (chart limit ${chartLimit})`,
        );
        expect(limit, `${c.name}'s cgroup limit is the chart's memory limit`).to.equal(
          quantityBytes(chartLimit),
        );
        expect(peak).to.be.at.most(limit);
      }
    }
    console.log(`      peak memory against the limit:\n${lines.map((l) => `        ${l}`).join('\n')}`);
    expect(lines.length).to.equal(5);
  });

  it('helm uninstall leaves no socket, no mount and no CSIDriver, and keeps the CRDs', async () => {
    await helm(['uninstall', 'csi', '--namespace', 'kube-system', '--wait', '--timeout', '120s']);
    await helm(['uninstall', 'dir', '--namespace', 'kube-system', '--wait', '--timeout', '120s']);
    await waitUntil(
      async () => (await core.listNamespacedPod({ namespace: 'kube-system' })).items.length === 0,
      { description: 'the DaemonSet pods to be gone', timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(await readdir(paths.providers)).to.deep.equal([]);
    expect(await readdir(join(paths.root, 'plugins', 'csi-secrets-store')).catch(() => [])).to.deep.equal([]);
    expect((await mountsBelow(join(paths.root, 'pods'))).map((m) => m.path)).to.deep.equal([]);
    const storage = world.kube.kubeConfig.makeApiClient(StorageV1Api);
    expect((await storage.listCSIDriver()).items.map((d) => d.metadata?.name)).not.to.include(DRIVER_NAME);
    const crds = await api().listCrds();
    expect(crds).to.include('secretproviderclasses.secrets-store.csi.x-k8s.io');
  });

  const api = () => ({
    listCrds: async (): Promise<string[]> => {
      const { ApiextensionsV1Api } = await import('@kubernetes/client-node');
      const list = await world.kube.kubeConfig
        .makeApiClient(ApiextensionsV1Api)
        .listCustomResourceDefinition();
      return list.items.map((crd) => crd.metadata?.name ?? '');
    },
  });
});
