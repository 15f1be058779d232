/**
 * Ours (issue 16 item 3): a provider that reports absent optional objects. The volume mounts without them; the
 * pod status carries an OptionalObjectsPresent condition and the pod an OptionalObjectAbsent Warning event
 * (told once per set); secretObjects leave their keys out, or wait; the object arrives with a refresh.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultRotationPolicy, silentLogger } from '@secrets-store-csi/core';
import { AtomicWriter, readMountedContents } from '../../../src/fs/index.js';
import { FakeKubeAdapters } from '../../../src/kube/fake.js';
import { DriverMetrics } from '../../../src/metrics.js';
import { FakeMounter } from '../../../src/mount/index.js';
import type { ProviderMountResult } from '../../../src/providers/client.js';
import { VolumePublisher, type PublishRequest } from '../../../src/publish/publisher.js';
import { RotationTracker } from '../../../src/rotation/tracker.js';
import { buildDesiredSecrets } from '../../../src/sync/mapping.js';
import { FakeProviderClients, secretProviderClass } from '../../helpers.js';

const POD_UID = '7a0c5c1e-0000-4000-8000-000000000002';
const STATUS = 'web-0-default-my-spc';

function answer(present: Record<string, string>, absent: string[] = []): ProviderMountResult {
  return {
    files: Object.entries(present).map(([path, text]) => ({
      path,
      mode: 0o644,
      contents: Buffer.from(text),
    })),
    objectVersions: Object.keys(present).map((name) => ({ id: `secret/${name}`, version: 'v1' })),
    ...(absent.length > 0 && {
      absentObjects: absent.map((name) => ({
        id: `kvb/secret/${name}`,
        path: name,
        reason: `optional secret ${name} was not found in vault kvb`,
      })),
    }),
  };
}

describe('optional objects in the publish flow', () => {
  let dir: string;
  let target: string;
  let kube: FakeKubeAdapters;
  let providers: FakeProviderClients;
  let publisher: VolumePublisher;
  let clock: { now: number };

  const request = (): PublishRequest => ({
    volumeId: 'csi-0123',
    targetPath: target,
    readonly: true,
    volumeContext: {
      secretProviderClass: 'my-spc',
      'csi.storage.k8s.io/pod.name': 'web-0',
      'csi.storage.k8s.io/pod.namespace': 'default',
      'csi.storage.k8s.io/pod.uid': POD_UID,
      'csi.storage.k8s.io/serviceAccount.name': 'web',
    },
    secrets: undefined,
    deadline: new Date(Date.now() + 10_000),
  });
  const refresh = async () => {
    clock.now += 10 * 60_000;
    return publisher.publish(request());
  };
  const absentEvents = () => kube.recordedEvents.filter((e) => e.reason === 'OptionalObjectAbsent');
  const condition = () =>
    kube.podStatus('default', STATUS)?.status.conditions?.find((c) => c.type === 'OptionalObjectsPresent');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'optional-objects-'));
    target = join(dir, 'pods', POD_UID, 'volumes', 'kubernetes.io~csi', 'secrets', 'mount');
    kube = new FakeKubeAdapters({ nodeName: 'node-a' });
    providers = new FakeProviderClients();
    clock = { now: Date.parse('2026-11-22T10:00:00Z') };
    publisher = new VolumePublisher(
      { nodeName: 'node-a', rotationEnabled: true, tmpfs: { noexec: false } },
      {
        mounter: new FakeMounter(),
        writer: new AtomicWriter(),
        providers,
        kube,
        tracker: new RotationTracker({ ...defaultRotationPolicy, pollIntervalMs: 60_000, jitterRatio: 0 }),
        metrics: new DriverMetrics(),
        logger: silentLogger,
        readMountedContents,
        now: () => clock.now,
      },
    );
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds no condition and no event for a volume whose objects are all present', async () => {
    kube.addSecretProviderClass(secretProviderClass());
    providers.respond('fake', () => answer({ db: 'x' }));
    await publisher.publish(request());
    await refresh();
    expect(condition()).to.equal(undefined);
    expect(absentEvents()).to.deep.equal([]);
  });

  it('mounts the present objects, names the absent ones in the status and one Warning event', async () => {
    kube.addSecretProviderClass(secretProviderClass());
    providers.respond('fake', () => answer({ db: 'x' }, ['tls', 'api']));
    expect(await publisher.publish(request())).to.deep.equal({ kind: 'mounted', files: 1 });
    expect((await readdir(target)).filter((name) => !name.startsWith('..'))).to.deep.equal(['db']);
    const status = kube.podStatus('default', STATUS)?.status;
    expect(status?.objects).to.deep.equal([{ id: 'secret/db', version: 'v1' }]);
    expect(condition()).to.deep.include({
      status: 'False',
      reason: 'OptionalObjectAbsent',
      message:
        'absent: kvb/secret/api (optional secret api was not found in vault kvb); kvb/secret/tls (optional secret tls was not found in vault kvb)',
    });
    expect(absentEvents()).to.deep.equal([
      {
        pod: { name: 'web-0', namespace: 'default', uid: POD_UID },
        type: 'Warning',
        reason: 'OptionalObjectAbsent',
        message:
          'provider "fake" reports 2 optional objects absent, mounted without them: ' +
          'kvb/secret/api (optional secret api was not found in vault kvb); kvb/secret/tls (optional secret tls was not found in vault kvb). ' +
          'A refresh (secret rotation) mounts an object once it exists',
      },
    ]);
  });

  it('mounts an empty volume when every object is optional and absent', async () => {
    kube.addSecretProviderClass(secretProviderClass());
    providers.respond('fake', () => answer({}, ['tls']));
    expect(await publisher.publish(request())).to.deep.equal({ kind: 'mounted', files: 0 });
    expect(kube.podStatus('default', STATUS)?.status.mounted).to.equal(true);
  });

  it('tells a steady absence once, a changed one again, and the arrival in the condition', async () => {
    kube.addSecretProviderClass(secretProviderClass());
    let absent = ['tls'];
    let present: Record<string, string> = { db: 'x' };
    providers.respond('fake', () => answer(present, absent));
    await publisher.publish(request());
    await refresh();
    expect(absentEvents()).to.have.length(1);
    absent = ['tls', 'api'];
    await refresh();
    expect(absentEvents()).to.have.length(2);
    absent = [];
    present = { db: 'x', tls: 'cert', api: 'key' };
    expect(await refresh()).to.deep.equal({ kind: 'refreshed', changed: true });
    expect(absentEvents()).to.have.length(2);
    expect(condition()).to.deep.include({
      status: 'True',
      reason: 'AllPresent',
      message: 'every optional object is mounted',
    });
    expect((await readdir(target)).filter((name) => !name.startsWith('..')).sort()).to.deep.equal([
      'api',
      'db',
      'tls',
    ]);
    expect(kube.recordedEvents.map((e) => e.reason)).to.include('MountRotationComplete');
  });

  it('syncs a Secret without the absent key, waits with an all-absent or TLS one, and fills them later', async () => {
    kube.addSecretProviderClass(
      secretProviderClass({
        secretObjects: [
          {
            secretName: 'app',
            type: 'Opaque',
            data: [
              { objectName: 'db', key: 'db' },
              { objectName: 'later', key: 'later' },
            ],
          },
          { secretName: 'only-later', type: 'Opaque', data: [{ objectName: 'later', key: 'v' }] },
          {
            secretName: 'tls',
            type: 'kubernetes.io/tls',
            // The absent item first: the present one is no certificate, so it would be a problem otherwise.
            data: [
              { objectName: 'later', key: 'tls.key' },
              { objectName: 'db', key: 'tls.crt' },
            ],
          },
        ],
      }),
    );
    let absent = ['later'];
    providers.respond('fake', () =>
      answer(absent.length > 0 ? { db: 'x' } : { db: 'x', later: 'y' }, absent),
    );
    await publisher.publish(request());
    expect(Object.keys(kube.secret('default', 'app')?.data ?? {})).to.deep.equal(['db']);
    expect(kube.secret('default', 'only-later')).to.equal(undefined);
    expect(kube.secret('default', 'tls')).to.equal(undefined);
    expect(kube.recordedEvents.map((e) => e.reason)).not.to.include('FailedToCreateSecret');
    absent = [];
    await refresh();
    expect(Object.keys(kube.secret('default', 'app')?.data ?? {}).sort()).to.deep.equal(['db', 'later']);
    expect(Buffer.from(kube.secret('default', 'only-later')?.data.v ?? []).toString()).to.equal('y');
  });
});

describe('buildDesiredSecrets with absent optional objects', () => {
  const files = new Map([['db', Buffer.from('x')]]);
  const spc = secretProviderClass({
    secretObjects: [
      {
        secretName: 's',
        type: 'Opaque',
        data: [
          { objectName: 'db', key: 'db' },
          { objectName: 'hist/0', key: 'h' },
          { objectName: 'missing', key: 'm' },
        ],
      },
    ],
  });

  it('still reports a file that is neither mounted nor absent, as upstream', () => {
    const result = buildDesiredSecrets(spc, 'default', files, new Set(['hist']));
    expect(result.problems).to.deep.equal([
      { secretName: 's', message: 'file matching objectName missing not found in the pod' },
    ]);
  });

  it('treats files under an absent directory (history mode) as absent', () => {
    const result = buildDesiredSecrets(spc, 'default', files, new Set(['hist', 'missing']));
    expect(result.problems).to.deep.equal([]);
    expect(result.deferred).to.equal(undefined);
    expect(Object.keys(result.secrets[0]?.data ?? {})).to.deep.equal(['db']);
  });
});
