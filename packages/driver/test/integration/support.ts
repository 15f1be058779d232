/**
 * The shared fixture of the driver's process-level integration tests: the test world's API server (CRDs and
 * the CSIDriver object installed), the driver as a real separate process (`src/main.ts` with upstream's
 * flags), providers (the directory provider as a process, the SDK's FakeProvider and a "rogue" provider that
 * answers what a test tells it, unchecked, both in this process), and a kubelet stand-in driving the driver's
 * socket with pods created in the API server. Results are read from the filesystem, the API server and the
 * metrics endpoint. `stop()` and `afterEachTest()` leave no pod, mount or process behind, and report what they
 * had to clean up so the test can fail.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  StorageV1Api,
  type CoreV1Event,
  type KubeConfig,
  type V1CSIDriver,
  type V1CustomResourceDefinition,
  type V1OwnerReference,
  type V1Pod,
  type V1Volume,
  type V1Secret,
} from '@kubernetes/client-node';
import {
  GROUP,
  SECRET_PROVIDER_CLASS_PLURAL,
  SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import { loadProtocol, type provider as wire } from '@secrets-store-csi/protocol';
import { serve, type ProviderServer } from '@secrets-store-csi/provider-sdk';
import { FakeProvider, defaultFakeBehaviour } from '@secrets-store-csi/provider-sdk/testing';
import {
  CsiNodeClient,
  KubeletStandIn,
  apiErrorCode,
  freePort,
  sharedTestWorld,
  startProcess,
  waitUntil,
  type KubeletPod,
  type KubeletVolume,
  type ManagedProcess,
  type TestWorld,
} from '@secrets-store-csi/test-support';
import { parse } from 'yaml';
import { metricSum, parsePrometheusText, type MetricSample } from '../helpers.js';

const run = promisify(execFile);

export const DRIVER_NAME = 'secrets-store.csi.k8s.io';
export const TOKEN_AUDIENCE = 'api://AzureADTokenExchange';
export const ROTATION_POLL_INTERVAL_MS = 2000;
/** The poll interval plus the scheduler's largest jitter (10 %) and a margin. */
export const ROTATION_DUE_AFTER_MS = ROTATION_POLL_INTERVAL_MS * 1.1 + 200;

const driverMain = new URL('../../src/main.ts', import.meta.url).pathname;
const directoryProviderMain = new URL('../../../provider-directory/src/main.ts', import.meta.url).pathname;
/** The driver package: `--import=tsx` is resolved from here. */
const driverPackageDir = new URL('../../', import.meta.url).pathname;
const crdDir = new URL('../../../../deploy/crds/', import.meta.url);
const csiDriverFile = new URL('../../../../deploy/driver/csidriver.yaml', import.meta.url);
const CRD_FILES = [
  'secrets-store.csi.x-k8s.io_secretproviderclasses.yaml',
  'secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml',
];

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

const ignore = (status: number) => (error: unknown) => {
  if (apiErrorCode(error) !== status) throw error;
};

// --- cluster setup ----------------------------------------------------------------------------------------

/** Creates the CRDs unless an earlier test file did, and waits until the API server serves both. */
export async function installCrds(kubeConfig: KubeConfig): Promise<void> {
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const file of CRD_FILES) {
    const crd = parse(readFileSync(new URL(file, crdDir), 'utf8')) as V1CustomResourceDefinition;
    await extensions.createCustomResourceDefinition({ body: crd }).catch(ignore(409));
  }
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  await waitUntil(
    async () => {
      for (const plural of [SECRET_PROVIDER_CLASS_PLURAL, SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL]) {
        await custom.listClusterCustomObject({ group: GROUP, version: 'v1', plural });
      }
      return true;
    },
    { description: 'the SecretProviderClass CRDs to be served', timeoutMs: 30_000 },
  );
}

/** The CSIDriver object as upstream's chart installs it for inline volumes with workload identity. */
const fallbackCsiDriver: V1CSIDriver = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'CSIDriver',
  metadata: { name: DRIVER_NAME },
  spec: {
    attachRequired: false,
    podInfoOnMount: true,
    requiresRepublish: true,
    volumeLifecycleModes: ['Ephemeral'],
    tokenRequests: [{ audience: TOKEN_AUDIENCE }],
  },
};

