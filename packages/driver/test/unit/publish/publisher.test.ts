import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { defaultRotationPolicy, silentLogger } from '@secrets-store-csi/core';
import { DriverError } from '../../../src/errors.js';
import { AtomicWriter, readMountedContents } from '../../../src/fs/index.js';
import { FakeKubeAdapters } from '../../../src/kube/fake.js';
import { DriverMetrics } from '../../../src/metrics.js';
import { FakeMounter } from '../../../src/mount/index.js';
import { VolumePublisher, type PublishRequest } from '../../../src/publish/publisher.js';
import { RotationTracker } from '../../../src/rotation/tracker.js';
import { FakeProviderClients, filesAnswer, metricValue, secretProviderClass } from '../../helpers.js';

const POD_UID = '5f0c5c1e-0000-4000-8000-000000000001';

interface World {
  dir: string;
  target: string;
  mounter: FakeMounter;
  kube: FakeKubeAdapters;
  providers: FakeProviderClients;
  metrics: DriverMetrics;
  tracker: RotationTracker;
  clock: { now: number };
  publisher: VolumePublisher;
  request(overrides?: Partial<PublishRequest>): PublishRequest;
}

async function world(options: { rotation?: boolean; pollIntervalMs?: number } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'publisher-'));
  const target = join(dir, 'pods', POD_UID, 'volumes', 'kubernetes.io~csi', 'secrets', 'mount');
  const mounter = new FakeMounter();
  const kube = new FakeKubeAdapters({ nodeName: 'node-a' });
  const providers = new FakeProviderClients();
  const metrics = new DriverMetrics();
  const tracker = new RotationTracker({
    ...defaultRotationPolicy,
    pollIntervalMs: options.pollIntervalMs ?? 60_000,
    jitterRatio: 0,
  });
  const clock = { now: Date.parse('2026-11-22T10:00:00Z') };
  const publisher = new VolumePublisher(
    { nodeName: 'node-a', rotationEnabled: options.rotation ?? false, tmpfs: { noexec: false } },
    {
      mounter,
      writer: new AtomicWriter(),
      providers,
      kube,
      tracker,
      metrics,
      logger: silentLogger,
      readMountedContents,
      now: () => clock.now,
    },
  );
  const request = (overrides: Partial<PublishRequest> = {}): PublishRequest => ({
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
    ...overrides,
  });
  return { dir, target, mounter, kube, providers, metrics, tracker, clock, publisher, request };
}

async function rejection(promise: Promise<unknown>): Promise<DriverError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(DriverError);
    return error as DriverError;
  }
  throw new Error('expected a rejection');
}

