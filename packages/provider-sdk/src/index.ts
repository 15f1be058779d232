// Re-exported so that a provider package needs no other dependency than this SDK.
export { CodedError, isCodedError, type Logger } from '@secrets-store-csi/core';
export {
  runtimeNameOf,
  type AbsentObject,
  type MountOptions,
  type MountRequest,
  type MountResult,
  type MountedFile,
  type ObjectVersion,
  type SecretProvider,
} from './contract.js';
export {
  ProviderError,
  isProviderError,
  providerErrorKinds,
  sdkErrorCodes,
  type ProviderErrorKind,
  type SdkErrorCode,
} from './errors.js';
export {
  DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES,
  MAX_ABSENT_REASON_LENGTH,
  MAX_FILE_MODE,
  MAX_PATH_ELEMENT_LENGTH_IN_BYTES,
  MAX_PATH_LENGTH_IN_BYTES,
  MAX_RESPONSE_SIZE_FLAG,
  checkFileMode,
  checkFilePath,
  checkMountResult,
  responseTooLargeError,
} from './rules.js';
export {
  CoalescingCache,
  type CacheGetOptions,
  type CacheStats,
  type CoalescingCacheOptions,
} from './cache.js';
export { parseEndpoint, type Endpoint } from '@secrets-store-csi/core';
export {
  formatUsage,
  parseFlags,
  type FlagSpec,
  type FlagSpecs,
  type FlagValue,
  type FlagValues,
} from '@secrets-store-csi/core';
export {
  DEFAULT_SHUTDOWN_TIMEOUT_IN_MS,
  ERROR_CODE_METADATA_KEY,
  GRPC_REQUEST_BUCKETS,
  serve,
  type ProviderServer,
  type ServeOptions,
} from './serve.js';
export {
  runProvider,
  standardProviderFlags,
  type RunProviderOptions,
  type StandardFlagDefaults,
  type StandardFlagSpecs,
} from './run.js';
