/**
 * The end-to-end cluster: one real node on loopback, started by the test and torn down after it.
 *
 *   test world (etcd, kube-apiserver with Node+RBAC authorization, kube-controller-manager)
 *   kubelet (pinned release, registered as `e2e-node`) -> containerd (Debian) -> runc, busybox image built here
 *   plugin registrar stand-in -> kubelet's plugins_registry, pointing kubelet at the driver's socket
 *   our driver (src/main.ts) with the DaemonSet's flags, authenticated as its ServiceAccount from deploy/
 *   provider-azure and provider-directory (host processes, sockets in the providers directory)
 *   Entra ID stand-in and the Key Vault double (vault host mapped to 127.0.0.1)
 *
 * Pods are bound with `spec.nodeName`, use the host network and the local image with `imagePullPolicy: Never`.
 * docs/testing.md describes the layout and what differs from a production node.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubernetesObjectApi,
  StorageV1Api,
  type CoreV1Event,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  buildBusyboxImage,
  freePort,
  mountsBelow,
  sharedTestWorld,
  startContainerd,
  startKeyVaultCloud,
  startKubeletNode,
  startPluginRegistrar,
  startProcess,
  unmountBelow,
  waitUntil,
  type Containerd,
  type KeyVaultDouble,
  type KubeletNode,
  type KeyVaultCloud,
  type ManagedProcess,
  type MountEntry,
  type PluginRegistrar,
  type TestWorld,
} from '@secrets-store-csi/test-support';
import { parseAllDocuments } from 'yaml';
import { metricSum, parsePrometheusText } from '../helpers.js';
import { customCloudParameters, type AzureObject } from '../integration/azure/world.js';
import {
  DRIVER_NAME,
  inlineCsiVolume,
  installCrds,
  installCsiDriver,
  startDirectoryProvider,
  startDriverProcess,
  type DriverProcess,
} from '../integration/support.js';

export const NODE_NAME = 'e2e-node';
export const IMAGE = 'docker.io/local/busybox:latest';
export const TENANT_ID = 'tenant-e2e';
/** The driver's rotation poll interval: short, so a rotation test waits seconds, not minutes. */
export const ROTATION_POLL_INTERVAL_SECONDS = 5;
/** The mount path upstream's docs use. */
export const MOUNT_PATH = '/mnt/secrets-store';

const providerAzureMain = new URL('../../../provider-azure/src/main.ts', import.meta.url).pathname;
const providerAzurePackageDir = new URL('../../../provider-azure/', import.meta.url).pathname;
const rbacFile = new URL('../../../../deploy/driver/rbac.yaml', import.meta.url);

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Creates every object of a multi-document manifest from deploy/ unchanged (409 when it exists is fine). */
async function applyManifest(world: TestWorld, file: URL): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(world.kube.kubeConfig);
  for (const document of parseAllDocuments(await readFile(file, 'utf8'))) {
    const object = document.toJS() as KubernetesObject | null;
    if (object === null) continue;
    await api.create(object).catch((error: unknown) => {
      if ((error as { code?: number }).code !== 409) throw error;
    });
  }
}

/** Command lines of running processes that mention `text` (containerd shims name their socket in it). */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ').trim()}`);
  }
  return found;
}

/** Creates the namespace and waits for its default ServiceAccount, without which pods are refused. */
async function createNamespace(world: TestWorld, namespace: string): Promise<void> {
  const core = world.kube.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((error: unknown) => {
    if ((error as { code?: number }).code !== 409) throw error;
  });
  await waitUntil(
    () =>
      core.readNamespacedServiceAccount({ namespace, name: 'default' }).then(
        () => true,
        () => false,
      ),
    { description: `the default ServiceAccount of ${namespace}`, timeoutMs: 30_000 },
  );
}

