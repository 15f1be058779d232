/**
 * `serve()`: hosts a SecretProvider on the provider protocol (`v1alpha1.CSIDriverProvider`) as upstream's
 * providers do. The only place, with the health helper, that knows gRPC:
 * - removes a stale socket, binds, and makes the socket owner-only (0600) right after the bind;
 * - answers Version, decodes and checks every Mount (see mount.ts), serves grpc.health.v1;
 * - one interceptor logs each call and records the `grpc_request` histogram;
 * - maps errors to gRPC status in one function, `grpcStatusFor`;
 * - on SIGTERM/SIGINT stops taking calls, lets in-flight mounts finish, and aborts them after a timeout;
 * - runs the healthz and metrics HTTP listeners.
 */
import { chmod, stat, unlink } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import {
  CodedError,
  OS_TYPE,
  errorCodeOf,
  statusText,
  createMetricsRegistry,
  defineDurationHistogram,
  isCodedError,
  silentLogger,
  type Logger,
} from '@secrets-store-csi/core';
import { PROVIDER_API_VERSION, goCodeName } from '@secrets-store-csi/protocol/constants';
import type { Histogram, Registry } from 'prom-client';
import { runtimeNameOf, type SecretProvider } from './contract.js';
import type { WireMountRequest } from './decode.js';
import { grpcAddress, parseEndpoint, removeStaleSocket, type Endpoint } from '@secrets-store-csi/core';
import { isProviderError, type ProviderErrorKind } from './errors.js';
import { checkHealth, healthHandlers } from './health.js';
import { healthzHandler, listenHttp, metricsHandler, type HttpListener } from '@secrets-store-csi/core';
import { handleMount, type WireMountResponse } from './mount.js';
import { DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES } from './rules.js';
import { healthServiceDefinition, providerServiceDefinition } from '@secrets-store-csi/protocol/wire';

/** Buckets of upstream's provider histograms, in seconds. */
export const GRPC_REQUEST_BUCKETS: readonly number[] = Object.freeze([
  0.1, 0.2, 0.3, 0.4, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10, 15, 30,
]);

/** Trailing metadata that carries a failed mount's error code (the driver's `error_type`). */
export const ERROR_CODE_METADATA_KEY = 'x-secrets-store-error-code';

export const DEFAULT_SHUTDOWN_TIMEOUT_IN_MS = 20_000;

export interface ServeOptions {
  /** `unix:///path/provider.sock` (or `tcp://host:port`), as the `--endpoint` flag takes it. */
  readonly endpoint: string;
  readonly logger?: Logger;
  /** The largest response sent; the driver's `--max-call-recv-msg-size` (4 MiB by default). */
  readonly maxResponseSizeInBytes?: number;
  /** Where `grpc_request` is recorded; a new registry with process metrics when unset. */
  readonly registry?: Registry;
  /** The `service_name` label; `csi-secrets-store-provider-<name>` when unset. */
  readonly serviceName?: string;
  /** The healthz HTTP listener (`GET <path>` checks the gRPC health service over the socket). */
  readonly healthz?: {
    readonly port: number;
    readonly host?: string;
    readonly path?: string;
    readonly timeoutInMs?: number;
  };
  /** The Prometheus listener (`GET /metrics`). */
  readonly metrics?: { readonly port: number; readonly host?: string };
  /** How long in-flight mounts may run after a shutdown starts before they are aborted. */
  readonly shutdownTimeoutInMs?: number;
  /** Signals that start a graceful shutdown; SIGTERM and SIGINT by default, `[]` for none. */
  readonly signals?: readonly NodeJS.Signals[];
}

export interface ProviderServer {
  readonly endpoint: Endpoint;
  /** The gRPC target a client dials, such as `unix:/var/run/secrets-store-csi-providers/p.sock`. */
  readonly address: string;
  readonly healthzPort: number | undefined;
  readonly metricsPort: number | undefined;
  readonly registry: Registry;
  /** Stops taking calls, waits for in-flight mounts (aborting them after the timeout), closes listeners. */
  shutdown(): Promise<void>;
  /** Settles once the server has shut down, whoever started it. */
  readonly closed: Promise<void>;
}

const statusByKind: Readonly<Record<ProviderErrorKind, grpc.status>> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  unavailable: grpc.status.UNAVAILABLE,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  internal: grpc.status.INTERNAL,
};

