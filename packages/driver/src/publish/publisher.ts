/**
 * NodePublishVolume and NodeUnpublishVolume as domain operations, free of gRPC: the CSI edge validates the
 * request, calls `publish`/`unpublish`, and maps a thrown DriverError to a status in one place.
 *
 * Publish follows upstream's order (so errors come in the same order): rotation check, mount-point check,
 * SecretProviderClass lookup, readonly check, tmpfs mount, provider call, atomic write, pod status, then
 * (our addition, upstream does it in a controller) the `secretObjects` sync. Differences on purpose: a failed
 * first mount is recorded (pod status condition and a Warning event); a failed refresh keeps the mounted
 * content, is answered with success as upstream does (kubernetes/kubernetes#121271) but is made visible
 * (MountRotationFailed event, condition, metrics) and backs off; identical status writes are skipped.
 */
import { stat } from 'node:fs/promises';
import {
  API_VERSION_V1,
  podAttributeKeys,
  podStatusName,
  rotationIntervalOverride,
  SECRET_PROVIDER_CLASS_ATTRIBUTE,
  SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
  NODE_NAME_LABEL,
  isCodedError,
  sortObjectVersions,
  type Condition,
  type Logger,
  type SecretProviderClass,
  type SecretProviderClassObject,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { VolumeLayout } from '../fs/layout.js';
import type { PayloadFile, VolumeWriter } from '../fs/payload.js';
import { lastWriteWins } from '../fs/validate.js';
import type { KubeAdapters, PodRef } from '../kube/ports.js';
import type { DriverMetrics } from '../metrics.js';
import type { Mounter, TmpfsOptions } from '../mount/mounter.js';
import type { AbsentObject, ProviderClients } from '../providers/client.js';
import { buildMountRequest } from '../providers/mount-request.js';
import type { RotationTracker } from '../rotation/tracker.js';
import { conditionTypes, setCondition } from './conditions.js';
import { syncSecrets } from './secret-sync.js';
import { unpublishVolume } from './unpublish.js';

export interface PublishRequest {
  readonly volumeId: string;
  readonly targetPath: string;
  readonly readonly: boolean;
  readonly volumeContext: Readonly<Record<string, string>>;
  /** The node-publish secrets; undefined when kubelet sent none. */
  readonly secrets: Readonly<Record<string, string>> | undefined;
  /** When kubelet gives up on the call; the provider call gets the same deadline. */
  readonly deadline: Date;
}

export type PublishOutcome =
  | { readonly kind: 'mounted'; readonly files: number }
  | { readonly kind: 'refreshed'; readonly changed: boolean }
  | { readonly kind: 'alreadyMounted' }
  | { readonly kind: 'notDue' }
  | { readonly kind: 'refreshFailed'; readonly error: DriverError };

export interface PublisherConfig {
  readonly nodeName: string;
  /** `--enable-secret-rotation`. */
  readonly rotationEnabled: boolean;
  readonly tmpfs: TmpfsOptions;
}

export interface PublisherDeps {
  readonly mounter: Mounter;
  readonly writer: VolumeWriter;
  readonly providers: ProviderClients;
  readonly kube: Pick<KubeAdapters, 'secretProviderClasses' | 'pods' | 'podStatuses' | 'secrets' | 'events'>;
  readonly tracker: RotationTracker;
  readonly metrics: DriverMetrics;
  readonly logger: Logger;
  /** Reads the files of a mounted volume (for a provider that wrote them itself). */
  readonly readMountedContents: (targetPath: string) => Promise<Map<string, Uint8Array>>;
  readonly now?: () => number;
}

export const publishEventReasons = {
  mountRotationFailed: 'MountRotationFailed',
  mountRotationComplete: 'MountRotationComplete',
  /** A provider returned one file path more than once; upstream mounts the last one silently. */
  duplicateFilePath: 'DuplicateFilePath',
  /** Ours: optional objects the store does not have; the volume is mounted without them. */
  optionalObjectAbsent: 'OptionalObjectAbsent',
} as const;

/** How many duplicate paths a DuplicateFilePath event names (paths are up to 4 KiB each). */
const maxDuplicatesNamed = 10;
/** How many absent objects an OptionalObjectAbsent event or condition names. */
const maxAbsentNamed = 10;

/** `id (reason); …` for the first absent objects, sorted by id so that equal sets read the same. */
function describeAbsent(absent: readonly AbsentObject[]): string {
  const sorted = [...absent].sort((a, b) => a.id.localeCompare(b.id));
  const shown = sorted.slice(0, maxAbsentNamed).map((object) => `${object.id} (${object.reason})`);
  const more = sorted.length - shown.length;
  return `${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * The OptionalObjectsPresent condition after a successful provider call: False naming the absent objects,
 * True once a volume that had some has none; not added to a volume that never had one absent.
 */
function withOptionalObjects(
  conditions: readonly Condition[],
  absent: readonly AbsentObject[],
  now: Date,
): Condition[] {
  const had = conditions.some((c) => c.type === conditionTypes.optionalObjectsPresent);
  if (absent.length === 0 && !had) return [...conditions];
  return setCondition(
    conditions,
    absent.length > 0
      ? {
          type: conditionTypes.optionalObjectsPresent,
          status: 'False',
          reason: publishEventReasons.optionalObjectAbsent,
          message: `absent: ${describeAbsent(absent)}`,
        }
      : {
          type: conditionTypes.optionalObjectsPresent,
          status: 'True',
          reason: 'AllPresent',
          message: 'every optional object is mounted',
        },
    now,
  );
}

interface VolumeIdentity {
  readonly pod: PodRef;
  readonly spcName: string;
  readonly targetPath: string;
}

function errorOf(error: unknown): DriverError {
  if (error instanceof DriverError) return error;
  if (isCodedError(error)) return new DriverError(error.code, error.message, { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new DriverError(driverErrorCodes.internal, message, { cause: error });
}

/** Wraps an error in upstream's words while keeping its code (the metric label and event reason). */
function wrap(error: unknown, prefix: string): DriverError {
  const cause = errorOf(error);
  return new DriverError(cause.code, `${prefix}${cause.message}`, { cause });
}

async function mtimeMs(path: string): Promise<number | undefined> {
  return stat(path).then(
    (stats) => stats.mtimeMs,
    () => undefined,
  );
}

export class VolumePublisher {
  readonly #config: PublisherConfig;
  readonly #deps: PublisherDeps;
  readonly #now: () => number;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Mounted volumes this process did not publish whose layout it found complete (checked once each). */
  readonly #verified = new Set<string>();

  constructor(config: PublisherConfig, deps: PublisherDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** Calls for one target path run one at a time (kubelet serialises them too, standalone mode may not). */
  async #serialised<T>(targetPath: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(targetPath) ?? Promise.resolve();
    const current = previous.then(work, work);
    const settled = current.catch(() => undefined);
    this.#locks.set(targetPath, settled);
    try {
      return await current;
    } finally {
      if (this.#locks.get(targetPath) === settled) this.#locks.delete(targetPath);
    }
  }

  publish(request: PublishRequest): Promise<PublishOutcome> {
    return this.#serialised(request.targetPath, () => this.#publish(request));
  }

  async #publish(request: PublishRequest): Promise<PublishOutcome> {
    const { targetPath, volumeContext } = request;
    const { tracker, metrics } = this.#deps;
    const skipLabel = volumeContext.providerName ?? '';
    const tracked = tracker.get(targetPath);
    if (
      this.#config.rotationEnabled &&
      tracked !== undefined &&
      !tracker.isDue(targetPath, this.#now(), undefined)
    ) {
      metrics.publishSucceeded(skipLabel);
      return { kind: 'notDue' };
    }

    let mounted: boolean;
    try {
      mounted = await this.#deps.mounter.isMountPoint(targetPath);
    } catch (error) {
      const failure = new DriverError(
        driverErrorCodes.failedToEnsureMountPoint,
        `failed to check if target path ${targetPath} is mount point, err: ${errorOf(error).message}`,
      );
      metrics.publishFailed('', failure.code);
      throw failure;
    }
    if (!mounted) this.#verified.delete(targetPath);
    if (mounted && tracked === undefined && !this.#verified.has(targetPath)) {
      // Mounted by an earlier process of this driver, which may have been killed in the middle of writing,
      // or after writing but before recording the pod status (then the Secret sync did not run either).
      const layout = await this.#inspect(targetPath, skipLabel);
      const reason =
        layout.kind === 'incomplete'
          ? layout.reason
          : (await this.#podStatusMounted(this.#identity(request)))
            ? undefined
            : 'no pod status records the volume as mounted';
      if (reason !== undefined) {
        this.#deps.logger.warn('found an interrupted publish; publishing the volume in full', {
          targetPath,
          reason,
        });
        return this.#firstMount(request, { alreadyMounted: true });
      }
      this.#verified.add(targetPath);
    }
    if (mounted && !this.#config.rotationEnabled) {
      this.#deps.logger.info('target path is already mounted', { targetPath });
      metrics.publishSucceeded(skipLabel);
      return { kind: 'alreadyMounted' };
    }
    if (
      mounted &&
      tracked === undefined &&
      !tracker.isDue(targetPath, this.#now(), await mtimeMs(targetPath))
    ) {
      metrics.publishSucceeded(skipLabel);
      return { kind: 'notDue' };
    }
    if (!mounted && tracked !== undefined) tracker.forget(targetPath);
    return mounted ? this.#refresh(request) : this.#firstMount(request);
  }

  /** The layout of a volume found mounted; a volume that cannot be read is an error, never complete. */
  async #inspect(targetPath: string, provider: string): Promise<VolumeLayout> {
    try {
      return await this.#deps.writer.inspect(targetPath);
    } catch (error) {
      const failure = wrap(error, `failed to check the content mounted at ${targetPath}, err: `);
      this.#deps.metrics.publishFailed(provider, failure.code);
      throw failure;
    }
  }

  #identity(request: PublishRequest): VolumeIdentity {
    const context = request.volumeContext;
    return {
      pod: {
        name: context[podAttributeKeys.podName] ?? '',
        namespace: context[podAttributeKeys.podNamespace] ?? '',
        uid: context[podAttributeKeys.podUid] ?? '',
      },
      spcName: context[SECRET_PROVIDER_CLASS_ATTRIBUTE] ?? '',
      targetPath: request.targetPath,
    };
  }

  /** Looks up and checks the SecretProviderClass, then the readonly flag, in upstream's order and words. */
  async #secretProviderClass(request: PublishRequest, volume: VolumeIdentity): Promise<SecretProviderClass> {
    if (volume.spcName === '') {
      throw new DriverError(driverErrorCodes.failedToMount, 'secretProviderClass is not set');
    }
    const ref = `${volume.pod.namespace}/${volume.spcName}`;
    let spc: SecretProviderClass;
    try {
      spc = await this.#deps.kube.secretProviderClasses.get(volume.pod.namespace, volume.spcName);
    } catch (error) {
      throw wrap(error, `failed to get secretproviderclass ${ref}, error: `);
    }
    if (spc.spec.provider === '') {
      throw new DriverError(driverErrorCodes.secretProviderClassInvalid, `provider not set in ${ref}`);
    }
    if (Object.keys(spc.spec.parameters).length === 0) {
      throw new DriverError(driverErrorCodes.secretProviderClassInvalid, `parameters not set in ${ref}`);
    }
    if (!request.readonly) {
      throw new DriverError(driverErrorCodes.invalidArgument, 'Readonly is not true in request');
    }
    return spc;
  }

  /** Asks the provider for the volume's content and writes it. */
  async #fetchAndWrite(
    request: PublishRequest,
    volume: VolumeIdentity,
    spc: SecretProviderClass,
    currentObjectVersions: readonly SecretProviderClassObject[],
  ): Promise<{
    objectVersions: readonly SecretProviderClassObject[];
    changed: boolean;
    files: ReadonlyMap<string, Uint8Array>;
    absentObjects: readonly AbsentObject[];
  }> {
    const podRef = `${volume.pod.namespace}/${volume.pod.name}`;
    try {
      const client = await this.#deps.providers.get(spc.spec.provider);
      const result = await client.mount(
        buildMountRequest({
          parameters: spc.spec.parameters,
          volumeContext: request.volumeContext,
          secrets: request.secrets,
          targetPath: request.targetPath,
          currentObjectVersions,
        }),
        { deadline: request.deadline },
      );
      const absentObjects = result.absentObjects ?? [];
      if (result.files.length === 0 && absentObjects.length === 0) {
        // A legacy provider wrote the files itself.
        const files = await this.#deps.readMountedContents(request.targetPath);
        return { objectVersions: result.objectVersions, changed: true, files, absentObjects };
      }
      const { files, duplicates } = lastWriteWins(result.files);
      const { changed } = await this.#deps.writer.write(request.targetPath, files);
      if (changed && duplicates.length > 0) this.#warnDuplicates(volume, spc.spec.provider, duplicates);
      return { objectVersions: result.objectVersions, changed, files: filesByPath(files), absentObjects };
    } catch (error) {
      throw wrap(error, `failed to mount secrets store objects for pod ${podRef}, err: `);
    }
  }

  /** Names (never contents) the paths a provider returned more than once; the last of each was written. */
  #warnDuplicates(volume: VolumeIdentity, provider: string, duplicates: readonly string[]): void {
    const shown = duplicates.slice(0, maxDuplicatesNamed).map((path) => JSON.stringify(path));
    const more = duplicates.length - shown.length;
    const message =
      `provider ${JSON.stringify(provider)} returned the file path${duplicates.length > 1 ? 's' : ''} ` +
      `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''} more than once (an object listed twice, ` +
      'or two objects with the same alias); the last file of each path is mounted';
    this.#deps.logger.warn('duplicate file paths in the provider response', {
      targetPath: volume.targetPath,
      provider,
      duplicates: duplicates.length,
    });
    this.#deps.kube.events.record({
      pod: volume.pod,
      type: 'Warning',
      reason: publishEventReasons.duplicateFilePath,
      message,
    });
  }

  /**
   * A Warning event naming the absent optional objects (ids and the provider's reasons, never a value) when
   * the set differs from what the volume's condition already says, so a steady state is told once.
   */
  #warnAbsent(
    volume: VolumeIdentity,
    provider: string,
    absent: readonly AbsentObject[],
    previous: readonly Condition[],
  ): void {
    if (absent.length === 0) return;
    const message = `absent: ${describeAbsent(absent)}`;
    const before = previous.find((c) => c.type === conditionTypes.optionalObjectsPresent);
    if (before?.status === 'False' && before.message === message) return;
    this.#deps.logger.warn('optional objects absent from the provider answer; mounted without them', {
      targetPath: volume.targetPath,
      provider,
      absent: absent.length,
    });
    this.#deps.kube.events.record({
      pod: volume.pod,
      type: 'Warning',
      reason: publishEventReasons.optionalObjectAbsent,
      message:
        `provider ${JSON.stringify(provider)} reports ${absent.length} optional object${absent.length > 1 ? 's' : ''} ` +
        `absent, mounted without ${absent.length > 1 ? 'them' : 'it'}: ${describeAbsent(absent)}. ` +
        'A refresh (secret rotation) mounts an object once it exists',
    });
  }

  #desiredPodStatus(
    volume: VolumeIdentity,
    mounted: boolean,
    objects: readonly SecretProviderClassObject[],
    conditions: SecretProviderClassPodStatus['status']['conditions'],
  ): SecretProviderClassPodStatus {
    const { pod } = volume;
    return {
      apiVersion: API_VERSION_V1,
      kind: SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
      metadata: {
        name: podStatusName(pod.name, pod.namespace, volume.spcName),
        namespace: pod.namespace,
        labels: { [NODE_NAME_LABEL]: this.#config.nodeName },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid }],
      },
      status: {
        podName: pod.name,
        secretProviderClassName: volume.spcName,
        mounted,
        targetPath: volume.targetPath,
        objects: sortObjectVersions(objects),
        ...(conditions !== undefined && { conditions }),
      },
    };
  }

  /** Writes the pod status unless the last stored one already says the same. */
  async #recordPodStatus(
    volume: VolumeIdentity,
    desired: SecretProviderClassPodStatus,
  ): Promise<SecretProviderClassPodStatus> {
    const previous = this.#deps.tracker.get(volume.targetPath)?.podStatus;
    if (previous !== undefined && JSON.stringify(previous.status) === JSON.stringify(desired.status)) {
      return previous;
    }
    return this.#deps.kube.podStatuses.upsert(desired);
  }

  /** After a successful provider call and write: the pod status, then the volume's rotation state. */
  async #recordSuccess(
    request: PublishRequest,
    volume: VolumeIdentity,
    spc: SecretProviderClass,
    objectVersions: readonly SecretProviderClassObject[],
    conditions: readonly Condition[],
  ): Promise<SecretProviderClassPodStatus> {
    const podStatus = await this.#recordPodStatus(
      volume,
      this.#desiredPodStatus(volume, true, objectVersions, conditions),
    );
    this.#deps.tracker.record(request.targetPath, { kind: 'success' }, this.#now(), {
      provider: spc.spec.provider,
      objectVersions,
      conditions,
      podStatus,
      ...optionalOverride(spc),
    });
    return podStatus;
  }

  /**
   * A first mount; with `alreadyMounted`, of a volume an interrupted publish left mounted but incomplete: its
   * tmpfs is reused, and is unmounted on failure as a tmpfs mounted by this call would be (kubelet, which
   * took the interrupted call as uncertain, forgets a volume that then fails for good and would never
   * unpublish it).
   */
  async #firstMount(
    request: PublishRequest,
    options: { readonly alreadyMounted: boolean } = { alreadyMounted: false },
  ): Promise<PublishOutcome> {
    const volume = this.#identity(request);
    const { metrics } = this.#deps;
    let provider = '';
    let mountedHere = options.alreadyMounted;
    try {
      const spc = await this.#secretProviderClass(request, volume);
      provider = spc.spec.provider;
      if (!options.alreadyMounted) {
        await this.#deps.mounter.mountTmpfs(request.targetPath, this.#config.tmpfs);
        mountedHere = true;
      }
      const { objectVersions, files, absentObjects } = await this.#fetchAndWrite(request, volume, spc, []);
      const now = new Date(this.#now());
      const conditions = withOptionalObjects(
        setCondition(
          [],
          { type: conditionTypes.mounted, status: 'True', reason: 'Mounted', message: 'volume mounted' },
          now,
        ),
        absentObjects,
        now,
      );
      this.#warnAbsent(volume, provider, absentObjects, []);
      let podStatus: SecretProviderClassPodStatus;
      try {
        podStatus = await this.#recordSuccess(request, volume, spc, objectVersions, conditions);
      } catch (error) {
        throw wrap(
          error,
          `failed to create secret provider class pod status for pod ${volume.pod.namespace}/${volume.pod.name}, err: `,
        );
      }
      await syncSecrets(
        { spc, pod: volume.pod, podStatus, files, rotation: false, absentPaths: pathsOf(absentObjects) },
        this.#deps,
      );
      metrics.publishSucceeded(provider);
      this.#deps.logger.info('node publish volume complete', {
        targetPath: request.targetPath,
        pod: `${volume.pod.namespace}/${volume.pod.name}`,
        secretProviderClass: volume.spcName,
        objects: objectVersions.length,
      });
      return { kind: 'mounted', files: files.size };
    } catch (error) {
      const failure = errorOf(error);
      if (mountedHere) await this.#undoMount(request.targetPath);
      metrics.publishFailed(provider, failure.code);
      await this.#recordMountFailure(volume, failure);
      throw failure;
    }
  }

  async #undoMount(targetPath: string): Promise<void> {
    try {
      await this.#deps.mounter.unmount(targetPath);
    } catch (error) {
      this.#deps.logger.error('failed to unmount after a failed mount', {
        targetPath,
        error: errorOf(error).message,
      });
    }
  }

  /** Upstream records nothing when a first mount fails; we leave an event and a condition saying why. */
  async #recordMountFailure(volume: VolumeIdentity, failure: DriverError): Promise<void> {
    if (
      failure.code === driverErrorCodes.invalidArgument ||
      volume.pod.name === '' ||
      volume.pod.uid === ''
    ) {
      return;
    }
    this.#deps.kube.events.record({
      pod: volume.pod,
      type: 'Warning',
      reason: failure.code,
      message: failure.message,
    });
    if (volume.spcName === '') return;
    const conditions = setCondition(
      [],
      { type: conditionTypes.mounted, status: 'False', reason: failure.code, message: failure.message },
      new Date(this.#now()),
    );
    try {
      await this.#deps.kube.podStatuses.upsert(this.#desiredPodStatus(volume, false, [], conditions));
    } catch (error) {
      this.#deps.logger.warn('failed to record the mount failure on the pod status', {
        pod: `${volume.pod.namespace}/${volume.pod.name}`,
        error: errorOf(error).message,
      });
    }
  }

  async #refresh(request: PublishRequest): Promise<PublishOutcome> {
    const volume = this.#identity(request);
    const { metrics, tracker } = this.#deps;
    const started = process.hrtime.bigint();
    const tracked = tracker.get(request.targetPath);
    let provider = tracked?.provider ?? '';
    let spc: SecretProviderClass | undefined;
    try {
      spc = await this.#secretProviderClass(request, volume);
      provider = spc.spec.provider;
      const current = tracked?.objectVersions ?? (await this.#storedObjectVersions(volume));
      const { objectVersions, changed, files, absentObjects } = await this.#fetchAndWrite(
        request,
        volume,
        spc,
        current,
      );
      const now = new Date(this.#now());
      this.#warnAbsent(volume, provider, absentObjects, tracked?.conditions ?? []);
      const conditions = setCondition(
        setCondition(
          withOptionalObjects(tracked?.conditions ?? [], absentObjects, now),
          { type: conditionTypes.mounted, status: 'True', reason: 'Mounted', message: 'volume mounted' },
          now,
        ),
        {
          type: conditionTypes.refreshed,
          status: 'True',
          reason: changed ? 'ContentChanged' : 'ContentUnchanged',
          message: changed ? 'mounted content was refreshed' : 'mounted content is current',
        },
        now,
      );
      const podStatus = await this.#recordSuccess(request, volume, spc, objectVersions, conditions);
      if (changed) {
        this.#deps.kube.events.record({
          pod: volume.pod,
          type: 'Normal',
          reason: publishEventReasons.mountRotationComplete,
          message: `successfully rotated mounted contents for spc ${volume.pod.namespace}/${volume.spcName}`,
        });
      }
      await syncSecrets(
        { spc, pod: volume.pod, podStatus, files, rotation: true, absentPaths: pathsOf(absentObjects) },
        this.#deps,
      );
      metrics.publishSucceeded(provider);
      metrics.rotationSucceeded(provider, Number(process.hrtime.bigint() - started) / 1e9);
      return { kind: 'refreshed', changed };
    } catch (error) {
      const failure = errorOf(error);
      metrics.publishFailed(provider, failure.code);
      metrics.rotationFailed(provider, failure.code);
      await this.#recordRefreshFailure(request, volume, failure, provider, spc);
      return { kind: 'refreshFailed', error: failure };
    }
  }

  /**
   * Whether the pod status of the volume's pod and class says mounted. When the API server cannot say, the
   * volume counts as recorded: its files are complete, and a due refresh writes the status again.
   */
  async #podStatusMounted(volume: VolumeIdentity): Promise<boolean> {
    const name = podStatusName(volume.pod.name, volume.pod.namespace, volume.spcName);
    try {
      return (await this.#deps.kube.podStatuses.get(volume.pod.namespace, name))?.status.mounted === true;
    } catch (error) {
      this.#deps.logger.warn('could not read the pod status of a mounted volume; taking it as recorded', {
        targetPath: volume.targetPath,
        error: errorOf(error).message,
      });
      return true;
    }
  }

  async #storedObjectVersions(volume: VolumeIdentity): Promise<readonly SecretProviderClassObject[]> {
    const name = podStatusName(volume.pod.name, volume.pod.namespace, volume.spcName);
    try {
      return (await this.#deps.kube.podStatuses.get(volume.pod.namespace, name))?.status.objects ?? [];
    } catch {
      return [];
    }
  }

  async #recordRefreshFailure(
    request: PublishRequest,
    volume: VolumeIdentity,
    failure: DriverError,
    provider: string,
    spc: SecretProviderClass | undefined,
  ): Promise<void> {
    const { tracker, logger } = this.#deps;
    const tracked = tracker.get(request.targetPath);
    logger.warn('failed to refresh mounted content; the last good content stays mounted', {
      targetPath: request.targetPath,
      pod: `${volume.pod.namespace}/${volume.pod.name}`,
      code: failure.code,
      error: failure.message,
    });
    this.#deps.kube.events.record({
      pod: volume.pod,
      type: 'Warning',
      reason: publishEventReasons.mountRotationFailed,
      message: failure.message,
    });
    const conditions = setCondition(
      tracked?.conditions ?? [],
      { type: conditionTypes.refreshed, status: 'False', reason: failure.code, message: failure.message },
      new Date(this.#now()),
    );
    const objectVersions = tracked?.objectVersions ?? [];
    let podStatus = tracked?.podStatus;
    try {
      podStatus = await this.#recordPodStatus(
        volume,
        this.#desiredPodStatus(volume, true, objectVersions, conditions),
      );
    } catch (error) {
      logger.warn('failed to record the refresh failure on the pod status', {
        error: errorOf(error).message,
      });
    }
    tracker.record(request.targetPath, { kind: 'failure' }, this.#now(), {
      provider,
      objectVersions,
      conditions,
      ...(podStatus !== undefined && { podStatus }),
      ...(spc !== undefined && optionalOverride(spc)),
    });
  }

  /** Removes the volume's content, unmounts the tmpfs and removes the directory; idempotent. */
  unpublish(targetPath: string): Promise<void> {
    return this.#serialised(targetPath, async () => {
      try {
        await unpublishVolume(targetPath, this.#deps.mounter);
      } catch (error) {
        this.#deps.metrics.unpublishFailed();
        this.#deps.logger.error('failed to clean and unmount target path', {
          targetPath,
          error: errorOf(error).message,
        });
        throw errorOf(error);
      }
      this.#deps.tracker.forget(targetPath);
      this.#verified.delete(targetPath);
      this.#deps.metrics.unpublishSucceeded();
      this.#deps.logger.info('node unpublish volume complete', { targetPath });
    });
  }
}

function optionalOverride(spc: SecretProviderClass): { intervalOverrideMs?: number } {
  const intervalOverrideMs = rotationIntervalOverride(spc);
  return intervalOverrideMs === undefined ? {} : { intervalOverrideMs };
}

function pathsOf(absent: readonly AbsentObject[]): ReadonlySet<string> {
  return new Set(absent.map((object) => object.path));
}

function filesByPath(files: readonly PayloadFile[]): Map<string, Uint8Array> {
  return new Map(files.map((file) => [file.path, file.contents]));
}
