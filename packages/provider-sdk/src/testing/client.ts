/**
 * A provider-protocol client that dials exactly as the driver does: a `unix:` target, `:authority`
 * `localhost`, a 4 MiB receive limit, and the MountRequest JSON fields encoded as Go encodes them (keys
 * sorted, `secrets` `"null"` when there are none, `permission` the decimal mode such as `"420"`).
 */
import * as grpc from '@grpc/grpc-js';
import { loadProtocol, type provider as wire } from '@secrets-store-csi/protocol';
import type { ObjectVersion } from '../contract.js';
import { DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES } from '../rules.js';
import { ERROR_CODE_METADATA_KEY } from '../serve.js';

export interface ProviderClientOptions {
  /** The driver's `--max-call-recv-msg-size`; 4 MiB by default. */
  readonly maxReceiveMessageLengthInBytes?: number;
  /** `localhost` by default, as the driver sends. */
  readonly authority?: string;
}

/** The outcome of a call, for assertions: the answer, or the status it failed with. */
export type CallOutcome<T> =
  | { readonly ok: true; readonly response: T }
  | {
      readonly ok: false;
      readonly code: grpc.status;
      /** The status code's name, such as `INVALID_ARGUMENT`. */
      readonly codeName: string;
      readonly details: string;
      /** The provider's error code from trailing metadata, when it sent one. */
      readonly errorCode: string | undefined;
    };

export interface DriverMountInput {
  /** The SecretProviderClass parameters. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Volume context keys the driver adds (pod name, namespace, ...); override parameters of the same name. */
  readonly podAttributes?: Readonly<Record<string, string>>;
  /** The node-publish secret data; `null` (the default) is sent as `"null"`, as upstream's driver does. */
  readonly secrets?: Readonly<Record<string, string>> | null;
  /** The default file mode; 0o644 by default. */
  readonly permission?: number;
  readonly targetPath?: string;
  readonly currentObjectVersions?: readonly ObjectVersion[];
}

export const DEFAULT_POD_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({
  'csi.storage.k8s.io/ephemeral': 'true',
  'csi.storage.k8s.io/pod.name': 'conformance-pod',
  'csi.storage.k8s.io/pod.namespace': 'default',
  'csi.storage.k8s.io/pod.uid': '4c6f1b2a-8d2e-4f5b-9a63-0d6c1e2f3a4b',
  'csi.storage.k8s.io/serviceAccount.name': 'default',
  secretProviderClass: 'conformance',
});

/** Go's json.Marshal of a map[string]string: keys sorted. */
function goJson(map: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
}

/** The MountRequest the driver would send for `input`. */
export function driverMountRequest(input: DriverMountInput): wire.MountRequest {
  return {
    attributes: goJson({ ...input.parameters, ...(input.podAttributes ?? DEFAULT_POD_ATTRIBUTES) }),
    secrets: input.secrets == null ? 'null' : goJson(input.secrets),
    target_path:
      input.targetPath ??
      '/var/lib/kubelet/pods/4c6f1b2a/volumes/kubernetes.io~csi/secrets-store-inline/mount',
    permission: String(input.permission ?? 0o644),
    current_object_version: [...(input.currentObjectVersions ?? [])],
  };
}

function outcome<T>(run: (callback: grpc.requestCallback<T>) => void): Promise<CallOutcome<T>> {
  return new Promise((resolve) => {
    run((error, response) => {
      if (error) {
        const errorCode = error.metadata.get(ERROR_CODE_METADATA_KEY)[0];
        resolve({
          ok: false,
          code: error.code,
          codeName: grpc.status[error.code],
          details: error.details,
          errorCode: typeof errorCode === 'string' ? errorCode : undefined,
        });
      } else {
        resolve({ ok: true, response: response as T });
      }
    });
  });
}

export class ProviderClient {
  readonly #client: wire.CSIDriverProviderClient;

  /** `target` is a socket path or a gRPC target (`unix:/...`, `host:port`). */
  constructor(target: string, options: ProviderClientOptions = {}) {
    const address = target.startsWith('/') ? `unix:${target}` : target;
    this.#client = new (loadProtocol().provider.CSIDriverProvider)(
      address,
      grpc.credentials.createInsecure(),
      {
        'grpc.default_authority': options.authority ?? 'localhost',
        'grpc.max_receive_message_length':
          options.maxReceiveMessageLengthInBytes ?? DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES,
      },
    );
  }

  version(): Promise<CallOutcome<wire.VersionResponse__Output>> {
    return outcome((callback) => this.#client.Version({ version: 'v1alpha1' }, callback));
  }

  mount(
    request: wire.MountRequest,
    options: { readonly deadline?: Date } = {},
  ): Promise<CallOutcome<wire.MountResponse__Output>> {
    return outcome((callback) =>
      this.#client.Mount(request, { deadline: options.deadline ?? Infinity }, callback),
    );
  }

  /** Starts a mount and returns the call, to cancel it. */
  startMount(request: wire.MountRequest): {
    readonly call: grpc.ClientUnaryCall;
    readonly outcome: Promise<CallOutcome<wire.MountResponse__Output>>;
  } {
    const calls: grpc.ClientUnaryCall[] = [];
    const result = outcome<wire.MountResponse__Output>((callback) => {
      calls.push(this.#client.Mount(request, callback));
    });
    const [call] = calls; // the promise executor ran synchronously
    if (call === undefined) throw new Error('the mount call did not start');
    return { call, outcome: result };
  }

  close(): void {
    this.#client.close();
  }
}
