export { azureProviderFlags, createAzureProvider } from './app.js';
export {
  AzureProvider,
  PROVIDER_NAME,
  PROVIDER_VERSION,
  RUNTIME_NAME,
  type AzureProviderOptions,
  type Identities,
} from './provider.js';
export { azureErrorCodes, type AzureErrorCode } from './errors.js';
export type { AuthConfig, CloudEnvironment, KeyVaultObject, MountParameters } from './model.js';