/** A kubeconfig holding a token of the driver's ServiceAccount, as the DaemonSet's pod would have. */
async function driverKubeconfig(world: TestWorld, path: string): Promise<void> {
  const core = world.kube.kubeConfig.makeApiClient(CoreV1Api);
  await waitUntil(
    () =>
      core.readNamespacedServiceAccount({ namespace: 'kube-system', name: 'secrets-store-csi-driver' }).then(
        () => true,
        () => false,
      ),
    { description: 'the driver ServiceAccount', timeoutMs: 30_000 },
  );
  const token = await core.createNamespacedServiceAccountToken({
    namespace: 'kube-system',
    name: 'secrets-store-csi-driver',
    body: { spec: { audiences: [], expirationSeconds: 7200 } },
  });
  await writeFile(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: e2e\n  cluster:\n    server: ${world.kube.server}\n    certificate-authority: ${world.pki.caCertPath}`,
      `users:\n- name: driver\n  user:\n    token: ${token.status?.token ?? ''}`,
      'contexts:\n- name: e2e\n  context: {cluster: e2e, user: driver}',
      'current-context: e2e',
      '',
    ].join('\n'),
  );
}

export interface E2ePodSpec {
  readonly volumes: readonly { name: string; spc: string; nodePublishSecretRef?: string }[];
  readonly serviceAccountName?: string;
  readonly env?: NonNullable<V1Pod['spec']>['containers'][number]['env'];
}

/** The running pieces of the cluster. */
interface E2eParts {
  readonly dir: string;
  readonly world: TestWorld;
  readonly containerd: Containerd;
  readonly kubelet: KubeletNode;
  readonly driver: DriverProcess;
  readonly registrar: PluginRegistrar;
  readonly providerAzure: ManagedProcess;
  readonly providerDirectory: ManagedProcess;
  readonly providerAzureMetricsPort: number;
  readonly cloud: KeyVaultCloud;
}

export class E2eCluster {
  readonly namespace = 'e2e';
  readonly vault = 'kv-e2e';
  readonly parts: E2eParts;
  readonly dir: string;
  readonly world: TestWorld;
  readonly containerd: Containerd;
  readonly kubelet: KubeletNode;
  readonly driver: DriverProcess;
  readonly keyVault: KeyVaultDouble;
  readonly core: CoreV1Api;
  readonly cloudEnvFile: string;
  /** The directory provider's root: files placed here are what its SecretProviderClasses can mount. */
  readonly directoryRoot: string;
  readonly #pods = new Set<string>();

  private constructor(parts: E2eParts) {
    this.parts = parts;
    this.dir = parts.dir;
    this.world = parts.world;
    this.containerd = parts.containerd;
    this.kubelet = parts.kubelet;
    this.driver = parts.driver;
    this.keyVault = parts.cloud.keyVault;
    this.core = parts.world.kube.kubeConfig.makeApiClient(CoreV1Api);
    this.cloudEnvFile = parts.cloud.cloudEnvFile;
    this.directoryRoot = join(parts.dir, 'directory-secrets');
  }

  static async start(): Promise<E2eCluster> {
    const world = await sharedTestWorld();
    const dir = await mkdtemp(join(tmpdir(), 'sscsi-e2e-'));
    const stops: (() => Promise<unknown>)[] = [];
    const undo = async () => {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await installCrds(world.kube.kubeConfig);
      await installCsiDriver(world.kube.kubeConfig);
      await applyManifest(world, rbacFile);
      await createNamespace(world, 'e2e');

      const image = await buildBusyboxImage(join(dir, 'image'), ['sleep', '86400']);
      const containerd = await startContainerd({ dir: join(dir, 'containerd'), sandboxImage: IMAGE });
      stops.push(() => containerd.stop());
      await containerd.importImage(image, 'docker.io/local/busybox');
      const kubelet = await startKubeletNode({
        dir: join(dir, 'kubelet'),
        nodeName: NODE_NAME,
        pki: world.pki,
        kube: world.kube,
        containerdAddress: containerd.address,
        syncFrequency: '5s',
      });
      stops.push(() => kubelet.stop());

      // The stand-ins: Key Vault behind a custom cloud whose authority is the test world's Entra ID.
      const cloud = await startKeyVaultCloud({
        dir,
        name: 'e2e',
        pki: world.pki,
        entra: world.entra,
        vaults: [{ name: 'kv-e2e', tenantId: TENANT_ID }],
      });
      stops.push(() => cloud.stop());

      // The providers, with the flags of their DaemonSets (ports free ones instead of the fixed defaults).
      const providersDir = join(dir, 'providers');
      const directoryRoot = join(dir, 'directory-secrets');
      await Promise.all([mkdir(providersDir), mkdir(directoryRoot)]);
      const providerAzureMetricsPort = await freePort();
      const providerAzure = await startProcess({
        name: 'provider-azure',
        command: process.execPath,
        cwd: providerAzurePackageDir,
        args: [
          '--conditions=source',
          '--import=tsx',
          providerAzureMain,
          `--endpoint=unix://${join(providersDir, 'azure.sock')}`,
          '--construct-pem-chain=true',
          `--healthz-port=${String(await freePort())}`,
          '--healthz-path=/healthz',
          '--healthz-timeout=5s',
          `--prometheus-port=${String(providerAzureMetricsPort)}`,
          // Below the rotation poll interval, so a rotated secret is fetched at the next poll.
          '--object-cache-ttl=1s',
          '-v=5',
        ],
        env: { ...process.env, NODE_EXTRA_CA_CERTS: world.pki.caCertPath },
        logPath: join(dir, 'provider-azure.log'),
      });
      stops.push(() => providerAzure.stop());
      await waitUntil(() => exists(join(providersDir, 'azure.sock')), {
        description: 'the Azure provider socket',
        timeoutMs: 30_000,
        process: providerAzure,
      });
      const providerDirectory = await startDirectoryProvider(dir, directoryRoot, providersDir);
      stops.push(() => providerDirectory.stop());

      // The driver where the DaemonSet puts it: <kubelet root>/plugins/csi-secrets-store/csi.sock.
      const pluginDir = join(kubelet.pluginsDir, 'csi-secrets-store');
      await mkdir(pluginDir, { recursive: true });
      const kubeconfigPath = join(dir, 'driver.kubeconfig');
      await driverKubeconfig(world, kubeconfigPath);
      const driver = await startDriverProcess({
        name: 'driver',
        dir,
        nodeId: NODE_NAME,
        kubeconfigPath,
        providersDir,
        socketPath: join(pluginDir, 'csi.sock'),
        extraArgs: [
          `--rotation-poll-interval=${String(ROTATION_POLL_INTERVAL_SECONDS)}s`,
          '--provider-health-check=false',
        ],
      });
      stops.push(() => driver.stop());

      const registrar = await startPluginRegistrar({
        registrationDir: kubelet.registrationDir,
        driverName: DRIVER_NAME,
        kubeletRegistrationPath: driver.socketPath,
      });
      stops.push(() => registrar.stop());
      await registrar.registered;
      const storage = world.kube.kubeConfig.makeApiClient(StorageV1Api);
      await waitUntil(
        async () =>
          (await storage.readCSINode({ name: NODE_NAME })).spec.drivers.some((d) => d.name === DRIVER_NAME),
        { description: `CSINode ${NODE_NAME} to list ${DRIVER_NAME}`, timeoutMs: 60_000 },
      );
      return new E2eCluster({
        dir,
        world,
        containerd,
        kubelet,
        driver,
        registrar,
        providerAzure,
        providerDirectory,
        providerAzureMetricsPort,
        cloud,
      });
    } catch (error) {
      await undo();
      throw error;
    }
  }

  /**
   * Deletes every pod this cluster started and waits until kubelet has torn them down, then stops everything.
   * Returns what kubelet left behind before it stopped (mounts below its pods directory, running containers)
   * and any process still running from the cluster's directory afterwards: all should be empty. Stopped
   * containers kubelet has not garbage-collected yet are removed with containerd's state.
   */
  async stop(): Promise<{ mounts: string[]; runningContainers: string[]; processes: string[] }> {
    await this.deleteAllPods();
    const mounts = (await mountsBelow(join(this.kubelet.rootDir, 'pods'))).map((m) => m.path);
    const runningContainers = await this.containerd.runningTasks();
    const { registrar, driver, providerAzure, providerDirectory, kubelet, containerd, cloud } = this.parts;
    await registrar.stop();
    await driver.stop();
    await providerAzure.stop();
    await providerDirectory.stop();
    await kubelet.stop();
    await containerd.stop();
    await cloud.stop();
    await unmountBelow(this.dir);
    const processes = await processesMentioning(this.dir);
    await rm(this.dir, { recursive: true, force: true });
    return { mounts, runningContainers, processes };
  }

  // --- pods -----------------------------------------------------------------------------------------------

  async runPod(name: string, spec: E2ePodSpec): Promise<V1Pod> {
    const volumes = spec.volumes.map((v) => inlineCsiVolume(v.name, v.spc, v.nodePublishSecretRef));
    const pod: V1Pod = {
      metadata: { name, namespace: this.namespace },
      spec: {
        nodeName: NODE_NAME,
        hostNetwork: true,
        terminationGracePeriodSeconds: 0,
        ...(spec.serviceAccountName !== undefined && { serviceAccountName: spec.serviceAccountName }),
        containers: [
          {
            name: 'app',
            image: IMAGE,
            imagePullPolicy: 'Never',
            command: ['sleep', '86400'],
            volumeMounts: spec.volumes.map((v, index) => ({
              name: v.name,
              mountPath: index === 0 ? MOUNT_PATH : `${MOUNT_PATH}-${v.name}`,
              readOnly: true,
            })),
            ...(spec.env !== undefined && { env: spec.env }),
          },
        ],
        volumes,
      },
    };
    this.#pods.add(name);
    return this.core.createNamespacedPod({ namespace: this.namespace, body: pod });
  }

  async waitForRunning(name: string, timeoutMs = 90_000): Promise<V1Pod> {
    let pod: V1Pod | undefined;
    await waitUntil(
      async () => {
        pod = await this.core.readNamespacedPod({ namespace: this.namespace, name });
        return pod.status?.phase === 'Running';
      },
      { description: `pod ${name} to run`, timeoutMs, intervalMs: 500, process: this.kubelet.process },
    ).catch(async (error: unknown) => {
      const events = (await this.events(name)).map((e) => `${e.reason ?? ''}: ${e.message ?? ''}`);
      throw new Error(
        `${(error as Error).message}\nphase ${pod?.status?.phase ?? '?'}; events:\n${events.join('\n')}`,
      );
    });
    return pod as V1Pod;
  }

  /** Runs `argv` in the pod's `app` container (`ctr tasks exec`) and returns what it printed. */
  async exec(pod: string, argv: readonly string[]): Promise<string> {
    const id = await this.containerd.containerOf(this.namespace, pod, 'app');
    if (id === undefined) throw new Error(`pod ${pod} has no running app container`);
    return this.containerd.exec(id, argv);
  }

  /** What the container reads at `path`. */
  readInContainer(pod: string, path: string): Promise<string> {
    return this.exec(pod, ['cat', path]);
  }

  /** The mounts below kubelet's directory of the pod (its volumes). */
  async podMounts(name: string): Promise<MountEntry[]> {
    const pod = await this.core.readNamespacedPod({ namespace: this.namespace, name });
    return mountsBelow(join(this.kubelet.rootDir, 'pods', pod.metadata?.uid ?? 'unknown'));
  }

  /** Every CSI volume mount of any pod on the node. */
  async csiMounts(): Promise<MountEntry[]> {
    return (await mountsBelow(join(this.kubelet.rootDir, 'pods'))).filter((m) =>
      m.path.includes('/volumes/kubernetes.io~csi/'),
    );
  }

  async deletePod(name: string): Promise<void> {
    const pod = await this.core.readNamespacedPod({ namespace: this.namespace, name }).catch(() => undefined);
    await this.core
      .deleteNamespacedPod({ namespace: this.namespace, name, gracePeriodSeconds: 0 })
      .catch(() => undefined);
    this.#pods.delete(name);
    const uid = pod?.metadata?.uid;
    // Kubelet has finished with a pod when its directory (volumes and all) is gone.
    if (uid !== undefined) {
      await waitUntil(async () => !(await exists(join(this.kubelet.rootDir, 'pods', uid))), {
        description: `kubelet to tear down pod ${name}`,
        timeoutMs: 90_000,
        intervalMs: 500,
        process: this.kubelet.process,
      });
    }
    await waitUntil(
      () =>
        this.core.readNamespacedPod({ namespace: this.namespace, name }).then(
          () => false,
          () => true,
        ),
      { description: `pod ${name} to be gone from the API`, timeoutMs: 60_000, intervalMs: 500 },
    );
  }

  async deleteAllPods(): Promise<void> {
    await Promise.all([...this.#pods].map((name) => this.deletePod(name)));
  }

  async events(pod: string): Promise<CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod}`,
    });
    return list.items;
  }

  async waitForEvent(pod: string, reason: string, timeoutMs = 60_000): Promise<CoreV1Event> {
    let found: CoreV1Event | undefined;
    await waitUntil(
      async () => {
        found = (await this.events(pod)).find((e) => e.reason === reason);
        return found !== undefined;
      },
      { description: `event ${reason} on pod ${pod}`, timeoutMs, intervalMs: 500 },
    );
    return found as CoreV1Event;
  }

  // --- SecretProviderClasses ------------------------------------------------------------------------------

  async createSpc(name: string, spec: Record<string, unknown>): Promise<void> {
    const api = KubernetesObjectApi.makeApiClient(this.world.kube.kubeConfig);
    await api.create({
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClass',
      metadata: { name, namespace: this.namespace },
      spec,
    } as KubernetesObject);
  }

  /** A SecretProviderClass of the Azure provider reading this cluster's vault through the custom cloud. */
  azureSpc(
    name: string,
    objects: readonly AzureObject[],
    extra: { parameters?: Record<string, string>; secretObjects?: unknown[] } = {},
  ): Promise<void> {
    return this.createSpc(name, {
      provider: 'azure',
      parameters: {
        ...customCloudParameters(this.vault, TENANT_ID, this.cloudEnvFile, objects),
        ...extra.parameters,
      },
      ...(extra.secretObjects !== undefined && { secretObjects: extra.secretObjects }),
    });
  }

  // --- metrics --------------------------------------------------------------------------------------------

  async driverMetric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricSum(await this.driver.metrics(), name, labels);
  }

  async providerAzureMetric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${String(this.parts.providerAzureMetricsPort)}/metrics`);
    return metricSum(parsePrometheusText(await response.text()), name, labels);
  }
}