describe('VolumePublisher', () => {
  let w: World;

  afterEach(async () => {
    await rm(w.dir, { recursive: true, force: true });
  });

  describe('a first mount', () => {
    beforeEach(async () => {
      w = await world();
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => filesAnswer({ password: 'hunter2', username: 'admin' }));
    });

    it('mounts a tmpfs, writes the provider files and answers mounted', async () => {
      const outcome = await w.publisher.publish(w.request());
      expect(outcome).to.deep.equal({ kind: 'mounted', files: 2 });
      expect(w.mounter.mounted.has(w.target)).to.be.true;
      expect(await readFile(join(w.target, 'password'), 'utf8')).to.equal('hunter2');
      expect((await readdir(w.target)).sort()).to.include.members(['..data', 'password', 'username']);
    });

    it('sends the MountRequest upstream sends: merged attributes, null secrets, permission 420', async () => {
      await w.publisher.publish(w.request());
      const [{ request } = { request: undefined }] = w.providers.requests;
      expect(request?.secrets).to.equal('null');
      expect(request?.permission).to.equal('420');
      expect(request?.current_object_version).to.deep.equal([]);
      const attributes = JSON.parse(request?.attributes ?? '{}') as Record<string, string>;
      expect(attributes).to.include({ objects: 'array: []', 'csi.storage.k8s.io/pod.name': 'web-0' });
    });

    it('records the pod status with upstream name, node label, pod owner and sorted objects', async () => {
      await w.publisher.publish(w.request());
      const status = w.kube.podStatus('default', 'web-0-default-my-spc');
      expect(status?.metadata.labels).to.deep.equal({
        'internal.secrets-store.csi.k8s.io/node-name': 'node-a',
      });
      expect(status?.metadata.ownerReferences).to.deep.equal([
        { apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: POD_UID },
      ]);
      expect(status?.status).to.include({
        podName: 'web-0',
        secretProviderClassName: 'my-spc',
        mounted: true,
      });
      expect(status?.status.objects.map((o) => o.id)).to.deep.equal(['secret/password', 'secret/username']);
      expect(status?.status.conditions?.map((c) => [c.type, c.status])).to.deep.equal([['Mounted', 'True']]);
    });

    it('counts the publish under the provider label', async () => {
      await w.publisher.publish(w.request());
      expect(await metricValue(w.metrics.registry, 'node_publish_total', { provider: 'fake' })).to.equal(1);
    });

    it('is a no-op on repeat when rotation is off', async () => {
      await w.publisher.publish(w.request());
      const outcome = await w.publisher.publish(w.request());
      expect(outcome.kind).to.equal('alreadyMounted');
      expect(w.providers.requests).to.have.length(1);
      expect(w.mounter.calls.filter((c) => c.op === 'mountTmpfs')).to.have.length(1);
    });
  });

  describe('a provider answering one path twice', () => {
    const twice = (second: string) => ({
      files: [
        { path: 'db', mode: 0o644, contents: Buffer.from('first-value') },
        { path: 'other', mode: 0o644, contents: Buffer.from('o') },
        { path: 'db', mode: 0o600, contents: Buffer.from(second) },
      ],
      objectVersions: [
        { id: 'secret/db', version: 'v1' },
        { id: 'secret/db', version: 'v1' },
      ],
    });

    beforeEach(async () => {
      w = await world({ rotation: true });
      w.kube.addSecretProviderClass(secretProviderClass());
    });

    it('mounts the last file of the path, as upstream, and names the path in a Warning event', async () => {
      w.providers.respond('fake', () => twice('second-value'));
      expect(await w.publisher.publish(w.request())).to.deep.equal({ kind: 'mounted', files: 2 });
      expect(await readFile(join(w.target, 'db'), 'utf8')).to.equal('second-value');
      expect((await stat(join(w.target, 'db'))).mode & 0o777).to.equal(0o600);
      const warnings = w.kube.recordedEvents.filter((e) => e.reason === 'DuplicateFilePath');
      expect(warnings).to.have.length(1);
      expect(warnings[0]?.type).to.equal('Warning');
      expect(warnings[0]?.message).to.equal(
        'provider "fake" returned the file path "db" more than once (an object listed twice, or two ' +
          'objects with the same alias); the last file of each path is mounted',
      );
      expect(JSON.stringify(w.kube.recordedEvents)).not.to.contain('value');
    });

    it('warns again only when a refresh writes new content', async () => {
      let second = 'v1';
      w.providers.respond('fake', () => twice(second));
      await w.publisher.publish(w.request());
      w.clock.now += 61_000;
      expect(await w.publisher.publish(w.request())).to.deep.equal({ kind: 'refreshed', changed: false });
      expect(w.kube.recordedEvents.filter((e) => e.reason === 'DuplicateFilePath')).to.have.length(1);
      second = 'v2';
      w.clock.now += 61_000;
      expect(await w.publisher.publish(w.request())).to.deep.equal({ kind: 'refreshed', changed: true });
      expect(await readFile(join(w.target, 'db'), 'utf8')).to.equal('v2');
      expect(w.kube.recordedEvents.filter((e) => e.reason === 'DuplicateFilePath')).to.have.length(2);
    });

    it('names at most ten paths', async () => {
      const names = Array.from({ length: 12 }, (_, i) => `f${i}`);
      w.providers.respond('fake', () => ({
        files: [...names, ...names].map((path) => ({ path, mode: 0o644, contents: Buffer.from('x') })),
        objectVersions: [{ id: 'secret/x', version: 'v1' }],
      }));
      await w.publisher.publish(w.request());
      const [warning] = w.kube.recordedEvents.filter((e) => e.reason === 'DuplicateFilePath');
      expect(warning?.message).to.contain('"f9" and 2 more more than once');
    });
  });

  describe('a failed first mount', () => {
    beforeEach(async () => {
      w = await world();
    });

    it('names the missing SecretProviderClass, mounts nothing and records why', async () => {
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.code).to.equal('SecretProviderClassNotFound');
      expect(error.message).to.match(
        /^failed to get secretproviderclass default\/my-spc, error: .*not found/,
      );
      expect(w.mounter.calls).to.deep.equal([]);
      const [event] = w.kube.recordedEvents;
      expect(event).to.include({ type: 'Warning', reason: 'SecretProviderClassNotFound' });
      const status = w.kube.podStatus('default', 'web-0-default-my-spc');
      expect(status?.status.mounted).to.be.false;
      expect(status?.status.conditions?.[0]).to.include({ type: 'Mounted', status: 'False' });
      expect(
        await metricValue(w.metrics.registry, 'node_publish_error_total', {
          error_type: 'SecretProviderClassNotFound',
        }),
      ).to.equal(1);
    });

    it('checks the SecretProviderClass before the readonly flag, as upstream', async () => {
      const first = await rejection(w.publisher.publish(w.request({ readonly: false })));
      expect(first.code).to.equal('SecretProviderClassNotFound');
      w.kube.addSecretProviderClass(secretProviderClass());
      const second = await rejection(w.publisher.publish(w.request({ readonly: false })));
      expect(second.code).to.equal('InvalidArgument');
      expect(second.message).to.equal('Readonly is not true in request');
    });

    it('refuses a volume without secretProviderClass with upstream text', async () => {
      const error = await rejection(
        w.publisher.publish(w.request({ volumeContext: { 'csi.storage.k8s.io/pod.name': 'web-0' } })),
      );
      expect(error.message).to.equal('secretProviderClass is not set');
    });

    it('unmounts what it mounted and leaves no file when the provider fails', async () => {
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => {
        throw new DriverError('GRPCProviderError', 'rpc error: code = Unknown desc = vault unreachable');
      });
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.message).to.equal(
        'failed to mount secrets store objects for pod default/web-0, err: rpc error: code = Unknown desc = vault unreachable',
      );
      expect(w.mounter.mounted.size).to.equal(0);
      expect(await readdir(w.target).catch(() => [])).to.deep.equal([]);
    });

    it('refuses a path traversal from the provider and unmounts', async () => {
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => ({
        files: [{ path: '../escape', mode: 0o644, contents: Buffer.from('x') }],
        objectVersions: [{ id: 'a', version: '1' }],
      }));
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.code).to.equal('FileWriteError');
      expect(w.mounter.mounted.size).to.equal(0);
      await stat(join(w.target, '..', 'escape')).then(
        () => expect.fail('a file escaped the volume'),
        () => undefined,
      );
    });

    it('names the provider that is not installed', async () => {
      w.kube.addSecretProviderClass(secretProviderClass({ provider: 'absent' }));
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.code).to.equal('ProviderNotFound');
      expect(error.message).to.include('provider not found: provider "absent"');
      expect(w.mounter.mounted.size).to.equal(0);
    });

    it('fails and unmounts when the pod status cannot be written', async () => {
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => filesAnswer({ a: '1' }));
      w.kube.failNext('podStatuses.upsert', new DriverError('KubernetesForbidden', 'forbidden'));
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.message).to.equal(
        'failed to create secret provider class pod status for pod default/web-0, err: forbidden',
      );
      expect(w.mounter.mounted.size).to.equal(0);
    });

    it('mounts on the next call once the cause is fixed', async () => {
      await rejection(w.publisher.publish(w.request()));
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => filesAnswer({ a: '1' }));
      expect((await w.publisher.publish(w.request())).kind).to.equal('mounted');
      expect(w.kube.podStatus('default', 'web-0-default-my-spc')?.status.mounted).to.be.true;
    });
  });

  describe('rotation', () => {
    let version: number;

    beforeEach(async () => {
      w = await world({ rotation: true, pollIntervalMs: 60_000 });
      w.kube.addSecretProviderClass(secretProviderClass());
      version = 1;
      w.providers.respond('fake', () => filesAnswer({ password: `p${version}` }, `v${version}`));
      await w.publisher.publish(w.request());
    });

    it('does not call the provider before the interval', async () => {
      w.clock.now += 30_000;
      expect((await w.publisher.publish(w.request())).kind).to.equal('notDue');
      expect(w.providers.requests).to.have.length(1);
    });

    it('refreshes after the interval, sending the mounted versions, and tells the pod', async () => {
      version = 2;
      w.clock.now += 61_000;
      expect(await w.publisher.publish(w.request())).to.deep.equal({ kind: 'refreshed', changed: true });
      expect(w.providers.requests[1]?.request.current_object_version).to.deep.equal([
        { id: 'secret/password', version: 'v1' },
      ]);
      expect(await readFile(join(w.target, 'password'), 'utf8')).to.equal('p2');
      expect(w.kube.recordedEvents.map((e) => e.reason)).to.include('MountRotationComplete');
      expect(w.kube.podStatus('default', 'web-0-default-my-spc')?.status.objects).to.deep.equal([
        { id: 'secret/password', version: 'v2' },
      ]);
      expect(await metricValue(w.metrics.registry, 'rotation_reconcile_total', { rotated: 'true' })).to.equal(
        1,
      );
    });

    it('writes nothing and tells nobody when the content is unchanged', async () => {
      const writes = w.kube.calls['podStatuses.upsert'];
      w.clock.now += 61_000;
      expect(await w.publisher.publish(w.request())).to.deep.equal({ kind: 'refreshed', changed: false });
      expect(w.kube.recordedEvents).to.deep.equal([]);
      expect(w.kube.calls['podStatuses.upsert']).to.equal(writes + 1); // the Refreshed condition is new
      w.clock.now += 61_000;
      await w.publisher.publish(w.request());
      expect(w.kube.calls['podStatuses.upsert']).to.equal(writes + 1);
    });

    it('keeps the last good content when a refresh fails, answers success and makes it visible', async () => {
      w.providers.respond('fake', () => {
        throw new DriverError('GRPCProviderError', 'rpc error: code = Unavailable desc = throttled');
      });
      w.clock.now += 61_000;
      const outcome = await w.publisher.publish(w.request());
      expect(outcome.kind).to.equal('refreshFailed');
      expect(await readFile(join(w.target, 'password'), 'utf8')).to.equal('p1');
      expect(w.mounter.mounted.has(w.target)).to.be.true;
      const event = w.kube.recordedEvents.find((e) => e.reason === 'MountRotationFailed');
      expect(event?.type).to.equal('Warning');
      expect(event?.message).to.include('throttled');
      const conditions = w.kube.podStatus('default', 'web-0-default-my-spc')?.status.conditions ?? [];
      expect(conditions.find((c) => c.type === 'Refreshed')).to.include({
        status: 'False',
        reason: 'GRPCProviderError',
      });
      expect(
        await metricValue(w.metrics.registry, 'rotation_reconcile_error_total', {
          error_type: 'GRPCProviderError',
        }),
      ).to.equal(1);
    });

    it('backs off after a failed refresh instead of calling the provider on every republish', async () => {
      w.providers.respond('fake', () => {
        throw new DriverError('GRPCProviderError', 'down');
      });
      w.clock.now += 61_000;
      await w.publisher.publish(w.request());
      w.clock.now += 1_000;
      expect((await w.publisher.publish(w.request())).kind).to.equal('notDue');
      w.clock.now += defaultRotationPolicy.backoff.initialMs;
      expect((await w.publisher.publish(w.request())).kind).to.equal('refreshFailed');
    });

    it('honours the per-class interval annotation', async () => {
      w.kube.addSecretProviderClass(
        secretProviderClass({ annotations: { 'rotation.secrets-store.csi.k8s.io/poll-interval': '10s' } }),
      );
      w.clock.now += 61_000;
      await w.publisher.publish(w.request()); // picks up the override
      w.clock.now += 11_000;
      expect((await w.publisher.publish(w.request())).kind).to.equal('refreshed');
    });

    it('after a driver restart, seeds the schedule from the volume and sends the stored versions', async () => {
      const restarted = new VolumePublisher(
        { nodeName: 'node-a', rotationEnabled: true, tmpfs: { noexec: false } },
        {
          mounter: w.mounter,
          writer: new AtomicWriter(),
          providers: w.providers,
          kube: w.kube,
          tracker: new RotationTracker({ ...w.tracker.policy }),
          metrics: new DriverMetrics(),
          logger: silentLogger,
          readMountedContents,
          now: () => w.clock.now,
        },
      );
      const written = new Date(w.clock.now);
      await utimes(w.target, written, written);
      expect((await restarted.publish(w.request())).kind).to.equal('notDue');
      w.clock.now += 61_000;
      version = 2;
      expect((await restarted.publish(w.request())).kind).to.equal('refreshed');
      expect(w.providers.requests.at(-1)?.request.current_object_version).to.deep.equal([
        { id: 'secret/password', version: 'v1' },
      ]);
    });
  });

  describe('after a restart, a mounted volume it does not remember', () => {
    const recent = async (target: string, clock: { now: number }) => {
      const at = new Date(clock.now);
      await utimes(target, at, at);
    };

    /** The driver killed in the middle of a first publish: the tmpfs mounted, the layout `setUp` made. */
    async function interrupted(options: { rotation: boolean }, setUp: (target: string) => Promise<void>) {
      w = await world(options);
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => filesAnswer({ password: 'hunter2', username: 'admin' }));
      await w.mounter.mountTmpfs(w.target, { noexec: false });
      await setUp(w.target);
      await recent(w.target, w.clock);
    }

    /** A publish that got as far as the pod status (written as the publisher writes it). */
    async function recorded() {
      await w.kube.podStatuses.upsert({
        apiVersion: 'secrets-store.csi.x-k8s.io/v1',
        kind: 'SecretProviderClassPodStatus',
        metadata: { name: 'web-0-default-my-spc', namespace: 'default' },
        status: {
          podName: 'web-0',
          secretProviderClassName: 'my-spc',
          mounted: true,
          targetPath: w.target,
          objects: [{ id: 'secret/password', version: 'v0' }],
        },
      });
    }

    const completeLayout = (target: string) =>
      new AtomicWriter()
        .write(target, [{ path: 'password', mode: 0o644, contents: Buffer.from('old') }])
        .then(() => undefined);

    const layouts: [string, (target: string) => Promise<void>][] = [
      ['an empty tmpfs (killed before the provider answered)', () => Promise.resolve()],
      [
        'only a timestamped directory (killed while writing)',
        async (target) => {
          await mkdir(join(target, '..2026_11_22_09_59_59.AbC123'));
          await writeFile(join(target, '..2026_11_22_09_59_59.AbC123', 'password'), 'hun');
        },
      ],
      [
        'dangling links and ..data_tmp (killed during the swap)',
        async (target) => {
          await mkdir(join(target, '..2026_11_22_09_59_59.AbC123'));
          await symlink('..data/password', join(target, 'password'));
          await symlink('..2026_11_22_09_59_59.AbC123', join(target, '..data_tmp'));
        },
      ],
    ];
    for (const rotation of [true, false]) {
      for (const [name, setUp] of layouts) {
        it(`publishes ${name} in full before answering (rotation ${rotation ? 'on' : 'off'})`, async () => {
          await interrupted({ rotation }, setUp);
          const outcome = await w.publisher.publish(w.request());
          expect(outcome).to.deep.equal({ kind: 'mounted', files: 2 });
          expect(w.providers.requests).to.have.length(1);
          expect(w.mounter.calls.filter((c) => c.op === 'mountTmpfs')).to.have.length(1); // the setUp's
          expect(await readFile(join(w.target, 'password'), 'utf8')).to.equal('hunter2');
          expect(await readFile(join(w.target, 'username'), 'utf8')).to.equal('admin');
          const timestamped = (await readdir(w.target)).filter((n) => /^\.\.\d{4}_/.test(n));
          expect(timestamped).to.have.length(1);
          expect(w.kube.podStatus('default', 'web-0-default-my-spc')?.status.mounted).to.be.true;
          // remembered from now on: the next republish is an ordinary one
          expect((await w.publisher.publish(w.request())).kind).to.equal(
            rotation ? 'notDue' : 'alreadyMounted',
          );
          expect(w.providers.requests).to.have.length(1);
        });
      }
    }

    it('answers the failure and unmounts when the full publish of an incomplete volume fails', async () => {
      await interrupted({ rotation: true }, () => Promise.resolve());
      w.providers.respond('fake', () => {
        throw new DriverError('ProviderError', 'vault unreachable');
      });
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.message).to.contain('vault unreachable');
      expect(w.mounter.mounted.size).to.equal(0);
      expect(w.mounter.calls.map((c) => c.op)).to.deep.equal(['mountTmpfs', 'unmount']);
      expect(
        await metricValue(w.metrics.registry, 'node_publish_error_total', { provider: 'fake' }),
      ).to.equal(1);
    });

    it('leaves a complete volume alone until it is due, checking its layout once', async () => {
      await interrupted({ rotation: true }, completeLayout);
      await recorded();
      expect((await w.publisher.publish(w.request())).kind).to.equal('notDue');
      await rm(join(w.target, 'password')); // not looked at again before the refresh is due
      expect((await w.publisher.publish(w.request())).kind).to.equal('notDue');
      expect(w.providers.requests).to.have.length(0);
    });

    it('publishes a complete volume in full when no pod status records it (killed before the status)', async () => {
      await interrupted({ rotation: true }, completeLayout);
      expect(await w.publisher.publish(w.request())).to.deep.equal({ kind: 'mounted', files: 2 });
      expect(await readFile(join(w.target, 'password'), 'utf8')).to.equal('hunter2');
      expect(w.kube.podStatus('default', 'web-0-default-my-spc')?.status.mounted).to.be.true;
    });

    it('takes a complete volume as recorded when the pod status cannot be read', async () => {
      await interrupted({ rotation: true }, completeLayout);
      w.kube.failNext('podStatuses.get', new Error('API server unreachable'));
      expect((await w.publisher.publish(w.request())).kind).to.equal('notDue');
      expect(w.providers.requests).to.have.length(0);
    });

    it('leaves files a provider wrote itself as they are', async () => {
      await interrupted({ rotation: false }, (target) => writeFile(join(target, 'legacy'), 'L'));
      await recorded();
      expect((await w.publisher.publish(w.request())).kind).to.equal('alreadyMounted');
      expect(w.providers.requests).to.have.length(0);
    });

    it('answers an error and keeps the mount when the volume cannot be read', async () => {
      await interrupted({ rotation: true }, () => Promise.resolve());
      await rm(w.target, { recursive: true }); // the fake's mount table still lists it
      const error = await rejection(w.publisher.publish(w.request()));
      expect(error.code).to.equal('FileWriteError');
      expect(error.message).to.contain(`failed to check the content mounted at ${w.target}`);
      expect(w.mounter.calls.map((c) => c.op)).to.deep.equal(['mountTmpfs']);
      expect(w.providers.requests).to.have.length(0);
    });

    it('checks again after an unpublish and a new mount at the same path', async () => {
      await interrupted({ rotation: true }, completeLayout);
      await recorded();
      expect((await w.publisher.publish(w.request())).kind).to.equal('notDue');
      await w.publisher.unpublish(w.target);
      await w.mounter.mountTmpfs(w.target, { noexec: false });
      expect((await w.publisher.publish(w.request())).kind).to.equal('mounted');
    });
  });

  describe('secret sync', () => {
    beforeEach(async () => {
      w = await world({ rotation: true });
      w.providers.respond('fake', () => filesAnswer({ username: 'admin' }));
      w.kube.addSecretProviderClass(
        secretProviderClass({
          secretObjects: [
            { secretName: 'creds', type: 'Opaque', data: [{ objectName: 'username', key: 'user' }] },
          ],
        }),
      );
    });

    it('creates the Secret owned by the pod owners', async () => {
      w.kube.addPod({
        name: 'web-0',
        namespace: 'default',
        uid: POD_UID,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'rs-uid', controller: true },
        ],
      });
      await w.publisher.publish(w.request());
      const secret = w.kube.secret('default', 'creds');
      expect(Buffer.from(secret?.data.user ?? []).toString()).to.equal('admin');
      expect(secret?.labels).to.include({ 'secrets-store.csi.k8s.io/managed': 'true' });
      expect(secret?.ownerReferences).to.deep.equal([
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'rs-uid' },
      ]);
      expect(await metricValue(w.metrics.registry, 'sync_k8s_secret_total', { provider: 'fake' })).to.equal(
        1,
      );
    });

    it('makes the pod status the owner for a bare pod', async () => {
      await w.publisher.publish(w.request());
      const status = w.kube.podStatus('default', 'web-0-default-my-spc');
      expect(w.kube.secret('default', 'creds')?.ownerReferences).to.deep.equal([
        {
          apiVersion: 'secrets-store.csi.x-k8s.io/v1',
          kind: 'SecretProviderClassPodStatus',
          name: 'web-0-default-my-spc',
          uid: status?.metadata.uid,
        },
      ]);
    });

    it('carries rotated content into the Secret in the same refresh', async () => {
      await w.publisher.publish(w.request());
      w.providers.respond('fake', () => filesAnswer({ username: 'root' }, 'v2'));
      w.clock.now += 10 * 60_000;
      await w.publisher.publish(w.request());
      expect(Buffer.from(w.kube.secret('default', 'creds')?.data.user ?? []).toString()).to.equal('root');
      expect(w.kube.recordedEvents.map((e) => e.reason)).to.include('SecretRotationComplete');
    });

    it('reports a missing file as FailedToCreateSecret without failing the mount', async () => {
      w.providers.respond('fake', () => filesAnswer({ other: 'x' }));
      expect((await w.publisher.publish(w.request())).kind).to.equal('mounted');
      const event = w.kube.recordedEvents.find((e) => e.reason === 'FailedToCreateSecret');
      expect(event?.message).to.match(/^failed to get data in spc default\/my-spc for secret creds, err: /);
    });

    it('leaves a Secret it does not manage alone and says so', async () => {
      w.kube.putSecret({
        name: 'creds',
        namespace: 'default',
        type: 'Opaque',
        data: { user: Buffer.from('mine') },
      });
      await w.publisher.publish(w.request());
      expect(Buffer.from(w.kube.secret('default', 'creds')?.data.user ?? []).toString()).to.equal('mine');
      expect(w.kube.recordedEvents.map((e) => e.reason)).to.include('SecretNotManaged');
    });
  });

  describe('unpublish', () => {
    beforeEach(async () => {
      w = await world();
      w.kube.addSecretProviderClass(secretProviderClass());
      w.providers.respond('fake', () => filesAnswer({ a: '1' }));
    });

    it('removes the content, unmounts and removes the directory, and repeats safely', async () => {
      await w.publisher.publish(w.request());
      await w.publisher.unpublish(w.target);
      expect(w.mounter.mounted.size).to.equal(0);
      await stat(w.target).then(
        () => expect.fail('the target path is still there'),
        () => undefined,
      );
      await w.publisher.unpublish(w.target);
      expect(await metricValue(w.metrics.registry, 'node_unpublish_total')).to.equal(2);
    });

    it('succeeds for a path that was never mounted', async () => {
      await w.publisher.unpublish(join(w.dir, 'never'));
      expect(await metricValue(w.metrics.registry, 'node_unpublish_error_total')).to.equal(0);
    });

    it('reports an unmount failure and counts it', async () => {
      await w.publisher.publish(w.request());
      w.mounter.failNext('unmount');
      const error = await rejection(w.publisher.unpublish(w.target));
      expect(error.code).to.equal('UnmountFailed');
      expect(await metricValue(w.metrics.registry, 'node_unpublish_error_total')).to.equal(1);
      // As upstream's, a volume that cannot be unmounted still loses its files.
      expect(await readdir(w.target)).to.deep.equal([]);
    });

    it('unmounts without reading the mount table or removing the files the tmpfs takes with it', async () => {
      await w.publisher.publish(w.request());
      let mountTableReads = 0;
      const isMountPoint = w.mounter.isMountPoint.bind(w.mounter);
      w.mounter.isMountPoint = (target) => {
        mountTableReads++;
        return isMountPoint(target);
      };
      await w.publisher.unpublish(w.target);
      expect(mountTableReads).to.equal(0);
      expect(w.mounter.calls.map((c) => c.op)).to.deep.equal(['mountTmpfs', 'unmount']);
      expect(w.mounter.mounted.size).to.equal(0);
    });

    it('removes the files of a directory nothing is mounted on, then the directory', async () => {
      const never = join(w.dir, 'unmounted');
      await mkdir(join(never, 'sub'), { recursive: true });
      await writeFile(join(never, 'sub', 'file'), 'x');
      await writeFile(join(never, 'file'), 'x');
      await w.publisher.unpublish(never);
      await stat(never).then(
        () => expect.fail('the directory is still there'),
        () => undefined,
      );
    });
  });
});
