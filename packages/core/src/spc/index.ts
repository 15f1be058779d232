export * from './constants.js';
export type * from './types.js';
export {
  InvalidObjectError,
  parseSecretProviderClass,
  parseSecretProviderClassPodStatus,
  rotationIntervalOverride,
  type ValidationIssue,
} from './parse.js';
export { podStatusName, sortObjectVersions } from './names.js';
