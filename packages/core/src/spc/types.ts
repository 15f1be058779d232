/**
 * The SecretProviderClass and SecretProviderClassPodStatus custom resources, v1 and v1alpha1. Both versions
 * share one shape (upstream's schemas differ only in v1alpha1's unused `status.byPod`), so one set of types
 * carries either, with `apiVersion` telling which.
 */
import type { API_VERSION_V1, API_VERSION_V1ALPHA1 } from './constants.js';

export type ApiVersion = typeof API_VERSION_V1 | typeof API_VERSION_V1ALPHA1;

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
}

/** One key of a synced Secret: the mounted file `objectName` becomes data key `key`. */
export interface SecretObjectData {
  readonly objectName: string;
  readonly key: string;
}

/** A Kubernetes Secret to create from mounted files (`spec.secretObjects[]`). */
export interface SecretObject {
  readonly secretName: string;
  readonly type: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly data: readonly SecretObjectData[];
}

export interface SecretProviderClassSpec {
  /** Provider name; the driver dials `<provider>.sock`. */
  readonly provider: string;
  /** Provider-specific parameters, passed to the provider as strings. */
  readonly parameters: Readonly<Record<string, string>>;
  readonly secretObjects?: readonly SecretObject[];
}

/** v1alpha1 only; never read or written by upstream or by us. */
export interface ByPodStatus {
  readonly id?: string;
  readonly namespace?: string;
}

export interface SecretProviderClass {
  readonly apiVersion: ApiVersion;
  readonly kind: 'SecretProviderClass';
  readonly metadata: ObjectMeta;
  readonly spec: SecretProviderClassSpec;
  readonly status?: { readonly byPod?: readonly ByPodStatus[] };
}

export interface SecretProviderClassObject {
  readonly id: string;
  readonly version: string;
}

/**
 * Our addition to the pod status (upstream records nothing when a mount or refresh fails): standard
 * Kubernetes conditions, such as `Mounted` and `Refreshed` with a reason and a message that says what to fix.
 * Upstream drivers ignore the field; our CRD declares it so the API server keeps it.
 */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface SecretProviderClassPodStatusStatus {
  readonly podName: string;
  readonly secretProviderClassName: string;
  readonly mounted: boolean;
  readonly targetPath: string;
  readonly objects: readonly SecretProviderClassObject[];
  readonly conditions?: readonly Condition[];
}

export interface SecretProviderClassPodStatus {
  readonly apiVersion: ApiVersion;
  readonly kind: 'SecretProviderClassPodStatus';
  readonly metadata: ObjectMeta;
  readonly status: SecretProviderClassPodStatusStatus;
}
