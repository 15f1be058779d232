/**
 * The interop world: our driver and Azure provider side by side with upstream's own, unchanged binaries
 * (secrets-store-csi-driver v1.6.0 and secrets-store-csi-driver-provider-azure v1.8.2, built from the Go module
 * proxy by scripts/test-world/build.sh) on the test world's real API server, with the Entra ID stand-in and the
 * Key Vault double answering as Azure does (port 443 vault URLs, MSAL instance discovery through
 * `login.microsoftonline.com`, OIDC scopes ignored).
 *
 *   kubelet stand-in A -> our driver (src/main.ts)         -> upstream's Go provider  (<dir>/providers/azure.sock)
 *   kubelet stand-in B -> upstream's Go driver              -> our provider            (<dir>/providers-ours/azure.sock)
 *   a driver-like client -> both providers directly (and a second pair with --write-cert-and-key-in-separate-files)
 *
 * Our driver and kubelet stand-in A are the driver fixture's (../integration/support.ts); the rest is started
 * here and stopped by `after`. SecretProviderClasses reach the stand-ins through a custom cloud file
 * (`cloudName: AzureStackCloud`), which both providers read. Service principals come from nodePublishSecretRef.
 */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import {
  GROUP,
  SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import { ProviderClient } from '@secrets-store-csi/provider-sdk/testing';
import {
  CsiNodeClient,
  KubeletStandIn,
  apiErrorCode,
  artifact,
  createTestPki,
  trustCertificateAuthority,
  freePort,
  issueInstanceDiscoveryServing,
  issueLocalhostServing,
  startKeyVaultCloud,
  startProcess,
  startTokenEndpoint,
  waitUntil,
  type KeyVaultCloud,
  type KeyVaultDouble,
  type KubeletPod,
  type ManagedProcess,
  type TestPki,
  type TokenEndpoint,
} from '@secrets-store-csi/test-support';
import {
  inlineCsiVolume,
  objectsParameter,
  unmountLeftovers,
  useDriverFixture,
  ROTATION_POLL_INTERVAL_MS,
  type DriverFixture,
  type SecretObjectSpec,
} from '../integration/support.js';

export const TENANT_ID = 'tenant-interop';
export const CLIENT_ID = 'interop-app';
export const CLIENT_SECRET = 'interop-s3cret';
/** The nodePublishSecretRef Secret every interop pod uses. */
export const CREDENTIALS_SECRET = 'interop-creds';
const USED_LABEL = { 'secrets-store.csi.k8s.io/used': 'true' };

const providerMain = new URL('../../../provider-azure/src/main.ts', import.meta.url).pathname;
const providerPackageDir = new URL('../../../provider-azure/', import.meta.url).pathname;

/** One element of the Azure provider's `objects` parameter, with upstream's field names. */
export interface AzureObject {
  readonly objectName: string;
  readonly objectType: string;
  readonly objectAlias?: string;
  readonly objectVersion?: string;
  readonly objectFormat?: string;
  readonly objectEncoding?: string;
  readonly objectVersionHistory?: number;
  readonly filePermission?: string;
  // Ours (issue 16 §2, §4); upstream's yaml.v3 ignores them as unknown keys.
  readonly jmesPath?: readonly { path: string; objectAlias: string; filePermission?: string }[];
  readonly pemContent?: string;
  /** Ours (docs/multi-vault-and-optional.md); upstream's provider ignores it. */
  readonly optional?: boolean;
}

/** Which pair a test drives through a kubelet stand-in. */
export type Pairing = 'our driver + upstream provider' | 'upstream driver + our provider';

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

async function waitForSocket(path: string, process: ManagedProcess, what: string): Promise<void> {
  await waitUntil(() => exists(path), { description: what, timeoutMs: 60_000, process });
}

/** Upstream's Go provider: the chart's flags, free ports for healthz and metrics, the test CA trusted. */
async function startUpstreamProvider(
  name: string,
  dir: string,
  socketPath: string,
  caCertPath: string,
  extraArgs: readonly string[] = [],
): Promise<ManagedProcess> {
  const binary = await artifact('upstream-provider-azure');
  const managed = await startProcess({
    name,
    command: binary,
    args: [
      `--endpoint=unix://${socketPath}`,
      '--construct-pem-chain=true',
      `--healthz-port=${await freePort()}`,
      `--prometheus-port=${await freePort()}`,
      '-v=5',
      ...extraArgs,
    ],
    // Go reads its trusted roots from SSL_CERT_FILE: only the test CA, as nothing else is reachable.
    env: { ...process.env, SSL_CERT_FILE: caCertPath },
    logPath: join(dir, `${name}.log`),
  });
  await waitForSocket(socketPath, managed, `the ${name} socket`);
  return managed;
}

/** Our provider process with the DaemonSet's flags (object cache off, so every mount reads Key Vault). */
async function startOurProvider(
  name: string,
  dir: string,
  socketPath: string,
  caCertPath: string,
  extraArgs: readonly string[] = [],
): Promise<ManagedProcess> {
  const managed = await startProcess({
    name,
    command: process.execPath,
    cwd: providerPackageDir,
    args: [
      '--conditions=source',
      '--import=tsx',
      providerMain,
      `--endpoint=unix://${socketPath}`,
      '--construct-pem-chain=true',
      '--healthz-port=0',
      '--prometheus-port=0',
      '--object-cache-ttl=0s',
      '--keyvault-max-retries=1',
      '-v=5',
      ...extraArgs,
    ],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caCertPath },
    logPath: join(dir, `${name}.log`),
  });
  await waitForSocket(socketPath, managed, `the ${name} socket`);
  return managed;
}

