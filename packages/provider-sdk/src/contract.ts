/**
 * The contract a provider implements. It knows nothing of gRPC: `serve()` decodes the wire request into a
 * `MountRequest`, calls `mount`, checks the result against the rules every provider keeps and encodes it.
 */

/** One object the driver has mounted, or the provider has fetched, and its version. */
export interface ObjectVersion {
  /** Unique id of the object, for example `secret/db-password` or `file/db-password`. */
  readonly id: string;
  /** Its version; a change of version is what the driver sees as a rotation. */
  readonly version: string;
}

/**
 * Ours, not upstream's: an object the SecretProviderClass marks optional that the store does not have (not
 * found, or disabled). It gets no file and no object version; the driver records it in the pod status and a
 * Warning event, and mounts the rest. Sent in MountResponse field 1000, which upstream's driver skips.
 */
export interface AbsentObject {
  /** The id its object version would have, for example `secret/db-password`. */
  readonly id: string;
  /** The file path it would have been written to (clean and relative, as `MountedFile.path`). */
  readonly path: string;
  /** Why it is absent, naming the object and the store (vault); never a value. At most 1024 characters. */
  readonly reason: string;
}

export interface MountRequest {
  /**
   * The SecretProviderClass `spec.parameters` overlaid with the pod's volume attributes
   * (`csi.storage.k8s.io/pod.name`, `.../pod.namespace`, `.../pod.uid`, `.../serviceAccount.name`, and
   * `csi.storage.k8s.io/serviceAccount.tokens` when the CSIDriver requests tokens). The tokens are secrets:
   * never log or echo them.
   */
  readonly attributes: Readonly<Record<string, string>>;
  /** The node-publish secret (`nodePublishSecretRef`) data; empty when the pod names none. Never log it. */
  readonly secrets: Readonly<Record<string, string>>;
  /** The file mode to use when the SecretProviderClass sets none: 0o644 from upstream's driver. */
  readonly defaultFileMode: number;
  /** The objects the volume holds now; upstream's driver v1.6 always sends none. */
  readonly currentObjectVersions: readonly ObjectVersion[];
  /** The kubelet target path of the volume. The driver writes the files; providers must not. */
  readonly targetPath: string;
}

export interface MountOptions {
  /** Fires when the driver gives up on the call (deadline, cancellation) or the server is forced down. */
  readonly abortSignal: AbortSignal;
  /**
   * The largest response `serve()` will send. A provider may use it to refuse an oversized object before
   * reading it (see `responseTooLargeError`).
   */
  readonly maxResponseSizeInBytes: number;
}

export interface MountedFile {
  /** Relative, clean path inside the volume (`dir/name` is allowed); see `checkFilePath`. */
  readonly path: string;
  /** Permission bits, 0 to 0o777. */
  readonly mode: number;
  readonly contents: Uint8Array;
}

export interface MountResult {
  /** The whole content of the volume: the driver replaces what was there with exactly these files. */
  readonly files: readonly MountedFile[];
  /**
   * At least one entry, unless `absentObjects` has one: upstream's driver fails a mount that reports none
   * (`missing object versions`); ours accepts a mount whose every object is optional and absent.
   */
  readonly objectVersions: readonly ObjectVersion[];
  /** Optional objects the store does not have; omitted or empty when every object was mounted. */
  readonly absentObjects?: readonly AbsentObject[];
}

export interface SecretProvider {
  /**
   * Short name, as in the socket file name `<name>.sock` the driver dials and the SecretProviderClass
   * `spec.provider`: `azure`, `directory`. Also the `provider` label of metrics.
   */
  readonly name: string;
  /** `runtime_name` in the Version answer; `secrets-store-csi-driver-provider-<name>` when unset. */
  readonly runtimeName?: string;
  /** `runtime_version` in the Version answer; semver, for example `0.1.0`. */
  readonly version: string;
  /**
   * Fetches the objects the request names. Throw a `ProviderError` for an expected failure (bad parameter,
   * unknown object, store unavailable); any other error is reported as an unknown failure.
   */
  mount(request: MountRequest, options: MountOptions): Promise<MountResult>;
}

export function runtimeNameOf(provider: Pick<SecretProvider, 'name' | 'runtimeName'>): string {
  return provider.runtimeName ?? `secrets-store-csi-driver-provider-${provider.name}`;
}
