export { DirectoryProvider, PROVIDER_NAME, PROVIDER_VERSION, directoryErrorCodes } from './provider.js';
export { parameterErrorCodes, parseObjects, type DirectoryObject } from './parameters.js';
export { directoryProviderFlags } from './flags.js';
