/**
 * Our addition to the SecretProviderClassPodStatus: conditions that say whether the volume is mounted and how
 * its last refresh went, with the reason and message a user needs (upstream records nothing on failure).
 * Kubernetes convention: `lastTransitionTime` moves only when the status changes.
 */
import type { Condition } from '@secrets-store-csi/core';

export const conditionTypes = {
  mounted: 'Mounted',
  refreshed: 'Refreshed',
  /**
   * Ours (optional objects, docs/multi-vault-and-optional.md): False while optional objects are absent, True
   * once they all arrived; never set on a volume that never had one absent.
   */
  optionalObjectsPresent: 'OptionalObjectsPresent',
} as const;

export function setCondition(
  conditions: readonly Condition[],
  next: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    previous !== undefined && previous.status === next.status
      ? previous.lastTransitionTime
      : now.toISOString();
  return [...conditions.filter((c) => c.type !== next.type), { ...next, lastTransitionTime }].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}
