import { expect } from 'chai';
import fc from 'fast-check';
import {
  defaultRotationPolicy,
  effectiveIntervalMs,
  failureDelayMs,
  isDue,
  jitterFraction,
  nextRefreshAtMs,
  planRotation,
  recordRefresh,
  validateRotationPolicy,
  type RotationPolicy,
  type VolumeRotationState,
} from '../../../src/rotation/index.js';

const MINUTE = 60_000;

const policyArb: fc.Arbitrary<RotationPolicy> = fc
  .record({
    pollIntervalMs: fc.integer({ min: 1_000, max: 3_600_000 }),
    minIntervalMs: fc.integer({ min: 1, max: 60_000 }),
    jitterRatio: fc.double({ min: 0, max: 1, noNaN: true }),
    initialMs: fc.integer({ min: 1, max: 120_000 }),
    extraMaxMs: fc.integer({ min: 0, max: 3_600_000 }),
    multiplier: fc.double({ min: 1, max: 10, noNaN: true }),
    maxRetryAfterMs: fc.integer({ min: 1, max: 3_600_000 }),
  })
  .map((p) => ({
    pollIntervalMs: p.pollIntervalMs,
    minIntervalMs: p.minIntervalMs,
    jitterRatio: p.jitterRatio,
    backoff: { initialMs: p.initialMs, maxMs: p.initialMs + p.extraMaxMs, multiplier: p.multiplier },
    maxRetryAfterMs: p.maxRetryAfterMs,
  }));

const stateArb: fc.Arbitrary<VolumeRotationState> = fc.record(
  {
    volumeId: fc.string({ minLength: 1, maxLength: 80 }),
    lastAttemptAtMs: fc.integer({ min: 0, max: 2 ** 42 }),
    consecutiveFailures: fc.integer({ min: 0, max: 60 }),
    retryAfterMs: fc.integer({ min: 0, max: 7_200_000 }),
    intervalOverrideMs: fc.integer({ min: 1, max: 7_200_000 }),
  },
  { requiredKeys: ['volumeId', 'lastAttemptAtMs', 'consecutiveFailures'] },
);

const successState = stateArb.map((s) => ({ ...s, consecutiveFailures: 0 }));
const failedState = stateArb.map((s) => ({ ...s, consecutiveFailures: Math.max(1, s.consecutiveFailures) }));