/**
 * The one place errors become gRPC status: a ProviderError by its kind, anything else `UNKNOWN` (what a
 * plain Go error gives upstream). The message goes as is (it is final and scrubbed), made well-formed and
 * bounded (a parameter quoted in it may hold a lone surrogate, on which grpc-js's encodeURI throws); the
 * code, when there is one, rides in trailing metadata, made printable ASCII.
 */
export function grpcStatusFor(error: unknown): grpc.StatusObject {
  const metadata = new grpc.Metadata();
  if (isCodedError(error) && error.code !== '')
    metadata.set(ERROR_CODE_METADATA_KEY, errorCodeOf(error.code));
  return {
    code: isProviderError(error) ? statusByKind[error.kind] : grpc.status.UNKNOWN,
    details: statusText(error instanceof Error ? error.message : String(error)),
    metadata,
  };
}

/** The answer when the handler itself failed: INTERNAL, and the server keeps serving. */
function internalStatus(error: unknown): grpc.StatusObject {
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: grpc.status.INTERNAL,
    details: statusText(`internal error: ${message}`),
    metadata: new grpc.Metadata(),
  };
}

/** Sends `status`, or INTERNAL when grpc-js refuses it; never throws. */
function sendFailure(callback: grpc.sendUnaryData<never>, status: grpc.StatusObject, logger: Logger): void {
  try {
    callback(status);
  } catch (error) {
    logger.error('failed to send the mount answer', {
      error: error instanceof Error ? error.message : String(error),
    });
    try {
      callback(internalStatus(error));
    } catch {
      // the call is gone
    }
  }
}

/**
 * The `grpc_message` label value. Upstream records the raw status message there, which has no bound and
 * carries object names; we record the stable error code (or the status name when there is none), and ''
 * for success as upstream does.
 */
function errorClassOf(status: { code: grpc.status; metadata?: grpc.Metadata | null }): string {
  if (status.code === grpc.status.OK) return '';
  const code = status.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  return typeof code === 'string' && code !== '' ? code : goCodeName(status.code);
}

function requestInterceptor(
  logger: Logger,
  histogram: Histogram,
  fixedLabels: Readonly<Record<string, string>>,
): grpc.ServerInterceptor {
  return (method, call) => {
    const start = process.hrtime.bigint();
    let recorded = false;
    // The log line keeps the (redacted) message; the metric label gets a bounded error class instead.
    const record = (code: grpc.status, message: string, errorClass: string) => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const grpcCode = goCodeName(code);
      histogram.observe(
        { grpc_method: method.path, grpc_code: grpcCode, grpc_message: errorClass, ...fixedLabels },
        seconds,
      );
      logger.debug('gRPC response', {
        method: method.path,
        durationInSeconds: seconds,
        code: grpcCode,
        statusMessage: message,
      });
    };
    const deadline = call.getDeadline();
    const deadlineInMs = deadline instanceof Date ? deadline.getTime() : deadline;
    logger.debug('gRPC request', {
      method: method.path,
      deadline: Number.isFinite(deadlineInMs) ? new Date(deadlineInMs).toISOString() : 'none',
    });
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onCancel: () => {
            record(grpc.status.CANCELLED, 'context canceled', 'context canceled');
          },
        });
      },
      sendStatus: (status, next) => {
        record(status.code, status.code === grpc.status.OK ? '' : status.details, errorClassOf(status));
        next(status);
      },
    });
  };
}

