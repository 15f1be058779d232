import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbsentObject as _v1alpha1_AbsentObject, AbsentObject__Output as _v1alpha1_AbsentObject__Output } from './v1alpha1/AbsentObject.js';
import type { CSIDriverProviderClient as _v1alpha1_CSIDriverProviderClient, CSIDriverProviderDefinition as _v1alpha1_CSIDriverProviderDefinition } from './v1alpha1/CSIDriverProvider.js';
import type { Error as _v1alpha1_Error, Error__Output as _v1alpha1_Error__Output } from './v1alpha1/Error.js';
import type { File as _v1alpha1_File, File__Output as _v1alpha1_File__Output } from './v1alpha1/File.js';
import type { MountRequest as _v1alpha1_MountRequest, MountRequest__Output as _v1alpha1_MountRequest__Output } from './v1alpha1/MountRequest.js';
import type { MountResponse as _v1alpha1_MountResponse, MountResponse__Output as _v1alpha1_MountResponse__Output } from './v1alpha1/MountResponse.js';
import type { ObjectVersion as _v1alpha1_ObjectVersion, ObjectVersion__Output as _v1alpha1_ObjectVersion__Output } from './v1alpha1/ObjectVersion.js';
import type { VersionRequest as _v1alpha1_VersionRequest, VersionRequest__Output as _v1alpha1_VersionRequest__Output } from './v1alpha1/VersionRequest.js';
import type { VersionResponse as _v1alpha1_VersionResponse, VersionResponse__Output as _v1alpha1_VersionResponse__Output } from './v1alpha1/VersionResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  v1alpha1: {
    AbsentObject: MessageTypeDefinition<_v1alpha1_AbsentObject, _v1alpha1_AbsentObject__Output>
    CSIDriverProvider: SubtypeConstructor<typeof grpc.Client, _v1alpha1_CSIDriverProviderClient> & { service: _v1alpha1_CSIDriverProviderDefinition }
    Error: MessageTypeDefinition<_v1alpha1_Error, _v1alpha1_Error__Output>
    File: MessageTypeDefinition<_v1alpha1_File, _v1alpha1_File__Output>
    MountRequest: MessageTypeDefinition<_v1alpha1_MountRequest, _v1alpha1_MountRequest__Output>
    MountResponse: MessageTypeDefinition<_v1alpha1_MountResponse, _v1alpha1_MountResponse__Output>
    ObjectVersion: MessageTypeDefinition<_v1alpha1_ObjectVersion, _v1alpha1_ObjectVersion__Output>
    VersionRequest: MessageTypeDefinition<_v1alpha1_VersionRequest, _v1alpha1_VersionRequest__Output>
    VersionResponse: MessageTypeDefinition<_v1alpha1_VersionResponse, _v1alpha1_VersionResponse__Output>
  }
}

