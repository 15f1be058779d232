/**
 * Ours (issue 16; docs/multi-vault-and-optional.md): the checks of an object's own `keyvaultName`, `tenantId`
 * and `cloudName` against the class, run right after upstream's checks of the same object so that every
 * upstream fault keeps its place. Vault names are checked later, with the class's (step 16, vaultUrl).
 *
 * - `tenantId` per object: for the identities that sign in to a tenant (service principal, workload identity,
 *   identity binding), the same identity asks that tenant for the token (a multi-tenant app registration, or a
 *   federated credential there). VM managed identity and pod identity get their token from the node or NMI,
 *   which knows one tenant only, so another tenant there is refused.
 * - `cloudName` per object: an identity signs in to one cloud (Entra ID instances are separate), so only the
 *   class's own cloud is accepted; a vault of another cloud needs a second volume and class.
 */
import { parameterError } from '../errors.js';
import type { AuthConfig, CloudEnvironment, KeyVaultObject } from '../model.js';

export interface ObjectSourceContext {
  /** The class's `cloudName` parameter as written ('' when unset). */
  readonly cloudName: string;
  readonly cloud: CloudEnvironment;
  readonly tenantId: string;
  readonly auth: AuthConfig;
}

function prefix(object: KeyVaultObject): string {
  return `failed to get objectType:${object.objectType}, objectName:${object.objectName}, objectVersion:${object.objectVersion}`;
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** @throws ProviderError InvalidParameter naming the object, the value and what to do instead. */
export function validateObjectSource(object: KeyVaultObject, context: ObjectSourceContext): void {
  const { cloudName, tenantId } = object;
  if (
    cloudName !== undefined &&
    !sameName(cloudName, context.cloud.name) &&
    !(context.cloudName !== '' && sameName(cloudName, context.cloudName))
  ) {
    throw parameterError(
      `${prefix(object)}: cloudName ${cloudName} differs from the class's cloud ${context.cloud.name}; ` +
        'the pod identity signs in to one cloud, so mount a vault of another cloud with a second volume and SecretProviderClass',
    );
  }
  if (
    tenantId !== undefined &&
    tenantId !== context.tenantId &&
    (context.auth.mode === 'vm-managed-identity' || context.auth.mode === 'pod-identity')
  ) {
    throw parameterError(
      `${prefix(object)}: tenantId ${tenantId} differs from the class's tenant ${context.tenantId}, but ${context.auth.mode} ` +
        'gets its token in one tenant only; a vault of another tenant needs a service principal, workload identity or identity binding',
    );
  }
}

/** Whether the class names a vault or tenant per object: then each of its errors names the vault. */
export function usesObjectSources(objects: readonly KeyVaultObject[]): boolean {
  return objects.some((object) => object.keyvaultName !== undefined || object.tenantId !== undefined);
}
