/**
 * Pods as the driver sees them: a cache of this node's pods (field selector `spec.nodeName=<node>`) with a
 * direct read on a miss. A miss is normal for a pod just bound to the node, and a pod on another node is
 * still found by the direct read: `nodeName` tells the caller where it runs.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import type { OwnerReference } from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import { apiFailure, forbiddenError, isNotFound } from './api-errors.js';
import type { PodInfo, PodSource } from './ports.js';

export type PodsApi = Pick<CoreV1Api, 'readNamespacedPod'>;

interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    // client-node's typed reads turn timestamps into Date; watch events carry the JSON string.
    readonly deletionTimestamp?: Date | string;
    readonly ownerReferences?: readonly OwnerReference[];
  };
  readonly spec?: { readonly nodeName?: string; readonly serviceAccountName?: string };
  readonly status?: { readonly phase?: string };
}

/** Reads a pod from a typed client model or from raw watch JSON. */
export function toPodInfo(object: unknown): PodInfo {
  const pod = object as PodLike;
  const meta = pod.metadata;
  if (meta?.name === undefined || meta.namespace === undefined)
    throw new Error('pod without name or namespace');
  const deletion = meta.deletionTimestamp;
  return {
    name: meta.name,
    namespace: meta.namespace,
    uid: meta.uid ?? '',
    ...(pod.spec?.nodeName !== undefined && { nodeName: pod.spec.nodeName }),
    ...(pod.spec?.serviceAccountName !== undefined && { serviceAccountName: pod.spec.serviceAccountName }),
    ownerReferences: (meta.ownerReferences ?? []).map((o) => ({
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: o.name,
      uid: o.uid,
      ...(o.controller !== undefined && { controller: o.controller }),
      ...(o.blockOwnerDeletion !== undefined && { blockOwnerDeletion: o.blockOwnerDeletion }),
    })),
    ...(deletion !== undefined && {
      deletionTimestamp: deletion instanceof Date ? deletion.toISOString().replace('.000Z', 'Z') : deletion,
    }),
    ...(pod.status?.phase !== undefined && { phase: pod.status.phase }),
  };
}

export class KubePodSource implements PodSource {
  private readonly api: PodsApi;
  private readonly cache: { get(namespace: string, name: string): PodInfo | undefined };

  constructor(api: PodsApi, cache: { get(namespace: string, name: string): PodInfo | undefined }) {
    this.api = api;
    this.cache = cache;
  }

  async get(namespace: string, name: string): Promise<PodInfo | undefined> {
    const cached = this.cache.get(namespace, name);
    if (cached !== undefined) return cached;
    try {
      return toPodInfo(await this.api.readNamespacedPod({ name, namespace }));
    } catch (error) {
      const failure = apiFailure(error);
      if (isNotFound(failure)) return undefined;
      if (failure.status === 403) throw forbiddenError('get', 'pods', namespace, failure);
      throw new DriverError(
        driverErrorCodes.internal,
        `failed to get pod ${namespace}/${name}: ${failure.message}`,
        { cause: error },
      );
    }
  }
}
