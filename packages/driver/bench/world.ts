/**
 * The benchmark's world: the real test world (etcd, kube-apiserver, kube-controller-manager), our CRDs, the
 * CSIDriver object, a namespace with a service account and a SecretProviderClass for the directory provider,
 * real Pod objects bound to the bench node, and the directory provider and the driver as separate processes.
 *
 * Everything started is registered with a {@link Teardown}: run in reverse on success or error, and, on
 * SIGINT/SIGTERM, a synchronous emergency version (kill the processes, lazily unmount, remove directories).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  StorageV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  CsiNodeClient,
  DEFAULT_DRIVER_NAME,
  makeVolumeHandle,
  podVolumeDir,
  startProcess,
  startTestWorld,
  volumeTargetPath,
  waitUntil,
  type ManagedProcess,
  type TestWorld,
} from '@secrets-store-csi/test-support';
import { parse, parseAllDocuments } from 'yaml';
import { mountsUnder } from './proc.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DRIVER_PACKAGE = join(REPO_ROOT, 'packages/driver');
const PROVIDER_PACKAGE = join(REPO_ROOT, 'packages/provider-directory');

export const NODE_NAME = 'bench-node';
export const NAMESPACE = 'sscsi-bench';
export const SERVICE_ACCOUNT = 'bench-app';
export const SECRET_PROVIDER_CLASS = 'bench-directory';
/** The pod's volume name, so target paths end in `volumes/kubernetes.io~csi/secrets/mount`. */
export const VOLUME_NAME = 'secrets';
/** The three small objects the SecretProviderClass names (file name and content). */
const SECRET_FILES: Readonly<Record<string, string>> = {
  username: 'bench-user\n',
  password: 'c2VjcmV0LXBhc3N3b3JkLWZvci10aGUtYmVuY2htYXJr\n',
  'api-key': 'ak_3f9a1c5e7b2d4086a1c3e5f7092b4d6f8a0c2e4f\n',
};

/** One pod's inline volume, as kubelet would publish it. */
export interface BenchVolume {
  readonly podName: string;
  readonly podUid: string;
  readonly volumeId: string;
  readonly targetPath: string;
}

export interface BenchWorld {
  readonly world: TestWorld;
  /** Milliseconds from spawning the driver to its first successful Probe. */
  readonly startToProbeMs: number;
  /** Temporary directory: kubelet root, provider sockets, secrets, logs. */
  readonly dir: string;
  readonly driver: ManagedProcess;
  readonly provider: ManagedProcess;
  readonly client: CsiNodeClient;
  readonly metricsPort: number;
  /** The API server's port, to count the driver's connections to it. */
  readonly apiServerPort: number;
  readonly rotationPollInterval: string;
  /** Creates `count` pods (not timed) and returns their volumes, ready to publish. */
  createPods(prefix: string, count: number): Promise<BenchVolume[]>;
}

type Step = () => Promise<void>;

/** Clean-up steps, run newest first, each one even when an earlier one failed. */
export class Teardown {
  readonly #steps: { name: string; run: Step }[] = [];
  readonly #pids = new Set<number>();
  readonly #dirs: string[] = [];

  add(name: string, run: Step): void {
    this.#steps.push({ name, run });
  }

  /** A process killed and a directory unmounted and removed by {@link emergency}. */
  track(resource: { pid?: number; dir?: string }): void {
    if (resource.pid !== undefined) this.#pids.add(resource.pid);
    if (resource.dir !== undefined) this.#dirs.push(resource.dir);
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.run();
      } catch (error) {
        process.stderr.write(`teardown: ${step.name} failed: ${(error as Error).message}\n`);
      }
    }
  }

  /** On a signal there is no time for the async steps: kill, unmount lazily, remove. */
  emergency(): void {
    for (const pid of this.#pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of this.#dirs) {
      for (const mountPoint of mountsUnder(dir)) {
        try {
          execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
        } catch {
          // left for the next step to report
        }
      }
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      } catch (error) {
        process.stderr.write(`could not remove ${dir}: ${(error as Error).message}\n`);
      }
    }
  }
}

/** Unmounts whatever is still mounted under `dir`, deepest first. */
export function unmountAllUnder(dir: string): void {
  for (const mountPoint of mountsUnder(dir)) {
    try {
      execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    }
  }
}

