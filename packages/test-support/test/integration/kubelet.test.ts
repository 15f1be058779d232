import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  AuthenticationV1Api,
  CoreV1Api,
  StorageV1Api,
  type V1CSIDriverSpec,
  type V1CSIVolumeSource,
  type V1Pod,
  type V1Volume,
} from '@kubernetes/client-node';
import { loadProtocol, type csi } from '@secrets-store-csi/protocol';
import { expect } from 'chai';
import {
  CsiNodeClient,
  KUBELET_VOLUME_CONTEXT_KEYS as KEYS,
  KubeletStandIn,
  apiErrorCode,
  mustSucceed,
  sharedTestWorld,
  waitUntil,
  type KubeletPod,
  type TestWorld,
} from '../../src/index.js';

const DRIVER = 'secrets-store.csi.k8s.io';
const AUDIENCE = 'api://AzureADTokenExchange';
const NODE = 'kubelet-test-node';

interface PublishSeen {
  readonly request: csi.NodePublishVolumeRequest__Output;
  readonly targetExisted: boolean;
  readonly parentExisted: boolean;
  readonly volumeData: string | undefined;
}

/** A tiny CSI node plugin: records what it is sent, creates the target dir on publish, removes it on unpublish. */
class RecordingNodePlugin {
  readonly publishes: PublishSeen[] = [];
  readonly unpublishes: csi.NodeUnpublishVolumeRequest__Output[] = [];
  /** Node capabilities announced (RPC types). */
  capabilities: RpcType[] = [];
  /** Errors the next NodePublishVolume calls answer with, in order. */
  readonly publishErrors: { code: grpc.status; details: string }[] = [];
  readonly #server = new grpc.Server();

