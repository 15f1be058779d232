/**
 * `serve()`: hosts a SecretProvider on the provider protocol (`v1alpha1.CSIDriverProvider`) as upstream's
 * providers do. The only place, with the health helper, that knows gRPC:
 * - removes a stale socket, binds, and makes the socket owner-only (0600) right after the bind;
 * - answers Version, decodes and checks every Mount (see mount.ts), serves grpc.health.v1;
 * - one call recorder logs each call and records the `grpc_request` histogram;
 * - maps errors to gRPC status in one function, `grpcStatusFor`;
 * - on SIGTERM/SIGINT stops taking calls, lets in-flight mounts finish, and aborts them after a timeout;
 * - runs the healthz and metrics HTTP listeners.
 */
import { chmod, stat, unlink } from 'node:fs/promises';
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
import { grpcAddress, parseEndpoint, removeStaleSocket, type Endpoint } from '@secrets-store-csi/core';
import { isProviderError, type ProviderErrorKind } from './errors.js';
import { checkHealth, registerHealthService } from './health.js';
import { healthzHandler, listenHttp, metricsHandler, type HttpListener } from '@secrets-store-csi/core';
import { handleMount, type WireMountResponse } from './mount.js';
import { DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES } from './rules.js';
import {
  GrpcStatusError,
  StatusCode,
  createUnaryServer,
  isGrpcStatusError,
  providerServiceDefinition,
  type GrpcStatus,
  type ListenTarget,
  type UnaryServerOptions,
} from '@secrets-store-csi/protocol/wire';

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

const statusByKind: Readonly<Record<ProviderErrorKind, StatusCode>> = {
  'invalid-argument': StatusCode.INVALID_ARGUMENT,
  'not-found': StatusCode.NOT_FOUND,
  'permission-denied': StatusCode.PERMISSION_DENIED,
  unavailable: StatusCode.UNAVAILABLE,
  'resource-exhausted': StatusCode.RESOURCE_EXHAUSTED,
  internal: StatusCode.INTERNAL,
};

