/**
 * Kubernetes Secrets synced from `spec.secretObjects`: created with the given owners, updated in place with a
 * resourceVersion (retried on Conflict), never touched without the managed label. No secret value reaches an
 * error or a log line: errors carry only the API server's Status message and the Secret's name.
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger, OwnerReference } from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { DesiredSecret } from '../sync/desired-secret.js';
import {
  apiFailure,
  CONFLICT_RETRIES,
  forbiddenError,
  isAlreadyExists,
  isConflict,
  isNotFound,
  type ApiFailure,
} from './api-errors.js';
import type { SecretApplyOutcome, SecretStore } from './ports.js';
import { encodeSecretData, planSecretUpdate } from './secret-plan.js';

/** Upstream's warning for a forbidden Secret operation (SyncSecretForbiddenWarning), word for word. */
export const SYNC_SECRET_FORBIDDEN_HINT =
  'The secret operation failed with forbidden error. If you installed the CSI driver using helm, ensure syncSecret.enabled=true is set.';

export type SecretsApi = Pick<
  CoreV1Api,
  'readNamespacedSecret' | 'createNamespacedSecret' | 'replaceNamespacedSecret'
>;

function secretFailure(verb: string, desired: DesiredSecret, failure: ApiFailure): DriverError {
  if (failure.status === 403) {
    return forbiddenError(verb, 'secrets', desired.namespace, failure, SYNC_SECRET_FORBIDDEN_HINT);
  }
  return new DriverError(
    driverErrorCodes.failedToCreateSecret,
    `failed to ${verb} secret ${desired.namespace}/${desired.name}: ${failure.message}`,
  );
}

export class KubeSecretStore implements SecretStore {
  private readonly api: SecretsApi;
  private readonly logger: Logger;

  constructor(api: SecretsApi, logger: Logger) {
    this.api = api;
    this.logger = logger;
  }

  async apply(desired: DesiredSecret, owners: readonly OwnerReference[]): Promise<SecretApplyOutcome> {
    const ref = { secret: `${desired.namespace}/${desired.name}` };
    for (let attempt = 0; ; attempt++) {
      const existing = await this.read(desired);
      const canRetry = attempt < CONFLICT_RETRIES;
      if (existing === undefined) {
        try {
          await this.api.createNamespacedSecret({
            namespace: desired.namespace,
            body: {
              metadata: {
                name: desired.name,
                namespace: desired.namespace,
                labels: { ...desired.labels },
                annotations: { ...desired.annotations },
                ...(owners.length > 0 && { ownerReferences: [...owners] }),
              },
              type: desired.type,
              data: encodeSecretData(desired.data),
            },
          });
          this.logger.info('created Kubernetes secret', ref);
          return 'created';
        } catch (error) {
          const failure = apiFailure(error);
          // Created by someone else since our read: read it again and update it.
          if (isAlreadyExists(failure) && canRetry) continue;
          throw secretFailure('create', desired, failure);
        }
      }
      const plan = planSecretUpdate(
        {
          name: desired.name,
          namespace: desired.namespace,
          ...(existing.type !== undefined && { type: existing.type }),
          ...(existing.metadata?.labels !== undefined && { labels: existing.metadata.labels }),
          ...(existing.metadata?.annotations !== undefined && { annotations: existing.metadata.annotations }),
          ...(existing.data !== undefined && { data: existing.data }),
          ...(existing.metadata?.ownerReferences !== undefined && {
            ownerReferences: existing.metadata.ownerReferences,
          }),
        },
        desired,
        owners,
      );
      if (plan.action === 'notManaged') {
        this.logger.debug('secret exists without the managed label; left alone', ref);
        return 'notManaged';
      }
      if (plan.action === 'unchanged') return 'unchanged';
      // The object just read is ours to change: everything we do not set (resourceVersion first) is kept.
      const body: V1Secret = existing;
      const metadata = body.metadata ?? {};
      metadata.labels = plan.labels;
      metadata.annotations = plan.annotations;
      metadata.ownerReferences = plan.ownerReferences;
      body.metadata = metadata;
      body.data = plan.data;
      try {
        await this.api.replaceNamespacedSecret({ name: desired.name, namespace: desired.namespace, body });
        this.logger.info('updated Kubernetes secret', ref);
        return 'updated';
      } catch (error) {
        const failure = apiFailure(error);
        if (isConflict(failure) && canRetry) {
          this.logger.debug('secret changed while we updated it; retrying', { ...ref, attempt });
          continue;
        }
        throw secretFailure('update', desired, failure);
      }
    }
  }

  private async read(desired: DesiredSecret): Promise<V1Secret | undefined> {
    try {
      return await this.api.readNamespacedSecret({ name: desired.name, namespace: desired.namespace });
    } catch (error) {
      const failure = apiFailure(error);
      if (isNotFound(failure)) return undefined;
      throw secretFailure('get', desired, failure);
    }
  }
}
