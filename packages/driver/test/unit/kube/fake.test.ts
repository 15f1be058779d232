import { expect } from 'chai';
import {
  MANAGED_SECRET_LABEL,
  NODE_NAME_LABEL,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import type { DriverError } from '../../../src/errors.js';
import { FakeKubeAdapters } from '../../../src/kube/fake.js';
import type { DesiredSecret } from '../../../src/sync/desired-secret.js';

const bytes = (text: string) => new TextEncoder().encode(text);
async function rejection(promise: Promise<unknown>): Promise<DriverError> {
  try {
    await promise;
  } catch (error) {
    return error as DriverError;
  }
  throw new Error('expected a rejection');
}

const owner = (uid: string) => ({ apiVersion: 'v1', kind: 'Pod', name: `p-${uid}`, uid });

describe('FakeKubeAdapters', () => {
  it('serves added classes and fails like the real source for missing or invalid ones', async () => {
    const kube = new FakeKubeAdapters();
    kube.addSecretProviderClass({
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClass',
      metadata: { name: 'kv', namespace: 'app' },
      spec: { provider: 'azure', parameters: { a: 'b' } },
    });
    kube.addSecretProviderClass({ apiVersion: 'nope', metadata: { name: 'bad', namespace: 'app' } });
    expect((await kube.secretProviderClasses.get('app', 'kv')).spec.provider).to.equal('azure');
    const missing = await rejection(kube.secretProviderClasses.get('app', 'none'));
    expect([missing.code, missing.message]).to.deep.equal([
      'SecretProviderClassNotFound',
      'SecretProviderClass.secrets-store.csi.x-k8s.io "none" not found',
    ]);
    const bad = await rejection(kube.secretProviderClasses.get('app', 'bad'));
    expect(bad.code).to.equal('SecretProviderClassInvalid');
    expect(kube.calls['secretProviderClasses.get']).to.equal(3);
  });

  it('stores pod statuses with its node label, a uid and sorted objects', async () => {
    const kube = new FakeKubeAdapters({ nodeName: 'node-a' });
    const desired: SecretProviderClassPodStatus = {
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClassPodStatus',
      metadata: { name: 'p-app-kv', namespace: 'app', ownerReferences: [owner('1')] },
      status: {
        podName: 'p',
        secretProviderClassName: 'kv',
        mounted: true,
        targetPath: '/t',
        objects: [
          { id: 'b', version: '1' },
          { id: 'a', version: '1' },
        ],
      },
    };
    const first = await kube.podStatuses.upsert(desired);
    expect(first.metadata.labels).to.deep.equal({ [NODE_NAME_LABEL]: 'node-a' });
    expect(first.status.objects.map((o) => o.id)).to.deep.equal(['a', 'b']);
    const second = await kube.podStatuses.upsert({
      ...desired,
      status: { ...desired.status, mounted: false },
    });
    expect(second.metadata.uid).to.equal(first.metadata.uid);
    expect(second.metadata.resourceVersion).not.to.equal(first.metadata.resourceVersion);
    expect(kube.podStatus('app', 'p-app-kv')?.status.mounted).to.equal(false);
    expect(await kube.podStatuses.get('app', 'p-app-kv')).to.deep.equal(second);
  });

  it('applies Secrets with the real plan: created, unchanged without a write, owners merged, unmanaged left', async () => {
    const kube = new FakeKubeAdapters();
    const desired: DesiredSecret = {
      name: 's',
      namespace: 'app',
      type: 'Opaque',
      labels: { [MANAGED_SECRET_LABEL]: 'true' },
      annotations: {},
      data: { k: bytes('v1') },
    };
    expect(await kube.secrets.apply(desired, [owner('1')])).to.equal('created');
    const version = kube.secret('app', 's')?.resourceVersion;
    expect(await kube.secrets.apply(desired, [owner('1')])).to.equal('unchanged');
    expect(kube.secret('app', 's')?.resourceVersion).to.equal(version);
    expect(await kube.secrets.apply({ ...desired, data: { k: bytes('v2') } }, [owner('2')])).to.equal(
      'updated',
    );
    expect(kube.secret('app', 's')?.ownerReferences.map((o) => o.uid)).to.deep.equal(['1', '2']);
    expect(new TextDecoder().decode(kube.secret('app', 's')?.data.k)).to.equal('v2');
    kube.putSecret({ name: 'theirs', namespace: 'app', data: { k: bytes('x') } });
    expect(await kube.secrets.apply({ ...desired, name: 'theirs' }, [])).to.equal('notManaged');
    const typeChange = await rejection(kube.secrets.apply({ ...desired, type: 'kubernetes.io/tls' }, []));
    expect(typeChange.code).to.equal('FailedToCreateSecret');
  });

  it('records events and pods, injects failures, and tracks start and stop', async () => {
    const kube = new FakeKubeAdapters();
    const pod = { name: 'p', namespace: 'app', uid: 'u', ownerReferences: [] };
    kube.addPod(pod);
    kube.failNext('pods.get', new Error('injected'), 2);
    for (let i = 0; i < 2; i++) {
      const error = await kube.pods.get('app', 'p').catch((e: unknown) => e as Error);
      expect((error as Error).message).to.equal('injected');
    }
    expect(await kube.pods.get('app', 'p')).to.deep.equal(pod);
    kube.deletePod('app', 'p');
    expect(await kube.pods.get('app', 'p')).to.equal(undefined);
    kube.events.record({ pod, type: 'Warning', reason: 'FailedMount', message: 'm' });
    kube.events.record({ pod, type: 'Warning', reason: 'FailedMount', message: 'm' });
    expect(kube.recordedEvents).to.have.length(2);
    await kube.start();
    await kube.stop();
    expect([kube.started, kube.stopped]).to.deep.equal([true, true]);
  });
});
