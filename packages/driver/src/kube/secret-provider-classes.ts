/**
 * SecretProviderClasses from a cluster-wide cache, read directly on a miss (the cache has not synced yet, or
 * the class was created a moment ago). Objects are parsed on every read, so a class that does not parse fails
 * the mount that uses it with the parser's message.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import {
  GROUP,
  parseSecretProviderClass,
  SECRET_PROVIDER_CLASS_PLURAL,
  type SecretProviderClass,
} from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import { apiFailure, forbiddenError, isNotFound } from './api-errors.js';
import type { SecretProviderClassSource } from './ports.js';

export type SecretProviderClassesApi = Pick<CustomObjectsApi, 'getNamespacedCustomObject'>;

export const SECRET_PROVIDER_CLASS_RESOURCE = `${SECRET_PROVIDER_CLASS_PLURAL}.${GROUP}`;

/**
 * Upstream's text: it reads classes from controller-runtime's cache, whose NotFound names the kind
 * (`SecretProviderClass.secrets-store.csi.x-k8s.io "x" not found`), not the API server's plural resource.
 */
export function secretProviderClassNotFoundMessage(name: string): string {
  return `SecretProviderClass.${GROUP} "${name}" not found`;
}

/** The API server's NotFound text for a class that does not exist (as opposed to a missing CRD). */
function apiServerNotFoundMessage(name: string): string {
  return `${SECRET_PROVIDER_CLASS_RESOURCE} "${name}" not found`;
}

export class KubeSecretProviderClassSource implements SecretProviderClassSource {
  private readonly api: SecretProviderClassesApi;
  private readonly cache: { get(namespace: string, name: string): unknown };

  constructor(api: SecretProviderClassesApi, cache: { get(namespace: string, name: string): unknown }) {
    this.api = api;
    this.cache = cache;
  }

  async get(namespace: string, name: string): Promise<SecretProviderClass> {
    const raw = this.cache.get(namespace, name) ?? (await this.read(namespace, name));
    try {
      return parseSecretProviderClass(raw);
    } catch (error) {
      throw new DriverError(
        driverErrorCodes.secretProviderClassInvalid,
        error instanceof Error ? error.message : String(error),
        { cause: error },
      );
    }
  }

  private async read(namespace: string, name: string): Promise<unknown> {
    try {
      return (await this.api.getNamespacedCustomObject({
        group: GROUP,
        version: 'v1',
        namespace,
        plural: SECRET_PROVIDER_CLASS_PLURAL,
        name,
      })) as unknown;
    } catch (error) {
      const failure = apiFailure(error);
      if (isNotFound(failure)) {
        const expected = secretProviderClassNotFoundMessage(name);
        // Anything else (such as "the server could not find the requested resource") means no CRD.
        const detail =
          failure.message === apiServerNotFoundMessage(name)
            ? ''
            : ` (${failure.message}: is the SecretProviderClass CRD installed?)`;
        throw new DriverError(driverErrorCodes.secretProviderClassNotFound, `${expected}${detail}`);
      }
      if (failure.status === 403)
        throw forbiddenError('get', SECRET_PROVIDER_CLASS_RESOURCE, namespace, failure);
      // Upstream reports every failed read of the class as SecretProviderClassNotFound (its error_type).
      throw new DriverError(
        driverErrorCodes.secretProviderClassNotFound,
        `failed to read ${SECRET_PROVIDER_CLASS_RESOURCE} "${name}": ${failure.message}`,
        { cause: error },
      );
    }
  }
}
