/**
 * A kubelet stand-in for CSI *inline ephemeral* volumes: it creates pods in the test world's API server (bound
 * to its node) and drives a CSI node plugin's unix socket the way kubelet's CSI volume plugin does
 * (kubernetes/kubernetes pkg/volume/csi: csi_plugin.go, csi_mounter.go, csi_client.go, csi_util.go; the
 * reconciler's state rules from pkg/volume/util/operationexecutor/operation_generator.go; tokens as
 * pkg/kubelet/token/token_manager.go caches them). There is no container runtime, scheduler or real kubelet:
 * pods stay Pending, which the driver never looks at.
 *
 * What one SetUp (mount, retry or republish) of a volume does, in kubelet's order:
 * 1. reads the CSIDriver object: without one, or without `Ephemeral` in `volumeLifecycleModes`, the volume
 *    fails (transient) before the driver is called;
 * 2. creates `<root>/pods/<uid>/volumes/kubernetes.io~csi/<volume>` (0750) — never the `mount` directory;
 * 3. reads the `nodePublishSecretRef` Secret (pod's namespace) into `secrets`; a missing Secret fails the
 *    volume (transient) before the driver is called;
 * 4. adds pod information to the volume context when `podInfoOnMount` (pod.name, pod.namespace, pod.uid,
 *    serviceAccount.name and ephemeral "true"), over any attribute of the same name;
 * 5. when `tokenRequests` is set, asks the TokenRequest API for a token per audience bound to the pod (cached;
 *    renewed after 80% of its lifetime) and adds `csi.storage.k8s.io/serviceAccount.tokens` to the volume
 *    context, or to `secrets` when `serviceAccountTokenInSecrets`;
 * 6. NodeGetCapabilities (VOLUME_MOUNT_GROUP: then the pod's fsGroup goes in `volume_mount_group`);
 * 7. writes `vol_data.json` next to the mount directory;
 * 8. NodeGetCapabilities (SINGLE_NODE_MULTI_WRITER: access mode SINGLE_NODE_MULTI_WRITER, else
 *    SINGLE_NODE_WRITER), then NodePublishVolume with a mount capability (fs_type from the volume's `fsType`,
 *    no mount flags) and `readonly` from the volume's `readOnly`.
 * Each RPC uses a new connection, and the whole SetUp one 2-minute deadline, as kubelet does. A failed
 * NodePublishVolume with a final code (not Canceled, DeadlineExceeded, Unavailable, ResourceExhausted or
 * Aborted) removes the mount directory, vol_data.json and the volume directory when nothing is mounted there;
 * a non-final code leaves the volume "uncertain", which kubelet unpublishes on pod removal.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import {
  CoreV1Api,
  StorageV1Api,
  type KubeConfig,
  type V1CSIDriver,
  type V1CSIVolumeSource,
  type V1Pod,
} from '@kubernetes/client-node';
import type { csi } from '@secrets-store-csi/protocol';
import { CsiNodeClient, type CsiCallFailure, type CsiCallOutcome } from './kubelet-csi-client.js';
import { ServiceAccountTokenManager, apiErrorCode, apiErrorText } from './kubelet-tokens.js';
import {
  attachmentName,
  goJson,
  goTime,
  isLikelyMountPoint,
  makeVolumeHandle,
  mkdirAll,
  podDir,
  removeMountDir,
  saveVolumeData,
  volumeTargetPath,
} from './kubelet-volume.js';
import { waitUntil } from './process.js';

export * from './kubelet-csi-client.js';
export * from './kubelet-tokens.js';
export * from './kubelet-volume.js';

export const DEFAULT_DRIVER_NAME = 'secrets-store.csi.k8s.io';

/** The volume-context keys kubelet adds (pod info only when the CSIDriver has `podInfoOnMount`). */
export const KUBELET_VOLUME_CONTEXT_KEYS = Object.freeze({
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUid: 'csi.storage.k8s.io/pod.uid',
  serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
  /** In the volume context, or in `secrets` when the CSIDriver has `serviceAccountTokenInSecrets`. */
  serviceAccountTokens: 'csi.storage.k8s.io/serviceAccount.tokens',
});

/** Kubelet's `csiTimeout`. */
const CSI_TIMEOUT_MS = 2 * 60 * 1000;

