// Original file: proto/secrets-store/v1alpha1/service.proto


export interface VersionRequest {
  'version'?: (string);
}

export interface VersionRequest__Output {
  'version': (string);
}