describe('rotation scheduler', () => {
  describe('properties', () => {
    it('is never due before its interval after a success', () => {
      fc.assert(
        fc.property(
          policyArb,
          successState,
          fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
          (policy, state, f) => {
            const interval = effectiveIntervalMs(state, policy);
            const now = (state.lastAttemptAtMs ?? 0) + Math.floor(interval * f);
            expect(isDue(state, now, policy)).to.equal(false);
          },
        ),
      );
    });

    it('is never starved: due by the interval plus its full jitter share', () => {
      fc.assert(
        fc.property(policyArb, successState, (policy, state) => {
          const interval = effectiveIntervalMs(state, policy);
          const latest = (state.lastAttemptAtMs ?? 0) + interval + Math.ceil(interval * policy.jitterRatio);
          expect(isDue(state, latest, policy)).to.equal(true);
        }),
      );
    });

    it('never lets an override go below the floor, and uses the global interval without one', () => {
      fc.assert(
        fc.property(policyArb, successState, (policy, state) => {
          const interval = effectiveIntervalMs(state, policy);
          expect(interval).to.be.at.least(policy.minIntervalMs);
          const { intervalOverrideMs: _o, ...withoutOverride } = state;
          expect(effectiveIntervalMs(withoutOverride, policy)).to.equal(
            Math.max(policy.pollIntervalMs, policy.minIntervalMs),
          );
        }),
      );
    });

    it('bounds backoff by the cap (and a capped retry-after hint), jitter included', () => {
      fc.assert(
        fc.property(policyArb, failedState, (policy, state) => {
          const delay = failureDelayMs(state, policy);
          const cap = Math.max(
            policy.backoff.maxMs,
            Math.min(state.retryAfterMs ?? 0, policy.maxRetryAfterMs),
          );
          expect(delay).to.be.at.most(cap);
          expect(delay).to.be.at.least(Math.min(policy.backoff.initialMs, policy.backoff.maxMs));
          const wait = nextRefreshAtMs(state, policy) - (state.lastAttemptAtMs ?? 0);
          expect(wait).to.be.at.most(cap * (1 + policy.jitterRatio));
        }),
      );
    });

    it('backs off more (or as much) with each further failure', () => {
      fc.assert(
        fc.property(policyArb, failedState, (policy, state) => {
          const next = { ...state, consecutiveFailures: state.consecutiveFailures + 1 };
          expect(failureDelayMs(next, policy)).to.be.at.least(failureDelayMs(state, policy));
        }),
      );
    });

    it('honours a retry-after hint up to the cap: not due before it', () => {
      fc.assert(
        fc.property(policyArb, failedState, fc.integer({ min: 1, max: 3_600_000 }), (policy, state, hint) => {
          const withHint = { ...state, retryAfterMs: hint };
          const honoured = Math.min(hint, policy.maxRetryAfterMs);
          expect(isDue(withHint, (state.lastAttemptAtMs ?? 0) + honoured - 1, policy)).to.equal(false);
        }),
      );
    });

    it('plans exactly the due volumes and the earliest next check in the future', () => {
      fc.assert(
        fc.property(
          policyArb,
          fc.array(stateArb, { maxLength: 30 }),
          fc.integer({ min: 0, max: 2 ** 42 }),
          (policy, states, now) => {
            const plan = planRotation(states, now, policy);
            expect(plan.due).to.deep.equal(
              states.filter((s) => isDue(s, now, policy)).map((s) => s.volumeId),
            );
            const waiting = states
              .filter((s) => !isDue(s, now, policy))
              .map((s) => nextRefreshAtMs(s, policy));
            if (waiting.length === 0) expect(plan.nextCheckAtMs).to.equal(undefined);
            else {
              expect(plan.nextCheckAtMs).to.equal(Math.min(...waiting));
              expect(plan.nextCheckAtMs).to.be.greaterThan(now);
            }
          },
        ),
      );
    });

    it('records outcomes: success clears failures and hints, failure counts up and keeps the new hint', () => {
      fc.assert(
        fc.property(
          stateArb,
          fc.integer({ min: 0, max: 2 ** 42 }),
          fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined }),
          (state, now, hint) => {
            const ok = recordRefresh(state, { kind: 'success' }, now);
            expect(ok).to.deep.include({ lastAttemptAtMs: now, consecutiveFailures: 0 });
            expect(ok).not.to.have.property('retryAfterMs');
            const failed = recordRefresh(
              state,
              hint === undefined ? { kind: 'failure' } : { kind: 'failure', retryAfterMs: hint },
              now,
            );
            expect(failed.consecutiveFailures).to.equal(state.consecutiveFailures + 1);
            expect(failed.retryAfterMs).to.equal(hint);
            expect(failed.intervalOverrideMs).to.equal(state.intervalOverrideMs);
          },
        ),
      );
    });
  });

  describe('examples', () => {
    const policy: RotationPolicy = { ...defaultRotationPolicy, jitterRatio: 0 };

    it('is due at once for a volume never attempted (its first mount)', () => {
      expect(isDue({ volumeId: 'v', consecutiveFailures: 0 }, 0, policy)).to.equal(true);
    });

    it("keeps upstream's default: due 2 minutes after the last refresh", () => {
      const state = { volumeId: 'v', lastAttemptAtMs: 1_000_000, consecutiveFailures: 0 };
      expect(isDue(state, 1_000_000 + 2 * MINUTE - 1, policy)).to.equal(false);
      expect(isDue(state, 1_000_000 + 2 * MINUTE, policy)).to.equal(true);
    });

    it('uses the class override in both directions', () => {
      const base = { volumeId: 'v', lastAttemptAtMs: 0, consecutiveFailures: 0 };
      expect(nextRefreshAtMs({ ...base, intervalOverrideMs: 30_000 }, policy)).to.equal(30_000);
      expect(nextRefreshAtMs({ ...base, intervalOverrideMs: 60 * MINUTE }, policy)).to.equal(60 * MINUTE);
      expect(nextRefreshAtMs({ ...base, intervalOverrideMs: 100 }, policy)).to.equal(policy.minIntervalMs);
    });

    it('backs off 10s, 20s, 40s ... up to 10 minutes after failures', () => {
      const delays = [1, 2, 3, 4, 10, 30].map((n) =>
        failureDelayMs({ volumeId: 'v', consecutiveFailures: n }, policy),
      );
      expect(delays).to.deep.equal([10_000, 20_000, 40_000, 80_000, 600_000, 600_000]);
    });

    it('waits for a longer retry-after hint, but no longer than the cap', () => {
      expect(
        failureDelayMs({ volumeId: 'v', consecutiveFailures: 1, retryAfterMs: 45_000 }, policy),
      ).to.equal(45_000);
      expect(
        failureDelayMs({ volumeId: 'v', consecutiveFailures: 1, retryAfterMs: 86_400_000 }, policy),
      ).to.equal(policy.maxRetryAfterMs);
    });

    it('spreads volumes mounted at the same moment across the jitter window', () => {
      const jittered: RotationPolicy = { ...defaultRotationPolicy, jitterRatio: 0.5 };
      const times = Array.from({ length: 110 }, (_, i) =>
        nextRefreshAtMs(
          {
            volumeId: `/var/lib/kubelet/pods/${i}/volumes/mount`,
            lastAttemptAtMs: 0,
            consecutiveFailures: 0,
          },
          jittered,
        ),
      );
      const distinct = new Set(times);
      expect(distinct.size).to.be.greaterThan(100);
      expect(Math.min(...times)).to.be.at.least(2 * MINUTE);
      expect(Math.max(...times)).to.be.at.most(3 * MINUTE);
      // roughly uniform: both halves of the window are used
      expect(times.filter((t) => t < 2.5 * MINUTE).length).to.be.within(30, 80);
    });

    it('gives each volume a stable jitter share in [0, 1)', () => {
      expect(jitterFraction('a')).to.equal(jitterFraction('a'));
      expect(jitterFraction('a')).not.to.equal(jitterFraction('b'));
      for (const id of ['', 'x', 'a-long-volume-id'.repeat(20)]) {
        expect(jitterFraction(id)).to.be.at.least(0).and.below(1);
      }
    });
  });

  describe('validateRotationPolicy', () => {
    it('accepts the defaults', () => {
      expect(() => {
        validateRotationPolicy(defaultRotationPolicy);
      }).not.to.throw();
    });

    it('names every bad setting', () => {
      expect(() => {
        validateRotationPolicy({
          pollIntervalMs: 0,
          minIntervalMs: -1,
          jitterRatio: 2,
          backoff: { initialMs: 100, maxMs: 10, multiplier: 0.5 },
          maxRetryAfterMs: Number.NaN,
        });
      }).to.throw(
        RangeError,
        'invalid rotation policy: pollIntervalMs must be a positive number of milliseconds; minIntervalMs must be a positive number of milliseconds; maxRetryAfterMs must be a positive number of milliseconds; jitterRatio must be between 0 and 1; backoff.multiplier must be at least 1; backoff.maxMs must be at least backoff.initialMs',
      );
    });
  });
});
