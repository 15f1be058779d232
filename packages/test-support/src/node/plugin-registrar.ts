/**
 * A stand-in for node-driver-registrar (test infrastructure): it serves kubelet's plugin registration service
 * (`pluginregistration.Registration`, k8s.io/kubelet/pkg/apis/pluginregistration/v1) on
 * `<kubelet root>/plugins_registry/<driver>-reg.sock`, as the sidecar does in the driver's DaemonSet. Kubelet's
 * plugin watcher finds the socket, asks GetInfo for the driver's name and CSI endpoint, calls the driver's
 * NodeGetInfo itself and reports the outcome through NotifyRegistrationStatus.
 *
 * Why a stand-in: the Go module proxy reached from this workplace answers 403 for every version of
 * github.com/kubernetes-csi/node-driver-registrar, so it cannot be built here (docs/testing.md).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/** The wire schema of k8s.io/kubelet's pluginregistration API (package name, service and field numbers). */
const SCHEMA = `
syntax = "proto3";
package pluginregistration;
message PluginInfo {
  string type = 1;
  string name = 2;
  string endpoint = 3;
  repeated string supported_versions = 4;
}
message RegistrationStatus {
  bool plugin_registered = 1;
  string error = 2;
}
message RegistrationStatusResponse {}
message InfoRequest {}
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;

function codec<T extends object>(name: string) {
  const type = root.lookupType(`pluginregistration.${name}`);
  return {
    serialize: (value: T) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes: Buffer) =>
      type.toObject(type.decode(bytes), { defaults: true, arrays: true }) as unknown as T,
  };
}

interface PluginInfo {
  readonly type: string;
  readonly name: string;
  readonly endpoint: string;
  readonly supported_versions: readonly string[];
}

export interface RegistrationStatus {
  readonly plugin_registered: boolean;
  readonly error: string;
}

function method<Req extends object, Res extends object>(
  name: string,
  request: string,
  response: string,
): grpc.MethodDefinition<Req, Res> {
  const req = codec<Req>(request);
  const res = codec<Res>(response);
  return {
    path: `/pluginregistration.Registration/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
  };
}

const REGISTRATION_SERVICE = {
  GetInfo: method<object, PluginInfo>('GetInfo', 'InfoRequest', 'PluginInfo'),
  NotifyRegistrationStatus: method<RegistrationStatus, object>(
    'NotifyRegistrationStatus',
    'RegistrationStatus',
    'RegistrationStatusResponse',
  ),
} satisfies grpc.ServiceDefinition;

export interface PluginRegistrarOptions {
  /** Kubelet's plugin registration directory, `<kubelet root>/plugins_registry`. */
  readonly registrationDir: string;
  readonly driverName: string;
  /** The driver's socket path as kubelet reaches it (node-driver-registrar's `--kubelet-registration-path`). */
  readonly kubeletRegistrationPath: string;
}

export interface PluginRegistrar {
  readonly socketPath: string;
  /** Every status kubelet reported, oldest first. */
  readonly statuses: readonly RegistrationStatus[];
  /** Resolves when kubelet reports the plugin registered; rejects when it reports a failure. */
  readonly registered: Promise<void>;
  stop(): Promise<void>;
}

export async function startPluginRegistrar(options: PluginRegistrarOptions): Promise<PluginRegistrar> {
  const socketPath = join(options.registrationDir, `${options.driverName}-reg.sock`);
  await rm(socketPath, { force: true });
  const statuses: RegistrationStatus[] = [];
  let settle: { resolve: () => void; reject: (error: Error) => void } | undefined;
  const registered = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Kept from rejecting unobserved when a test never awaits it.
  registered.catch(() => undefined);

  const server = new grpc.Server();
  server.addService(REGISTRATION_SERVICE, {
    GetInfo: (_call: grpc.ServerUnaryCall<object, PluginInfo>, callback: grpc.sendUnaryData<PluginInfo>) => {
      callback(null, {
        type: 'CSIPlugin',
        name: options.driverName,
        endpoint: options.kubeletRegistrationPath,
        supported_versions: ['1.0.0'],
      });
    },
    NotifyRegistrationStatus: (
      call: grpc.ServerUnaryCall<RegistrationStatus, object>,
      callback: grpc.sendUnaryData<object>,
    ) => {
      statuses.push(call.request);
      if (call.request.plugin_registered) settle?.resolve();
      else settle?.reject(new Error(`kubelet refused the plugin registration: ${call.request.error}`));
      callback(null, {});
    },
  } satisfies grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
  return {
    socketPath,
    statuses,
    registered,
    async stop() {
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      });
      // Kubelet deregisters the plugin when its registration socket goes away.
      await rm(socketPath, { force: true });
    },
  };
}
