/**
 * The hand-written CSI codecs of wire/csi.ts against the reflection codecs of the package root (proto-loader
 * over the generated descriptor, with loader-options.json and zero values left off as Go does), which the
 * driver used until now: same bytes out, same objects in (what the driver's handlers receive), for
 * arbitrary messages with fixed seeds.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { loadProtocol } from '../src/index.js';
import {
  controllerServiceDefinition,
  csiEnums,
  identityServiceDefinition,
  nodeServiceDefinition,
} from '../src/wire/index.js';

const { csi } = loadProtocol();
const params = { seed: 1313, numRuns: 200 };
const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const key = text.filter((value) => value !== '__proto__');
const stringMap = fc.dictionary(key, text, { maxKeys: 3 });
const enumOf = (names: readonly string[]) => fc.constantFrom(...names);

const volumeCapability = fc
  .tuple(
    fc.oneof(
      fc.constant({}),
      fc.record({ block: fc.constant({}) }),
      fc.record({
        mount: fc.record({
          fs_type: text,
          mount_flags: fc.array(text, { maxLength: 3 }),
          volume_mount_group: text,
        }),
      }),
    ),
    fc.option(fc.record({ access_mode: fc.record({ mode: enumOf(csiEnums.accessMode) }) }), {
      nil: {},
    }),
  )
  .map(([accessType, accessMode]) => ({ ...accessType, ...accessMode }));

const nodePublishRequest = fc.record({
  volume_id: text,
  publish_context: stringMap,
  staging_target_path: text,
  target_path: text,
  volume_capability: fc.option(volumeCapability, { nil: null }),
  readonly: fc.boolean(),
  secrets: stringMap,
  volume_context: stringMap,
});
const nodeStageRequest = fc.record({
  volume_id: text,
  publish_context: stringMap,
  staging_target_path: text,
  volume_capability: fc.option(volumeCapability, { nil: null }),
  secrets: stringMap,
  volume_context: stringMap,
});

const typeMessage = (names: readonly string[]) => fc.record({ type: enumOf(names) });
const pluginCapabilities = fc.record({
  capabilities: fc.array(
    fc.oneof(
      fc.record({ service: typeMessage(csiEnums.pluginServiceType) }),
      fc.record({ volume_expansion: typeMessage(csiEnums.volumeExpansionType) }),
    ),
    { maxLength: 4 },
  ),
});
const rpcCapabilities = (names: readonly string[]) =>
  fc.record({ capabilities: fc.array(fc.record({ rpc: typeMessage(names) }), { maxLength: 4 }) });
const pluginInfo = fc.record({ name: text, vendor_version: text, manifest: stringMap });
const probe = fc.record({ ready: fc.option(fc.record({ value: fc.boolean() }), { nil: null }) });
const nodeInfo = fc.record({
  node_id: text,
  max_volumes_per_node: fc.oneof(
    fc.constant('0'),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  ),
  accessible_topology: fc.option(fc.record({ segments: stringMap }), { nil: null }),
});

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

interface Codec {
  requestSerialize(message: never): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(message: never): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

/** Both directions of one side (request or response) of a method, against the reflection codec. */
function sameAsReference(
  ours: Codec,
  reference: Codec,
  side: 'request' | 'response',
  arbitrary: fc.Arbitrary<object>,
): void {
  const serialize = side === 'request' ? 'requestSerialize' : 'responseSerialize';
  const deserialize = side === 'request' ? 'requestDeserialize' : 'responseDeserialize';
  fc.assert(
    fc.property(arbitrary, (message) => {
      const bytes = reference[serialize](message as never);
      expect(hex(ours[serialize](message as never))).to.equal(hex(bytes));
      expect(ours[deserialize](bytes)).to.deep.equal(reference[deserialize](bytes));
    }),
    params,
  );
}

