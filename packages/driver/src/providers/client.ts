/**
 * The gRPC client of the provider protocol, the driver's only transport towards providers. One client per
 * provider socket, kept for the process lifetime as upstream does. Dialled as upstream dials: `unix:<path>`,
 * authority `localhost` (providers may refuse anything else), the receive limit of
 * `--max-call-recv-msg-size`, and UNAVAILABLE retried with backoff through the service config.
 */
import * as grpc from '@grpc/grpc-js';
import { PROVIDER_API_VERSION, goStatusText, serviceNames } from '@secrets-store-csi/protocol/constants';
import {
  providerServiceDefinition,
  type WireMountRequest,
  type WireMountResponse,
  type WireVersionResponse,
} from '@secrets-store-csi/protocol/wire';
import { errorCodeOf, type SecretProviderClassObject as ObjectVersion } from '@secrets-store-csi/core';
import { DriverError, ProviderCallError, driverErrorCodes } from '../errors.js';
import type { PayloadFile } from '../fs/payload.js';
import { findProviderSocket, type ProviderDirectories } from './discovery.js';

/**
 * Ours (MountResponse field 1000, which upstream's driver skips): an optional object the provider did not
 * mount because the store does not have it. Provider text, made safe here: one line, bounded.
 */
export interface AbsentObject {
  readonly id: string;
  /** The file path the object would have had. */
  readonly path: string;
  /** Why it is absent, naming the object and the store; never a value. */
  readonly reason: string;
}

export interface ProviderMountResult {
  /** Empty when the provider wrote the files itself (upstream's legacy mode). */
  readonly files: readonly PayloadFile[];
  readonly objectVersions: readonly ObjectVersion[];
  /** Set, non-empty, only when the provider reported absent optional objects. */
  readonly absentObjects?: readonly AbsentObject[];
}

/** The longest absent-object field the driver keeps; it ends up in events and conditions. */
const MAX_ABSENT_TEXT = 1024;

/** Untrusted provider text for an event or condition: control characters as spaces, bounded. */
function safeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, MAX_ABSENT_TEXT);
}

export interface ProviderVersion {
  readonly version: string;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
}

/** The seam the publish flow calls; `FakeProviderClients` stands in for it in unit tests. */
export interface ProviderClient {
  mount(request: WireMountRequest, options: { readonly deadline: Date }): Promise<ProviderMountResult>;
  version(options: { readonly deadline: Date }): Promise<ProviderVersion>;
}

export interface ProviderClients {
  /** The client of `provider`, found by socket; throws DriverError ProviderNotFound. */
  get(provider: string): Promise<ProviderClient>;
  /** Every client created so far, by provider name (for health checks). */
  cached(): ReadonlyMap<string, ProviderClient>;
  close(): void;
}

export interface GrpcProviderClientOptions {
  /** `--max-call-recv-msg-size`. */
  readonly maxReceiveMessageBytes: number;
}

/** Upstream's retry policy: 3 attempts, 1 s initial backoff up to 10 s, on UNAVAILABLE only. */
export const PROVIDER_SERVICE_CONFIG = JSON.stringify({
  methodConfig: [
    {
      name: [{ service: serviceNames.provider }],
      waitForReady: true,
      retryPolicy: {
        maxAttempts: 3,
        initialBackoff: '1s',
        maxBackoff: '10s',
        backoffMultiplier: 1.1,
        retryableStatusCodes: ['UNAVAILABLE'],
      },
    },
  ],
});

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'number';
}

/** grpc-js words an over-limit response as `Received message larger than max (N vs. M)`. */
function isReceiveLimitError(error: grpc.ServiceError): boolean {
  return error.code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/i.test(error.details);
}

export class GrpcProviderClient implements ProviderClient {
  readonly #provider: string;
  readonly #socketPath: string;
  readonly #limit: number;
  readonly #client: grpc.Client;

