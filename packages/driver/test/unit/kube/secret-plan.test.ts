import { expect } from 'chai';
import { isCodedError, MANAGED_SECRET_LABEL, type OwnerReference } from '@secrets-store-csi/core';
import {
  encodeSecretData,
  mergeOwnerReferences,
  planSecretUpdate,
  type ExistingSecret,
} from '../../../src/kube/secret-plan.js';
import type { DesiredSecret } from '../../../src/sync/desired-secret.js';

const owner = (uid: string, kind = 'ReplicaSet'): OwnerReference => ({
  apiVersion: 'apps/v1',
  kind,
  name: `owner-${uid}`,
  uid,
});

const bytes = (text: string) => new TextEncoder().encode(text);

const desired: DesiredSecret = {
  name: 'db',
  namespace: 'app',
  type: 'Opaque',
  labels: { [MANAGED_SECRET_LABEL]: 'true', team: 'a' },
  annotations: { note: 'synced' },
  data: { password: bytes('s3cret-value') },
};

const existing: ExistingSecret = {
  name: 'db',
  namespace: 'app',
  type: 'Opaque',
  labels: { [MANAGED_SECRET_LABEL]: 'true', team: 'a', addedBy: 'someone-else' },
  annotations: { note: 'synced', other: 'kept' },
  data: encodeSecretData(desired.data),
  ownerReferences: [owner('1')],
};

describe('mergeOwnerReferences', () => {
  it('keeps every existing owner in order and appends the missing ones by uid', () => {
    const merged = mergeOwnerReferences(
      [owner('1'), owner('2')],
      [owner('2', 'Other'), owner('3'), owner('3')],
    );
    expect(merged.map((o) => o.uid)).to.deep.equal(['1', '2', '3']);
    expect(merged[1]?.kind).to.equal('ReplicaSet');
  });

  it('returns the owners when there were none', () => {
    expect(mergeOwnerReferences([], [owner('9')])).to.deep.equal([owner('9')]);
  });
});

describe('planSecretUpdate', () => {
  it('leaves a Secret without the managed label alone, whatever its type', () => {
    const plan = planSecretUpdate(
      { ...existing, type: 'kubernetes.io/tls', labels: { [MANAGED_SECRET_LABEL]: 'false' } },
      desired,
      [owner('2')],
    );
    expect(plan).to.deep.equal({ action: 'notManaged' });
  });

  it('is unchanged when data, type, our labels and annotations and every owner are already there', () => {
    expect(planSecretUpdate(existing, desired, [owner('1')])).to.deep.equal({ action: 'unchanged' });
  });

  it('treats a missing type as Opaque', () => {
    const { type: _type, ...untyped } = existing;
    expect(planSecretUpdate(untyped, desired, [])).to.deep.equal({ action: 'unchanged' });
  });

  it('adds a missing owner and keeps labels and annotations others added', () => {
    const plan = planSecretUpdate(existing, desired, [owner('2')]);
    expect(plan).to.deep.equal({
      action: 'update',
      labels: { [MANAGED_SECRET_LABEL]: 'true', team: 'a', addedBy: 'someone-else' },
      annotations: { note: 'synced', other: 'kept' },
      data: encodeSecretData(desired.data),
      ownerReferences: [owner('1'), owner('2')],
    });
  });

  it('replaces the data entirely (a key no longer mapped goes away)', () => {
    const plan = planSecretUpdate(
      { ...existing, data: { ...existing.data, old: Buffer.from('x').toString('base64') } },
      desired,
      [],
    );
    expect(plan.action).to.equal('update');
    if (plan.action === 'update') expect(Object.keys(plan.data)).to.deep.equal(['password']);
  });

  it('overlays a changed label value', () => {
    const plan = planSecretUpdate(existing, { ...desired, labels: { ...desired.labels, team: 'b' } }, []);
    expect(plan.action === 'update' && plan.labels.team).to.equal('b');
  });

  it('refuses a type change without writing and without naming any value', () => {
    try {
      planSecretUpdate(existing, { ...desired, type: 'kubernetes.io/tls' }, []);
      expect.fail('a type change was planned');
    } catch (error) {
      expect(isCodedError(error) && error.code).to.equal('FailedToCreateSecret');
      const message = (error as Error).message;
      expect(message).to.include('app/db').and.include('"Opaque"').and.include('"kubernetes.io/tls"');
      expect(message).to.include('delete the Secret');
      expect(message).not.to.include('s3cret');
    }
  });
});
