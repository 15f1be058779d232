/**
 * The CSI Node service: guard clauses in upstream's order and words, then a call into the publisher. The
 * only place besides status.ts that knows gRPC.
 */
import { status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { csi } from '@secrets-store-csi/protocol';
import type { PublishRequest, VolumePublisher } from '../publish/publisher.js';
import { internalError, statusError, toServiceError } from './status.js';

export interface NodeServiceConfig {
  /** `--nodeid`. */
  readonly nodeId: string;
  /** How long a publish may take when kubelet sets no deadline. */
  readonly defaultCallTimeoutMs: number;
}

const messages = {
  capabilityMissing: 'Volume capability missing in request',
  volumeIdMissing: 'Volume ID missing in request',
  targetPathMissing: 'Target path missing in request',
  volumeAttributesMissing: 'Volume attributes missing in request',
} as const;

/** Linux PATH_MAX and NAME_MAX, in bytes: a longer target path cannot be created or mounted. */
const MAX_TARGET_PATH_BYTES = 4096;
const MAX_TARGET_NAME_BYTES = 255;

/**
 * Why a target path cannot name a directory on this node, or undefined. Such a path is the caller's mistake
 * (InvalidArgument), not the driver's (the file system calls would throw and answer Internal).
 */
export function targetPathProblem(targetPath: string): string | undefined {
  if (targetPath.includes('\0')) return 'target path must not contain a NUL byte';
  if (Buffer.byteLength(targetPath) > MAX_TARGET_PATH_BYTES)
    return `target path must be at most ${MAX_TARGET_PATH_BYTES} bytes long`;
  if (targetPath.split('/').some((element) => Buffer.byteLength(element) > MAX_TARGET_NAME_BYTES))
    return `target path must not have an element longer than ${MAX_TARGET_NAME_BYTES} bytes`;
  return undefined;
}

/**
 * Answers an empty response when `work` succeeds, or its error mapped to a gRPC status. Nothing escapes as an
 * unhandled rejection: if mapping or sending the answer throws, the call gets INTERNAL instead.
 */
function answer(work: Promise<unknown>, callback: sendUnaryData<object>): void {
  work
    .then(
      () => {
        callback(null, {});
      },
      (error: unknown) => {
        callback(toServiceError(error));
      },
    )
    .catch((error: unknown) => {
      try {
        callback(internalError(error));
      } catch {
        // the call is gone; nothing left to answer
      }
    });
}

function deadlineOf(call: ServerUnaryCall<unknown, unknown>, fallbackMs: number): Date {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  if (typeof deadline === 'number' && Number.isFinite(deadline)) return new Date(deadline);
  return new Date(Date.now() + fallbackMs);
}

/** Kubelet sends no secrets as an empty map; Go sees a nil map there, and upstream sends `null`. */
function secretsOf(secrets: Readonly<Record<string, string>>): Readonly<Record<string, string>> | undefined {
  return Object.keys(secrets).length === 0 ? undefined : secrets;
}

export function nodeHandlers(config: NodeServiceConfig, publisher: VolumePublisher): csi.NodeHandlers {
  return {
    NodePublishVolume(call, callback: sendUnaryData<csi.NodePublishVolumeResponse>) {
      const req = call.request;
      if (req.volume_capability === null) {
        callback(statusError(status.INVALID_ARGUMENT, messages.capabilityMissing));
        return;
      }
      if (req.volume_id === '') {
        callback(statusError(status.INVALID_ARGUMENT, messages.volumeIdMissing));
        return;
      }
      if (req.target_path === '') {
        callback(statusError(status.INVALID_ARGUMENT, messages.targetPathMissing));
        return;
      }
      if (Object.keys(req.volume_context).length === 0) {
        callback(statusError(status.INVALID_ARGUMENT, messages.volumeAttributesMissing));
        return;
      }
      const problem = targetPathProblem(req.target_path);
      if (problem !== undefined) {
        callback(statusError(status.INVALID_ARGUMENT, problem));
        return;
      }
      const request: PublishRequest = {
        volumeId: req.volume_id,
        targetPath: req.target_path,
        readonly: req.readonly,
        volumeContext: req.volume_context,
        secrets: secretsOf(req.secrets),
        deadline: deadlineOf(call, config.defaultCallTimeoutMs),
      };
      answer(publisher.publish(request), callback);
    },

    NodeUnpublishVolume(call, callback: sendUnaryData<csi.NodeUnpublishVolumeResponse>) {
      const req = call.request;
      if (req.volume_id === '') {
        callback(statusError(status.INVALID_ARGUMENT, messages.volumeIdMissing));
        return;
      }
      if (req.target_path === '') {
        callback(statusError(status.INVALID_ARGUMENT, messages.targetPathMissing));
        return;
      }
      const problem = targetPathProblem(req.target_path);
      if (problem !== undefined) {
        callback(statusError(status.INVALID_ARGUMENT, problem));
        return;
      }
      answer(publisher.unpublish(req.target_path), callback);
    },

    NodeStageVolume(call, callback: sendUnaryData<csi.NodeStageVolumeResponse>) {
      const req = call.request;
      if (req.volume_id === '') callback(statusError(status.INVALID_ARGUMENT, messages.volumeIdMissing));
      else if (req.staging_target_path === '')
        callback(statusError(status.INVALID_ARGUMENT, messages.targetPathMissing));
      else if (req.volume_capability === null)
        callback(statusError(status.INVALID_ARGUMENT, messages.capabilityMissing));
      else callback(null, {});
    },

    NodeUnstageVolume(call, callback: sendUnaryData<csi.NodeUnstageVolumeResponse>) {
      const req = call.request;
      if (req.volume_id === '') callback(statusError(status.INVALID_ARGUMENT, messages.volumeIdMissing));
      else if (req.staging_target_path === '')
        callback(statusError(status.INVALID_ARGUMENT, messages.targetPathMissing));
      else callback(null, {});
    },

    NodeGetVolumeStats(_call, callback: sendUnaryData<csi.NodeGetVolumeStatsResponse>) {
      callback(statusError(status.UNIMPLEMENTED, ''));
    },

    NodeExpandVolume(_call, callback: sendUnaryData<csi.NodeExpandVolumeResponse>) {
      callback(statusError(status.UNIMPLEMENTED, 'NodeExpandVolume is not implemented'));
    },

    NodeGetCapabilities(_call, callback: sendUnaryData<csi.NodeGetCapabilitiesResponse>) {
      callback(null, { capabilities: [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }] });
    },

    NodeGetInfo(_call, callback: sendUnaryData<csi.NodeGetInfoResponse>) {
      callback(null, { node_id: config.nodeId });
    },
  };
}