  async start(socketPath: string): Promise<void> {
    const protocol = loadProtocol();
    const identity: Partial<csi.IdentityHandlers> = {
      GetPluginInfo: (_call, callback) => {
        callback(null, { name: DRIVER, vendor_version: 'test' });
      },
      GetPluginCapabilities: (_call, callback) => {
        callback(null, { capabilities: [] });
      },
      Probe: (_call, callback) => {
        callback(null, { ready: { value: true } });
      },
    };
    const node: Partial<csi.NodeHandlers> = {
      NodeGetInfo: (_call, callback) => {
        callback(null, { node_id: NODE });
      },
      NodeGetCapabilities: (_call, callback) => {
        callback(null, { capabilities: this.capabilities.map((type) => ({ rpc: { type } })) });
      },
      NodePublishVolume: (call, callback) => {
        const request = call.request;
        const volumeDataPath = join(dirname(request.target_path), 'vol_data.json');
        const seen = {
          request,
          targetExisted: existsSync(request.target_path),
          parentExisted: existsSync(dirname(request.target_path)),
        };
        void (async () => {
          const volumeData = await readFile(volumeDataPath, 'utf8').catch(() => undefined);
          this.publishes.push({ ...seen, volumeData });
          const error = this.publishErrors.shift();
          if (error) {
            callback(error);
            return;
          }
          await mkdir(request.target_path, { recursive: true });
          callback(null, {});
        })();
      },
      NodeUnpublishVolume: (call, callback) => {
        this.unpublishes.push(call.request);
        void rm(call.request.target_path, { recursive: true, force: true }).then(() => {
          callback(null, {});
        });
      },
    };
    this.#server.addService(protocol.csi.Identity.service, identity as grpc.UntypedServiceImplementation);
    this.#server.addService(protocol.csi.Node.service, node as grpc.UntypedServiceImplementation);
    await new Promise<void>((resolve, reject) => {
      this.#server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  }

  publishesOf(volumeId: string): PublishSeen[] {
    return this.publishes.filter((p) => p.request.volume_id === volumeId);
  }

  stop(): void {
    this.#server.forceShutdown();
  }
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

type RpcType = NonNullable<NonNullable<csi.NodeServiceCapability['rpc']>['type']>;

type TokensJson = Record<string, { token: string; expirationTimestamp: string }>;

describe('the kubelet stand-in', function () {
  let world: TestWorld;
  let core: CoreV1Api;
  let storage: StorageV1Api;
  let dir: string;
  let socketPath: string;
  let plugin: RecordingNodePlugin;
  let kubelet: KubeletStandIn;
  const namespace = `kubelet-${Date.now().toString(36)}`;
  const driverSpec = {
    attachRequired: false,
    podInfoOnMount: true,
    requiresRepublish: true,
    tokenRequests: [{ audience: AUDIENCE }],
    volumeLifecycleModes: ['Ephemeral'],
  } satisfies V1CSIDriverSpec;

  async function setCsiDriver(changes: Partial<V1CSIDriverSpec>): Promise<void> {
    await storage.deleteCSIDriver({ name: DRIVER }).catch((error: unknown) => {
      if (apiErrorCode(error) !== 404) throw error;
    });
    await storage.createCSIDriver({
      body: { metadata: { name: DRIVER }, spec: { ...driverSpec, ...changes } },
    });
  }

  const inline = (name: string, source: Partial<V1CSIVolumeSource> = {}): V1Volume => ({
    name,
    csi: {
      driver: DRIVER,
      readOnly: true,
      volumeAttributes: { secretProviderClass: 'my-provider' },
      nodePublishSecretRef: { name: 'creds' },
      ...source,
    },
  });

  const manifest = (name: string, volumes: V1Volume[], spec: Partial<V1Pod['spec']> = {}): V1Pod => ({
    metadata: { name, namespace },
    spec: {
      serviceAccountName: 'workload',
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
      volumes,
      ...spec,
    },
  });

  const only = (pod: KubeletPod) => {
    expect(pod.volumes).to.have.length(1);
    return pod.volumes[0]!;
  };

  before(async () => {
    world = await sharedTestWorld();
    core = world.kube.kubeConfig.makeApiClient(CoreV1Api);
    storage = world.kube.kubeConfig.makeApiClient(StorageV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'workload' } } });
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'creds' }, stringData: { clientid: 'id-1', clientsecret: 's3cret' } },
    });
    await setCsiDriver({});
    dir = await mkdtemp(join(tmpdir(), 'kubelet-test-'));
    socketPath = join(dir, 'csi.sock');
    plugin = new RecordingNodePlugin();
    await plugin.start(socketPath);
    kubelet = new KubeletStandIn({
      kubeConfig: world.kube.kubeConfig,
      nodeName: NODE,
      csiSocketPath: socketPath,
      kubeletRootDir: join(dir, 'kubelet'),
    });
  });

  after(async () => {
    expect(await kubelet.close()).to.deep.equal([]);
    plugin.stop();
    await storage.deleteCSIDriver({ name: DRIVER });
    await core.deleteNamespace({ name: namespace });
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes an inline volume with the volume id, target path, context, token and secrets kubelet sends', async () => {
    const result = await kubelet.runPod(
      manifest('first', [inline('secrets-store-inline'), { name: 'scratch', emptyDir: {} }]),
    );
    const uid = result.pod.metadata!.uid!;
    expect(result.pod.spec?.nodeName).to.equal(NODE);
    const volume = only(result);
    expect(volume.lastResult?.ok).to.equal(true);
    expect(volume.state).to.equal('mounted');
    expect(volume.volumeId).to.equal(`csi-${sha256Hex(`${uid}secrets-store-inline`)}`);
    expect(volume.targetPath).to.equal(
      join(dir, 'kubelet', 'pods', uid, 'volumes', 'kubernetes.io~csi', 'secrets-store-inline', 'mount'),
    );

    const [seen, ...more] = plugin.publishesOf(volume.volumeId);
    expect(more).to.deep.equal([]);
    const request = seen!.request;
    expect(seen!.parentExisted, 'kubelet creates the volume dir').to.equal(true);
    expect(seen!.targetExisted, 'kubelet leaves the mount dir to the driver').to.equal(false);
    expect(request.target_path).to.equal(volume.targetPath);
    expect(request.readonly).to.equal(true);
    expect(request.staging_target_path).to.equal('');
    expect(request.publish_context).to.deep.equal({});
    expect(request.volume_capability).to.deep.include({
      access_type: 'mount',
      access_mode: { mode: 'SINGLE_NODE_WRITER' },
    });
    expect(request.volume_capability?.mount).to.deep.equal({
      fs_type: '',
      mount_flags: [],
      volume_mount_group: '',
    });

    const { [KEYS.serviceAccountTokens]: tokensJson, ...context } = request.volume_context;
    expect(context).to.deep.equal({
      secretProviderClass: 'my-provider',
      [KEYS.podName]: 'first',
      [KEYS.podNamespace]: namespace,
      [KEYS.podUid]: uid,
      [KEYS.serviceAccountName]: 'workload',
      [KEYS.ephemeral]: 'true',
    });
    expect(request.secrets).to.deep.equal({ clientid: 'id-1', clientsecret: 's3cret' });

    const tokens = JSON.parse(tokensJson ?? '{}') as TokensJson;
    expect(Object.keys(tokens)).to.deep.equal([AUDIENCE]);
    const { token, expirationTimestamp } = tokens[AUDIENCE]!;
    expect(tokensJson).to.equal(
      `{"${AUDIENCE}":{"token":"${token}","expirationTimestamp":"${expirationTimestamp}"}}`,
    );
    expect(expirationTimestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const lifetime = Date.parse(expirationTimestamp) - Date.now();
    expect(lifetime).to.be.within(3500_000, 3601_000);
    const claims = jwtClaims(token);
    expect(claims).to.deep.include({
      aud: [AUDIENCE],
      iss: world.kube.serviceAccountIssuer,
      sub: `system:serviceaccount:${namespace}:workload`,
    });
    expect(claims['kubernetes.io']).to.deep.include({
      pod: { name: 'first', uid },
    });
    const review = await world.kube.kubeConfig.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { spec: { token, audiences: [AUDIENCE] } },
    });
    expect(review.status?.authenticated).to.equal(true);
    expect(review.status?.user?.username).to.equal(`system:serviceaccount:${namespace}:workload`);
    expect(review.status?.user?.extra?.['authentication.kubernetes.io/pod-uid']).to.deep.equal([uid]);

    expect(JSON.parse(seen!.volumeData ?? '{}')).to.deep.equal({
      attachmentID: `csi-${sha256Hex(`${volume.volumeId}${DRIVER}${NODE}`)}`,
      driverName: DRIVER,
      nodeName: NODE,
      specVolID: 'secrets-store-inline',
      volumeHandle: volume.volumeId,
      volumeLifecycleMode: 'Ephemeral',
    });
    expect(seen!.volumeData?.endsWith('}\n')).to.equal(true);
    expect(kubelet.calls.filter((c) => c.podUid === uid).map((c) => c.rpc)).to.deep.equal([
      'NodeGetCapabilities',
      'NodeGetCapabilities',
      'NodePublishVolume',
    ]);
    await kubelet.deletePod(result);
  });

  it('maps the access mode and fsGroup from the plugin capabilities, and readOnly from the volume', async () => {
    plugin.capabilities = ['SINGLE_NODE_MULTI_WRITER', 'VOLUME_MOUNT_GROUP'];
    try {
      const result = await kubelet.runPod(
        manifest('writer', [inline('store', { readOnly: false, fsType: 'ext4' })], {
          securityContext: { fsGroup: 2000 },
        }),
      );
      const request = plugin.publishesOf(only(result).volumeId)[0]!.request;
      expect(request.readonly).to.equal(false);
      expect(request.volume_capability).to.deep.include({
        access_mode: { mode: 'SINGLE_NODE_MULTI_WRITER' },
        mount: { fs_type: 'ext4', mount_flags: [], volume_mount_group: '2000' },
      });
      await kubelet.deletePod(result);
    } finally {
      plugin.capabilities = [];
    }
  });

  it('fails a volume whose nodePublishSecretRef Secret is missing before calling the driver, then retries it', async () => {
    const result = await kubelet.runPod(
      manifest('no-secret', [inline('store', { nodePublishSecretRef: { name: 'late-creds' } })]),
    );
    const volume = only(result);
    expect(volume.state).to.equal('unmounted');
    expect(volume.lastResult).to.deep.include({
      ok: false,
      kind: 'transient',
      code: undefined,
      message:
        `MountVolume.SetUp failed for volume "store" : fetching NodePublishSecretRef ${namespace}/late-creds failed: ` +
        `kubernetes.io/csi: failed to find the secret late-creds in the namespace ${namespace} with error: ` +
        'secrets "late-creds" not found',
    });
    expect(plugin.publishesOf(volume.volumeId)).to.deep.equal([]);
    expect(kubelet.calls.filter((c) => c.podUid === result.pod.metadata?.uid)).to.deep.equal([]);

    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'late-creds' }, stringData: { key: 'late' } },
    });
    const retried = await kubelet.republish(result);
    expect(retried.map((r) => [r.operation, r.result.ok])).to.deep.equal([['mount', true]]);
    expect(kubelet.volumes(result)[0]?.state).to.equal('mounted');
    expect(plugin.publishesOf(volume.volumeId)[0]?.request.secrets).to.deep.equal({ key: 'late' });
    await kubelet.deletePod(result);
  });

  it('republishes with the same id and path, the Secret read again and the token reused, only with requiresRepublish', async () => {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'rotating' }, stringData: { password: 'one' } },
    });
    const result = await kubelet.runPod(
      manifest('rotate', [inline('store', { nodePublishSecretRef: { name: 'rotating' } })]),
    );
    const volume = only(result);
    const tokenRequests = kubelet.tokenRequests;
    await core.replaceNamespacedSecret({
      name: 'rotating',
      namespace,
      body: { metadata: { name: 'rotating' }, stringData: { password: 'two' } },
    });
    const republished = await kubelet.republish(result);
    expect(republished.map((r) => [r.operation, r.result.ok])).to.deep.equal([['republish', true]]);
    const [first, second] = plugin.publishesOf(volume.volumeId);
    expect(second?.request.target_path).to.equal(first?.request.target_path);
    expect(second?.request.secrets).to.deep.equal({ password: 'two' });
    expect(second?.request.volume_context[KEYS.serviceAccountTokens]).to.equal(
      first?.request.volume_context[KEYS.serviceAccountTokens],
    );
    expect(kubelet.tokenRequests).to.equal(tokenRequests);
    expect(kubelet.volumes(result)[0]?.publishCount).to.equal(2);

    await setCsiDriver({ requiresRepublish: false });
    try {
      expect(await kubelet.republish(result)).to.deep.equal([]);
      expect(plugin.publishesOf(volume.volumeId)).to.have.length(2);
    } finally {
      await setCsiDriver({});
    }
    await kubelet.deletePod(result);
  });

  it('fetches a new token once 80% of its lifetime has passed', async () => {
    let offsetMs = 0;
    const clocked = new KubeletStandIn({
      kubeConfig: world.kube.kubeConfig,
      nodeName: NODE,
      csiSocketPath: socketPath,
      kubeletRootDir: join(dir, 'kubelet-clocked'),
      clock: () => new Date(Date.now() + offsetMs),
    });
    try {
      const result = await clocked.runPod(manifest('clocked', [inline('store')]));
      const tokenOf = (n: number) =>
        (
          JSON.parse(
            plugin.publishesOf(only(result).volumeId)[n]?.request.volume_context[KEYS.serviceAccountTokens] ??
              '{}',
          ) as TokensJson
        )[AUDIENCE]?.token;
      offsetMs = 0.75 * 3600_000;
      await clocked.republish(result);
      expect(tokenOf(1)).to.equal(tokenOf(0));
      offsetMs = 0.81 * 3600_000;
      await clocked.republish(result);
      expect(tokenOf(2)).to.be.a('string').and.not.equal(tokenOf(0));
      expect(clocked.tokenRequests).to.equal(2);
    } finally {
      expect(await clocked.close()).to.deep.equal([]);
    }
  });

  it('passes the tokens in secrets when the CSIDriver has serviceAccountTokenInSecrets', async () => {
    await setCsiDriver({ serviceAccountTokenInSecrets: true });
    try {
      const result = await kubelet.runPod(manifest('in-secrets', [inline('store')]));
      const request = plugin.publishesOf(only(result).volumeId)[0]!.request;
      expect(request.volume_context).to.not.have.property(KEYS.serviceAccountTokens);
      expect(request.volume_context).to.have.property(KEYS.podUid, result.pod.metadata?.uid);
      const { [KEYS.serviceAccountTokens]: tokens, ...secrets } = request.secrets;
      expect(secrets).to.deep.equal({ clientid: 'id-1', clientsecret: 's3cret' });
      expect(jwtClaims((JSON.parse(tokens ?? '{}') as TokensJson)[AUDIENCE]!.token).aud).to.deep.equal([
        AUDIENCE,
      ]);
      await kubelet.deletePod(result);
    } finally {
      await setCsiDriver({});
    }
  });

  it('unpublishes on delete, removes what kubelet wrote and deletes the pod', async () => {
    const result = await kubelet.runPod(manifest('doomed', [inline('store'), inline('other')]));
    const uid = result.pod.metadata!.uid!;
    const deleted = await kubelet.deletePod(result);
    expect(deleted.podDeleted).to.equal(true);
    expect(deleted.volumes.map((v) => [v.name, v.operation, v.result.ok])).to.deep.equal([
      ['store', 'unmount', true],
      ['other', 'unmount', true],
    ]);
    for (const volume of result.volumes) {
      expect(plugin.unpublishes).to.deep.include({
        volume_id: volume.volumeId,
        target_path: volume.targetPath,
      });
    }
    expect(existsSync(join(dir, 'kubelet', 'pods', uid))).to.equal(false);
    const error = await core.readNamespacedPod({ name: 'doomed', namespace }).catch((e: unknown) => e);
    expect(apiErrorCode(error)).to.equal(404);
    expect(kubelet.pods.map((p) => p.pod.metadata?.uid)).to.not.include(uid);
  });

  it('classifies driver errors as kubelet does: final errors clean up, non-final ones are unpublished later', async () => {
    plugin.publishErrors.push({ code: grpc.status.INVALID_ARGUMENT, details: 'bad attributes' });
    const result = await kubelet.runPod(manifest('failing', [inline('store')]));
    const volume = only(result);
    expect(volume.state).to.equal('unmounted');
    expect(volume.lastResult).to.deep.include({
      ok: false,
      kind: 'final',
      code: grpc.status.INVALID_ARGUMENT,
      codeName: 'INVALID_ARGUMENT',
      details: 'bad attributes',
      message:
        'MountVolume.SetUp failed for volume "store" : rpc error: code = InvalidArgument desc = bad attributes',
    });
    expect(existsSync(dirname(volume.targetPath)), 'the volume dir is removed').to.equal(false);

    plugin.publishErrors.push({ code: grpc.status.UNAVAILABLE, details: 'try later' });
    const [retried] = await kubelet.republish(result);
    expect(retried?.result).to.deep.include({ ok: false, kind: 'uncertain', codeName: 'UNAVAILABLE' });
    expect(kubelet.volumes(result)[0]?.state).to.equal('uncertain');
    expect(existsSync(join(dirname(volume.targetPath), 'vol_data.json'))).to.equal(true);

    const deleted = await kubelet.deletePod(result);
    expect(deleted.volumes.map((v) => [v.operation, v.result.ok])).to.deep.equal([['unmount', true]]);
    expect(plugin.unpublishes.map((u) => u.volume_id)).to.include(volume.volumeId);
  });

  it('refuses an ephemeral volume when no CSIDriver object allows it, without calling the driver', async () => {
    const other = new KubeletStandIn({
      kubeConfig: world.kube.kubeConfig,
      nodeName: NODE,
      csiSocketPath: socketPath,
      kubeletRootDir: join(dir, 'kubelet-other'),
      driverName: 'absent.csi.example.com',
    });
    try {
      const result = await other.runPod(
        manifest('unknown-driver', [inline('store', { driver: 'absent.csi.example.com' })]),
      );
      expect(only(result).lastResult).to.deep.include({
        ok: false,
        kind: 'transient',
        message:
          'MountVolume.SetUp failed for volume "store" : kubernetes.io/csi: mounter.SetupAt failed to check volume ' +
          'lifecycle mode: volume mode "Ephemeral" not supported by driver absent.csi.example.com (no CSIDriver object)',
      });
      expect(other.calls).to.deep.equal([]);
      // and the main kubelet ignores volumes of other drivers
      const ignored = await kubelet.runPod(
        manifest('other-driver', [inline('store', { driver: 'absent.csi.example.com' })]),
      );
      expect(ignored.volumes).to.deep.equal([]);
      await kubelet.deletePod(ignored);
    } finally {
      expect(await other.close()).to.deep.equal([]);
    }
  });

  it('republishes periodically until stopped', async () => {
    const result = await kubelet.runPod(manifest('periodic', [inline('store')]));
    kubelet.startPeriodicRepublish(50);
    try {
      await waitUntil(async () => Promise.resolve((kubelet.volumes(result)[0]?.publishCount ?? 0) >= 3), {
        description: 'three publishes',
        timeoutMs: 10_000,
        intervalMs: 20,
      });
    } finally {
      await kubelet.stopPeriodicRepublish();
    }
    const count = kubelet.volumes(result)[0]?.publishCount;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(kubelet.volumes(result)[0]?.publishCount).to.equal(count);
    expect(kubelet.volumes(result)[0]?.lastResult?.ok).to.equal(true);
    await kubelet.deletePod(result);
  });

  it('registers the plugin and offers a CSI client for direct calls', async () => {
    const { pluginInfo, nodeInfo } = await kubelet.register();
    expect(mustSucceed(pluginInfo).name).to.equal(DRIVER);
    expect(mustSucceed(nodeInfo).node_id).to.equal(NODE);
    const client = new CsiNodeClient(socketPath);
    try {
      expect(mustSucceed(await client.probe()).ready?.value).to.equal(true);
      expect(mustSucceed(await client.getPluginCapabilities()).capabilities).to.deep.equal([]);
      expect(mustSucceed(await client.getNodeCapabilityTypes())).to.deep.equal([]);
      const unimplemented = await client.getVolumeStats({ volume_id: 'x', volume_path: '/x' });
      expect(unimplemented).to.deep.include({ ok: false, codeName: 'UNIMPLEMENTED' });
      expect(() => mustSucceed(unimplemented)).to.throw('rpc error: code = Unimplemented');
    } finally {
      client.close();
    }
  });

  it('close() unpublishes what is still published and deletes the pods', async () => {
    const closing = new KubeletStandIn({
      kubeConfig: world.kube.kubeConfig,
      nodeName: NODE,
      csiSocketPath: socketPath,
      kubeletRootDir: join(dir, 'kubelet-closing'),
    });
    const result = await closing.runPod(manifest('left-behind', [inline('store')]));
    expect(await closing.close()).to.deep.equal([]);
    expect(plugin.unpublishes.map((u) => u.volume_id)).to.include(only(result).volumeId);
    const error = await core.readNamespacedPod({ name: 'left-behind', namespace }).catch((e: unknown) => e);
    expect(apiErrorCode(error)).to.equal(404);
    await closing.runPod(manifest('too-late', [])).then(
      () => expect.fail('a closed kubelet ran a pod'),
      (e: unknown) => expect(String(e)).to.include('closed'),
    );
  });
});