/** Creates the CSIDriver object from deploy/driver/csidriver.yaml (a built-in copy when it is missing). */
export async function installCsiDriver(kubeConfig: KubeConfig): Promise<V1CSIDriver> {
  let body = fallbackCsiDriver;
  try {
    body = parse(readFileSync(csiDriverFile, 'utf8')) as V1CSIDriver;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const storage = kubeConfig.makeApiClient(StorageV1Api);
  await storage.createCSIDriver({ body }).catch(ignore(409));
  return storage.readCSIDriver({ name: DRIVER_NAME });
}

// --- mounts -----------------------------------------------------------------------------------------------

/** Mount points of this mount namespace (the driver's too: it runs as root next to the tests). */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) =>
        String.fromCharCode(parseInt(octal, 8)),
      ),
    );
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Mount points at or below `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  return (await mountPoints()).filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** Unmounts whatever is mounted below `dir` (deepest first) and returns what was there. */
export async function unmountLeftovers(dir: string): Promise<string[]> {
  const leftovers = await mountsUnder(dir);
  for (const point of [...leftovers].sort((a, b) => b.length - a.length)) {
    await run('umount', ['-l', point]).catch(() => undefined);
  }
  return leftovers;
}

// --- the driver process -----------------------------------------------------------------------------------

export interface DriverProcessOptions {
  /** Used for the log file name and the process name. */
  readonly name: string;
  readonly dir: string;
  readonly nodeId: string;
  readonly kubeconfigPath: string;
  readonly providersDir: string;
  /** Kept across a restart so the metrics address stays the same. */
  readonly metricsPort?: number;
  readonly extraArgs?: readonly string[];
  /** The CSI socket; `<dir>/<name>.sock` by default. */
  readonly socketPath?: string;
}

export interface DriverProcess {
  readonly process: ManagedProcess;
  readonly socketPath: string;
  readonly metricsPort: number;
  readonly options: DriverProcessOptions;
  /** The samples of `GET /metrics`. */
  metrics(): Promise<MetricSample[]>;
  /** SIGTERM, as kubelet stops a pod's container. */
  stop(): Promise<void>;
}

/** Starts `src/main.ts` with upstream's flags and waits until its metrics and CSI socket answer. */
export async function startDriverProcess(options: DriverProcessOptions): Promise<DriverProcess> {
  const socketPath = options.socketPath ?? join(options.dir, `${options.name}.sock`);
  const metricsPort = options.metricsPort ?? (await freePort());
  const managed = await startProcess({
    name: options.name,
    command: process.execPath,
    cwd: driverPackageDir,
    args: [
      '--conditions=source',
      '--import=tsx',
      driverMain,
      `--endpoint=unix://${socketPath}`,
      `--nodeid=${options.nodeId}`,
      `--kubeconfig=${options.kubeconfigPath}`,
      `--provider-volume=${options.providersDir}`,
      '--additional-provider-volume-paths=',
      `--metrics-addr=127.0.0.1:${metricsPort}`,
      '--enable-secret-rotation',
      `--rotation-poll-interval=${ROTATION_POLL_INTERVAL_MS / 1000}s`,
      '-v=5',
      ...(options.extraArgs ?? []),
    ],
    logPath: join(options.dir, `${options.name}.log`),
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const metricsText = async () => {
    const response = await fetch(metricsUrl);
    if (!response.ok) throw new Error(`GET ${metricsUrl}: ${response.status}`);
    return response.text();
  };
  try {
    await waitUntil(
      async () => {
        await metricsText();
        const client = new CsiNodeClient(socketPath);
        try {
          return (await client.getPluginInfo({ deadline: Date.now() + 1000 })).ok;
        } finally {
          client.close();
        }
      },
      { description: `the ${options.name} CSI socket and metrics`, timeoutMs: 30_000, process: managed },
    );
  } catch (error) {
    await managed.stop();
    throw error;
  }
  return {
    process: managed,
    socketPath,
    metricsPort,
    options,
    metrics: async () => parsePrometheusText(await metricsText()),
    stop: () => managed.stop(),
  };
}

// --- providers ----------------------------------------------------------------------------------------------