describe('wire codecs of CSI', () => {
  const identity = csi.Identity.service as unknown as Record<string, Codec>;
  const controller = csi.Controller.service as unknown as Record<string, Codec>;
  const node = csi.Node.service as unknown as Record<string, Codec>;
  const ourIdentity = identityServiceDefinition as unknown as Record<string, Codec>;
  const ourController = controllerServiceDefinition as unknown as Record<string, Codec>;
  const ourNode = nodeServiceDefinition as unknown as Record<string, Codec>;

  it('serves the methods the reflection loader defines, on the same paths', () => {
    for (const [ours, reference] of [
      [ourIdentity, identity],
      [ourController, controller],
      [ourNode, node],
    ] as const) {
      expect(Object.keys(ours).sort()).to.deep.equal(Object.keys(reference).sort());
      for (const [name, method] of Object.entries(ours)) {
        expect((method as unknown as { path: string }).path).to.equal(
          (reference[name] as unknown as { path: string }).path,
        );
      }
    }
  });

  it('NodePublishVolumeRequest: the bytes and the handler object of the reflection codec', () => {
    sameAsReference(ourNode.NodePublishVolume!, node.NodePublishVolume!, 'request', nodePublishRequest);
  });

  it('NodeStageVolumeRequest: the bytes and the handler object of the reflection codec', () => {
    sameAsReference(ourNode.NodeStageVolume!, node.NodeStageVolume!, 'request', nodeStageRequest);
  });

  it('NodeUnpublishVolumeRequest and NodeUnstageVolumeRequest', () => {
    sameAsReference(
      ourNode.NodeUnpublishVolume!,
      node.NodeUnpublishVolume!,
      'request',
      fc.record({ volume_id: text, target_path: text }),
    );
    sameAsReference(
      ourNode.NodeUnstageVolume!,
      node.NodeUnstageVolume!,
      'request',
      fc.record({ volume_id: text, staging_target_path: text }),
    );
  });

  it('Identity responses: GetPluginInfo, GetPluginCapabilities, Probe', () => {
    sameAsReference(ourIdentity.GetPluginInfo!, identity.GetPluginInfo!, 'response', pluginInfo);
    sameAsReference(
      ourIdentity.GetPluginCapabilities!,
      identity.GetPluginCapabilities!,
      'response',
      pluginCapabilities,
    );
    sameAsReference(ourIdentity.Probe!, identity.Probe!, 'response', probe);
  });

  it('Node and Controller responses: capabilities, NodeGetInfo', () => {
    sameAsReference(
      ourNode.NodeGetCapabilities!,
      node.NodeGetCapabilities!,
      'response',
      rpcCapabilities(csiEnums.nodeRpcType),
    );
    sameAsReference(
      ourController.ControllerGetCapabilities!,
      controller.ControllerGetCapabilities!,
      'response',
      rpcCapabilities(csiEnums.controllerRpcType),
    );
    sameAsReference(ourNode.NodeGetInfo!, node.NodeGetInfo!, 'response', nodeInfo);
  });

  it('writes what the driver answers today byte for byte', () => {
    const answers: [Codec, Codec, object][] = [
      [ourIdentity.GetPluginInfo!, identity.GetPluginInfo!, { name: 'd', vendor_version: 'v1' }],
      [
        ourIdentity.GetPluginCapabilities!,
        identity.GetPluginCapabilities!,
        { capabilities: [{ service: { type: 'CONTROLLER_SERVICE' } }] },
      ],
      [ourIdentity.Probe!, identity.Probe!, { ready: { value: true } }],
      [
        ourController.ControllerGetCapabilities!,
        controller.ControllerGetCapabilities!,
        { capabilities: [{ rpc: { type: 'UNKNOWN' } }] },
      ],
      [
        ourNode.NodeGetCapabilities!,
        node.NodeGetCapabilities!,
        { capabilities: [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }] },
      ],
      [ourNode.NodeGetInfo!, node.NodeGetInfo!, { node_id: 'node-1' }],
      [ourNode.NodePublishVolume!, node.NodePublishVolume!, {}],
    ];
    for (const [ours, reference, message] of answers) {
      expect(hex(ours.responseSerialize(message as never))).to.equal(
        hex(reference.responseSerialize(message as never)),
      );
    }
    expect(
      hex(
        ourController.ControllerGetCapabilities!.responseSerialize({
          capabilities: [{ rpc: { type: 'UNKNOWN' } }],
        } as never),
      ),
    ).to.equal('0a020a00');
  });

  it('skips the fields of requests it only answers UNIMPLEMENTED or with constants', () => {
    const stats = node.NodeGetVolumeStats!.requestSerialize({
      volume_id: 'v',
      volume_path: '/p',
    } as never);
    expect(ourNode.NodeGetVolumeStats!.requestDeserialize(stats)).to.deep.equal({});
    const expand = node.NodeExpandVolume!.requestSerialize({
      volume_id: 'v',
      capacity_range: { required_bytes: '5' },
      secrets: { a: 'b' },
    } as never);
    expect(ourNode.NodeExpandVolume!.requestDeserialize(expand)).to.deep.equal({});
    expect(ourIdentity.Probe!.requestDeserialize(Buffer.alloc(0))).to.deep.equal({});
  });

  it('skips unknown fields of every wire type', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 2).string('vol');
    writer.uint32((90 << 3) | 0).uint64(12345);
    writer.uint32((91 << 3) | 1).fixed64(7);
    writer.uint32((92 << 3) | 5).fixed32(7);
    writer.uint32((93 << 3) | 2).bytes(Buffer.from('unknown'));
    writer.uint32((5 << 3) | 2).fork();
    writer.uint32((9 << 3) | 0).uint32(1);
    writer
      .uint32((2 << 3) | 2)
      .fork()
      .uint32((1 << 3) | 2)
      .string('ext4')
      .ldelim();
    writer.ldelim();
    writer.uint32((4 << 3) | 2).string('/target');
    const bytes = Buffer.from(writer.finish());
    const decoded = ourNode.NodePublishVolume!.requestDeserialize(bytes);
    expect(decoded).to.deep.equal(node.NodePublishVolume!.requestDeserialize(bytes));
    expect(decoded).to.include({ volume_id: 'vol', target_path: '/target' });
  });

  it('refuses a truncated message', () => {
    const bytes = ourNode.NodePublishVolume!.requestSerialize({
      volume_id: 'v'.repeat(20),
      volume_context: { a: 'b' },
    } as never);
    expect(() =>
      ourNode.NodePublishVolume!.requestDeserialize(bytes.subarray(0, bytes.length - 2)),
    ).to.throw();
    expect(() => ourNode.NodePublishVolume!.requestDeserialize(bytes.subarray(0, 5))).to.throw();
  });
});
