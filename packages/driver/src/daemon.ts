/**
 * Wires the driver from a parsed configuration: Kubernetes adapters, provider clients, mounter, writer,
 * publisher, the CSI server and the metrics listener. `main` calls it; integration tests call it too, with
 * their own seams where a test needs one.
 */
import {
  HeapCompactor,
  listenHttp,
  metricsHandler,
  type HttpListener,
  type Logger,
} from '@secrets-store-csi/core';
import type { DriverConfig } from './config.js';
import { startCsiServer, type CsiServer } from './csi/server.js';
import { AtomicWriter, readMountedContents } from './fs/index.js';
import { compactHeapAndMalloc } from './heap-compactor.js';
import { loadKubeAccess, type KubeAccess } from './kube/access.js';
import { createKubeAdapters } from './kube/client.js';
import type { KubeAdapters } from './kube/ports.js';
import { DriverMetrics } from './metrics.js';
import { LinuxMounter } from './mount/index.js';
import type { Mounter } from './mount/mounter.js';
import { GrpcProviderClients, type ProviderClients } from './providers/client.js';
import { VolumePublisher } from './publish/publisher.js';
import { RotationTracker } from './rotation/tracker.js';
import { DRIVER_VERSION, userAgent } from './version.js';

export interface DriverOverrides {
  readonly kube?: KubeAdapters;
  readonly kubeAccess?: KubeAccess;
  readonly mounter?: Mounter;
  readonly providers?: ProviderClients;
  readonly metrics?: DriverMetrics;
}

export interface RunningDriver {
  readonly csiAddress: string;
  /** The bound metrics port, when the listener is on. */
  readonly metricsPort: number | undefined;
  readonly metrics: DriverMetrics;
  readonly publisher: VolumePublisher;
  stop(): Promise<void>;
}

const PROVIDER_HEALTH_CHECK_TIMEOUT_MS = 5000;
/** Kubelet normally sets a deadline; this bounds a call that has none. */
const DEFAULT_CALL_TIMEOUT_MS = 120_000;

function startProviderHealthCheck(
  providers: ProviderClients,
  intervalMs: number,
  logger: Logger,
): () => void {
  const timer = setInterval(() => {
    for (const [name, client] of providers.cached()) {
      client.version({ deadline: new Date(Date.now() + PROVIDER_HEALTH_CHECK_TIMEOUT_MS) }).then(
        (version) => {
          logger.debug('provider health check succeeded', { provider: name, ...version });
        },
        (error: unknown) => {
          logger.warn('provider health check failed', {
            provider: name,
            error: error instanceof Error ? error.message : String(error),
          });
        },
      );
    }
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}

export async function startDriver(
  config: DriverConfig,
  logger: Logger,
  overrides: DriverOverrides = {},
): Promise<RunningDriver> {
  if (config.pprofRequested) logger.warn('--enable-pprof is not available in this driver; ignored');
  if (config.nodeId === '')
    logger.warn('--nodeid is empty; pod and pod status lookups will not be node-filtered');
  const metrics = overrides.metrics ?? new DriverMetrics();
  const kube =
    overrides.kube ??
    createKubeAdapters({
      access: overrides.kubeAccess ?? loadKubeAccess(config.kubeconfigPath),
      nodeName: config.nodeId,
      driverName: config.driverName,
      logger: logger.child({ component: 'kube' }),
      userAgent: userAgent(),
    });
  const providers =
    overrides.providers ??
    new GrpcProviderClients(config.providerDirectories, {
      maxReceiveMessageBytes: config.maxReceiveMessageBytes,
    });
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    // Not awaited: the CSI socket opens while the informers list, so kubelet's first Probe is answered in
    // about the time Node takes to load us. That is safe because no read waits for the caches: until they
    // have synced (or when they never do) every read is a direct GET to the API server.
    const kubeStarted = kube.start().catch((error: unknown) => {
      logger.error('the Kubernetes informers failed to start', {
        error: error instanceof Error ? error.message : String(error),
      });
    });
    stops.push(async () => {
      // stop() releases a start() still waiting for the first sync.
      await kube.stop();
      await kubeStarted;
    });
    stops.push(() => {
      providers.close();
    });
    const publisher = new VolumePublisher(
      { nodeName: config.nodeId, rotationEnabled: config.rotationEnabled, tmpfs: config.tmpfs },
      {
        mounter: overrides.mounter ?? new LinuxMounter(),
        writer: new AtomicWriter(),
        providers,
        kube,
        tracker: new RotationTracker(config.rotationPolicy),
        metrics,
        logger,
        readMountedContents,
      },
    );
    if (config.providerHealthCheckIntervalMs !== undefined) {
      stops.push(startProviderHealthCheck(providers, config.providerHealthCheckIntervalMs, logger));
    }
    let metricsListener: HttpListener | undefined;
    if (config.metricsAddress !== undefined) {
      metricsListener = await listenHttp(metricsHandler(metrics.registry), config.metricsAddress);
      const listener = metricsListener;
      stops.push(() => listener.close());
    }
    const compactor = new HeapCompactor({ compact: compactHeapAndMalloc });
    const server: CsiServer = await startCsiServer(
      {
        endpoint: config.endpoint,
        plugin: { name: config.driverName, version: DRIVER_VERSION },
        node: { nodeId: config.nodeId, defaultCallTimeoutMs: DEFAULT_CALL_TIMEOUT_MS },
        logger,
        onCall: () => compactor.callStarted(),
      },
      publisher,
    );
    stops.push(() => server.stop());
    compactor.start();
    stops.push(() => {
      compactor.stop();
    });
    logger.info('driver started', {
      endpoint: server.address,
      driverName: config.driverName,
      nodeId: config.nodeId,
      rotation: config.rotationEnabled,
      metricsPort: metricsListener?.port,
    });
    return {
      csiAddress: server.address,
      metricsPort: metricsListener?.port,
      metrics,
      publisher,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