/** Starts the directory provider process serving `rootDir` on `<providersDir>/directory.sock`. */
export async function startDirectoryProvider(
  dir: string,
  rootDir: string,
  providersDir: string,
): Promise<ManagedProcess> {
  const socketPath = join(providersDir, 'directory.sock');
  const managed = await startProcess({
    name: 'provider-directory',
    command: process.execPath,
    cwd: driverPackageDir,
    args: [
      '--conditions=source',
      '--import=tsx',
      directoryProviderMain,
      `--root-dir=${rootDir}`,
      `--endpoint=unix://${socketPath}`,
      '--healthz-port=0',
      '--prometheus-port=0',
      '-v=5',
    ],
    logPath: join(dir, 'provider-directory.log'),
  });
  await waitUntil(() => exists(socketPath), {
    description: 'the directory provider socket',
    timeoutMs: 30_000,
    process: managed,
  });
  return managed;
}

/**
 * A provider that answers whatever `respond` returns, without the SDK's checks, as a buggy or hostile
 * provider could (paths with `..`, absolute paths, ...).
 */
export class RogueProvider {
  readonly name: string;
  readonly socketPath: string;
  readonly requests: wire.MountRequest__Output[] = [];
  respond: (request: wire.MountRequest__Output) => wire.MountResponse = () => ({
    object_version: [{ id: 'rogue/x', version: 'v1' }],
    files: [{ path: 'x', mode: 0o644, contents: Buffer.from('x') }],
  });
  /** When it returns a status, Mount fails with it instead of answering `respond`. */
  failWith: (request: wire.MountRequest__Output) => Partial<grpc.ServiceError> | undefined = () => undefined;
  readonly #server = new grpc.Server();

  constructor(name: string, providersDir: string) {
    this.name = name;
    this.socketPath = join(providersDir, `${name}.sock`);
  }