/** gRPC codes after which the driver may still be working on the volume (`isFinalError` is false). */
const NON_FINAL_CODES: ReadonlySet<number> = new Set([1, 4, 14, 8, 10]);

export interface KubeletStandInOptions {
  /** Credentials for the API server (the test world's admin is fine; kubelet's node identity is not needed). */
  readonly kubeConfig: KubeConfig;
  /** The node pods are bound to (`spec.nodeName`); no Node object is created. */
  readonly nodeName: string;
  /** The driver's socket, as node-driver-registrar would register it. */
  readonly csiSocketPath: string;
  /** Kubelet's `--root-dir` (a temporary directory); target paths are under `<root>/pods/`. */
  readonly kubeletRootDir: string;
  /** `secrets-store.csi.k8s.io` by default. Volumes of other drivers are ignored. */
  readonly driverName?: string;
  /** Deadline of one SetUp or TearDown (all its RPCs); kubelet's 2 minutes by default. */
  readonly operationTimeoutMs?: number;
  /** The token cache's clock (when to refresh a token); `new Date()` by default. For refresh tests. */
  readonly clock?: () => Date;
  /** How long runPod waits for the pod's service account to exist (admission rejects the pod otherwise). */
  readonly serviceAccountWaitMs?: number;
}

/** How kubelet classifies a failed operation. */
export type KubeletFailureKind =
  /** Failed before the driver was asked (CSIDriver, Secret, token, capabilities); retried, state unchanged. */
  | 'transient'
  /** The driver may have mounted (a non-final gRPC code): the volume is unpublished on pod removal. */
  | 'uncertain'
  /** Finished with an error: nothing is mounted (unless it already was). */
  | 'final';

export type KubeletResult =
  | { readonly ok: true; readonly at: Date }
  | {
      readonly ok: false;
      readonly at: Date;
      /** The pod event kubelet records: `MountVolume.SetUp failed for volume "v" : <error>`. */
      readonly message: string;
      /** The error alone, such as `rpc error: code = InvalidArgument desc = ...`. */
      readonly error: string;
      readonly kind: KubeletFailureKind;
      /** The gRPC status when the driver answered with an error; undefined when kubelet failed first. */
      readonly code: grpc.status | undefined;
      readonly codeName: string | undefined;
      readonly details: string | undefined;
    };

export type VolumeState = 'mounted' | 'uncertain' | 'unmounted';

/** A snapshot of one CSI volume of a pod, as this kubelet sees it. */
export interface KubeletVolume {
  /** The pod's volume name (`spec.volumes[].name`). */
  readonly name: string;
  /** `csi-<sha256(podUID + name)>`. */
  readonly volumeId: string;
  readonly targetPath: string;
  readonly state: VolumeState;
  /** The outcome of the last operation (mount, republish or unmount); undefined before any. */
  readonly lastResult: KubeletResult | undefined;
  /** NodePublishVolume calls made so far. */
  readonly publishCount: number;
  /** The last NodePublishVolume request sent (tokens and secrets included). */
  readonly lastPublishRequest: csi.NodePublishVolumeRequest | undefined;
}

export interface KubeletPod {
  /** The pod as the API server stored it (UID, defaulted service account, ...). */
  readonly pod: V1Pod;
  readonly volumes: readonly KubeletVolume[];
}

export type VolumeOperation = 'mount' | 'republish' | 'unmount';

export interface VolumeOperationResult {
  readonly name: string;
  readonly volumeId: string;
  readonly targetPath: string;
  readonly operation: VolumeOperation;
  readonly result: KubeletResult;
}

export interface DeletePodResult {
  /** One entry per volume that was mounted or uncertain. */
  readonly volumes: readonly VolumeOperationResult[];
  /** False when a volume could not be torn down: kubelet then leaves the pod Terminating and retries. */
  readonly podDeleted: boolean;
}

/** One RPC this kubelet made, in order. */
export interface CsiCallRecord {
  readonly at: Date;
  readonly rpc:
    'GetPluginInfo' | 'NodeGetInfo' | 'NodeGetCapabilities' | 'NodePublishVolume' | 'NodeUnpublishVolume';
  /** Empty for calls outside a volume operation. */
  readonly podUid: string;
  readonly volumeName: string;
  readonly request: unknown;
  readonly outcome: CsiCallOutcome<unknown>;
}

