/**
 * `keyvault_request`, upstream's histogram of Key Vault calls, with its name, labels and buckets. One
 * deviation (docs/compatibility.md): the `error` label holds the error code (`Throttled`, `ObjectNotFound`…)
 * instead of the full error text, so its cardinality stays bounded; '' on success as upstream. Samples are
 * recorded for calls that reach Key Vault; answers from the provider's cache are not Key Vault requests.
 */
import { OS_TYPE, defineDurationHistogram } from '@secrets-store-csi/core';
import { GRPC_REQUEST_BUCKETS } from '@secrets-store-csi/provider-sdk';
import type { Histogram, Registry } from 'prom-client';

export const SERVICE_NAME = 'csi-secrets-store-provider-azure';

export interface KeyVaultRequestSample {
  readonly objectType: string;
  readonly objectName: string;
  /** The error code, '' on success. */
  readonly error: string;
  readonly seconds: number;
}

export type KeyVaultRequestRecorder = (sample: KeyVaultRequestSample) => void;

export function keyVaultRequestRecorder(registry: Registry): KeyVaultRequestRecorder {
  const histogram =
    (registry.getSingleMetric('keyvault_request') as Histogram | undefined) ??
    defineDurationHistogram(registry, {
      // Upstream's name, which has no unit suffix: dashboards query it as is.
      name: 'keyvault_request',
      upstreamNameWithoutUnit: true,
      help: 'Distribution of how long it took to get from keyvault',
      labelNames: ['object_type', 'object_name', 'error', 'provider', 'os_type', 'service_name'],
      buckets: GRPC_REQUEST_BUCKETS,
    });
  return (sample) => {
    histogram.observe(
      {
        object_type: sample.objectType,
        object_name: sample.objectName,
        error: sample.error,
        provider: 'azure',
        os_type: OS_TYPE,
        service_name: SERVICE_NAME,
      },
      sample.seconds,
    );
  };
}