export async function setUpBenchWorld(teardown: Teardown, rotationPollInterval: string): Promise<BenchWorld> {
  const world = await startTestWorld();
  teardown.add('stop the test world', () => world.stop());
  for (const p of world.kube.processes) teardown.track({ pid: p.pid });
  if (process.env.SSCSI_KEEP_TEST_WORLD === undefined) teardown.track({ dir: world.dir });

  const dir = await mkdtemp(join(tmpdir(), 'sscsi-bench-'));
  teardown.add('unmount and remove the bench directory', async () => {
    const keepLogs = process.env.SSCSI_BENCH_LOGS;
    if (keepLogs !== undefined) {
      for (const name of ['driver.log', 'provider-directory.log']) {
        await cp(join(dir, name), join(keepLogs, name)).catch((error: unknown) => {
          process.stderr.write(`could not keep ${name}: ${(error as Error).message}\n`);
        });
      }
    }
    unmountAllUnder(dir);
    await rm(dir, { recursive: true, force: true });
  });
  teardown.track({ dir });

  const kubeConfig = world.kube.kubeConfig;
  await installCrds(kubeConfig);
  await createKubeObjects(kubeConfig);

  const rootDir = join(dir, 'secrets');
  await writeSecretFiles(rootDir);
  const provider = await startProvider(dir, rootDir, teardown);
  const spawnedAt = performance.now();
  const driver = await startDriver(world, dir, rotationPollInterval, teardown);
  // The client is made once the socket exists: a gRPC channel that failed to connect waits out a backoff
  // (1 s and up) before it retries, which would be measured as start-up time.
  await waitUntil(() => stat(join(dir, 'csi.sock')).then(() => true), {
    description: 'the driver to create its CSI socket',
    process: driver,
    timeoutMs: 60_000,
    intervalMs: 5,
  });
  const client = new CsiNodeClient(join(dir, 'csi.sock'));
  teardown.add('close the CSI client', () => {
    client.close();
    return Promise.resolve();
  });
  await waitUntil(async () => (await client.probe()).ok, {
    description: 'the driver to answer Probe',
    process: driver,
    timeoutMs: 60_000,
    intervalMs: 5,
  });
  const startToProbeMs = performance.now() - spawnedAt;
  const metricsPort = await driverMetricsPort(driver);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const kubeletRoot = join(dir, 'kubelet');
  return {
    world,
    startToProbeMs,
    dir,
    driver,
    provider,
    client,
    metricsPort,
    apiServerPort: Number(new URL(world.kube.server).port || 443),
    rotationPollInterval,
    createPods: (prefix, count) => createPods(core, kubeletRoot, prefix, count),
  };
}

/** Applies deploy/crds/*.yaml and waits until the API server serves them. */
async function installCrds(kubeConfig: KubeConfig): Promise<void> {
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const crdDir = join(REPO_ROOT, 'deploy/crds');
  const plurals: string[] = [];
  for (const file of (await readdir(crdDir)).filter((name) => name.endsWith('.yaml'))) {
    const crd = parse(await readFile(join(crdDir, file), 'utf8')) as V1CustomResourceDefinition;
    await extensions.createCustomResourceDefinition({ body: crd });
    plurals.push(crd.spec.names.plural);
  }
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  await waitUntil(
    async () => {
      for (const plural of plurals) {
        await custom.listClusterCustomObject({ group: 'secrets-store.csi.x-k8s.io', version: 'v1', plural });
      }
      return true;
    },
    { description: 'the CRDs to be served', timeoutMs: 30_000 },
  );
}

/** The CSIDriver object, the namespace, its service account and the SecretProviderClass. */
async function createKubeObjects(kubeConfig: KubeConfig): Promise<void> {
  await kubeConfig.makeApiClient(StorageV1Api).createCSIDriver({
    body: {
      metadata: { name: DEFAULT_DRIVER_NAME },
      spec: {
        attachRequired: false,
        podInfoOnMount: true,
        requiresRepublish: true,
        volumeLifecycleModes: ['Ephemeral'],
      },
    },
  });
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await core.createNamespacedServiceAccount({
    namespace: NAMESPACE,
    body: { metadata: { name: SERVICE_ACCOUNT } },
  });
  const objects = [
    'array:',
    ...Object.keys(SECRET_FILES).flatMap((name) => ['  - |', `    objectName: ${name}`]),
  ];
  await kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: 'secrets-store.csi.x-k8s.io',
    version: 'v1',
    namespace: NAMESPACE,
    plural: 'secretproviderclasses',
    body: {
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClass',
      metadata: { name: SECRET_PROVIDER_CLASS, namespace: NAMESPACE },
      spec: { provider: 'directory', parameters: { objects: `${objects.join('\n')}\n` } },
    },
  });
}