/** A pod given back to this kubelet: what runPod returned, or the V1Pod (matched by UID). */
export type PodRef = KubeletPod | V1Pod;

interface TrackedVolume {
  readonly name: string;
  readonly source: V1CSIVolumeSource;
  readonly volumeId: string;
  readonly targetPath: string;
  state: VolumeState;
  lastResult: KubeletResult | undefined;
  publishCount: number;
  lastPublishRequest: csi.NodePublishVolumeRequest | undefined;
  queue: Promise<unknown>;
  busy: number;
}

interface TrackedPod {
  readonly pod: V1Pod;
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly volumes: TrackedVolume[];
  terminating: boolean;
}

class OperationError extends Error {
  readonly kind: KubeletFailureKind;
  readonly status: CsiCallFailure | undefined;

  constructor(kind: KubeletFailureKind, message: string, status?: CsiCallFailure) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class KubeletStandIn {
  readonly nodeName: string;
  readonly driverName: string;
  readonly csiSocketPath: string;
  readonly kubeletRootDir: string;
  /** Every RPC made, oldest first. */
  readonly calls: CsiCallRecord[] = [];
  /** Problems kubelet would only log (clean-up failures after an error), oldest first. */
  readonly warnings: string[] = [];
  readonly #core: CoreV1Api;
  readonly #storage: StorageV1Api;
  readonly #tokens: ServiceAccountTokenManager;
  readonly #operationTimeoutMs: number;
  readonly #serviceAccountWaitMs: number;
  readonly #pods = new Map<string, TrackedPod>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #closed = false;

  constructor(options: KubeletStandInOptions) {
    this.nodeName = options.nodeName;
    this.driverName = options.driverName ?? DEFAULT_DRIVER_NAME;
    this.csiSocketPath = options.csiSocketPath;
    this.kubeletRootDir = options.kubeletRootDir;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#storage = options.kubeConfig.makeApiClient(StorageV1Api);
    this.#tokens = new ServiceAccountTokenManager(this.#core, options.clock ?? (() => new Date()));
    this.#operationTimeoutMs = options.operationTimeoutMs ?? CSI_TIMEOUT_MS;
    this.#serviceAccountWaitMs = options.serviceAccountWaitMs ?? 30_000;
  }

  /** TokenRequest API calls made so far (tokens are cached across republishes). */
  get tokenRequests(): number {
    return this.#tokens.requests;
  }

  /** The pods this kubelet runs. */
  get pods(): readonly KubeletPod[] {
    return [...this.#pods.values()].map((tracked) => this.#snapshot(tracked));
  }

  /**
   * What registration does: node-driver-registrar's GetPluginInfo (the driver's name) and kubelet's
   * NodeGetInfo (its node id). Optional: kubelet mounts do not depend on it here.
   */
  async register(): Promise<{
    readonly pluginInfo: CsiCallOutcome<csi.GetPluginInfoResponse__Output>;
    readonly nodeInfo: CsiCallOutcome<csi.NodeGetInfoResponse__Output>;
  }> {
    const pluginInfo = await this.#call(undefined, undefined, 'GetPluginInfo', {}, (client) =>
      client.getPluginInfo(),
    );
    const nodeInfo = await this.#call(undefined, undefined, 'NodeGetInfo', {}, (client) =>
      client.getNodeInfo(),
    );
    return { pluginInfo, nodeInfo };
  }