/** A failed call's status: code, message and the trailing metadata sent with them. */
export interface ErrorStatus extends GrpcStatus {
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The one place errors become gRPC status: a ProviderError by its kind, anything else `UNKNOWN` (what a
 * plain Go error gives upstream). The message goes as is (it is final and scrubbed), made well-formed and
 * bounded (a parameter quoted in it may hold a lone surrogate); the code, when there is one, rides in
 * trailing metadata, made printable ASCII.
 */
export function grpcStatusFor(error: unknown): ErrorStatus {
  const metadata: Record<string, string> = {};
  if (isCodedError(error) && error.code !== '') metadata[ERROR_CODE_METADATA_KEY] = errorCodeOf(error.code);
  return {
    code: isProviderError(error) ? statusByKind[error.kind] : StatusCode.UNKNOWN,
    details: statusText(error instanceof Error ? error.message : String(error)),
    metadata,
  };
}

/** The answer when the handler itself failed: INTERNAL, and the server keeps serving. */
function internalStatus(error: unknown): ErrorStatus {
  const message = error instanceof Error ? error.message : String(error);
  return { code: StatusCode.INTERNAL, details: statusText(`internal error: ${message}`), metadata: {} };
}

/**
 * The `grpc_message` label value. Upstream records the raw status message there, which has no bound and
 * carries object names; we record the stable error code (or the status name when there is none), and ''
 * for success as upstream does.
 */
function errorClassOf(status: GrpcStatus): string {
  if (status.code === StatusCode.OK) return '';
  const code = status.metadata?.[ERROR_CODE_METADATA_KEY];
  return typeof code === 'string' && code !== '' ? code : goCodeName(status.code);
}

/** Logs each call to a registered method and records it in the `grpc_request` histogram. */
function callRecorder(
  logger: Logger,
  histogram: Histogram,
  fixedLabels: Readonly<Record<string, string>>,
): NonNullable<UnaryServerOptions['onCall']> {
  return ({ path, deadline }) => {
    const start = process.hrtime.bigint();
    logger.debug('gRPC request', {
      method: path,
      deadline: deadline === undefined ? 'none' : new Date(deadline).toISOString(),
    });
    // The log line keeps the (redacted) message; the metric label gets a bounded error class instead.
    return (end) => {
      const [code, message, errorClass] = end.cancelled
        ? [StatusCode.CANCELLED, 'context canceled', 'context canceled']
        : [
            end.status.code,
            end.status.code === StatusCode.OK ? '' : end.status.details,
            errorClassOf(end.status),
          ];
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const grpcCode = goCodeName(code);
      histogram.observe(
        { grpc_method: path, grpc_code: grpcCode, grpc_message: errorClass, ...fixedLabels },
        seconds,
      );
      logger.debug('gRPC response', {
        method: path,
        durationInSeconds: seconds,
        code: grpcCode,
        statusMessage: message,
      });
    };
  };
}

/** A codec's decode as the transport needs it: a message it cannot read is INTERNAL, as grpc-go answers. */
function decodeRequest<T>(decode: (bytes: Uint8Array) => T, bytes: Uint8Array): T {
  try {
    return decode(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new GrpcStatusError(
      StatusCode.INTERNAL,
      statusText(`grpc: error unmarshalling request: ${message}`),
    );
  }
}

/** Why a mount's signal aborted, in the provider's terms. */
function mountAbortReason(reason: unknown): CodedError {
  return isGrpcStatusError(reason) && reason.code === StatusCode.DEADLINE_EXCEEDED
    ? new CodedError('MountCancelled', "the driver's deadline for the mount passed")
    : new CodedError('MountCancelled', 'the driver cancelled the mount');
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

  const server = createUnaryServer({ onCall: callRecorder(logger, histogram, fixedLabels) });
  const inFlight = new Set<AbortController>();
  const { Version, Mount } = providerServiceDefinition;
  const versionAnswer = Version.responseSerialize({
    version: PROVIDER_API_VERSION,
    runtime_name: runtimeNameOf(provider),
    runtime_version: provider.version,
  });
  server.register(Version.path, (bytes) => {
    decodeRequest(Version.requestDeserialize, bytes);
    return versionAnswer;
  });
  server.register(Mount.path, async (bytes, call) => {
    const request = decodeRequest(Mount.requestDeserialize, bytes);
    const controller = new AbortController();
    inFlight.add(controller);
    const onAbort = () => {
      controller.abort(mountAbortReason(call.signal.reason));
    };
    call.signal.addEventListener('abort', onAbort, { once: true });
    // Whatever fails below is answered (INTERNAL when the failure is the SDK's own); the server keeps serving.
    try {
      let response: WireMountResponse;
      try {
        response = await handleMount(provider, request, {
          abortSignal: controller.signal,
          maxResponseSizeInBytes,
          logger,
        });
      } catch (error) {
        const status = grpcStatusFor(error);
        logger.error('failed to process mount request', {
          error: status.details,
          code: status.metadata[ERROR_CODE_METADATA_KEY],
        });
        throw new GrpcStatusError(status.code, status.details, status.metadata);
      }
      try {
        return Mount.responseSerialize(response);
      } catch (error) {
        logger.error('failed to answer a mount request', {
          error: error instanceof Error ? error.message : String(error),
        });
        const status = internalStatus(error);
        throw new GrpcStatusError(status.code, status.details, status.metadata);
      }
    } finally {
      inFlight.delete(controller);
      call.signal.removeEventListener('abort', onAbort);
    }
  });
  registerHealthService(server);

  if (endpoint.kind === 'unix') await removeStaleSocket(endpoint.path);
  const port = await server.listen(endpoint).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`failed to listen on ${address}: ${message}`, { cause: error });
  });
  const dialTarget: ListenTarget = endpoint.kind === 'unix' ? endpoint : { ...endpoint, port };
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
        healthzHandler(path, () => checkHealth(dialTarget, timeoutInMs)),
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
    server.forceClose();
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
          server.forceClose();
          resolve();
        }, shutdownTimeoutInMs);
        void server.close().then(() => {
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
