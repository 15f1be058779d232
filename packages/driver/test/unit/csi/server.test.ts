import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { silentLogger } from '@secrets-store-csi/core';
import { loadProtocol } from '@secrets-store-csi/protocol';
import { CsiNodeClient } from '@secrets-store-csi/test-support';
import { startCsiServer, type CsiServer } from '../../../src/csi/server.js';
import { ERROR_CODE_METADATA_KEY } from '../../../src/csi/status.js';
import { DriverError, ProviderCallError } from '../../../src/errors.js';
import { AtomicWriter, readMountedContents } from '../../../src/fs/index.js';
import { FakeKubeAdapters } from '../../../src/kube/fake.js';
import { DriverMetrics } from '../../../src/metrics.js';
import { FakeMounter } from '../../../src/mount/index.js';
import { VolumePublisher } from '../../../src/publish/publisher.js';
import { RotationTracker } from '../../../src/rotation/tracker.js';
import { FakeProviderClients, filesAnswer, secretProviderClass } from '../../helpers.js';

const capability = {
  mount: { fs_type: '', mount_flags: [] },
  access_mode: { mode: 'SINGLE_NODE_WRITER' as const },
};

describe('the CSI server', () => {
  let dir: string;
  let server: CsiServer;
  let client: CsiNodeClient;
  let kube: FakeKubeAdapters;
  let mounter: FakeMounter;
  let providers: FakeProviderClients;
  let publisher: VolumePublisher;

  async function start(name = 'secrets-store.csi.k8s.io', version = '0.1.0'): Promise<void> {
    kube = new FakeKubeAdapters({ nodeName: 'node-a' });
    mounter = new FakeMounter();
    providers = new FakeProviderClients();
    providers.respond('fake', () => filesAnswer({ password: 'x' }));
    publisher = new VolumePublisher(
      { nodeName: 'node-a', rotationEnabled: false, tmpfs: { noexec: false } },
      {
        mounter,
        writer: new AtomicWriter(),
        providers,
        kube,
        tracker: new RotationTracker(),
        metrics: new DriverMetrics(),
        logger: silentLogger,
        readMountedContents,
      },
    );
    server = await startCsiServer(
      {
        endpoint: { kind: 'unix', path: join(dir, 'csi.sock') },
        plugin: { name, version },
        node: { nodeId: 'node-a', defaultCallTimeoutMs: 10_000 },
        logger: silentLogger,
      },
      publisher,
    );
    client = new CsiNodeClient(server.address);
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'csi-server-'));
  });

  afterEach(async () => {
    client.close();
    await server.stop(1000);
    await rm(dir, { recursive: true, force: true });
  });

  function publishRequest(overrides: Record<string, unknown> = {}) {
    return {
      volume_id: 'csi-1',
      target_path: join(dir, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'v', 'mount'),
      readonly: true,
      volume_capability: capability,
      volume_context: {
        secretProviderClass: 'my-spc',
        'csi.storage.k8s.io/pod.name': 'web-0',
        'csi.storage.k8s.io/pod.namespace': 'default',
        'csi.storage.k8s.io/pod.uid': 'uid-1',
      },
      ...overrides,
    };
  }

  describe('identity', () => {
    it('names the driver and its version, advertises the controller service and is ready', async () => {
      await start();
      const info = await client.getPluginInfo();
      expect(info.ok && info.response).to.include({
        name: 'secrets-store.csi.k8s.io',
        vendor_version: '0.1.0',
      });
      const capabilities = await client.getPluginCapabilities();
      expect(capabilities.ok && capabilities.response.capabilities.map((c) => c.service?.type)).to.deep.equal(
        ['CONTROLLER_SERVICE'],
      );
      const probe = await client.probe();
      expect(probe.ok && probe.response.ready?.value).to.equal(true);
    });

    it('answers Unavailable when the driver name is not configured', async () => {
      await start('');
      const info = await client.getPluginInfo();
      expect(info.ok ? undefined : [info.codeName, info.details]).to.deep.equal([
        'UNAVAILABLE',
        'driver name not configured',
      ]);
    });

    it('answers Unavailable when the version is not configured', async () => {
      await start('secrets-store.csi.k8s.io', '');
      const info = await client.getPluginInfo();
      expect(info.ok ? undefined : info.details).to.equal('driver version not configured');
    });

    it('answers ControllerGetCapabilities with one UNKNOWN capability, as csi-sanity needs', async () => {
      await start();
      const controller = new (loadProtocol().csi.Controller)(
        `unix:${server.address}`,
        grpc.credentials.createInsecure(),
      );
      const answer = await new Promise<unknown>((resolve, reject) => {
        controller.ControllerGetCapabilities({}, (error, response) => {
          if (error) reject(error);
          else resolve(response);
        });
      });
      controller.close();
      expect(answer).to.deep.equal({ capabilities: [{ rpc: { type: 'UNKNOWN' }, type: 'rpc' }] });
    });
  });

  describe('node', () => {
    beforeEach(async () => {
      await start();
    });

    it('reports the node id and the stage/unstage capability', async () => {
      const info = await client.getNodeInfo();
      expect(info.ok && info.response.node_id).to.equal('node-a');
      const capabilities = await client.getNodeCapabilityTypes();
      expect(capabilities.ok && capabilities.response).to.deep.equal(['STAGE_UNSTAGE_VOLUME']);
    });

    const invalid: [string, Record<string, unknown>, string][] = [
      ['a missing capability', { volume_capability: null }, 'Volume capability missing in request'],
      ['a missing volume id', { volume_id: '' }, 'Volume ID missing in request'],
      ['a missing target path', { target_path: '' }, 'Target path missing in request'],
      ['missing volume attributes', { volume_context: {} }, 'Volume attributes missing in request'],
      [
        'both a missing capability and volume id, capability first',
        { volume_capability: null, volume_id: '' },
        'Volume capability missing in request',
      ],
    ];
    for (const [what, overrides, message] of invalid) {
      it(`refuses a publish with ${what}`, async () => {
        const outcome = await client.publish(publishRequest(overrides));
        expect(outcome.ok ? undefined : [outcome.codeName, outcome.details]).to.deep.equal([
          'INVALID_ARGUMENT',
          message,
        ]);
      });
    }

    it('answers a missing SecretProviderClass with Unknown, upstream text and the error code', async () => {
      const call = await new Promise<grpc.ServiceError>((resolve) => {
        const node = new (loadProtocol().csi.Node)(
          `unix:${server.address}`,
          grpc.credentials.createInsecure(),
        );
        node.NodePublishVolume(publishRequest(), (error) => {
          node.close();
          if (error) resolve(error);
        });
      });
      expect(call.code).to.equal(grpc.status.UNKNOWN);
      expect(call.details).to.match(/^failed to get secretproviderclass default\/my-spc, error: /);
      expect(call.metadata.get(ERROR_CODE_METADATA_KEY)).to.deep.equal(['SecretProviderClassNotFound']);
    });

    for (const [what, targetPath, message] of [
      ['a NUL byte', '/var/lib/kubelet/pods/x\0y/mount', 'target path must not contain a NUL byte'],
      ['more than 4096 bytes', `/${'d/'.repeat(2100)}mount`, 'target path must be at most 4096 bytes long'],
      [
        'an element over 255 bytes',
        `/var/${'n'.repeat(256)}/mount`,
        'target path must not have an element longer than 255 bytes',
      ],
    ] as const) {
      it(`answers a target path with ${what} with InvalidArgument, publish and unpublish (issue 12)`, async () => {
        kube.addSecretProviderClass(secretProviderClass());
        const published = await client.publish(publishRequest({ target_path: targetPath }));
        const unpublished = await client.unpublish({ volume_id: 'csi-1', target_path: targetPath });
        for (const outcome of [published, unpublished]) {
          expect(outcome.ok ? undefined : [outcome.codeName, outcome.details]).to.deep.equal([
            'INVALID_ARGUMENT',
            message,
          ]);
        }
      });
    }

    it("passes a provider's gRPC code on to kubelet with the wrapped text (issue 12)", async () => {
      kube.addSecretProviderClass(secretProviderClass());
      providers.respond('fake', () => {
        throw new ProviderCallError(
          grpc.status.RESOURCE_EXHAUSTED,
          'rpc error: code = ResourceExhausted desc = throttled',
        );
      });
      const outcome = await client.publish(publishRequest());
      expect(outcome.ok ? undefined : [outcome.codeName, outcome.details]).to.deep.equal([
        'RESOURCE_EXHAUSTED',
        'failed to mount secrets store objects for pod default/web-0, err: ' +
          'rpc error: code = ResourceExhausted desc = throttled',
      ]);
    });

    it('answers a hostile error code and a lone surrogate in a text, and keeps serving (issue 12)', async () => {
      kube.addSecretProviderClass(secretProviderClass());
      providers.respond('fake', () => {
        throw new DriverError('Bad Reason\nInjected: yes', 'broken \ud800 text');
      });
      const call = await new Promise<grpc.ServiceError>((resolve) => {
        const node = new (loadProtocol().csi.Node)(
          `unix:${server.address}`,
          grpc.credentials.createInsecure(),
        );
        node.NodePublishVolume(publishRequest(), (error) => {
          node.close();
          if (error) resolve(error);
        });
      });
      expect(call.code).to.equal(grpc.status.UNKNOWN);
      expect(call.details).to.equal(
        'failed to mount secrets store objects for pod default/web-0, err: broken \ufffd text',
      );
      expect(call.metadata.get(ERROR_CODE_METADATA_KEY)).to.deep.equal(['Bad_Reason_Injected_yes']);
      providers.respond('fake', () => filesAnswer({ password: 'x' }));
      expect((await client.publish(publishRequest())).ok).to.equal(true);
    });

    it('answers INTERNAL when a handler throws, and keeps serving (issue 12)', async () => {
      kube.addSecretProviderClass(secretProviderClass());
      const original = publisher.publish.bind(publisher);
      publisher.publish = () => {
        throw new Error('bug');
      };
      const outcome = await client.publish(publishRequest());
      expect(outcome.ok ? undefined : [outcome.codeName, outcome.details]).to.deep.equal([
        'INTERNAL',
        'internal error: bug',
      ]);
      publisher.publish = original;
      expect((await client.publish(publishRequest())).ok).to.equal(true);
    });

    it('answers readonly false with InvalidArgument once the class is found', async () => {
      kube.addSecretProviderClass(secretProviderClass());
      const outcome = await client.publish(publishRequest({ readonly: false }));
      expect(outcome.ok ? undefined : [outcome.codeName, outcome.details]).to.deep.equal([
        'INVALID_ARGUMENT',
        'Readonly is not true in request',
      ]);
    });

    it('publishes and unpublishes a volume', async () => {
      kube.addSecretProviderClass(secretProviderClass());
      const request = publishRequest();
      expect((await client.publish(request)).ok).to.be.true;
      expect(mounter.mounted.has(request.target_path)).to.be.true;
      expect((await client.unpublish({ volume_id: 'csi-1', target_path: request.target_path })).ok).to.be
        .true;
      expect(mounter.mounted.size).to.equal(0);
    });

    it('refuses an unpublish without volume id or target path', async () => {
      const noId = await client.unpublish({ volume_id: '', target_path: '/x' });
      const noPath = await client.unpublish({ volume_id: 'v', target_path: '' });
      expect(noId.ok ? undefined : noId.details).to.equal('Volume ID missing in request');
      expect(noPath.ok ? undefined : noPath.details).to.equal('Target path missing in request');
    });

    it('does not implement volume stats', async () => {
      const outcome = await client.getVolumeStats({ volume_id: 'v', volume_path: '/x' });
      expect(outcome.ok ? undefined : outcome.codeName).to.equal('UNIMPLEMENTED');
    });

    it('validates stage and unstage as upstream and otherwise accepts them', async () => {
      const node = new (loadProtocol().csi.Node)(`unix:${server.address}`, grpc.credentials.createInsecure());
      const call = (method: 'NodeStageVolume' | 'NodeUnstageVolume', request: object) =>
        new Promise<string>((resolve) => {
          (node[method] as (r: object, cb: (e: grpc.ServiceError | null) => void) => void)(
            request,
            (error) => {
              resolve(error ? `${grpc.status[error.code]}: ${error.details}` : 'OK');
            },
          );
        });
      expect(await call('NodeStageVolume', { volume_id: '', staging_target_path: '/s' })).to.equal(
        'INVALID_ARGUMENT: Volume ID missing in request',
      );
      expect(await call('NodeStageVolume', { volume_id: 'v', staging_target_path: '' })).to.equal(
        'INVALID_ARGUMENT: Target path missing in request',
      );
      expect(await call('NodeStageVolume', { volume_id: 'v', staging_target_path: '/s' })).to.equal(
        'INVALID_ARGUMENT: Volume capability missing in request',
      );
      expect(
        await call('NodeStageVolume', {
          volume_id: 'v',
          staging_target_path: '/s',
          volume_capability: capability,
        }),
      ).to.equal('OK');
      expect(await call('NodeUnstageVolume', { volume_id: 'v', staging_target_path: '' })).to.equal(
        'INVALID_ARGUMENT: Target path missing in request',
      );
      expect(await call('NodeUnstageVolume', { volume_id: 'v', staging_target_path: '/s' })).to.equal('OK');
      node.close();
    });
  });
});