  /**
   * Creates the pod in the API server bound to this node (`spec.nodeName`; the namespace defaults to
   * `default`), then sets up each of its CSI volumes of this driver, concurrently, once. Failed volumes are
   * reported in their `lastResult` (no retry with backoff; {@link republish} retries them).
   */
  async runPod(manifest: V1Pod): Promise<KubeletPod> {
    this.#assertOpen();
    const namespace = manifest.metadata?.namespace ?? 'default';
    const requestedNode = manifest.spec?.nodeName;
    if (requestedNode !== undefined && requestedNode !== '' && requestedNode !== this.nodeName) {
      throw new Error(`the pod is bound to node ${requestedNode}, not to this kubelet's ${this.nodeName}`);
    }
    const serviceAccountName = manifest.spec?.serviceAccountName || 'default';
    await this.#waitForServiceAccount(namespace, serviceAccountName);
    const body: V1Pod = structuredClone(manifest);
    body.metadata ??= {};
    body.metadata.namespace = namespace;
    body.spec ??= { containers: [] };
    body.spec.nodeName = this.nodeName;
    const pod = await this.#core.createNamespacedPod({ namespace, body });
    const uid = pod.metadata?.uid;
    const name = pod.metadata?.name;
    if (uid === undefined || name === undefined)
      throw new Error('the API server returned a pod without a UID');
    // makePodDataDirs
    await mkdirAll(join(podDir(this.kubeletRootDir, uid), 'volumes'));
    await mkdirAll(join(podDir(this.kubeletRootDir, uid), 'plugins'));
    const tracked: TrackedPod = {
      pod,
      uid,
      name,
      namespace,
      terminating: false,
      volumes: (pod.spec?.volumes ?? []).flatMap((volume) =>
        volume.csi?.driver === this.driverName
          ? [
              {
                name: volume.name,
                source: volume.csi,
                volumeId: makeVolumeHandle(uid, volume.name),
                targetPath: volumeTargetPath(this.kubeletRootDir, uid, volume.name),
                state: 'unmounted',
                lastResult: undefined,
                publishCount: 0,
                lastPublishRequest: undefined,
                queue: Promise.resolve(),
                busy: 0,
              },
            ]
          : [],
      ),
    };
    this.#pods.set(uid, tracked);
    await Promise.all(
      tracked.volumes.map((volume) => this.#exclusive(volume, () => this.#setUp(tracked, volume, 'mount'))),
    );
    return this.#snapshot(tracked);
  }

  /** The current view of a pod's volumes. */
  volumes(ref: PodRef): readonly KubeletVolume[] {
    return this.#snapshot(this.#find(ref)).volumes;
  }

  /**
   * One pass of kubelet's volume reconciler for the pod: every mounted volume is set up again (NodePublishVolume
   * with the same volume id and target path, the Secret read again, tokens from the cache) only when the
   * CSIDriver has `requiresRepublish`; a volume that is not mounted (failed or uncertain) is set up again in any
   * case, as kubelet retries it (here without its backoff). Returns one result per volume attempted: none
   * when everything is mounted and the driver does not require republish.
   */
  async republish(ref: PodRef): Promise<readonly VolumeOperationResult[]> {
    this.#assertOpen();
    return this.#reconcile(this.#find(ref), false);
  }

  /**
   * Runs {@link republish} for every pod every `intervalMs` (kubelet does it on each pod sync, about every
   * minute), skipping volumes with an operation in progress. Results land in each volume's `lastResult`.
   */
  startPeriodicRepublish(intervalMs: number): void {
    this.#assertOpen();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      if (this.#pass !== undefined) return;
      this.#pass = (async () => {
        for (const tracked of [...this.#pods.values()]) await this.#reconcile(tracked, true);
      })()
        .catch((error: unknown) => {
          this.warnings.push(`periodic republish: ${errorText(error)}`);
        })
        .finally(() => {
          this.#pass = undefined;
        });
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops periodic republishing; resolves once a pass in progress has finished. */
  async stopPeriodicRepublish(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pass;
  }

  /**
   * Deletes the pod as a user and kubelet together do: a graceful delete (the pod turns Terminating), then
   * NodeUnpublishVolume for every mounted or uncertain volume and the removal of the mount directory,
   * vol_data.json and volume directory, then, when every volume is torn down, the pod's directory and the
   * final delete (grace 0, UID precondition). When a teardown fails the pod stays Terminating (kubelet would
   * retry); call deletePod again, or close().
   */
  async deletePod(ref: PodRef): Promise<DeletePodResult> {
    const tracked = this.#find(ref);
    tracked.terminating = true;
    await this.#ignoreNotFound(() =>
      this.#core.deleteNamespacedPod({ name: tracked.name, namespace: tracked.namespace }),
    );
    const volumes = await Promise.all(
      tracked.volumes.map((volume) =>
        this.#exclusive(volume, async () =>
          volume.state === 'unmounted' ? undefined : this.#tearDown(tracked, volume),
        ),
      ),
    );
    const results = volumes.filter((r): r is VolumeOperationResult => r !== undefined);
    if (tracked.volumes.some((volume) => volume.state !== 'unmounted')) {
      return { volumes: results, podDeleted: false };
    }
    await this.#forget(tracked);
    return { volumes: results, podDeleted: true };
  }