  constructor(provider: string, socketPath: string, options: GrpcProviderClientOptions) {
    this.#provider = provider;
    this.#socketPath = socketPath;
    this.#limit = options.maxReceiveMessageBytes;
    // A plain grpc-js client over the hand-written codecs of @secrets-store-csi/protocol/wire: the reflection
    // loader (proto-loader, full protobufjs, the descriptor) cost the driver about 2 MiB (66.6 to 64.5 MiB idle, interleaved bench runs) of RSS at idle.
    this.#client = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
      'grpc.service_config': PROVIDER_SERVICE_CONFIG,
      'grpc.enable_retries': 1,
    });
  }

  async mount(request: WireMountRequest, options: { readonly deadline: Date }): Promise<ProviderMountResult> {
    const method = providerServiceDefinition.Mount;
    type Answer = WireMountResponse & { readonly error?: { readonly code: string } };
    const response = await new Promise<Answer>((resolve, reject) => {
      this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        { deadline: options.deadline },
        (error, answer) => {
          if (error) reject(this.#callError(error));
          else if (answer === undefined) reject(this.#callError(new Error('empty response')));
          else resolve(answer);
        },
      );
    });
    const rawCode = response.error?.code ?? '';
    if (rawCode !== '') {
      // Untrusted text: made safe once, here, before it becomes metadata, an Event reason or a metric label.
      const errorCode = errorCodeOf(rawCode);
      throw new DriverError(errorCode, `mount request failed with provider error code ${errorCode}`);
    }
    const absentObjects = (response.absent_object ?? []).map(({ id, path, reason }) => ({
      id: safeText(id),
      path: safeText(path),
      reason: safeText(reason),
    }));
    // A mount whose every object is optional and absent has no object version; upstream's driver fails it.
    if (response.object_version.length === 0 && absentObjects.length === 0) {
      throw new DriverError(driverErrorCodes.grpcProviderError, 'missing object versions');
    }
    return {
      files: response.files.map((file) => ({ path: file.path, mode: file.mode, contents: file.contents })),
      objectVersions: response.object_version.map(({ id, version }) => ({ id, version })),
      ...(absentObjects.length > 0 && { absentObjects }),
    };
  }

  async version(options: { readonly deadline: Date }): Promise<ProviderVersion> {
    const method = providerServiceDefinition.Version;
    const response = await new Promise<WireVersionResponse>((resolve, reject) => {
      this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { version: PROVIDER_API_VERSION },
        { deadline: options.deadline },
        (error, answer) => {
          if (error) reject(this.#callError(error));
          else if (answer === undefined) reject(this.#callError(new Error('empty response')));
          else resolve(answer);
        },
      );
    });
    return {
      version: response.version,
      runtimeName: response.runtime_name,
      runtimeVersion: response.runtime_version,
    };
  }

  close(): void {
    this.#client.close();
  }

  #callError(error: Error): DriverError {
    if (!isServiceError(error)) {
      return new DriverError(driverErrorCodes.grpcProviderError, error.message, { cause: error });
    }
    if (isReceiveLimitError(error)) {
      return new DriverError(
        driverErrorCodes.providerResponseTooLarge,
        `the response of provider "${this.#provider}" is larger than the driver accepts (${this.#limit} bytes); ` +
          'raise --max-call-recv-msg-size, or mount fewer or smaller objects per volume',
        { cause: error },
      );
    }
    const text = goStatusText(error.code, error.details);
    const hint =
      error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED
        ? ` (provider "${this.#provider}" is not answering on ${this.#socketPath}; is it running?)`
        : '';
    return new ProviderCallError(error.code, `${text}${hint}`, { cause: error });
  }
}

/** Finds sockets and keeps one client per provider name. */
export class GrpcProviderClients implements ProviderClients {
  readonly #directories: ProviderDirectories;
  readonly #options: GrpcProviderClientOptions;
  readonly #clients = new Map<string, GrpcProviderClient>();

  constructor(directories: ProviderDirectories, options: GrpcProviderClientOptions) {
    this.#directories = directories;
    this.#options = options;
  }

  async get(provider: string): Promise<ProviderClient> {
    const existing = this.#clients.get(provider);
    if (existing !== undefined) return existing;
    const socketPath = await findProviderSocket(provider, this.#directories);
    const raced = this.#clients.get(provider);
    if (raced !== undefined) return raced;
    const client = new GrpcProviderClient(provider, socketPath, this.#options);
    this.#clients.set(provider, client);
    return client;
  }

  cached(): ReadonlyMap<string, ProviderClient> {
    return this.#clients;
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
