/** Authentication to Key Vault: one reusable credential per identity, and the identity keys. */
export {
  CachedCredential,
  CredentialCache,
  type CredentialCacheOptions,
  type CredentialOptions,
} from './credential-cache.js';
export {
  classifyCredentialError,
  tokenRecoveryHint,
  type ClassifiedCredentialError,
  type ThrottleContext,
} from './credential-errors.js';
export { identityKey, secretDigest } from './identity-key.js';
export {
  createTokenProxyHttpClient,
  defaultServiceAccountCaFile,
  defaultTokenProxyUrl,
  discoverSniName,
  rewriteToProxy,
  sniNameForCluster,
  validateTokenProxyUrl,
} from './identity-binding.js';
export { defaultNmiUrl, PodIdentityCredential, type PodIdentityCredentialOptions } from './pod-identity.js';
