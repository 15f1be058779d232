// Message and service types of the provider protocol (package v1alpha1). `X` is what a sender may pass;
// `X__Output` is what a receiver gets (defaults filled in).
export type {
  CSIDriverProviderClient,
  CSIDriverProviderHandlers,
} from './generated/types/v1alpha1/CSIDriverProvider.js';
export type { Error, Error__Output } from './generated/types/v1alpha1/Error.js';
export type { File, File__Output } from './generated/types/v1alpha1/File.js';
export type { MountRequest, MountRequest__Output } from './generated/types/v1alpha1/MountRequest.js';
export type { MountResponse, MountResponse__Output } from './generated/types/v1alpha1/MountResponse.js';
export type { ObjectVersion, ObjectVersion__Output } from './generated/types/v1alpha1/ObjectVersion.js';
export type { AbsentObject, AbsentObject__Output } from './generated/types/v1alpha1/AbsentObject.js';
export type { VersionRequest, VersionRequest__Output } from './generated/types/v1alpha1/VersionRequest.js';
export type { VersionResponse, VersionResponse__Output } from './generated/types/v1alpha1/VersionResponse.js';