  /**
   * Stops periodic republishing, deletes every pod still running (unpublishing its volumes, best effort; a
   * pod whose teardown fails is still removed from the API server) and refuses further work. Returns the
   * problems met, if any.
   */
  async close(): Promise<readonly string[]> {
    if (this.#closed) return [];
    this.#closed = true;
    await this.stopPeriodicRepublish();
    const problems: string[] = [];
    for (const tracked of [...this.#pods.values()]) {
      try {
        const result = await this.deletePod(tracked.pod);
        for (const volume of result.volumes) {
          if (!volume.result.ok) problems.push(volume.result.message);
        }
        if (!result.podDeleted) {
          await this.#ignoreNotFound(() =>
            this.#core.deleteNamespacedPod({
              name: tracked.name,
              namespace: tracked.namespace,
              body: { gracePeriodSeconds: 0 },
            }),
          );
          this.#tokens.deleteForPod(tracked.uid);
          this.#pods.delete(tracked.uid);
        }
      } catch (error) {
        problems.push(`pod ${tracked.namespace}/${tracked.name}: ${errorText(error)}`);
        this.#pods.delete(tracked.uid);
      }
    }
    return problems;
  }

  // --- kubelet's operations -------------------------------------------------------------------------------

  async #reconcile(tracked: TrackedPod, skipBusy: boolean): Promise<VolumeOperationResult[]> {
    if (tracked.terminating) return [];
    let requiresRepublish = false;
    try {
      requiresRepublish = (await this.#readCsiDriver())?.spec.requiresRepublish === true;
    } catch {
      // RequiresRemount answers false when the CSIDriver cannot be read.
    }
    const due = tracked.volumes.filter(
      (volume) => (volume.state !== 'mounted' || requiresRepublish) && !(skipBusy && volume.busy > 0),
    );
    const results = await Promise.all(
      due.map((volume) =>
        this.#exclusive(volume, () =>
          tracked.terminating
            ? undefined
            : this.#setUp(tracked, volume, volume.state === 'mounted' ? 'republish' : 'mount'),
        ),
      ),
    );
    return results.filter((r): r is VolumeOperationResult => r !== undefined);
  }

  /** `csiMountMgr.SetUpAt`, then the reconciler's bookkeeping (`markVolumeErrorState`). */
  async #setUp(
    tracked: TrackedPod,
    volume: TrackedVolume,
    operation: VolumeOperation,
  ): Promise<VolumeOperationResult> {
    let result: KubeletResult;
    try {
      await this.#setUpAt(tracked, volume);
      volume.state = 'mounted';
      result = { ok: true, at: new Date() };
    } catch (error) {
      const failure = error instanceof OperationError ? error : new OperationError('final', errorText(error));
      if (failure.kind === 'final' && volume.state === 'uncertain') volume.state = 'unmounted';
      if (failure.kind === 'uncertain' && volume.state === 'unmounted') volume.state = 'uncertain';
      result = this.#failure(`MountVolume.SetUp failed for volume "${volume.name}" : `, failure);
    }
    volume.lastResult = result;
    return { name: volume.name, volumeId: volume.volumeId, targetPath: volume.targetPath, operation, result };
  }

  async #setUpAt(tracked: TrackedPod, volume: TrackedVolume): Promise<void> {
    const deadline = Date.now() + this.#operationTimeoutMs;
    const pod = tracked.pod;
    const source = volume.source;

    // supportsVolumeLifecycleMode
    const lifecycle = 'kubernetes.io/csi: mounter.SetupAt failed to check volume lifecycle mode: ';
    let driver: V1CSIDriver | undefined;
    try {
      driver = await this.#readCsiDriver();
    } catch (error) {
      throw new OperationError('transient', `${lifecycle}${apiErrorText(error)}`);
    }
    if (driver === undefined) {
      throw new OperationError(
        'transient',
        `${lifecycle}volume mode "Ephemeral" not supported by driver ${this.driverName} (no CSIDriver object)`,
      );
    }
    const modes = driver.spec.volumeLifecycleModes ?? ['Persistent'];
    if (!modes.includes('Ephemeral')) {
      throw new OperationError(
        'transient',
        `${lifecycle}volume mode "Ephemeral" not supported by driver ${this.driverName} (only supports [${modes
          .map((m) => `"${m}"`)
          .join(' ')}])`,
      );
    }

    // create target_dir's parent before NodePublish (never the target itself)
    const volumeDir = dirname(volume.targetPath);
    try {
      await mkdirAll(volumeDir);
    } catch (error) {
      throw new OperationError(
        'final',
        `kubernetes.io/csi: mounter.SetUpAt failed to create dir "${volumeDir}":  ${errorText(error)}`,
      );
    }

    // nodePublishSecretRef, from the pod's namespace
    const secrets: Record<string, string> = {};
    if (source.nodePublishSecretRef) {
      const secretName = source.nodePublishSecretRef.name ?? '';
      try {
        const secret = await this.#core.readNamespacedSecret({
          name: secretName,
          namespace: tracked.namespace,
        });
        for (const [key, value] of Object.entries(secret.data ?? {})) {
          secrets[key] = Buffer.from(value, 'base64').toString('utf8');
        }
      } catch (error) {
        throw new OperationError(
          'transient',
          `fetching NodePublishSecretRef ${tracked.namespace}/${secretName} failed: kubernetes.io/csi: failed to find the secret ${secretName} in the namespace ${tracked.namespace} with error: ${apiErrorText(error)}`,
        );
      }
    }

    // pod information, over the volume's own attributes
    const volumeContext: Record<string, string> = { ...source.volumeAttributes };
    if (driver.spec.podInfoOnMount === true) {
      volumeContext[KUBELET_VOLUME_CONTEXT_KEYS.podName] = tracked.name;
      volumeContext[KUBELET_VOLUME_CONTEXT_KEYS.podNamespace] = tracked.namespace;
      volumeContext[KUBELET_VOLUME_CONTEXT_KEYS.podUid] = tracked.uid;
      volumeContext[KUBELET_VOLUME_CONTEXT_KEYS.serviceAccountName] = pod.spec?.serviceAccountName ?? '';
      volumeContext[KUBELET_VOLUME_CONTEXT_KEYS.ephemeral] = 'true';
    }

    // service-account tokens
    const tokenRequests = driver.spec.tokenRequests ?? [];
    if (tokenRequests.length > 0) {
      const entries: [string, string][] = [];
      try {
        for (const request of tokenRequests) {
          const audience = request.audience;
          const token = await this.#tokens.get({
            namespace: tracked.namespace,
            serviceAccountName: pod.spec?.serviceAccountName ?? '',
            audiences: audience === '' ? [] : [audience],
            expirationSeconds: request.expirationSeconds,
            podName: tracked.name,
            podUid: tracked.uid,
          });
          // json.Marshal(map[string]TokenRequestStatus): audiences sorted, struct fields in order
          entries.push([
            audience,
            `{"token":${goJson(token.token)},"expirationTimestamp":${goJson(goTime(token.expirationTimestamp))}}`,
          ]);
        }
      } catch (error) {
        throw new OperationError(
          'transient',
          `kubernetes.io/csi: mounter.SetUpAt failed to get service accoount token attributes: ${errorText(error)}`,
        );
      }
      const tokens = `{${[...new Map(entries)]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([audience, status]) => `${goJson(audience)}:${status}`)
        .join(',')}}`;
      if (driver.spec.serviceAccountTokenInSecrets === true) {
        secrets[KUBELET_VOLUME_CONTEXT_KEYS.serviceAccountTokens] = tokens;
      } else {
        volumeContext[KUBELET_VOLUME_CONTEXT_KEYS.serviceAccountTokens] = tokens;
      }
    }

    // NodeSupportsVolumeMountGroup
    const mountGroupCaps = await this.#capabilities(tracked, volume, deadline);
    if (!mountGroupCaps.ok) {
      throw new OperationError(
        'transient',
        `kubernetes.io/csi: mounter.SetUpAt failed to determine if the node service has VOLUME_MOUNT_GROUP capability: ${mountGroupCaps.message}`,
        mountGroupCaps,
      );
    }
    const fsGroup = mountGroupCaps.response.includes('VOLUME_MOUNT_GROUP')
      ? pod.spec?.securityContext?.fsGroup
      : undefined;

    // vol_data.json, for teardown
    try {
      await saveVolumeData(volumeDir, {
        specVolID: volume.name,
        volumeHandle: volume.volumeId,
        driverName: this.driverName,
        nodeName: this.nodeName,
        attachmentID: attachmentName(volume.volumeId, this.driverName, this.nodeName),
        volumeLifecycleMode: 'Ephemeral',
      });
    } catch (error) {
      throw new OperationError(
        'transient',
        `kubernetes.io/csi: mounter.SetUpAt failed to save volume info data: ${errorText(error)}`,
      );
    }

    // csiDriverClient.NodePublishVolume: the access-mode mapper asks for capabilities first
    const accessModeCaps = await this.#capabilities(tracked, volume, deadline);
    if (!accessModeCaps.ok) {
      await this.#cleanUpAfterFinalError(volume);
      throw new OperationError('final', accessModeCaps.message, accessModeCaps);
    }
    const request: csi.NodePublishVolumeRequest = {
      volume_id: volume.volumeId,
      target_path: volume.targetPath,
      readonly: source.readOnly === true,
      volume_context: volumeContext,
      secrets,
      volume_capability: {
        access_mode: {
          mode: accessModeCaps.response.includes('SINGLE_NODE_MULTI_WRITER')
            ? 'SINGLE_NODE_MULTI_WRITER'
            : 'SINGLE_NODE_WRITER',
        },
        mount: {
          fs_type: source.fsType ?? '',
          mount_flags: [],
          ...(fsGroup === undefined ? {} : { volume_mount_group: String(fsGroup) }),
        },
      },
    };
    volume.publishCount += 1;
    volume.lastPublishRequest = request;
    const published = await this.#call(tracked, volume, 'NodePublishVolume', request, (client) =>
      client.publish(request, { deadline }),
    );
    if (!published.ok) {
      if (NON_FINAL_CODES.has(published.code)) {
        throw new OperationError('uncertain', published.message, published);
      }
      await this.#cleanUpAfterFinalError(volume);
      throw new OperationError('final', published.message, published);
    }
  }

  /** `csiMountMgr.TearDownAt`: NodeUnpublishVolume, then `removeMountDir`. */
  async #tearDown(tracked: TrackedPod, volume: TrackedVolume): Promise<VolumeOperationResult> {
    const deadline = Date.now() + this.#operationTimeoutMs;
    const request: csi.NodeUnpublishVolumeRequest = {
      volume_id: volume.volumeId,
      target_path: volume.targetPath,
    };
    let result: KubeletResult;
    const unpublished = await this.#call(tracked, volume, 'NodeUnpublishVolume', request, (client) =>
      client.unpublish(request, { deadline }),
    );
    const prefix = `UnmountVolume.TearDown failed for volume "${volume.name}" (volume id "${volume.volumeId}") : `;
    if (!unpublished.ok) {
      result = this.#failure(
        prefix,
        new OperationError(
          'final',
          `kubernetes.io/csi: Unmounter.TearDownAt failed: ${unpublished.message}`,
          unpublished,
        ),
      );
    } else {
      try {
        await removeMountDir(volume.targetPath);
        volume.state = 'unmounted';
        result = { ok: true, at: new Date() };
      } catch (error) {
        result = this.#failure(
          prefix,
          new OperationError(
            'final',
            `kubernetes.io/csi: Unmounter.TearDownAt failed to clean mount dir [${volume.targetPath}]: ${errorText(error)}`,
          ),
        );
      }
    }
    volume.lastResult = result;
    return {
      name: volume.name,
      volumeId: volume.volumeId,
      targetPath: volume.targetPath,
      operation: 'unmount',
      result,
    };
  }

  /** Removes what kubelet keeps for a deleted pod: its directory, cached tokens and the API object. */
  async #forget(tracked: TrackedPod): Promise<void> {
    const mounted = await Promise.all(tracked.volumes.map((volume) => isLikelyMountPoint(volume.targetPath)));
    if (!mounted.includes(true)) {
      await rm(podDir(this.kubeletRootDir, tracked.uid), { recursive: true, force: true });
    }
    this.#tokens.deleteForPod(tracked.uid);
    await this.#ignoreNotFound(() =>
      this.#core.deleteNamespacedPod({
        name: tracked.name,
        namespace: tracked.namespace,
        // in the body: the API server ignores the query parameter when a body is sent
        body: { gracePeriodSeconds: 0, preconditions: { uid: tracked.uid } },
      }),
    );
    this.#pods.delete(tracked.uid);
  }

  async #cleanUpAfterFinalError(volume: TrackedVolume): Promise<void> {
    try {
      await removeMountDir(volume.targetPath);
    } catch (error) {
      this.warnings.push(
        `kubernetes.io/csi: mounter.SetupAt failed to remove mount dir after a NodePublish() error [${volume.targetPath}]: ${errorText(error)}`,
      );
    }
  }

  // --- plumbing --------------------------------------------------------------------------------------------

  #failure(prefix: string, failure: OperationError): KubeletResult {
    return {
      ok: false,
      at: new Date(),
      message: `${prefix}${failure.message}`,
      error: failure.message,
      kind: failure.kind,
      code: failure.status?.code,
      codeName: failure.status?.codeName,
      details: failure.status?.details,
    };
  }

  /** NodeGetCapabilities as the RPC types announced. */
  #capabilities(
    tracked: TrackedPod,
    volume: TrackedVolume,
    deadline: number,
  ): Promise<CsiCallOutcome<string[]>> {
    return this.#call(tracked, volume, 'NodeGetCapabilities', {}, (client) =>
      client.getNodeCapabilityTypes({ deadline }),
    );
  }

  /** One RPC over a connection of its own, recorded in `calls`. */
  async #call<T>(
    tracked: TrackedPod | undefined,
    volume: TrackedVolume | undefined,
    rpc: CsiCallRecord['rpc'],
    request: unknown,
    invoke: (client: CsiNodeClient) => Promise<CsiCallOutcome<T>>,
  ): Promise<CsiCallOutcome<T>> {
    const client = new CsiNodeClient(this.csiSocketPath);
    try {
      const outcome = await invoke(client);
      this.calls.push({
        at: new Date(),
        rpc,
        podUid: tracked?.uid ?? '',
        volumeName: volume?.name ?? '',
        request,
        outcome,
      });
      return outcome;
    } finally {
      client.close();
    }
  }

  /** Runs `operation` after any other operation on the volume (kubelet runs one operation per volume at a time). */
  async #exclusive<T>(volume: TrackedVolume, operation: () => Promise<T> | T): Promise<T> {
    volume.busy += 1;
    const run = volume.queue.then(operation);
    volume.queue = run.catch(() => undefined);
    try {
      return await run;
    } finally {
      volume.busy -= 1;
    }
  }

  async #readCsiDriver(): Promise<V1CSIDriver | undefined> {
    try {
      return await this.#storage.readCSIDriver({ name: this.driverName });
    } catch (error) {
      if (apiErrorCode(error) === 404) return undefined;
      throw error;
    }
  }

  async #waitForServiceAccount(namespace: string, name: string): Promise<void> {
    await waitUntil(
      async () => {
        try {
          await this.#core.readNamespacedServiceAccount({ name, namespace });
          return true;
        } catch (error) {
          if (apiErrorCode(error) === 404) return false;
          throw error;
        }
      },
      {
        description: `service account ${namespace}/${name} (the pod's; the API server rejects pods without it)`,
        timeoutMs: this.#serviceAccountWaitMs,
      },
    );
  }

  async #ignoreNotFound(request: () => Promise<unknown>): Promise<void> {
    try {
      await request();
    } catch (error) {
      if (apiErrorCode(error) !== 404) throw error;
    }
  }

  #find(ref: PodRef): TrackedPod {
    const uid = 'pod' in ref ? ref.pod.metadata?.uid : ref.metadata?.uid;
    const tracked = uid === undefined ? undefined : this.#pods.get(uid);
    if (tracked === undefined) throw new Error(`pod ${uid ?? '(no UID)'} is not running on this kubelet`);
    return tracked;
  }

  #snapshot(tracked: TrackedPod): KubeletPod {
    return {
      pod: tracked.pod,
      volumes: tracked.volumes.map((volume) => ({
        name: volume.name,
        volumeId: volume.volumeId,
        targetPath: volume.targetPath,
        state: volume.state,
        lastResult: volume.lastResult,
        publishCount: volume.publishCount,
        lastPublishRequest: volume.lastPublishRequest,
      })),
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('this kubelet stand-in is closed');
  }
}
