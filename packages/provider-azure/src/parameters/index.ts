/** Parameter parsing of the Azure provider: everything a Mount reads from its request, checked in upstream's order. */
export {
  buildAuthConfig,
  parseServiceAccountToken,
  identityBindingAudience,
  workloadIdentityAudience,
} from './auth-config.js';
export type { AuthInput, IdentityModeName } from './auth-config.js';
export {
  azureChinaCloud,
  azureGermanCloud,
  azurePublicCloud,
  azureUSGovernmentCloud,
  cloudByName,
  environmentFilePathVariable,
  isAzureStackCloudName,
  isNamedCloud,
  lookupCloud,
  resolveCloud,
} from './clouds.js';
export type { ReadTextFile } from './clouds.js';
export { parseGoBool } from './go-text.js';
export { parseObject, parseObjects, readObjectTexts } from './objects.js';
export { ObjectsMemo } from './objects-memo.js';
export { usesObjectSources, validateObjectSource } from './object-source.js';
export type { ObjectSourceContext } from './object-source.js';
export { parameterKeys, parseMountParameters, vaultUrl } from './parameters.js';
export type { MountParametersInput, MountParametersOptions } from './parameters.js';
export { fileModeOf, fileNameOf, validateObject } from './validate.js';
