/** Names that must match upstream exactly: existing clusters, filtered watches and alerts depend on them. */
export const GROUP = 'secrets-store.csi.x-k8s.io';
export const API_VERSION_V1 = `${GROUP}/v1`;
export const API_VERSION_V1ALPHA1 = `${GROUP}/v1alpha1`;
export const SECRET_PROVIDER_CLASS_KIND = 'SecretProviderClass';
export const SECRET_PROVIDER_CLASS_POD_STATUS_KIND = 'SecretProviderClassPodStatus';
export const SECRET_PROVIDER_CLASS_PLURAL = 'secretproviderclasses';
export const SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL = 'secretproviderclasspodstatuses';

/** Label on every SecretProviderClassPodStatus: the node whose driver mounted the volume. */
export const NODE_NAME_LABEL = 'internal.secrets-store.csi.k8s.io/node-name';
/** Label on every Kubernetes Secret the driver syncs from `secretObjects`. */
export const MANAGED_SECRET_LABEL = 'secrets-store.csi.k8s.io/managed';
/** Label users put on nodePublishSecretRef Secrets. */
export const USED_SECRET_LABEL = 'secrets-store.csi.k8s.io/used';

/** Volume context and provider attribute keys set by kubelet (podInfoOnMount, tokenRequests). */
export const podAttributeKeys = {
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUid: 'csi.storage.k8s.io/pod.uid',
  serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
  serviceAccountTokens: 'csi.storage.k8s.io/serviceAccount.tokens',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
} as const;

/** Volume attribute naming the SecretProviderClass (pod spec `volumeAttributes.secretProviderClass`). */
export const SECRET_PROVIDER_CLASS_ATTRIBUTE = 'secretProviderClass';

/**
 * Our addition: an annotation on a SecretProviderClass that overrides the driver's rotation poll interval for
 * the volumes that use it (a Go duration such as "30s" or "1h"). Upstream has no per-class interval (#322).
 */
export const ROTATION_INTERVAL_ANNOTATION = 'rotation.secrets-store.csi.k8s.io/poll-interval';

/** Upstream's provider name rule; the name is also the socket file name. */
export const PROVIDER_NAME_PATTERN = /^[a-zA-Z0-9_-]{0,30}$/;
