/**
 * Applies a volume's `secretObjects` to Kubernetes Secrets after a successful mount or refresh, from the
 * files the provider just returned (or read back from the volume when a legacy provider wrote them itself).
 * Upstream does this in a separate controller; doing it here means a rotated value reaches the Secret in the
 * same refresh. Owners are the pod's own owners, or the pod status for a bare pod, so garbage collection
 * removes the Secret with them. Failures never fail the mount: they become Warning events and metrics.
 */
import {
  API_VERSION_V1,
  SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
  timeSeconds,
  type Logger,
  type OwnerReference,
  type SecretProviderClass,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import type { KubeAdapters, PodRef } from '../kube/ports.js';
import type { DriverMetrics } from '../metrics.js';
import { buildDesiredSecrets } from '../sync/mapping.js';

export interface SecretSyncInput {
  readonly spc: SecretProviderClass;
  readonly pod: PodRef;
  readonly podStatus: SecretProviderClassPodStatus;
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** True for a refresh of a mounted volume: events use upstream's rotation reasons. */
  readonly rotation: boolean;
  /** Ours: the paths of absent optional objects (see buildDesiredSecrets). */
  readonly absentPaths?: ReadonlySet<string>;
}

export interface SecretSyncDeps {
  readonly kube: Pick<KubeAdapters, 'pods' | 'secrets' | 'events'>;
  readonly metrics: DriverMetrics;
  readonly logger: Logger;
}

export const syncEventReasons = {
  failedToCreateSecret: 'FailedToCreateSecret',
  secretRotationFailed: 'SecretRotationFailed',
  secretRotationComplete: 'SecretRotationComplete',
  secretNotManaged: 'SecretNotManaged',
} as const;

async function ownersOf(input: SecretSyncInput, deps: SecretSyncDeps): Promise<OwnerReference[]> {
  const pod = await deps.kube.pods.get(input.pod.namespace, input.pod.name);
  const podOwners = (pod?.ownerReferences ?? []).map(({ apiVersion, kind, name, uid }) => ({
    apiVersion,
    kind,
    name,
    uid,
  }));
  if (podOwners.length > 0) return podOwners;
  const { name, uid } = input.podStatus.metadata;
  if (uid === undefined) return [];
  return [{ apiVersion: API_VERSION_V1, kind: SECRET_PROVIDER_CLASS_POD_STATUS_KIND, name, uid }];
}

/** Returns the number of problems (0 when every Secret is as the SecretProviderClass says). */
export async function syncSecrets(input: SecretSyncInput, deps: SecretSyncDeps): Promise<number> {
  const secretObjects = input.spc.spec.secretObjects ?? [];
  if (secretObjects.length === 0) return 0;
  const { pod, spc } = input;
  const spcRef = `${spc.metadata.namespace}/${spc.metadata.name}`;
  const warn = (reason: string, message: string) => {
    deps.kube.events.record({ pod, type: 'Warning', reason, message });
  };
  const failureReason = input.rotation
    ? syncEventReasons.secretRotationFailed
    : syncEventReasons.failedToCreateSecret;
  let problems = 0;
  await timeSeconds(
    (seconds) => {
      deps.metrics.secretSyncDuration(seconds);
    },
    async () => {
      const {
        secrets,
        problems: mappingProblems,
        deferred,
      } = buildDesiredSecrets(spc, pod.namespace, input.files, input.absentPaths);
      for (const secretName of deferred ?? []) {
        deps.logger.info('secret sync deferred until its optional objects exist', {
          secret: secretName,
          namespace: pod.namespace,
        });
      }
      for (const problem of mappingProblems) {
        problems++;
        warn(
          failureReason,
          `failed to get data in spc ${spcRef} for secret ${problem.secretName}, err: ${problem.message}`,
        );
      }
      if (secrets.length === 0) return;
      const owners = await ownersOf(input, deps);
      for (const desired of secrets) {
        try {
          const outcome = await deps.kube.secrets.apply(desired, owners);
          if (outcome === 'notManaged') {
            problems++;
            warn(
              syncEventReasons.secretNotManaged,
              `secret ${desired.name} exists and is not managed by the driver (no label ` +
                `secrets-store.csi.k8s.io/managed=true); it was left unchanged. Delete it or rename the ` +
                `secretObject in spc ${spcRef}`,
            );
            continue;
          }
          if (outcome !== 'unchanged') deps.metrics.secretSynced(spc.spec.provider);
          if (input.rotation && outcome === 'updated') {
            deps.kube.events.record({
              pod,
              type: 'Normal',
              reason: syncEventReasons.secretRotationComplete,
              message: `successfully rotated K8s secret ${desired.name}`,
            });
          }
        } catch (error) {
          problems++;
          const message = error instanceof Error ? error.message : String(error);
          deps.logger.warn('failed to sync secret', {
            secret: desired.name,
            namespace: pod.namespace,
            error: message,
          });
          warn(failureReason, `failed to create or update secret ${desired.name}, err: ${message}`);
        }
      }
    },
  );
  return problems;
}
