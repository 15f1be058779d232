// Original file: proto/secrets-store/v1alpha1/service.proto


export interface AbsentObject {
  'id'?: (string);
  'path'?: (string);
  'reason'?: (string);
}

export interface AbsentObject__Output {
  'id': (string);
  'path': (string);
  'reason': (string);
}