async function writeSecretFiles(rootDir: string): Promise<void> {
  await mkdir(rootDir, { recursive: true });
  for (const [name, content] of Object.entries(SECRET_FILES)) {
    await writeFile(join(rootDir, name), content, { mode: 0o600 });
  }
}

async function startProvider(dir: string, rootDir: string, teardown: Teardown): Promise<ManagedProcess> {
  const socket = join(dir, 'providers', 'directory.sock');
  await mkdir(join(dir, 'providers'), { recursive: true });
  const provider = await startProcess({
    name: 'provider-directory',
    command: process.execPath,
    args: [
      join(PROVIDER_PACKAGE, 'dist/main.js'),
      `--root-dir=${rootDir}`,
      `--endpoint=unix://${socket}`,
      '--healthz-port=0',
      '--prometheus-port=0',
    ],
    cwd: PROVIDER_PACKAGE,
    logPath: join(dir, 'provider-directory.log'),
  });
  teardown.add('stop the directory provider', () => provider.stop());
  teardown.track({ pid: provider.pid });
  await waitUntil(() => stat(socket).then(() => true), {
    description: 'the directory provider socket',
    process: provider,
    timeoutMs: 30_000,
  });
  return provider;
}

/**
 * What the bench runs as the driver: the esbuild bundle the image ships (dist/bundle/main.mjs) when it was
 * built, otherwise tsc's dist/main.js; never the sources through tsx. The Node flags are the DaemonSet's
 * NODE_OPTIONS, passed as NODE_OPTIONS, so the bench runs the driver as a node would.
 */
export const driverProgram: {
  readonly entry: string;
  readonly nodeArgs: readonly string[];
  /** The container's other literal environment variables (MALLOC_ARENA_MAX...), set for the driver too. */
  readonly env: Readonly<Record<string, string>>;
} = (() => {
  const bundle = join(DRIVER_PACKAGE, 'dist/bundle/main.mjs');
  const entry = existsSync(bundle) ? bundle : join(DRIVER_PACKAGE, 'dist/main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` first`);
  // SSCSI_BENCH_NODE_OPTIONS tries other V8 flags than the DaemonSet's (to measure one before setting it).
  const override = process.env.SSCSI_BENCH_NODE_OPTIONS;
  const nodeArgs =
    override === undefined
      ? daemonSetNodeOptions('deploy/driver/daemonset.yaml', 'secrets-store')
      : override.split(/\s+/).filter((arg) => arg !== '');
  const env: Record<string, string> = {};
  for (const variable of daemonSetContainer('deploy/driver/daemonset.yaml', 'secrets-store').env ?? []) {
    if (variable.value !== undefined && !['NODE_OPTIONS', 'CSI_ENDPOINT'].includes(variable.name)) {
      env[variable.name] = variable.value;
    }
  }
  // As NODE_OPTIONS, like the container: Node refuses there some V8 flags it takes on its command line.
  if (nodeArgs.length > 0) env.NODE_OPTIONS = nodeArgs.join(' ');
  return { entry, nodeArgs: [], env };
})();

async function startDriver(
  world: TestWorld,
  dir: string,
  rotationPollInterval: string,
  teardown: Teardown,
): Promise<ManagedProcess> {
  const profileDir = process.env.SSCSI_BENCH_CPU_PROF;
  const driver = await startProcess({
    name: 'driver',
    command: process.execPath,
    args: [
      ...driverProgram.nodeArgs,
      ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
      driverProgram.entry,
      `--endpoint=unix://${join(dir, 'csi.sock')}`,
      `--nodeid=${NODE_NAME}`,
      `--kubeconfig=${world.kube.adminKubeconfigPath}`,
      `--provider-volume=${join(dir, 'providers')}`,
      '--additional-provider-volume-paths=',
      '--metrics-addr=127.0.0.1:0',
      '--enable-secret-rotation',
      `--rotation-poll-interval=${rotationPollInterval}`,
    ],
    cwd: DRIVER_PACKAGE,
    env: { ...process.env, ...driverProgram.env },
    logPath: join(dir, 'driver.log'),
  });
  teardown.add('stop the driver', () => driver.stop());
  teardown.track({ pid: driver.pid });
  return driver;
}

/** The metrics listener's port, from the driver's `driver started ... metricsPort=N` log line. */
async function driverMetricsPort(driver: ManagedProcess): Promise<number> {
  let port: number | undefined;
  await waitUntil(
    async () => {
      const match = /driver started.*metricsPort=(\d+)/.exec(await readFile(driver.logPath, 'utf8'));
      port = match === null ? undefined : Number(match[1]);
      return port !== undefined;
    },
    { description: 'the driver to log its metrics port', process: driver, timeoutMs: 30_000 },
  );
  return port ?? 0;
}

function podManifest(name: string): V1Pod {
  return {
    metadata: { name, namespace: NAMESPACE, labels: { app: 'sscsi-bench' } },
    spec: {
      nodeName: NODE_NAME,
      serviceAccountName: SERVICE_ACCOUNT,
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          volumeMounts: [{ name: VOLUME_NAME, mountPath: '/mnt/secrets-store', readOnly: true }],
        },
      ],
      volumes: [
        {
          name: VOLUME_NAME,
          csi: {
            driver: DEFAULT_DRIVER_NAME,
            readOnly: true,
            volumeAttributes: { secretProviderClass: SECRET_PROVIDER_CLASS },
          },
        },
      ],
    },
  };
}