/** Upstream's Go driver with its DaemonSet's flags, on its own socket, node and metrics port. */
async function startUpstreamDriver(
  dir: string,
  nodeId: string,
  kubeconfigPath: string,
  providersDir: string,
): Promise<{ process: ManagedProcess; socketPath: string }> {
  const binary = await artifact('upstream-csi-driver');
  const socketPath = join(dir, 'upstream-driver.sock');
  const managed = await startProcess({
    name: 'upstream-driver',
    command: binary,
    args: [
      `--endpoint=unix://${socketPath}`,
      `--nodeid=${nodeId}`,
      `--provider-volume=${providersDir}`,
      `--additional-provider-volume-paths=${providersDir}`,
      `--metrics-addr=127.0.0.1:${await freePort()}`,
      '--enable-secret-rotation=true',
      `--rotation-poll-interval=${ROTATION_POLL_INTERVAL_MS / 1000}s`,
      '-v=5',
    ],
    // controller-runtime reads the kubeconfig from here (its --kubeconfig flag is not on every version).
    env: { ...process.env, KUBECONFIG: kubeconfigPath },
    logPath: join(dir, 'upstream-driver.log'),
  });
  try {
    await waitUntil(
      async () => {
        if (!(await exists(socketPath))) return false;
        const client = new CsiNodeClient(socketPath);
        try {
          return (await client.getPluginInfo({ deadline: Date.now() + 1000 })).ok;
        } finally {
          client.close();
        }
      },
      { description: 'the upstream driver CSI socket', timeoutMs: 60_000, process: managed },
    );
  } catch (error) {
    await managed.stop();
    throw error;
  }
  return { process: managed, socketPath };
}

/**
 * The providers' half of the interop world: the Entra stand-in (with instance discovery as
 * login.microsoftonline.com), the Key Vault double behind a custom cloud, and both Azure providers twice (with
 * and without --write-cert-and-key-in-separate-files). Needs no API server.
 */
export class ProviderWorld {
  readonly dir: string;
  readonly pki: TestPki;
  readonly entra: TokenEndpoint;
  readonly keyVault: KeyVaultDouble;
  readonly vault: string;
  readonly cloudEnvFile: string;
  /** The provider sockets for direct Mount calls, by variant. */
  readonly sockets: {
    readonly ours: string;
    readonly upstream: string;
    readonly oursSplit: string;
    readonly upstreamSplit: string;
  };
  readonly #stops: (() => Promise<unknown>)[];

