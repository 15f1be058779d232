/**
 * The Kubernetes side of standalone mode: the SecretProviderClass comes from the input file, the pod status
 * and the Secrets that `secretObjects` would create are printed instead of written, events are printed.
 */
import { randomUUID } from 'node:crypto';
import type { SecretProviderClass, SecretProviderClassPodStatus } from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { KubeAdapters, PodInfo } from '../kube/ports.js';

export function localKube(
  spc: SecretProviderClass,
  pod: { readonly name: string; readonly namespace: string; readonly uid: string },
  print: (line: string) => void,
): KubeAdapters {
  const statusUid = randomUUID();
  return {
    secretProviderClasses: {
      get(namespace, name) {
        if (namespace === spc.metadata.namespace && name === spc.metadata.name) return Promise.resolve(spc);
        return Promise.reject(
          new DriverError(
            driverErrorCodes.secretProviderClassNotFound,
            `secretproviderclasses.secrets-store.csi.x-k8s.io "${name}" not found`,
          ),
        );
      },
    },
    pods: {
      get(): Promise<PodInfo> {
        return Promise.resolve({ ...pod, ownerReferences: [] });
      },
    },
    podStatuses: {
      get: () => Promise.resolve(undefined),
      upsert(desired: SecretProviderClassPodStatus) {
        return Promise.resolve({ ...desired, metadata: { ...desired.metadata, uid: statusUid } });
      },
    },
    secrets: {
      apply(desired) {
        const keys = Object.entries(desired.data).map(([key, value]) => `${key} (${value.byteLength} bytes)`);
        print(`secret ${desired.namespace}/${desired.name} (${desired.type}) would hold: ${keys.join(', ')}`);
        return Promise.resolve('unchanged');
      },
    },
    events: {
      record(event) {
        print(`event ${event.type} ${event.reason}: ${event.message}`);
      },
    },
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}
