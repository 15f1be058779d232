/** A Kubernetes Secret as `spec.secretObjects[]` says it should be, built from the mounted files. */
export interface DesiredSecret {
  readonly name: string;
  readonly namespace: string;
  /** `Opaque`, `kubernetes.io/tls` or any other type string the SecretProviderClass names. */
  readonly type: string;
  /** The secretObject's labels plus `secrets-store.csi.k8s.io/managed: "true"`. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Data key to raw bytes (base64 encoding happens at the Kubernetes edge). */
  readonly data: Readonly<Record<string, Uint8Array>>;
}
