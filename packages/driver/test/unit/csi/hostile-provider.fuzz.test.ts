/**
 * Fuzz (fixed seed, bounded runs): a hostile provider answers the real driver edges, the CSI gRPC server and
 * the provider gRPC client over unix sockets, with random error codes, gRPC statuses, texts, files and
 * object versions (issue 12). Whatever it answers, the driver keeps serving, and everything it sends on is
 * well-formed: the status code is a gRPC code, the text is well-formed and bounded, the error-code metadata
 * is printable ASCII, and Event reasons and metric labels follow the API server's reason rules.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MAX_STATUS_TEXT_LENGTH, silentLogger } from '@secrets-store-csi/core';
import { loadProtocol, type provider as wire } from '@secrets-store-csi/protocol';
import { expect } from 'chai';
import fc from 'fast-check';
import { startCsiServer, type CsiServer } from '../../../src/csi/server.js';
import { ERROR_CODE_METADATA_KEY } from '../../../src/csi/status.js';
import { AtomicWriter, readMountedContents } from '../../../src/fs/index.js';
import { eventBody } from '../../../src/kube/events.js';
import { FakeKubeAdapters } from '../../../src/kube/fake.js';
import { DriverMetrics } from '../../../src/metrics.js';
import { FakeMounter } from '../../../src/mount/index.js';
import { GrpcProviderClients } from '../../../src/providers/client.js';
import { VolumePublisher } from '../../../src/publish/publisher.js';
import { RotationTracker } from '../../../src/rotation/tracker.js';
import { secretProviderClass } from '../../helpers.js';

/** The API server's rule for Event and condition reasons. */
const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const SEED = 1212;
const RUNS = 80;

type HostileAnswer =
  | { readonly kind: 'status'; readonly code: number; readonly details: string; readonly metadata: string }
  | { readonly kind: 'response'; readonly response: wire.MountResponse };

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('Fehlerä', 'Bad Reason\nInjected: yes', '\t', '\ud800', '', ' ', 'a'.repeat(5000)),
);

const hostileAnswer: fc.Arbitrary<HostileAnswer> = fc.oneof(
  fc.record({
    kind: fc.constant('status' as const),
    code: fc.integer({ min: 1, max: 16 }),
    // grpc-js itself cannot send a lone surrogate; a provider in another language could send anything else
    details: fc.string({ unit: 'binary', maxLength: 8000 }).map((s) => s.toWellFormed()),
    metadata: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
  }),
  fc.record({
    kind: fc.constant('response' as const),
    response: fc.record({
      error: fc.option(fc.record({ code: text }), { nil: undefined }),
      object_version: fc.array(fc.record({ id: text, version: text }), { maxLength: 3 }),
      files: fc.array(
        fc.record({
          path: fc.oneof(text, fc.constantFrom('../x', '/abs', 'a/../../b', '..data', 'ok')),
          mode: fc.integer({ min: -1, max: 0o10000 }),
          contents: fc.uint8Array({ maxLength: 64 }),
        }),
        { maxLength: 3 },
      ),
    }),
  }),
);

