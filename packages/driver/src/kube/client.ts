/**
 * The Kubernetes adapters over one API-server connection (kube/http.ts): two informers (SecretProviderClasses cluster-wide, pods
 * of this node) whose misses fall back to direct reads, and direct writes for pod statuses, Secrets and events.
 * Reads never wait for the informers: before they sync, or when they never do, every read is a direct GET.
 */
import type { KubeAccess } from './access.js';
import { KubeApi, withQuery } from './api.js';
import { GROUP, SECRET_PROVIDER_CLASS_PLURAL, type Logger } from '@secrets-store-csi/core';
import { KubeEventRecorder } from './events.js';
import { Informer, type Backoff, type ListResult, type WatchFn } from './informer.js';
import { KubePodStatusStore } from './pod-statuses.js';
import { KubePodSource, toPodInfo } from './pods.js';
import type { KubeAdapters, PodInfo } from './ports.js';
import { KubeSecretProviderClassSource } from './secret-provider-classes.js';
import { KubeSecretStore } from './secrets.js';
import { KubeHttp } from './http.js';

export interface KubeAdaptersOptions {
  /** Where the API server is and how to authenticate (kube/access.ts). */
  readonly access: KubeAccess;
  /** This node: the pod informer watches only its pods, and pod statuses carry it as their node label. */
  readonly nodeName: string;
  /** The CSI driver name, for the default User-Agent and logs. */
  readonly driverName: string;
  readonly logger: Logger;
  /** User-Agent of API calls. */
  readonly userAgent?: string;
  /** Clock for event timestamps and event de-duplication. */
  readonly now?: () => Date;
  /** Restart delays of a failed or ended watch; 1 s doubling to 30 s by default. */
  readonly informerRestartBackoff?: Backoff;
  /** How long `start()` waits for the first sync before reads simply fall back; 10 s by default. */
  readonly informerSyncTimeoutMs?: number;
}

const DEFAULT_SYNC_TIMEOUT_MS = 10_000;

/** Watches end server-side after 5 to 10 minutes, as client-go's reflector asks, and are then resumed. */
function watchTimeoutSeconds(): number {
  return 300 + Math.floor(Math.random() * 300);
}

export function createKubeAdapters(options: KubeAdaptersOptions): KubeAdapters {
  const logger = options.logger.child({ component: 'kube' });
  const userAgent = options.userAgent ?? `secrets-store-csi-driver (${options.driverName})`;
  const http = new KubeHttp(options.access, { userAgent });
  const api = new KubeApi(http);
  const core = api;
  const custom = api;
  const watch: WatchFn = (path, query, onEvent, onDone) =>
    http.watch(
      withQuery(path, { ...query, watch: true, timeoutSeconds: watchTimeoutSeconds() }),
      onEvent,
      onDone,
    );
  const backoff = options.informerRestartBackoff;

  const spcInformer = new Informer<unknown>({
    resource: `${SECRET_PROVIDER_CLASS_PLURAL}.${GROUP}`,
    path: `/apis/${GROUP}/v1/${SECRET_PROVIDER_CLASS_PLURAL}`,
    list: async (): Promise<ListResult> => {
      const list = (await custom.listClusterCustomObject({
        group: GROUP,
        version: 'v1',
        plural: SECRET_PROVIDER_CLASS_PLURAL,
      })) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    watch,
    // Kept raw and parsed on each read: an invalid class then fails the mounts that use it, with its message.
    convert: (object) => object,
    logger,
    ...(backoff !== undefined && { backoff }),
  });

  const fieldSelector = `spec.nodeName=${options.nodeName}`;
  const podInformer = new Informer<PodInfo>({
    resource: 'pods',
    path: '/api/v1/pods',
    fieldSelector,
    list: async (): Promise<ListResult> => {
      const list = await core.listPodForAllNamespaces({ fieldSelector });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    watch,
    convert: toPodInfo,
    logger,
    ...(backoff !== undefined && { backoff }),
  });

  const events = new KubeEventRecorder({
    api: core,
    nodeName: options.nodeName,
    logger,
    ...(options.now !== undefined && { now: options.now }),
  });
  const syncTimeoutMs = options.informerSyncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;

  return {
    secretProviderClasses: new KubeSecretProviderClassSource(custom, spcInformer),
    pods: new KubePodSource(core, podInformer),
    podStatuses: new KubePodStatusStore(custom, options.nodeName, logger),
    secrets: new KubeSecretStore(core, logger),
    events,
    async start() {
      spcInformer.start();
      podInformer.start();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(true);
        }, syncTimeoutMs);
      });
      // whenSynced also resolves when stop() is called meanwhile, which clears this timer too.
      const synced = Promise.all([spcInformer.whenSynced(), podInformer.whenSynced()]).then(() => false);
      await Promise.race([synced, timedOut]);
      clearTimeout(timer);
      if (!spcInformer.hasSynced || !podInformer.hasSynced) {
        logger.warn('informers have not synced yet; reads go to the API server until they do', {
          timeoutMs: syncTimeoutMs,
          secretProviderClassesSynced: spcInformer.hasSynced,
          podsSynced: podInformer.hasSynced,
        });
      } else {
        logger.info('informers synced', { node: options.nodeName });
      }
    },
    async stop() {
      spcInformer.stop();
      podInformer.stop();
      await events.flush();
      http.close();
    },
  };
}
