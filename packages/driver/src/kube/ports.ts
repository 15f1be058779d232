/**
 * The driver's narrow view of the Kubernetes API. The publish flow depends on these interfaces only;
 * `kube/client.ts` implements them over @kubernetes/client-node (informers filtered to this node with a
 * direct-read fallback), and `kube/fake.ts` keeps objects in memory for unit tests.
 */
import type {
  OwnerReference,
  SecretProviderClass,
  SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import type { DesiredSecret } from '../sync/desired-secret.js';

export interface PodInfo {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly nodeName?: string;
  readonly serviceAccountName?: string;
  /** The pod's own owners (ReplicaSet, StatefulSet, Job...): synced Secrets get copies of them. */
  readonly ownerReferences: readonly OwnerReference[];
  readonly deletionTimestamp?: string;
  readonly phase?: string;
}

export interface PodRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export interface SecretProviderClassSource {
  /**
   * The SecretProviderClass `namespace/name`, from the informer cache, falling back to a direct read.
   * Throws DriverError `SecretProviderClassNotFound` (message contains `not found`), `KubernetesForbidden`
   * (RBAC), or `SecretProviderClassInvalid` (the stored object does not parse).
   */
  get(namespace: string, name: string): Promise<SecretProviderClass>;
}

export interface PodSource {
  /** The pod from the node-filtered cache, falling back to a direct read; undefined when it does not exist. */
  get(namespace: string, name: string): Promise<PodInfo | undefined>;
}

export interface PodStatusStore {
  /** The stored SecretProviderClassPodStatus `namespace/name`, or undefined. */
  get(namespace: string, name: string): Promise<SecretProviderClassPodStatus | undefined>;
  /**
   * Creates the object, or when it exists replaces its node label, owner references and status (keeping other
   * labels), as upstream does; returns what the API server stored (its uid owns Secrets of bare pods).
   */
  upsert(desired: SecretProviderClassPodStatus): Promise<SecretProviderClassPodStatus>;
}

/**
 * What applying a desired Secret did: `unchanged` when data, type, labels, annotations and owners already
 * matched (no write); `notManaged` when a Secret of that name exists without the managed label (left alone).
 */
export type SecretApplyOutcome = 'created' | 'updated' | 'unchanged' | 'notManaged';

export interface SecretStore {
  /**
   * Creates the Secret with `owners`, or updates it keeping every owner reference it has and adding the
   * missing ones (matched by uid). Never touches a Secret without `secrets-store.csi.k8s.io/managed=true`.
   */
  apply(desired: DesiredSecret, owners: readonly OwnerReference[]): Promise<SecretApplyOutcome>;
}

export type EventType = 'Normal' | 'Warning';

export interface PodEvent {
  readonly pod: PodRef;
  readonly type: EventType;
  readonly reason: string;
  /** Never carries a secret value. */
  readonly message: string;
}

export interface EventRecorder {
  /** Best effort: never throws and never blocks the caller on the API server. */
  record(event: PodEvent): void;
}

/** Everything the driver needs from Kubernetes, as one bundle for wiring. */
export interface KubeAdapters {
  readonly secretProviderClasses: SecretProviderClassSource;
  readonly pods: PodSource;
  readonly podStatuses: PodStatusStore;
  readonly secrets: SecretStore;
  readonly events: EventRecorder;
  /** Starts the informers; resolves once their caches have synced or the timeout passed (reads fall back). */
  start(): Promise<void>;
  stop(): Promise<void>;
}
