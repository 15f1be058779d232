/** The provider's names and version, in a module of their own so the process can start without the SDK. */
export const PROVIDER_NAME = 'azure';
export const PROVIDER_VERSION = '0.1.0';
export const RUNTIME_NAME = 'secrets-store-csi-driver-provider-azure';
