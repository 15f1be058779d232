/**
 * One Mount call without the transport: decode the request, ask the provider, check its answer against the
 * rules, build the wire response and check its size. Failures come out as coded errors whose message is
 * final (what the driver, and the pod's events, will show) and scrubbed of the request's secret values.
 */
import { CodedError, SecretValues, isSecretKey, silentLogger, type Logger } from '@secrets-store-csi/core';
import type { AbsentObject, MountRequest, ObjectVersion, SecretProvider } from './contract.js';
import { decodeMountRequest } from './decode.js';
import { ProviderError, isProviderError, sdkErrorCodes } from './errors.js';
import { SECRET_SYNC_SIZE_WARNING_IN_BYTES, checkMountResult, responseTooLargeError } from './rules.js';
import { encodeMountResponse, type WireMountRequest } from '@secrets-store-csi/protocol/wire';

export interface WireMountResponse {
  readonly object_version: ObjectVersion[];
  readonly files: { path: string; mode: number; contents: Uint8Array }[];
  /** Ours (field 1000): set only when the provider reports absent optional objects. */
  readonly absent_object?: AbsentObject[];
}

export interface HandleMountOptions {
  readonly abortSignal: AbortSignal;
  readonly maxResponseSizeInBytes: number;
  readonly logger?: Logger;
}

/** Upstream's providers put this in front of every mount failure. */
export const MOUNT_FAILED_PREFIX = 'failed to mount objects, error: ';

/** Bytes `response` takes on the wire, as the driver's receive limit counts them. */
export function measureMountResponse(response: WireMountResponse): number {
  return encodeMountResponse(response).length;
}

/** The secret values a request carries: the node-publish secrets and the attributes named like secrets. */
export function secretValuesOf(request: MountRequest): SecretValues {
  const values = new SecretValues();
  const collect = (value: unknown): void => {
    if (typeof value === 'string') values.add(value);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
  };
  Object.values(request.secrets).forEach(collect);
  for (const [key, value] of Object.entries(request.attributes)) {
    if (!isSecretKey(key)) continue;
    values.add(value);
    try {
      collect(JSON.parse(value));
    } catch {
      // not JSON: the whole value is already registered
    }
  }
  return values;
}

function mountFailure(error: unknown, secrets: SecretValues): CodedError {
  const message = secrets.redact(
    MOUNT_FAILED_PREFIX + (error instanceof Error ? error.message : String(error)),
  );
  return isProviderError(error)
    ? new ProviderError(error.kind, error.code, message, { cause: error })
    : new CodedError(sdkErrorCodes.mountFailed, message, { cause: error });
}

export async function handleMount(
  provider: SecretProvider,
  wire: WireMountRequest,
  options: HandleMountOptions,
): Promise<WireMountResponse> {
  const request = decodeMountRequest(wire);
  const secrets = secretValuesOf(request);
  try {
    const result = await provider.mount(request, {
      abortSignal: options.abortSignal,
      maxResponseSizeInBytes: options.maxResponseSizeInBytes,
    });
    checkMountResult(result);
    const response: WireMountResponse = {
      object_version: result.objectVersions.map(({ id, version }) => ({ id, version })),
      files: result.files.map(({ path, mode, contents }) => ({ path, mode, contents })),
      ...(result.absentObjects !== undefined &&
        result.absentObjects.length > 0 && {
          absent_object: result.absentObjects.map(({ id, path, reason }) => ({ id, path, reason })),
        }),
    };
    const size = measureMountResponse(response);
    if (size > options.maxResponseSizeInBytes) {
      throw responseTooLargeError('the mount response', size, options.maxResponseSizeInBytes);
    }
    if (size > SECRET_SYNC_SIZE_WARNING_IN_BYTES) {
      (options.logger ?? silentLogger).warn(
        'mount response above 1 MiB, syncing it to a Kubernetes Secret may fail',
        {
          sizeInBytes: size,
        },
      );
    }
    return response;
  } catch (error) {
    throw mountFailure(error, secrets);
  }
}
