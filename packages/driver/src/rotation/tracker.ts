/**
 * What the driver remembers about each mounted volume between kubelet's republish calls, and the glue to the
 * core rotation scheduler: whether a republish is due for a refresh (interval, per-class override, jitter,
 * failure backoff), and which object versions are mounted (sent to the provider as
 * `current_object_version`). After a driver restart the memory is empty: the last write time of the volume
 * seeds the schedule, as upstream's mtime check does.
 */
import {
  defaultRotationPolicy,
  isDue,
  recordRefresh,
  type RefreshOutcome,
  type RotationPolicy,
  type VolumeRotationState,
} from '@secrets-store-csi/core';
import type {
  Condition,
  SecretProviderClassObject as ObjectVersion,
  SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';

export interface TrackedVolume {
  readonly rotation: VolumeRotationState;
  readonly provider: string;
  readonly objectVersions: readonly ObjectVersion[];
  readonly conditions: readonly Condition[];
  /** The pod status as last stored, to skip identical writes and to own Secrets of bare pods. */
  readonly podStatus?: SecretProviderClassPodStatus;
}

export class RotationTracker {
  readonly policy: RotationPolicy;
  readonly #volumes = new Map<string, TrackedVolume>();

  constructor(policy: RotationPolicy = defaultRotationPolicy) {
    this.policy = policy;
  }

  get(targetPath: string): TrackedVolume | undefined {
    return this.#volumes.get(targetPath);
  }

  /** Whether the mounted volume at `targetPath` should be refreshed now. */
  isDue(targetPath: string, nowMs: number, lastWriteAtMs: number | undefined): boolean {
    const tracked = this.#volumes.get(targetPath);
    const state: VolumeRotationState = tracked?.rotation ?? {
      volumeId: targetPath,
      consecutiveFailures: 0,
      ...(lastWriteAtMs !== undefined && { lastAttemptAtMs: lastWriteAtMs }),
    };
    return isDue(state, nowMs, this.policy);
  }

  /** Records an attempt's outcome; `base` fills in a volume not tracked yet. */
  record(
    targetPath: string,
    outcome: RefreshOutcome,
    nowMs: number,
    base: Omit<TrackedVolume, 'rotation'> & { readonly intervalOverrideMs?: number },
  ): void {
    const previous = this.#volumes.get(targetPath);
    const { intervalOverrideMs, ...rest } = base;
    // The class's override is taken afresh each time: an annotation removed since is forgotten.
    const { intervalOverrideMs: _previousOverride, ...rotation } = previous?.rotation ?? {
      volumeId: targetPath,
      consecutiveFailures: 0,
    };
    const next = recordRefresh(
      { ...rotation, ...(intervalOverrideMs !== undefined && { intervalOverrideMs }) },
      outcome,
      nowMs,
    );
    this.#volumes.set(targetPath, { ...previous, ...rest, rotation: next });
  }

  forget(targetPath: string): void {
    this.#volumes.delete(targetPath);
  }
}