export async function serve(provider: SecretProvider, options: ServeOptions): Promise<ProviderServer> {
  const logger = options.logger ?? silentLogger;
  const endpoint = parseEndpoint(options.endpoint);
  const address = grpcAddress(endpoint);
  const maxResponseSizeInBytes = options.maxResponseSizeInBytes ?? DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES;
  const shutdownTimeoutInMs = options.shutdownTimeoutInMs ?? DEFAULT_SHUTDOWN_TIMEOUT_IN_MS;
  const registry = options.registry ?? createMetricsRegistry();
  const histogram =
    (registry.getSingleMetric('grpc_request') as Histogram | undefined) ??
    defineDurationHistogram(registry, {
      // Upstream's name, which has no unit suffix: dashboards query it as is.
      name: 'grpc_request',
      upstreamNameWithoutUnit: true,
      help: 'Distribution of how long it took for the gRPC requests',
      labelNames: ['grpc_method', 'grpc_code', 'grpc_message', 'provider', 'os_type', 'service_name'],
      buckets: GRPC_REQUEST_BUCKETS,
    });
  const fixedLabels = {
    provider: provider.name,
    os_type: OS_TYPE,
    service_name: options.serviceName ?? `csi-secrets-store-provider-${provider.name}`,
  };

  const server = new grpc.Server({ interceptors: [requestInterceptor(logger, histogram, fixedLabels)] });
  const inFlight = new Set<AbortController>();
  const versionAnswer = {
    version: PROVIDER_API_VERSION,
    runtime_name: runtimeNameOf(provider),
    runtime_version: provider.version,
  };
  server.addService(providerServiceDefinition, {
    Version: (_call: unknown, callback: grpc.sendUnaryData<typeof versionAnswer>) => {
      callback(null, versionAnswer);
    },
    Mount: (
      call: grpc.ServerUnaryCall<WireMountRequest, WireMountResponse>,
      callback: grpc.sendUnaryData<WireMountResponse>,
    ) => {
      const controller = new AbortController();
      inFlight.add(controller);
      const onCancel = () => {
        controller.abort(new CodedError('MountCancelled', 'the driver cancelled the mount'));
      };
      call.once('cancelled', onCancel);
      // No rejection may go unhandled: a throw anywhere below answers INTERNAL and the server keeps serving.
      let work: Promise<WireMountResponse>;
      try {
        work = handleMount(provider, call.request, {
          abortSignal: controller.signal,
          maxResponseSizeInBytes,
          logger,
        });
      } catch (error) {
        work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      work
        .then(
          (response) => {
            callback(null, response);
          },
          (error: unknown) => {
            const status = grpcStatusFor(error);
            logger.error('failed to process mount request', {
              error: status.details,
              code: status.metadata.get(ERROR_CODE_METADATA_KEY)[0],
            });
            sendFailure(callback, status, logger);
          },
        )
        .catch((error: unknown) => {
          logger.error('failed to answer a mount request', {
            error: error instanceof Error ? error.message : String(error),
          });
          sendFailure(callback, internalStatus(error), logger);
        })
        .finally(() => {
          inFlight.delete(controller);
          call.off('cancelled', onCancel);
        });
    },
  });
  server.addService(healthServiceDefinition, healthHandlers);

  if (endpoint.kind === 'unix') await removeStaleSocket(endpoint.path);
  await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(new Error(`failed to listen on ${address}: ${error.message}`, { cause: error }));
      else resolve(port);
    });
  });
  let socketInode: number | undefined;
  if (endpoint.kind === 'unix') {
    await chmod(endpoint.path, 0o600);
    socketInode = (await stat(endpoint.path)).ino;
  }
  logger.info('Listening for connections', { address });

  const listeners: HttpListener[] = [];
  let healthzPort: number | undefined;
  let metricsPort: number | undefined;
  try {
    if (options.healthz) {
      const { path = '/healthz', timeoutInMs = 5000 } = options.healthz;
      const healthz = await listenHttp(
        healthzHandler(path, () => checkHealth(address, timeoutInMs)),
        options.healthz,
      );
      listeners.push(healthz);
      healthzPort = healthz.port;
      logger.info('Serving healthz', { port: healthzPort, path });
    }
    if (options.metrics) {
      const metrics = await listenHttp(metricsHandler(registry), options.metrics);
      listeners.push(metrics);
      metricsPort = metrics.port;
      logger.info('Serving metrics', { port: metricsPort, path: '/metrics' });
    }
  } catch (error) {
    server.forceShutdown();
    await Promise.all(listeners.map((listener) => listener.close()));
    throw error;
  }

  let shuttingDown: Promise<void> | undefined;
  let markClosed = () => {};
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info('terminating the server', { signal });
    void shutdown();
  };

  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      for (const signal of signals) process.off(signal, onSignal);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn('shutdown timeout reached, aborting in-flight mounts', { mounts: inFlight.size });
          for (const controller of inFlight) {
            controller.abort(new CodedError('ProviderShuttingDown', 'the provider is shutting down'));
          }
          server.forceShutdown();
          resolve();
        }, shutdownTimeoutInMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await Promise.all(listeners.map((listener) => listener.close()));
      if (socketInode !== undefined && endpoint.kind === 'unix') {
        // Remove our socket, unless a newer process has already put its own in its place.
        const current = await stat(endpoint.path).catch(() => undefined);
        if (current?.ino === socketInode) await unlink(endpoint.path).catch(() => undefined);
      }
      logger.info('server stopped');
      markClosed();
    })();
    return shuttingDown;
  };
  for (const signal of signals) process.on(signal, onSignal);

  return {
    endpoint,
    address,
    healthzPort,
    metricsPort,
    registry,
    shutdown,
    closed,
  };
}
