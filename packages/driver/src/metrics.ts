/**
 * The driver's metrics, with upstream's exposed names and labels so existing dashboards and alerts work:
 * counters `node_publish_total`, `node_publish_error_total`, `node_unpublish_total`,
 * `node_unpublish_error_total`, `rotation_reconcile_total`, `rotation_reconcile_error_total`,
 * `sync_k8s_secret_total`, histograms `rotation_reconcile_duration_sec` and `k8s_secret_duration_sec`
 * (upstream declares the two sync metrics but never records them; we do).
 */
import {
  OS_TYPE,
  UPSTREAM_DRIVER_BUCKETS,
  createMetricsRegistry,
  defineCounter,
  errorCodeOf,
  defineDurationHistogram,
} from '@secrets-store-csi/core';
import type { Registry } from 'prom-client';

export class DriverMetrics {
  readonly registry: Registry;
  readonly #publish;
  readonly #publishError;
  readonly #unpublish;
  readonly #unpublishError;
  readonly #rotation;
  readonly #rotationError;
  readonly #rotationDuration;
  readonly #sync;
  readonly #syncDuration;

  constructor(registry: Registry = createMetricsRegistry()) {
    this.registry = registry;
    this.#publish = defineCounter(registry, {
      name: 'node_publish_total',
      help: 'Total number of successful NodePublishVolume calls',
      labelNames: ['provider', 'os_type'],
    });
    this.#publishError = defineCounter(registry, {
      name: 'node_publish_error_total',
      help: 'Total number of failed NodePublishVolume calls, including failed refreshes answered with success',
      labelNames: ['provider', 'error_type', 'os_type'],
    });
    this.#unpublish = defineCounter(registry, {
      name: 'node_unpublish_total',
      help: 'Total number of successful NodeUnpublishVolume calls',
      labelNames: ['os_type'],
    });
    this.#unpublishError = defineCounter(registry, {
      name: 'node_unpublish_error_total',
      help: 'Total number of failed NodeUnpublishVolume calls',
      labelNames: ['os_type'],
    });
    this.#rotation = defineCounter(registry, {
      name: 'rotation_reconcile_total',
      help: 'Total number of successful refreshes of mounted volumes',
      labelNames: ['provider', 'os_type', 'rotated'],
    });
    this.#rotationError = defineCounter(registry, {
      name: 'rotation_reconcile_error_total',
      help: 'Total number of failed refreshes of mounted volumes',
      labelNames: ['provider', 'error_type', 'os_type', 'rotated'],
    });
    this.#rotationDuration = defineDurationHistogram(registry, {
      name: 'rotation_reconcile_duration_sec',
      help: 'Duration of successful refreshes of mounted volumes, in seconds',
      labelNames: ['os_type'],
      buckets: UPSTREAM_DRIVER_BUCKETS,
    });
    this.#sync = defineCounter(registry, {
      name: 'sync_k8s_secret_total',
      help: 'Total number of Kubernetes Secrets created or updated from mounted content',
      labelNames: ['provider', 'os_type'],
    });
    this.#syncDuration = defineDurationHistogram(registry, {
      name: 'k8s_secret_duration_sec',
      help: 'Duration of syncing the Kubernetes Secrets of one volume, in seconds',
      labelNames: ['os_type'],
      buckets: UPSTREAM_DRIVER_BUCKETS,
    });
  }

  publishSucceeded(provider: string): void {
    this.#publish.inc({ provider, os_type: OS_TYPE });
  }

  publishFailed(provider: string, errorType: string): void {
    this.#publishError.inc({ provider, error_type: errorCodeOf(errorType), os_type: OS_TYPE });
  }

  unpublishSucceeded(): void {
    this.#unpublish.inc({ os_type: OS_TYPE });
  }

  unpublishFailed(): void {
    this.#unpublishError.inc({ os_type: OS_TYPE });
  }

  rotationSucceeded(provider: string, seconds: number): void {
    this.#rotation.inc({ provider, os_type: OS_TYPE, rotated: 'true' });
    this.#rotationDuration.observe({ os_type: OS_TYPE }, seconds);
  }

  rotationFailed(provider: string, errorType: string): void {
    this.#rotationError.inc({
      provider,
      error_type: errorCodeOf(errorType),
      os_type: OS_TYPE,
      rotated: 'true',
    });
  }

  secretSynced(provider: string): void {
    this.#sync.inc({ provider, os_type: OS_TYPE });
  }

  secretSyncDuration(seconds: number): void {
    this.#syncDuration.observe({ os_type: OS_TYPE }, seconds);
  }
}