  private constructor(init: {
    dir: string;
    pki: TestPki;
    entra: TokenEndpoint;
    cloud: KeyVaultCloud;
    vault: string;
    sockets: ProviderWorld['sockets'];
    stops: (() => Promise<unknown>)[];
  }) {
    this.dir = init.dir;
    this.pki = init.pki;
    this.entra = init.entra;
    this.keyVault = init.cloud.keyVault;
    this.cloudEnvFile = init.cloud.cloudEnvFile;
    this.vault = init.vault;
    this.sockets = init.sockets;
    this.#stops = init.stops;
  }

  /**
   * `upstreamSocket` and `oursSocket` are where the two default providers listen (a driver's providers
   * directories); `assertionPublicKeyPaths` lets the Entra stand-in check workload-identity assertions.
   */
  static async start(options: {
    readonly dir: string;
    readonly pki: TestPki;
    readonly name: string;
    readonly upstreamSocket: string;
    readonly oursSocket: string;
    readonly assertionPublicKeyPaths?: readonly string[];
  }): Promise<ProviderWorld> {
    const { dir, pki, name } = options;
    const splitDir = join(dir, 'providers-split');
    await mkdir(splitDir, { recursive: true });
    const stops: (() => Promise<unknown>)[] = [];
    try {
      const entra = await startTokenEndpoint({
        ...(await issueLocalhostServing(pki, `${name}-entra`)),
        ...(options.assertionPublicKeyPaths !== undefined && {
          assertionPublicKeyPaths: options.assertionPublicKeyPaths,
        }),
        // MSAL Go asks login.microsoftonline.com about the stand-in's authority before its first token.
        instanceDiscoveryServing: await issueInstanceDiscoveryServing(pki, `${name}-login`),
      });
      stops.push(() => entra.stop());
      entra.addServicePrincipal({ tenantId: TENANT_ID, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
      const vault = `kv-${name.split('-').at(-1) ?? 'interop'}`;
      const cloud = await startKeyVaultCloud({
        dir,
        name,
        pki,
        entra,
        vaults: [{ name: vault, tenantId: TENANT_ID }],
      });
      stops.push(() => cloud.stop());

      const ca = pki.caCertPath;
      const sockets = {
        upstream: options.upstreamSocket,
        ours: options.oursSocket,
        upstreamSplit: join(splitDir, 'upstream.sock'),
        oursSplit: join(splitDir, 'ours.sock'),
      };
      const split = ['--write-cert-and-key-in-separate-files=true'];
      const started = await Promise.allSettled([
        startUpstreamProvider('upstream-provider', dir, sockets.upstream, ca),
        startOurProvider('our-provider', dir, sockets.ours, ca),
        startUpstreamProvider('upstream-provider-split', dir, sockets.upstreamSplit, ca, split),
        startOurProvider('our-provider-split', dir, sockets.oursSplit, ca, split),
      ]);
      for (const result of started) if (result.status === 'fulfilled') stops.push(() => result.value.stop());
      for (const result of started) if (result.status === 'rejected') throw result.reason;
      return new ProviderWorld({ dir, pki, entra, cloud, vault, sockets, stops });
    } catch (error) {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      throw error;
    }
  }

  /** Stops what start() started, last first; all failures are thrown after all ran. */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (const stop of this.#stops.splice(0).reverse()) {
      await stop().catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw new AggregateError(failures, 'stopping the interop providers');
  }

  /** The parameters of a class reading this world's vault through the custom cloud. */
  parameters(objects: readonly AzureObject[], extra: Record<string, string> = {}): Record<string, string> {
    return {
      keyvaultName: this.vault,
      tenantId: TENANT_ID,
      cloudName: 'AzureStackCloud',
      cloudEnvFileName: this.cloudEnvFile,
      objects: objectsParameter(objects),
      ...extra,
    };
  }

  /** A driver-like client of a provider socket (close it after use). */
  client(socket: keyof ProviderWorld['sockets']): ProviderClient {
    return new ProviderClient(this.sockets[socket]);
  }
}

export class InteropWorld {
  readonly fixture: DriverFixture;
  readonly providers: ProviderWorld;
  readonly entra: TokenEndpoint;
  readonly keyVault: KeyVaultDouble;
  readonly vault: string;
  /** Upstream's driver and the kubelet stand-in driving it (node `<fixture node>-up`). */
  readonly upstreamDriver: ManagedProcess;
  readonly upstreamKubelet: KubeletStandIn;
  readonly #stops: (() => Promise<unknown>)[];
  readonly #custom: CustomObjectsApi;

  private constructor(init: {
    fixture: DriverFixture;
    providers: ProviderWorld;
    upstreamDriver: ManagedProcess;
    upstreamKubelet: KubeletStandIn;
    stops: (() => Promise<unknown>)[];
  }) {
    this.fixture = init.fixture;
    this.providers = init.providers;
    this.entra = init.providers.entra;
    this.keyVault = init.providers.keyVault;
    this.vault = init.providers.vault;
    this.upstreamDriver = init.upstreamDriver;
    this.upstreamKubelet = init.upstreamKubelet;
    this.#stops = init.stops;
    this.#custom = init.fixture.world.kube.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  static async start(fixture: DriverFixture): Promise<InteropWorld> {
    const { world } = fixture;
    const dir = join(fixture.dir, 'interop');
    const oursDir = join(dir, 'providers-ours');
    await mkdir(oursDir, { recursive: true });
    const stops: (() => Promise<unknown>)[] = [];
    try {
      const providers = await ProviderWorld.start({
        dir,
        pki: world.pki,
        name: `interop-${fixture.nodeName}`,
        // our driver finds upstream's provider, upstream's driver finds ours
        upstreamSocket: join(fixture.providersDir, 'azure.sock'),
        oursSocket: join(oursDir, 'azure.sock'),
        assertionPublicKeyPaths: [world.kube.serviceAccountPublicKeyPath],
      });
      stops.push(() => providers.stop());

      const upstreamNode = `${fixture.nodeName}-up`;
      const upstream = await startUpstreamDriver(dir, upstreamNode, world.kube.adminKubeconfigPath, oursDir);
      stops.push(() => upstream.process.stop());
      const kubeletRoot = join(dir, 'kubelet-upstream');
      await mkdir(kubeletRoot);
      const upstreamKubelet = new KubeletStandIn({
        kubeConfig: world.kube.kubeConfig,
        nodeName: upstreamNode,
        csiSocketPath: upstream.socketPath,
        kubeletRootDir: kubeletRoot,
      });
      stops.push(async () => {
        const problems = await upstreamKubelet.close();
        const leftovers = await unmountLeftovers(kubeletRoot);
        if (problems.length > 0 || leftovers.length > 0) {
          throw new Error(`upstream kubelet: ${[...problems, ...leftovers].join('; ')}`);
        }
      });

      await fixture.core.createNamespacedSecret({
        namespace: fixture.namespace,
        body: {
          metadata: { name: CREDENTIALS_SECRET, labels: USED_LABEL },
          type: 'Opaque',
          stringData: { clientid: CLIENT_ID, clientsecret: CLIENT_SECRET },
        },
      });
      return new InteropWorld({
        fixture,
        providers,
        upstreamDriver: upstream.process,
        upstreamKubelet,
        stops,
      });
    } catch (error) {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      throw error;
    }
  }

  /** Stops what start() started, last first; all failures are thrown after all ran. */
  async stop(): Promise<void> {
    const failures: unknown[] = [];
    for (const stop of this.#stops.splice(0).reverse()) {
      await stop().catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw new AggregateError(failures, 'stopping the interop world');
  }

  createSpc(
    name: string,
    objects: readonly AzureObject[],
    secretObjects?: readonly SecretObjectSpec[],
    extraParameters: Record<string, string> = {},
  ) {
    return this.fixture.createSpc(name, {
      provider: 'azure',
      parameters: this.providers.parameters(objects, extraParameters),
      ...(secretObjects !== undefined && { secretObjects }),
    });
  }

  kubelet(pairing: Pairing): KubeletStandIn {
    return pairing === 'our driver + upstream provider' ? this.fixture.kubelet : this.upstreamKubelet;
  }

  /**
   * Runs a pod with one inline volume `secrets` of `spc`: by default with the service principal of
   * CREDENTIALS_SECRET, or as `serviceAccountName` without a nodePublishSecretRef (workload identity).
   */
  runPod(
    pairing: Pairing,
    name: string,
    spc: string,
    options: { readonly serviceAccountName?: string } = {},
  ): Promise<KubeletPod> {
    const secretRef = options.serviceAccountName === undefined ? CREDENTIALS_SECRET : undefined;
    const pod: V1Pod = {
      metadata: { name, namespace: this.fixture.namespace },
      spec: {
        ...(options.serviceAccountName !== undefined && { serviceAccountName: options.serviceAccountName }),
        containers: [
          {
            name: 'app',
            image: 'registry.k8s.io/pause:3.10',
            volumeMounts: [{ name: 'secrets', mountPath: '/mnt/secrets-store', readOnly: true }],
          },
        ],
        volumes: [inlineCsiVolume('secrets', spc, secretRef)],
      },
    };
    return this.kubelet(pairing).runPod(pod);
  }

  /** The SecretProviderClassPodStatus of a pod's volume, or undefined while there is none. */
  async podStatus(name: string): Promise<SecretProviderClassPodStatus | undefined> {
    return (await this.#custom
      .getNamespacedCustomObject({
        group: GROUP,
        version: 'v1',
        namespace: this.fixture.namespace,
        plural: SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
        name,
      })
      .catch((error: unknown) => {
        if (apiErrorCode(error) === 404) return undefined;
        throw error;
      })) as SecretProviderClassPodStatus | undefined;
  }

  /** Deletes the pods the upstream kubelet still runs; returns the problems met. */
  async afterEachTest(): Promise<string[]> {
    const problems: string[] = [];
    for (const pod of this.upstreamKubelet.pods) {
      const result = await this.upstreamKubelet.deletePod(pod);
      for (const volume of result.volumes) if (!volume.result.ok) problems.push(volume.result.message);
    }
    return problems;
  }
}

/**
 * The providers' world alone (its own PKI, trusted by this process), with its mocha hooks; `providers()`
 * gives it once `before` has run.
 */
export function useProviderWorld(label: string): () => ProviderWorld {
  let providers: ProviderWorld | undefined;
  let dir: string | undefined;
  before(async function () {
    this.timeout(120_000);
    dir = await mkdtemp(join(tmpdir(), `sscsi-${label}-`));
    const pki = await createTestPki(dir);
    trustCertificateAuthority(pki.caCertPath);
    providers = await ProviderWorld.start({
      dir,
      pki,
      name: `${label}-${Math.random().toString(36).slice(2, 7)}`,
      upstreamSocket: join(dir, 'upstream.sock'),
      oursSocket: join(dir, 'ours.sock'),
    });
  });
  after(async () => {
    await providers?.stop();
    if (dir !== undefined && process.env.SSCSI_KEEP_TEST_WORLD === undefined) {
      await rm(dir, { recursive: true, force: true });
    }
  });
  return () => {
    if (providers === undefined) throw new Error('the interop providers have not started');
    return providers;
  };
}

/**
 * The driver fixture plus the interop world, with their mocha hooks; `interop()` gives the world once
 * `before` has run.
 */
export function useInteropWorld(label: string): {
  fixture: () => DriverFixture;
  interop: () => InteropWorld;
} {
  let interop: InteropWorld | undefined;
  after(async () => {
    await interop?.stop();
  });
  afterEach(async () => {
    const problems = (await interop?.afterEachTest()) ?? [];
    if (problems.length > 0) throw new Error(`after the test: ${problems.join('; ')}`);
  });
  const fixture = useDriverFixture(label, async (f) => {
    interop = await InteropWorld.start(f);
  });
  return {
    fixture,
    interop: () => {
      if (interop === undefined) throw new Error('the interop world has not started');
      return interop;
    },
  };
}