describe('the driver against a hostile provider (fuzz, fixed seed)', function () {
  this.timeout(120_000);
  let dir: string;
  let providerServer: grpc.Server;
  let server: CsiServer;
  let node: InstanceType<ReturnType<typeof loadProtocol>['csi']['Node']>;
  let kube: FakeKubeAdapters;
  let metrics: DriverMetrics;
  let providers: GrpcProviderClients;
  let answer: HostileAnswer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-provider-'));
    providerServer = new grpc.Server();
    providerServer.addService(loadProtocol().provider.CSIDriverProvider.service, {
      Version(_call: unknown, callback: grpc.sendUnaryData<wire.VersionResponse>) {
        callback(null, { version: 'v1alpha1', runtime_name: 'hostile', runtime_version: '0' });
      },
      Mount(_call: unknown, callback: grpc.sendUnaryData<wire.MountResponse>) {
        if (answer.kind === 'response') {
          callback(null, answer.response);
          return;
        }
        const metadata = new grpc.Metadata();
        metadata.set(ERROR_CODE_METADATA_KEY, answer.metadata);
        callback({
          code: grpc.status[grpc.status[answer.code] as keyof typeof grpc.status],
          details: answer.details,
          metadata,
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      providerServer.bindAsync(
        `unix:${join(dir, 'hostile.sock')}`,
        grpc.ServerCredentials.createInsecure(),
        (error) => {
          if (error) reject(error);
          else resolve();
        },
      );
    });
    kube = new FakeKubeAdapters({ nodeName: 'node-a' });
    kube.addSecretProviderClass(secretProviderClass({ provider: 'hostile' }));
    metrics = new DriverMetrics();
    providers = new GrpcProviderClients(
      { additional: [], primary: dir },
      { maxReceiveMessageBytes: 4 * 1024 * 1024 },
    );
    const publisher = new VolumePublisher(
      { nodeName: 'node-a', rotationEnabled: false, tmpfs: { noexec: false } },
      {
        mounter: new FakeMounter(),
        writer: new AtomicWriter(),
        providers,
        kube,
        tracker: new RotationTracker(),
        metrics,
        logger: silentLogger,
        readMountedContents,
      },
    );
    server = await startCsiServer(
      {
        endpoint: { kind: 'unix', path: join(dir, 'csi.sock') },
        plugin: { name: 'secrets-store.csi.k8s.io', version: '0.1.0' },
        node: { nodeId: 'node-a', defaultCallTimeoutMs: 10_000 },
        logger: silentLogger,
      },
      publisher,
    );
    node = new (loadProtocol().csi.Node)(`unix:${server.address}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    node.close();
    providers.close();
    await server.stop(1000);
    providerServer.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  const targetPath = () => join(dir, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'v', 'mount');
  const publish = () =>
    new Promise<grpc.ServiceError | null>((resolve) => {
      node.NodePublishVolume(
        {
          volume_id: 'csi-1',
          target_path: targetPath(),
          readonly: true,
          volume_capability: {
            mount: { fs_type: '', mount_flags: [] },
            access_mode: { mode: 'SINGLE_NODE_WRITER' },
          },
          volume_context: {
            secretProviderClass: 'my-spc',
            'csi.storage.k8s.io/pod.name': 'web-0',
            'csi.storage.k8s.io/pod.namespace': 'default',
            'csi.storage.k8s.io/pod.uid': 'uid-1',
          },
        },
        { deadline: Date.now() + 10_000 },
        (error) => {
          resolve(error);
        },
      );
    });
  const unpublish = () =>
    new Promise<void>((resolve) => {
      node.NodeUnpublishVolume({ volume_id: 'csi-1', target_path: targetPath() }, () => {
        resolve();
      });
    });

  it('keeps serving, and every status, metadata value, Event reason and metric label is well-formed', async () => {
    let failures = 0;
    await fc.assert(
      fc.asyncProperty(hostileAnswer, async (hostile) => {
        answer = hostile;
        const error = await publish();
        await unpublish();
        if (error === null) return;
        failures += 1;
        expect(error.code).to.be.within(1, 16);
        expect(grpc.status[error.code]).to.be.a('string');
        expect(error.details.isWellFormed()).to.equal(true);
        expect(error.details.length).to.be.at.most(MAX_STATUS_TEXT_LENGTH);
        for (const value of error.metadata.get(ERROR_CODE_METADATA_KEY)) {
          expect(value).to.be.a('string').and.match(REASON);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(failures).to.be.greaterThan(RUNS / 2);

    for (const event of kube.recordedEvents) {
      const body = eventBody(event, 'node-a', new Date(), 0);
      expect(body.reason).to.match(REASON);
      expect(body.action).to.match(REASON);
    }
    const errorTypes = (await metrics.registry.getMetricsAsJSON())
      .flatMap((metric) => metric.values)
      .map((value) => (value.labels as Record<string, unknown>).error_type)
      .filter((label): label is string => typeof label === 'string');
    expect(errorTypes).to.not.be.empty;
    for (const label of errorTypes) expect(label === '' || REASON.test(label), label).to.equal(true);

    // still serving: a well-behaved answer mounts
    answer = {
      kind: 'response',
      response: {
        object_version: [{ id: 'secret/a', version: '1' }],
        files: [{ path: 'a', mode: 0o644, contents: Buffer.from('x') }],
      },
    };
    expect(await publish()).to.equal(null);
    await unpublish();
  });
});
