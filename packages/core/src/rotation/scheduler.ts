/**
 * Decides when a mounted volume is due for a refresh from its provider. Pure: the caller passes the clock
 * reading (`nowMs`) and the state it keeps per volume, and gets answers; nothing here sets a timer.
 *
 * Upstream's model is kept: kubelet's republish calls are the trigger and the poll interval is the minimum
 * age before a refresh. Added, because users lack them:
 * - a per-SecretProviderClass interval (`intervalOverrideMs`), never below `minIntervalMs`;
 * - jitter: each volume's due time is pushed back by a stable share of its interval, derived from its id,
 *   so volumes mounted together do not refresh together;
 * - after failures, exponential backoff from `backoff.initialMs` up to `backoff.maxMs`, and a retry-after hint
 *   from the store (capped by `maxRetryAfterMs`) is honoured.
 * Times are milliseconds (epoch for instants).
 */

export interface RotationPolicy {
  /** The driver-wide interval (--rotation-poll-interval). */
  readonly pollIntervalMs: number;
  /** The shortest interval a per-class override may ask for. */
  readonly minIntervalMs: number;
  /** Up to this share of the interval (0 to 1) is added to each volume's due time. */
  readonly jitterRatio: number;
  readonly backoff: {
    readonly initialMs: number;
    readonly maxMs: number;
    readonly multiplier: number;
  };
  /** The longest retry-after hint honoured; longer hints are cut to this. */
  readonly maxRetryAfterMs: number;
}

export type RefreshOutcome =
  { readonly kind: 'success' } | { readonly kind: 'failure'; readonly retryAfterMs?: number };

export interface VolumeRotationState {
  /** Stable volume identity (for example the target path); it seeds the jitter. */
  readonly volumeId: string;
  /** When the last refresh (or first mount) was attempted; undefined when never. */
  readonly lastAttemptAtMs?: number;
  /** Failures since the last success. */
  readonly consecutiveFailures: number;
  /** The retry-after hint of the last failure, if the store gave one. */
  readonly retryAfterMs?: number;
  /** The SecretProviderClass's own interval, if it sets one. */
  readonly intervalOverrideMs?: number;
}

export interface RotationPlan {
  /** Volumes due now, in the order given. */
  readonly due: readonly string[];
  /** The earliest time a volume not due now becomes due; undefined when every volume is due. */
  readonly nextCheckAtMs: number | undefined;
}

export const defaultRotationPolicy: RotationPolicy = Object.freeze({
  pollIntervalMs: 120_000,
  minIntervalMs: 5_000,
  jitterRatio: 0.1,
  backoff: Object.freeze({ initialMs: 10_000, maxMs: 600_000, multiplier: 2 }),
  maxRetryAfterMs: 900_000,
});

/** Checks a policy once, where it is built (flags), so the functions below can trust it. */
export function validateRotationPolicy(policy: RotationPolicy): void {
  const problems: string[] = [];
  const positive = (value: number, name: string) => {
    if (!Number.isFinite(value) || value <= 0)
      problems.push(`${name} must be a positive number of milliseconds`);
  };
  positive(policy.pollIntervalMs, 'pollIntervalMs');
  positive(policy.minIntervalMs, 'minIntervalMs');
  positive(policy.backoff.initialMs, 'backoff.initialMs');
  positive(policy.backoff.maxMs, 'backoff.maxMs');
  positive(policy.maxRetryAfterMs, 'maxRetryAfterMs');
  if (!(policy.jitterRatio >= 0 && policy.jitterRatio <= 1))
    problems.push('jitterRatio must be between 0 and 1');
  if (!(policy.backoff.multiplier >= 1)) problems.push('backoff.multiplier must be at least 1');
  if (policy.backoff.maxMs < policy.backoff.initialMs)
    problems.push('backoff.maxMs must be at least backoff.initialMs');
  if (problems.length > 0) throw new RangeError(`invalid rotation policy: ${problems.join('; ')}`);
}

/** The interval that applies to a volume: its class's override, but never below the policy's floor. */
export function effectiveIntervalMs(state: VolumeRotationState, policy: RotationPolicy): number {
  return Math.max(state.intervalOverrideMs ?? policy.pollIntervalMs, policy.minIntervalMs);
}

/** A stable number in [0, 1) from the volume id (FNV-1a), so a volume keeps its place in the spread. */
export function jitterFraction(volumeId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < volumeId.length; i++) {
    hash ^= volumeId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 0x1_0000_0000;
}

/** The wait after the last attempt before a failed volume is tried again, before jitter. */
export function failureDelayMs(state: VolumeRotationState, policy: RotationPolicy): number {
  const { initialMs, maxMs, multiplier } = policy.backoff;
  const exponent = Math.max(0, state.consecutiveFailures - 1);
  const backoff = Math.min(maxMs, initialMs * multiplier ** exponent);
  const hint = Math.min(state.retryAfterMs ?? 0, policy.maxRetryAfterMs);
  return Math.max(backoff, hint);
}

/** When the volume is next due; a volume never attempted is due at once (its first mount). */
export function nextRefreshAtMs(state: VolumeRotationState, policy: RotationPolicy): number {
  if (state.lastAttemptAtMs === undefined) return Number.NEGATIVE_INFINITY;
  const base =
    state.consecutiveFailures > 0 ? failureDelayMs(state, policy) : effectiveIntervalMs(state, policy);
  return (
    state.lastAttemptAtMs + base + Math.floor(base * policy.jitterRatio * jitterFraction(state.volumeId))
  );
}

export function isDue(state: VolumeRotationState, nowMs: number, policy: RotationPolicy): boolean {
  return nowMs >= nextRefreshAtMs(state, policy);
}

/** Which volumes are due now, and when to look again for the rest. */
export function planRotation(
  states: Iterable<VolumeRotationState>,
  nowMs: number,
  policy: RotationPolicy,
): RotationPlan {
  const due: string[] = [];
  let nextCheckAtMs: number | undefined;
  for (const state of states) {
    const at = nextRefreshAtMs(state, policy);
    if (nowMs >= at) due.push(state.volumeId);
    else if (nextCheckAtMs === undefined || at < nextCheckAtMs) nextCheckAtMs = at;
  }
  return { due, nextCheckAtMs };
}

/** The state after an attempt at `nowMs` ended with `outcome`. */
export function recordRefresh(
  state: VolumeRotationState,
  outcome: RefreshOutcome,
  nowMs: number,
): VolumeRotationState {
  const { retryAfterMs: _previousHint, ...rest } = state;
  if (outcome.kind === 'success') return { ...rest, lastAttemptAtMs: nowMs, consecutiveFailures: 0 };
  return {
    ...rest,
    lastAttemptAtMs: nowMs,
    consecutiveFailures: state.consecutiveFailures + 1,
    ...(outcome.retryAfterMs !== undefined && { retryAfterMs: outcome.retryAfterMs }),
  };
}