  async start(): Promise<void> {
    const service: wire.CSIDriverProviderHandlers = {
      Version: (_call, callback) => {
        callback(null, { version: 'v1alpha1', runtime_name: 'rogue', runtime_version: '0.0.0' });
      },
      Mount: (call, callback) => {
        this.requests.push(call.request);
        const failure = this.failWith(call.request);
        if (failure !== undefined) callback(failure);
        else callback(null, this.respond(call.request));
      },
    };
    this.#server.addService(loadProtocol().provider.CSIDriverProvider.service, service);
    await new Promise<void>((resolve, reject) => {
      this.#server.bindAsync(`unix:${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }

  stop(): void {
    this.#server.forceShutdown();
  }
}

// --- pods, classes and what the API server holds ------------------------------------------------------------

export interface VolumeSpec {
  readonly name: string;
  readonly spc: string;
}

/** An inline CSI volume of this driver, read-only, naming its SecretProviderClass (and credentials Secret). */
export function inlineCsiVolume(name: string, spc: string, nodePublishSecretRef?: string): V1Volume {
  return {
    name,
    csi: {
      driver: DRIVER_NAME,
      readOnly: true,
      volumeAttributes: { secretProviderClass: spc },
      ...(nodePublishSecretRef !== undefined && { nodePublishSecretRef: { name: nodePublishSecretRef } }),
    },
  };
}

/** A pod with one inline CSI volume of this driver per `volumes` entry. */
export function podManifest(
  namespace: string,
  name: string,
  volumes: readonly VolumeSpec[],
  ownerReferences?: V1OwnerReference[],
): V1Pod {
  return {
    metadata: { name, namespace, ...(ownerReferences !== undefined && { ownerReferences }) },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/mnt/${v.name}`, readOnly: true })),
        },
      ],
      volumes: volumes.map((v) => inlineCsiVolume(v.name, v.spc)),
    },
  };
}

export interface DirectoryObject {
  readonly objectName: string;
  readonly objectAlias?: string;
  readonly filePermission?: string;
}

/**
 * A provider's `objects` parameter as upstream's docs write it: `array:` with one YAML document per object
 * (the directory and Azure providers read the same shape).
 */
export function objectsParameter(objects: readonly object[]): string {
  const items = objects.map(
    (object) =>
      `  - |\n${Object.entries(object)
        .map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`)
        .join('\n')}\n`,
  );
  return `array:\n${items.join('')}`;
}

export interface SecretObjectSpec {
  readonly secretName: string;
  readonly type: string;
  readonly data: readonly { readonly objectName: string; readonly key: string }[];
  readonly labels?: Record<string, string>;
}

export interface SpcSpec {
  readonly provider: string;
  readonly parameters: Record<string, string>;
  readonly secretObjects?: readonly SecretObjectSpec[];
}

/** The volume of `pod` named `name` (the only one when `name` is omitted). */
export function volumeOf(pod: KubeletPod, name?: string): KubeletVolume {
  const volume = name === undefined ? pod.volumes[0] : pod.volumes.find((v) => v.name === name);
  if (volume === undefined) throw new Error(`pod has no volume ${name ?? ''}`);
  return volume;
}

// --- the fixture --------------------------------------------------------------------------------------------

export interface DriverFixtureOptions {
  /** Short label for the namespace, directories and node. */
  readonly label: string;
}

export class DriverFixture {
  readonly world: TestWorld;
  readonly dir: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly kubeletRoot: string;
  readonly providersDir: string;
  /** The directory provider's `--root-dir`. */
  readonly directoryRoot: string;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly fake: FakeProvider;
  readonly rogue: RogueProvider;
  driver: DriverProcess;
  kubelet: KubeletStandIn;
  readonly #fakeServer: ProviderServer;
  readonly #directoryProvider: ManagedProcess;
  readonly #extraDrivers = new Set<DriverProcess>();
  readonly #extraKubelets = new Set<KubeletStandIn>();

  private constructor(init: {
    world: TestWorld;
    dir: string;
    namespace: string;
    nodeName: string;
    fakeServer: ProviderServer;
    fake: FakeProvider;
    rogue: RogueProvider;
    directoryProvider: ManagedProcess;
    driver: DriverProcess;
  }) {
    this.world = init.world;
    this.dir = init.dir;
    this.namespace = init.namespace;
    this.nodeName = init.nodeName;
    this.kubeletRoot = join(init.dir, 'kubelet');
    this.providersDir = join(init.dir, 'providers');
    this.directoryRoot = join(init.dir, 'directory-root');
    this.core = init.world.kube.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = init.world.kube.kubeConfig.makeApiClient(CustomObjectsApi);
    this.fake = init.fake;
    this.rogue = init.rogue;
    this.#fakeServer = init.fakeServer;
    this.#directoryProvider = init.directoryProvider;
    this.driver = init.driver;
    this.kubelet = this.#makeKubelet(init.driver, init.nodeName, this.kubeletRoot);
  }

  static async start(options: DriverFixtureOptions): Promise<DriverFixture> {
    const world = await sharedTestWorld();
    const kubeConfig = world.kube.kubeConfig;
    const suffix = Math.random().toString(36).slice(2, 7);
    const namespace = `drv-${options.label}-${suffix}`;
    const nodeName = `node-${options.label}-${suffix}`;
    const dir = await mkdtemp(join(tmpdir(), `sscsi-driver-${options.label}-`));
    const providersDir = join(dir, 'providers');
    const directoryRoot = join(dir, 'directory-root');
    await Promise.all([mkdir(providersDir), mkdir(directoryRoot), mkdir(join(dir, 'kubelet'))]);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const cleanups: (() => Promise<unknown>)[] = [];
    try {
      const [, csiDriver] = await Promise.all([
        installCrds(kubeConfig),
        installCsiDriver(kubeConfig),
        core.createNamespace({ body: { metadata: { name: namespace } } }),
      ]);
      const { podInfoOnMount, requiresRepublish, volumeLifecycleModes, tokenRequests } = csiDriver.spec;
      if (
        podInfoOnMount !== true ||
        requiresRepublish !== true ||
        !(volumeLifecycleModes ?? []).includes('Ephemeral') ||
        !(tokenRequests ?? []).some((t) => t.audience === TOKEN_AUDIENCE)
      ) {
        throw new Error(
          `these tests need the CSIDriver of upstream's chart, got ${JSON.stringify(csiDriver.spec)}`,
        );
      }
      const fake = new FakeProvider({ name: 'fake' });
      const fakeServer = await serve(fake, {
        endpoint: `unix://${join(providersDir, 'fake.sock')}`,
        signals: [],
      });
      cleanups.push(() => fakeServer.shutdown());
      const rogue = new RogueProvider('rogue', providersDir);
      await rogue.start();
      cleanups.push(() => {
        rogue.stop();
        return Promise.resolve();
      });
      const [directoryStart, driverStart] = await Promise.allSettled([
        startDirectoryProvider(dir, directoryRoot, providersDir),
        startDriverProcess({
          name: 'driver',
          dir,
          nodeId: nodeName,
          kubeconfigPath: world.kube.adminKubeconfigPath,
          providersDir,
        }),
      ]);
      if (directoryStart.status === 'fulfilled') cleanups.push(() => directoryStart.value.stop());
      if (driverStart.status === 'fulfilled') cleanups.push(() => driverStart.value.stop());
      if (directoryStart.status === 'rejected') throw directoryStart.reason;
      if (driverStart.status === 'rejected') throw driverStart.reason;
      const directoryProvider = directoryStart.value;
      const driver = driverStart.value;
      return new DriverFixture({
        world,
        dir,
        namespace,
        nodeName,
        fakeServer,
        fake,
        rogue,
        directoryProvider,
        driver,
      });
    } catch (error) {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  #makeKubelet(driver: DriverProcess, nodeName: string, rootDir: string): KubeletStandIn {
    return new KubeletStandIn({
      kubeConfig: this.world.kube.kubeConfig,
      nodeName,
      csiSocketPath: driver.socketPath,
      kubeletRootDir: rootDir,
    });
  }

  /** Another kubelet stand-in, for `driver`'s socket; closed with the fixture. */
  async newKubelet(driver: DriverProcess, nodeName: string): Promise<KubeletStandIn> {
    const rootDir = join(this.dir, `kubelet-${nodeName}`);
    await mkdir(rootDir, { recursive: true });
    const kubelet = this.#makeKubelet(driver, nodeName, rootDir);
    this.#extraKubelets.add(kubelet);
    return kubelet;
  }

  /** Another driver process (its own socket, log and metrics port) sharing the providers directory. */
  async startExtraDriver(name: string, nodeId: string, extraArgs: readonly string[]): Promise<DriverProcess> {
    const driver = await startDriverProcess({
      name,
      dir: this.dir,
      nodeId,
      kubeconfigPath: this.world.kube.adminKubeconfigPath,
      providersDir: this.providersDir,
      extraArgs,
    });
    this.#extraDrivers.add(driver);
    return driver;
  }

  /** SIGTERM the driver, then start it again with the same flags, socket and metrics port. */
  async restartDriver(between?: () => Promise<void>): Promise<void> {
    await this.driver.stop();
    await between?.();
    this.driver = await startDriverProcess({ ...this.driver.options, metricsPort: this.driver.metricsPort });
  }

  /** Runs a pod of this fixture's namespace on its kubelet. */
  runPod(name: string, volumes: readonly VolumeSpec[], ownerReferences?: V1OwnerReference[]) {
    return this.kubelet.runPod(podManifest(this.namespace, name, volumes, ownerReferences));
  }

  async createSpc(name: string, spec: SpcSpec): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: 'v1',
      namespace: this.namespace,
      plural: SECRET_PROVIDER_CLASS_PLURAL,
      body: {
        apiVersion: `${GROUP}/v1`,
        kind: 'SecretProviderClass',
        metadata: { name },
        spec,
      },
    });
  }

  /** A class of the directory provider serving `objects`. */
  directorySpc(name: string, objects: readonly DirectoryObject[], secretObjects?: SecretObjectSpec[]) {
    return this.createSpc(name, {
      provider: 'directory',
      parameters: { objects: objectsParameter(objects) },
      ...(secretObjects !== undefined && { secretObjects }),
    });
  }

  async podStatus(name: string): Promise<SecretProviderClassPodStatus & { metadata: { uid?: string } }> {
    return (await this.custom.getNamespacedCustomObject({
      group: GROUP,
      version: 'v1',
      namespace: this.namespace,
      plural: SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
      name,
    })) as SecretProviderClassPodStatus;
  }

  secret(name: string): Promise<V1Secret> {
    return this.core.readNamespacedSecret({ name, namespace: this.namespace });
  }

  /** The Secret, or undefined once it is gone. */
  async secretOrUndefined(name: string): Promise<V1Secret | undefined> {
    return this.secret(name).catch((error: unknown) => {
      if (apiErrorCode(error) === 404) return undefined;
      throw error;
    });
  }

  async events(podName: string): Promise<CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${podName}`,
    });
    return list.items;
  }

  /** Waits for an event on the pod with `reason` (and `type`) and returns it. */
  async waitForEvent(podName: string, type: string, reason: string): Promise<CoreV1Event> {
    let found: CoreV1Event | undefined;
    await waitUntil(
      async () => {
        found = (await this.events(podName)).find((e) => e.reason === reason && e.type === type);
        return found !== undefined;
      },
      { description: `a ${type} ${reason} event on pod ${this.namespace}/${podName}`, timeoutMs: 15_000 },
    );
    return found!;
  }

  /**
   * Calls `republish` on the pod until `done` says so (the driver refreshes only once the rotation interval
   * has passed); every republish must succeed. Returns how many republishes were made.
   */
  async republishUntil(pod: KubeletPod, done: () => Promise<boolean>, description: string): Promise<number> {
    let calls = 0;
    await waitUntil(
      async () => {
        calls++;
        for (const result of await this.kubelet.republish(pod)) {
          if (!result.result.ok) throw new Error(`republish failed: ${result.result.message}`);
        }
        return done();
      },
      { description, timeoutMs: 15_000, intervalMs: 300, process: this.driver.process },
    );
    return calls;
  }

  /** Sum of the driver's metric samples named `name` whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricSum(await this.driver.metrics(), name, labels);
  }

  /**
   * After each test: deletes the pods the kubelets still run (unpublishing their volumes) and checks that
   * nothing is mounted below the fixture's directory any more. Returns the problems met; leftover mounts are
   * unmounted.
   */
  async afterEachTest(): Promise<string[]> {
    const problems: string[] = [];
    this.fake.returns(defaultFakeBehaviour);
    for (const kubelet of [this.kubelet, ...this.#extraKubelets]) {
      for (const pod of kubelet.pods) {
        try {
          const result = await kubelet.deletePod(pod);
          for (const volume of result.volumes) {
            if (!volume.result.ok) problems.push(volume.result.message);
          }
          if (!result.podDeleted) problems.push(`pod ${pod.pod.metadata?.name ?? ''} was not deleted`);
        } catch (error) {
          problems.push(`deleting pod ${pod.pod.metadata?.name ?? ''}: ${(error as Error).message}`);
        }
      }
    }
    const leftovers = await unmountLeftovers(this.dir);
    if (leftovers.length > 0) problems.push(`left mounted: ${leftovers.join(', ')}`);
    return problems;
  }

  /** Stops everything and removes the directory; returns the problems met (leftover mounts among them). */
  async stop(): Promise<string[]> {
    const problems: string[] = [];
    for (const kubelet of [this.kubelet, ...this.#extraKubelets]) problems.push(...(await kubelet.close()));
    for (const driver of [this.driver, ...this.#extraDrivers]) await driver.stop();
    await this.#directoryProvider.stop();
    await this.#fakeServer.shutdown();
    this.rogue.stop();
    const leftovers = await unmountLeftovers(this.dir);
    if (leftovers.length > 0) problems.push(`left mounted: ${leftovers.join(', ')}`);
    await this.core.deleteNamespace({ name: this.namespace }).catch(() => undefined);
    if (process.env.SSCSI_KEEP_TEST_WORLD === undefined) await rm(this.dir, { recursive: true, force: true });
    return problems;
  }
}

/**
 * Registers the mocha hooks every driver test file needs in the calling `describe`: start one fixture
 * (plus `prepare`), check after each test that nothing was left mounted or running, stop it at the end.
 * The returned function gives the fixture once `before` has run.
 */
export function useDriverFixture(
  label: string,
  prepare: (fixture: DriverFixture) => Promise<void> = () => Promise.resolve(),
): () => DriverFixture {
  let fixture: DriverFixture | undefined;
  const current = (): DriverFixture => {
    if (fixture === undefined) throw new Error('the driver fixture has not started');
    return fixture;
  };
  before(async function () {
    this.timeout(90_000);
    fixture = await DriverFixture.start({ label });
    await prepare(fixture);
  });
  afterEach(async function () {
    const problems = await current().afterEachTest();
    expect(problems, `after "${this.currentTest?.title ?? ''}"`).to.deep.equal([]);
  });
  after(async () => {
    const problems = await current().stop();
    expect(problems).to.deep.equal([]);
  });
  return current;
}