/** Creates the pods (16 requests at a time) and, as kubelet does before SetUp, each volume's directory. */
async function createPods(
  core: CoreV1Api,
  kubeletRoot: string,
  prefix: string,
  count: number,
): Promise<BenchVolume[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const volumes: BenchVolume[] = [];
  await inPool(names, 16, async (name) => {
    const pod = await core.createNamespacedPod({ namespace: NAMESPACE, body: podManifest(name) });
    const uid = pod.metadata?.uid;
    if (uid === undefined) throw new Error(`the API server returned pod ${name} without a UID`);
    await mkdir(podVolumeDir(kubeletRoot, uid, VOLUME_NAME), { recursive: true, mode: 0o750 });
    volumes.push({
      podName: name,
      podUid: uid,
      volumeId: makeVolumeHandle(uid, VOLUME_NAME),
      targetPath: volumeTargetPath(kubeletRoot, uid, VOLUME_NAME),
    });
  });
  return volumes.sort((a, b) => a.podName.localeCompare(b.podName));
}

/** Runs `work` over `items` with at most `width` calls in flight. */
export async function inPool<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let item = items[next++]; item !== undefined; item = items[next++]) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** The sum of the samples of a metric on the driver's /metrics whose labels contain `labels` (0 when none). */
export async function metricTotal(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** A container of a DaemonSet manifest in deploy/, as the bench needs it. */
interface ContainerSpec {
  readonly name: string;
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string>>;
    readonly limits?: Readonly<Record<string, string>>;
  };
}

export function daemonSetContainer(manifest: string, container: string): ContainerSpec {
  const documents = parseAllDocuments(readFileSync(join(REPO_ROOT, manifest), 'utf8')).map(
    (document) =>
      document.toJS() as {
        kind?: string;
        spec?: { template?: { spec?: { containers?: ContainerSpec[] } } };
      } | null,
  );
  const daemonSet = documents.find((document) => document?.kind === 'DaemonSet');
  const found = daemonSet?.spec?.template?.spec?.containers?.find((c) => c.name === container);
  if (found === undefined) throw new Error(`${manifest} has no container ${container}`);
  return found;
}

/** The container's NODE_OPTIONS, split into arguments (empty when it sets none). */
export function daemonSetNodeOptions(manifest: string, container: string): string[] {
  const value = daemonSetContainer(manifest, container).env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  return value === undefined ? [] : value.split(/\s+/).filter((arg) => arg !== '');
}

/** A Kubernetes memory quantity (`200Mi`, `64M`, `1Gi`) in bytes. */
export function memoryQuantity(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (match === null) throw new Error(`unsupported memory quantity ${quantity}`);
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * (units[match[2] ?? ''] ?? 1);
}

/** A Kubernetes CPU quantity (`200m`, `1`) in cores. */
export function cpuQuantity(quantity: string): number {
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

/**
 * Established TCP connections of process `pid` to `port` on the peer: its socket inodes (/proc/<pid>/fd)
 * matched against the connection tables of its network namespace (/proc/<pid>/net/tcp and tcp6).
 */
export async function connectionsTo(pid: number, port: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(link);
    if (match?.[1] !== undefined) inodes.add(match[1]);
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // remote address (field 3) ends in :PORT; state (field 4) 01 is ESTABLISHED; inode is field 10.
      if (fields[2]?.endsWith(`:${hexPort}`) && fields[3] === '01' && inodes.has(fields[9] ?? '')) count++;
    }
  }
  return count;
}
