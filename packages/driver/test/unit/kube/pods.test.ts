import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { toPodInfo } from '../../../src/kube/pods.js';

describe('toPodInfo', () => {
  const raw = {
    metadata: {
      name: 'web-0',
      namespace: 'app',
      uid: 'u-1',
      deletionTimestamp: '2025-01-02T03:04:05Z',
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u-s', controller: true },
      ],
    },
    spec: { nodeName: 'node-a', serviceAccountName: 'web' },
    status: { phase: 'Running' },
  };
  const expected = {
    name: 'web-0',
    namespace: 'app',
    uid: 'u-1',
    nodeName: 'node-a',
    serviceAccountName: 'web',
    ownerReferences: [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u-s', controller: true },
    ],
    deletionTimestamp: '2025-01-02T03:04:05Z',
    phase: 'Running',
  };

  it('reads raw watch JSON', () => {
    expect(toPodInfo(raw)).to.deep.equal(expected);
  });

  it('reads a typed client model, whose timestamps client-node turned into Date objects', () => {
    const typed: V1Pod = {
      ...raw,
      metadata: { ...raw.metadata, deletionTimestamp: new Date('2025-01-02T03:04:05Z') },
      spec: { ...raw.spec, containers: [] },
    };
    expect(toPodInfo(typed)).to.deep.equal(expected);
  });

  it('leaves out what the pod does not have', () => {
    expect(toPodInfo({ metadata: { name: 'p', namespace: 'n', uid: 'u' } })).to.deep.equal({
      name: 'p',
      namespace: 'n',
      uid: 'u',
      ownerReferences: [],
    });
  });
});
