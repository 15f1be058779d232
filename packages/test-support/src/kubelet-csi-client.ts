/**
 * A CSI client that dials a node plugin's socket as kubelet does: a `unix:` target, insecure credentials and
 * `:authority` `localhost` (kubelet's `grpc.WithAuthority("localhost")`, pkg/volume/csi/csi_client.go). Every
 * call resolves to an outcome (the answer, or the status it failed with); nothing throws for a gRPC error.
 */
import * as grpc from '@grpc/grpc-js';
import { goStatusText, loadProtocol, type csi } from '@secrets-store-csi/protocol';

/** A failed call: the gRPC status and the text kubelet would log for it. */
export interface CsiCallFailure {
  readonly ok: false;
  readonly code: grpc.status;
  /** The status code's name as grpc-js spells it, such as `INVALID_ARGUMENT`. */
  readonly codeName: string;
  readonly details: string;
  /** Go's rendering of the status error: `rpc error: code = InvalidArgument desc = <details>`. */
  readonly message: string;
}

/** The outcome of a call, for assertions: the answer, or the status it failed with. */
export type CsiCallOutcome<T> = { readonly ok: true; readonly response: T } | CsiCallFailure;

export interface CsiCallOptions {
  /** Absolute deadline; none by default. */
  readonly deadline?: Date | number;
}

export interface CsiNodeClientOptions {
  /** The `:authority` header; `localhost` by default, as kubelet sends. */
  readonly authority?: string;
}

/** The response of a successful outcome; throws with the status otherwise. For tests that expect success. */
export function mustSucceed<T>(outcome: CsiCallOutcome<T>): T {
  if (!outcome.ok) throw new Error(`CSI call failed: ${outcome.message}`);
  return outcome.response;
}

function outcome<T>(
  run: (options: grpc.CallOptions, callback: grpc.requestCallback<T>) => void,
  options: CsiCallOptions,
): Promise<CsiCallOutcome<T>> {
  return new Promise((resolve) => {
    const callOptions: grpc.CallOptions =
      options.deadline === undefined ? {} : { deadline: options.deadline };
    run(callOptions, (error, response) => {
      if (error) {
        resolve({
          ok: false,
          code: error.code,
          codeName: grpc.status[error.code],
          details: error.details,
          message: goStatusText(error.code, error.details),
        });
      } else {
        resolve({ ok: true, response: response as T });
      }
    });
  });
}

/**
 * `csi.v1.Identity` and `csi.v1.Node` over one channel to a plugin socket. Use it directly in tests, or let
 * {@link KubeletStandIn} use it (one short-lived client per call, as kubelet opens a connection per call).
 */
export class CsiNodeClient {
  /** The gRPC target dialled, such as `unix:/tmp/x/csi.sock`. */
  readonly target: string;
  readonly #identity: csi.IdentityClient;
  readonly #node: csi.NodeClient;

  /** `socket` is a socket path (`/...`) or a gRPC target (`unix:/...`). */
  constructor(socket: string, options: CsiNodeClientOptions = {}) {
    this.target = socket.startsWith('/') ? `unix:${socket}` : socket;
    const protocol = loadProtocol();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.default_authority': options.authority ?? 'localhost',
    };
    this.#identity = new protocol.csi.Identity(
      this.target,
      grpc.credentials.createInsecure(),
      channelOptions,
    );
    this.#node = new protocol.csi.Node(this.target, grpc.credentials.createInsecure(), {
      ...channelOptions,
      channelOverride: this.#identity.getChannel(),
    });
  }

  getPluginInfo(options: CsiCallOptions = {}): Promise<CsiCallOutcome<csi.GetPluginInfoResponse__Output>> {
    return outcome((o, callback) => this.#identity.GetPluginInfo({}, o, callback), options);
  }

  getPluginCapabilities(
    options: CsiCallOptions = {},
  ): Promise<CsiCallOutcome<csi.GetPluginCapabilitiesResponse__Output>> {
    return outcome((o, callback) => this.#identity.GetPluginCapabilities({}, o, callback), options);
  }

  probe(options: CsiCallOptions = {}): Promise<CsiCallOutcome<csi.ProbeResponse__Output>> {
    return outcome((o, callback) => this.#identity.Probe({}, o, callback), options);
  }

  getNodeInfo(options: CsiCallOptions = {}): Promise<CsiCallOutcome<csi.NodeGetInfoResponse__Output>> {
    return outcome((o, callback) => this.#node.NodeGetInfo({}, o, callback), options);
  }

  getNodeCapabilities(
    options: CsiCallOptions = {},
  ): Promise<CsiCallOutcome<csi.NodeGetCapabilitiesResponse__Output>> {
    return outcome((o, callback) => this.#node.NodeGetCapabilities({}, o, callback), options);
  }

  /** The node RPC types the plugin announces, such as `['SINGLE_NODE_MULTI_WRITER']`. */
  async getNodeCapabilityTypes(options: CsiCallOptions = {}): Promise<CsiCallOutcome<string[]>> {
    const answer = await this.getNodeCapabilities(options);
    if (!answer.ok) return answer;
    return {
      ok: true,
      response: answer.response.capabilities.flatMap((c) => (c.rpc ? [c.rpc.type] : [])),
    };
  }

  publish(
    request: csi.NodePublishVolumeRequest,
    options: CsiCallOptions = {},
  ): Promise<CsiCallOutcome<csi.NodePublishVolumeResponse__Output>> {
    return outcome((o, callback) => this.#node.NodePublishVolume(request, o, callback), options);
  }

  unpublish(
    request: csi.NodeUnpublishVolumeRequest,
    options: CsiCallOptions = {},
  ): Promise<CsiCallOutcome<csi.NodeUnpublishVolumeResponse__Output>> {
    return outcome((o, callback) => this.#node.NodeUnpublishVolume(request, o, callback), options);
  }

  getVolumeStats(
    request: csi.NodeGetVolumeStatsRequest,
    options: CsiCallOptions = {},
  ): Promise<CsiCallOutcome<csi.NodeGetVolumeStatsResponse__Output>> {
    return outcome((o, callback) => this.#node.NodeGetVolumeStats(request, o, callback), options);
  }

  /** Closes the channel. Safe to call twice. */
  close(): void {
    this.#identity.close();
  }
}
