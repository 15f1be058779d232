/**
 * Keys that name an identity: one for the credential cache (which credential instance, and so which
 * in-memory MSAL token cache, serves a mount) and one for the provider's content cache (which mounts may
 * share fetched Key Vault content). Secrets are folded in through a keyed hash with a per-process random key,
 * so a key never carries a raw secret or token and cannot be checked offline against guessed secrets.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AuthConfig, CloudEnvironment } from '../model.js';

const processKey = randomBytes(32);

/** A keyed SHA-256 (HMAC) of a secret, hex; equal inputs give equal outputs within this process only. */
export function secretDigest(secret: string): string {
  return createHmac('sha256', processKey).update(secret, 'utf8').digest('hex');
}

/** The tenant that a mode authenticates in, or '' when the mode does not use one (managed and pod identity). */
export function tenantOf(auth: AuthConfig, tenantFromParams: string): string {
  switch (auth.mode) {
    case 'service-principal':
    case 'workload-identity':
    case 'identity-binding':
      return auth.tenantId !== '' ? auth.tenantId : tenantFromParams;
    case 'vm-managed-identity':
    case 'pod-identity':
      return '';
  }
}

/**
 * Everything that decides what Key Vault lets this identity read, as one string:
 * - service principal: tenant, client ID and a digest of the client secret (a rotated secret is another key);
 * - VM managed identity: the user-assigned client ID, or system-assigned;
 * - workload identity and identity binding: tenant, client ID and `subject` (the provider passes
 *   `<namespace>/<serviceAccountName>`, the federated subject); the service-account token itself is left out,
 *   because a fresh one comes with every mount of the same service account;
 * - pod identity: the pod's namespace and name (NMI decides per pod).
 * Never contains a raw secret or token.
 */
export function identityKey(auth: AuthConfig, subject: string): string {
  switch (auth.mode) {
    case 'service-principal':
      return JSON.stringify([auth.mode, auth.tenantId, auth.clientId, secretDigest(auth.clientSecret)]);
    case 'vm-managed-identity':
      return JSON.stringify([auth.mode, auth.userAssignedIdentityId ?? '']);
    case 'workload-identity':
    case 'identity-binding':
      return JSON.stringify([auth.mode, auth.tenantId, auth.clientId, subject]);
    case 'pod-identity':
      return JSON.stringify([auth.mode, auth.podNamespace, auth.podName]);
  }
}

/**
 * The credential cache's key: the identity key plus what decides how the token is fetched (the cloud's
 * authority host or Key Vault resource, and the tenant from the parameters where the mode has none of its own).
 */
export function credentialKey(
  auth: AuthConfig,
  cloud: CloudEnvironment,
  tenantFromParams: string,
  subject: string,
): string {
  switch (auth.mode) {
    case 'service-principal':
      return JSON.stringify([
        auth.mode,
        cloud.activeDirectoryEndpoint,
        tenantOf(auth, tenantFromParams),
        auth.clientId,
        secretDigest(auth.clientSecret),
      ]);
    case 'workload-identity':
    case 'identity-binding':
      return JSON.stringify([
        auth.mode,
        cloud.activeDirectoryEndpoint,
        tenantOf(auth, tenantFromParams),
        auth.clientId,
        subject,
      ]);
    case 'vm-managed-identity':
      return identityKey(auth, subject);
    case 'pod-identity':
      return JSON.stringify([auth.mode, cloud.keyVaultEndpoint, auth.podNamespace, auth.podName]);
  }
}
