/**
 * gRPC status codes as Go names them (`codes.Code.String()`): the values of upstream's `grpc_code` metric
 * label, and the words of Go's status errors (`rpc error: code = Unknown desc = ...`) that users grep for in
 * kubelet events and logs.
 */
const goCodeNames: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

/** `Unknown` for 2; Go's `Code(<n>)` for a number outside the list. */
export function goCodeName(code: number): string {
  return goCodeNames[code] ?? `Code(${code})`;
}

/** A status error as Go's `status.Error(...).Error()` writes it. */
export function goStatusText(code: number, details: string): string {
  return `rpc error: code = ${goCodeName(code)} desc = ${details}`;
}
