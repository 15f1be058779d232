export * from './errors.js';
export { formatDuration, parseDuration } from './duration.js';
export * from './spc/index.js';
export * from './rotation/index.js';
export * from './logging/index.js';
export * from './metrics/index.js';
export * from './cli/flags.js';
export * from './cli/endpoint.js';
export { goJsonStringMap } from './gojson.js';
export { HeapCompactor, compactHeap, type HeapCompactorOptions } from './heap-compactor.js';
export {
  errorCodeOf,
  statusText,
  MAX_ERROR_CODE_LENGTH,
  MAX_STATUS_TEXT_LENGTH,
  UNUSABLE_ERROR_CODE,
} from './untrusted.js';
