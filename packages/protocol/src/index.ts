/**
 * The wire contracts both daemons speak, loaded once from the generated descriptor:
 * - `csi.v1` Identity, Node and Controller (the driver serves them to kubelet),
 * - `v1alpha1.CSIDriverProvider` (the driver calls it; providers serve it).
 * Message objects use the loader options in loader-options.json: snake_case field names, enums and
 * 64-bit integers as strings, defaults filled in, and a virtual field naming each set oneof.
 */
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
import { fromJSON, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { descriptorJson } from './generated/descriptor.js';
import { omitProto3Defaults } from './omit-defaults.js';
import type { ProtoGrpcType as CsiProtoGrpcType } from './generated/types/csi.js';
import type { ProtoGrpcType as ProviderProtoGrpcType } from './generated/types/service.js';
import loaderOptionsJson from './loader-options.json' with { type: 'json' };

/** The options every load of the contracts uses; the generator reads the same JSON file. */
export const loaderOptions: Readonly<Options> = Object.freeze({
  keepCase: loaderOptionsJson.keepCase,
  longs: loaderOptionsJson.longs === 'String' ? String : Number,
  enums: loaderOptionsJson.enums === 'String' ? String : undefined,
  defaults: loaderOptionsJson.defaults,
  oneofs: loaderOptionsJson.oneofs,
});

export { PROVIDER_API_VERSION, serviceNames } from './constants.js';

export type CsiV1 = CsiProtoGrpcType['csi']['v1'];
export type ProviderV1alpha1 = ProviderProtoGrpcType['v1alpha1'];

export interface Protocol {
  readonly packageDefinition: PackageDefinition;
  readonly csi: CsiV1;
  readonly provider: ProviderV1alpha1;
}

let loaded: Protocol | undefined;

/** Loads both contracts (once per process) and returns their gRPC constructors and service definitions. */
export function loadProtocol(): Protocol {
  if (loaded === undefined) {
    const packageDefinition = omitProto3Defaults(fromJSON(descriptorJson, loaderOptions), descriptorJson);
    const grpcObject = loadPackageDefinition(packageDefinition) as unknown as GrpcObject &
      CsiProtoGrpcType &
      ProviderProtoGrpcType;
    loaded = Object.freeze({
      packageDefinition,
      csi: grpcObject.csi.v1,
      provider: grpcObject.v1alpha1,
    });
  }
  return loaded;
}

export type * as csi from './csi-types.js';
export type * as provider from './provider-types.js';
export { goCodeName, goStatusText } from './constants.js';
