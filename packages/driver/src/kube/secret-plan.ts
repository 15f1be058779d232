/**
 * What applying a desired Secret to an existing one should do, without any I/O, so the real store and the fake
 * decide alike. Upstream's update replaced the owner references (dropping the ones other pods had added) and
 * rewrote the Secret on every rotation; we keep every owner, overlay our labels and annotations on the ones
 * others added, and skip the write when nothing would change.
 */
import { MANAGED_SECRET_LABEL, type OwnerReference } from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { DesiredSecret } from '../sync/desired-secret.js';

/** The default Secret type: the API server stores `Opaque` when a Secret is created without one. */
export const OPAQUE_SECRET_TYPE = 'Opaque';

/** The fields of a stored Secret that `apply` reads; `data` values are base64, as the API serves them. */
export interface ExistingSecret {
  readonly name: string;
  readonly namespace: string;
  readonly type?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly data?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly OwnerReference[];
}

export type SecretPlan =
  | { readonly action: 'notManaged' }
  | { readonly action: 'unchanged' }
  | {
      readonly action: 'update';
      readonly labels: Record<string, string>;
      readonly annotations: Record<string, string>;
      readonly data: Record<string, string>;
      readonly ownerReferences: OwnerReference[];
    };

export function isManaged(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels?.[MANAGED_SECRET_LABEL] === 'true';
}

/** Existing owners first, in their order, then each new owner whose uid is not there yet. */
export function mergeOwnerReferences(
  existing: readonly OwnerReference[],
  owners: readonly OwnerReference[],
): OwnerReference[] {
  const uids = new Set(existing.map((owner) => owner.uid));
  const merged = [...existing];
  for (const owner of owners) {
    if (uids.has(owner.uid)) continue;
    uids.add(owner.uid);
    merged.push(owner);
  }
  return merged;
}

export function encodeSecretData(data: Readonly<Record<string, Uint8Array>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data).map(([key, bytes]) => [key, Buffer.from(bytes).toString('base64')]),
  );
}

function sameStrings(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

function includesAll(
  actual: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(wanted).every(([key, value]) => actual[key] === value);
}

/**
 * Throws DriverError `FailedToCreateSecret` when the types differ: a Secret's type is immutable, so only
 * deleting it lets the driver create it with the new type.
 */
export function planSecretUpdate(
  existing: ExistingSecret,
  desired: DesiredSecret,
  owners: readonly OwnerReference[],
): SecretPlan {
  if (!isManaged(existing.labels)) return { action: 'notManaged' };
  const existingType =
    existing.type === undefined || existing.type === '' ? OPAQUE_SECRET_TYPE : existing.type;
  const desiredType = desired.type === '' ? OPAQUE_SECRET_TYPE : desired.type;
  if (existingType !== desiredType) {
    throw new DriverError(
      driverErrorCodes.failedToCreateSecret,
      `secret ${existing.namespace}/${existing.name} has type "${existingType}" but the SecretProviderClass ` +
        `asks for type "${desiredType}"; a Secret's type cannot be changed: delete the Secret and the driver ` +
        'will create it again with the new type',
    );
  }
  const labels = existing.labels ?? {};
  const annotations = existing.annotations ?? {};
  const existingOwners = existing.ownerReferences ?? [];
  const ownerReferences = mergeOwnerReferences(existingOwners, owners);
  const data = encodeSecretData(desired.data);
  if (
    sameStrings(existing.data ?? {}, data) &&
    includesAll(labels, desired.labels) &&
    includesAll(annotations, desired.annotations) &&
    ownerReferences.length === existingOwners.length
  ) {
    return { action: 'unchanged' };
  }
  return {
    action: 'update',
    labels: { ...labels, ...desired.labels },
    annotations: { ...annotations, ...desired.annotations },
    data,
    ownerReferences,
  };
}
