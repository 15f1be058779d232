import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { MethodDefinition } from '@grpc/proto-loader';
import { loadProtocol } from '../src/index.js';

// Golden bytes were produced by protoc from the upstream .proto files (see test/golden/regenerate.sh),
// so a field number, type or package name that differs from upstream fails here.
const goldenDir = new URL('./golden/', import.meta.url);
const golden = (name: string): Buffer =>
  Buffer.from(readFileSync(new URL(`${name}.hex`, goldenDir), 'utf8').trim(), 'hex');

interface WireCase {
  golden: string;
  service: string;
  method: string;
  direction: 'request' | 'response';
  message: object;
}

const cases: WireCase[] = [
  {
    golden: 'v1alpha1.VersionRequest',
    service: 'v1alpha1.CSIDriverProvider',
    method: 'Version',
    direction: 'request',
    message: { version: 'v1alpha1' },
  },
  {
    golden: 'v1alpha1.VersionResponse',
    service: 'v1alpha1.CSIDriverProvider',
    method: 'Version',
    direction: 'response',
    message: { version: 'v1alpha1', runtime_name: 'directory-provider', runtime_version: '0.1.0' },
  },
  {
    golden: 'v1alpha1.MountRequest',
    service: 'v1alpha1.CSIDriverProvider',
    method: 'Mount',
    direction: 'request',
    message: {
      attributes:
        '{"objects":"array:\\n  - |\\n    objectName: db-password\\n","csi.storage.k8s.io/pod.name":"web-0"}',
      secrets: 'null',
      target_path:
        '/var/lib/kubelet/pods/0f6e1d2c-3b4a-4c5d-8e9f-001122334455/volumes/kubernetes.io~csi/secrets/mount',
      permission: '420',
      current_object_version: [
        { id: 'secret/db-password', version: '3' },
        { id: 'key/signing', version: 'a1b2c3' },
      ],
    },
  },
  {
    golden: 'v1alpha1.MountResponse',
    service: 'v1alpha1.CSIDriverProvider',
    method: 'Mount',
    direction: 'response',
    message: {
      object_version: [{ id: 'secret/db-password', version: '4' }],
      error: { code: '' },
      files: [
        { path: 'db-password', mode: 420, contents: Buffer.from('hunter2\n') },
        { path: 'certs/tls.crt', mode: 256, contents: Buffer.from([0x00, 0x01, 0xff]) },
      ],
    },
  },
  {
    golden: 'v1alpha1.MountResponse.error',
    service: 'v1alpha1.CSIDriverProvider',
    method: 'Mount',
    direction: 'response',
    message: { error: { code: 'KeyVaultThrottled' } },
  },
  {
    golden: 'csi.v1.GetPluginInfoResponse',
    service: 'csi.v1.Identity',
    method: 'GetPluginInfo',
    direction: 'response',
    message: {
      name: 'secrets-store.csi.k8s.io',
      vendor_version: 'v1.6.0',
      manifest: { url: 'https://example.invalid' },
    },
  },
  {
    golden: 'csi.v1.GetPluginCapabilitiesResponse',
    service: 'csi.v1.Identity',
    method: 'GetPluginCapabilities',
    direction: 'response',
    message: {
      capabilities: [{ service: { type: 'CONTROLLER_SERVICE' } }, { volume_expansion: { type: 'OFFLINE' } }],
    },
  },
  {
    golden: 'csi.v1.ProbeResponse',
    service: 'csi.v1.Identity',
    method: 'Probe',
    direction: 'response',
    message: { ready: { value: true } },
  },
  {
    golden: 'csi.v1.ControllerGetCapabilitiesResponse',
    service: 'csi.v1.Controller',
    method: 'ControllerGetCapabilities',
    direction: 'response',
    message: { capabilities: [{ rpc: { type: 'UNKNOWN' } }, { rpc: { type: 'GET_SNAPSHOT' } }] },
  },
  {
    golden: 'csi.v1.NodePublishVolumeRequest',
    service: 'csi.v1.Node',
    method: 'NodePublishVolume',
    direction: 'request',
    message: {
      volume_id: 'csi-8d4c2b1a',
      publish_context: { p: 'q' },
      staging_target_path: '/staging',
      target_path: '/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/secrets/mount',
      volume_capability: {
        mount: { fs_type: 'tmpfs', mount_flags: ['ro', 'nosuid'], volume_mount_group: '1000' },
        access_mode: { mode: 'SINGLE_NODE_READER_ONLY' },
      },
      readonly: true,
      secrets: { clientsecret: 's3cr3t' },
      volume_context: { secretProviderClass: 'azure-kv' },
    },
  },
  {
    golden: 'csi.v1.NodeStageVolumeRequest',
    service: 'csi.v1.Node',
    method: 'NodeStageVolume',
    direction: 'request',
    message: {
      volume_id: 'v',
      publish_context: { a: 'b' },
      staging_target_path: '/stage',
      volume_capability: { block: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } },
      secrets: { k: 'v' },
      volume_context: { c: 'd' },
    },
  },
  {
    golden: 'csi.v1.NodeUnstageVolumeRequest',
    service: 'csi.v1.Node',
    method: 'NodeUnstageVolume',
    direction: 'request',
    message: { volume_id: 'v', staging_target_path: '/stage' },
  },
  {
    golden: 'csi.v1.NodeUnpublishVolumeRequest',
    service: 'csi.v1.Node',
    method: 'NodeUnpublishVolume',
    direction: 'request',
    message: {
      volume_id: 'csi-8d4c2b1a',
      target_path: '/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/secrets/mount',
    },
  },
  {
    golden: 'csi.v1.NodeGetCapabilitiesResponse',
    service: 'csi.v1.Node',
    method: 'NodeGetCapabilities',
    direction: 'response',
    message: {
      capabilities: [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }, { rpc: { type: 'VOLUME_MOUNT_GROUP' } }],
    },
  },
  {
    golden: 'csi.v1.NodeGetInfoResponse',
    service: 'csi.v1.Node',
    method: 'NodeGetInfo',
    direction: 'response',
    message: {
      node_id: 'node-1',
      max_volumes_per_node: '110',
      accessible_topology: { segments: { 'topology.kubernetes.io/zone': 'z1' } },
    },
  },
  {
    golden: 'csi.v1.NodeGetVolumeStatsRequest',
    service: 'csi.v1.Node',
    method: 'NodeGetVolumeStats',
    direction: 'request',
    message: { volume_id: 'v', volume_path: '/p', staging_target_path: '/s' },
  },
  {
    golden: 'csi.v1.NodeGetVolumeStatsResponse',
    service: 'csi.v1.Node',
    method: 'NodeGetVolumeStats',
    direction: 'response',
    message: {
      usage: [{ available: '1', total: '5000000000', used: '3', unit: 'BYTES' }],
      volume_condition: { abnormal: true, message: 'm' },
    },
  },
  {
    golden: 'csi.v1.NodeExpandVolumeRequest',
    service: 'csi.v1.Node',
    method: 'NodeExpandVolume',
    direction: 'request',
    message: {
      volume_id: 'v',
      volume_path: '/p',
      capacity_range: { required_bytes: '1024', limit_bytes: '9007199254740993' },
      staging_target_path: '/s',
      volume_capability: { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
      secrets: { k: 'v' },
    },
  },
  {
    golden: 'csi.v1.NodeExpandVolumeResponse',
    service: 'csi.v1.Node',
    method: 'NodeExpandVolume',
    direction: 'response',
    message: { capacity_bytes: '2048' },
  },
];

function methodOf(service: string, method: string): MethodDefinition<object, object> {
  const definition = loadProtocol().packageDefinition[service] as
    Record<string, MethodDefinition<object, object>> | undefined;
  const found = definition?.[method];
  if (found === undefined) throw new Error(`${service}/${method} is not in the protocol`);
  return found;
}

describe('wire contracts against golden bytes', () => {
  for (const c of cases) {
    const serialize = (m: object) => {
      const def = methodOf(c.service, c.method);
      return c.direction === 'request' ? def.requestSerialize(m) : def.responseSerialize(m);
    };
    const deserialize = (b: Buffer) => {
      const def = methodOf(c.service, c.method);
      return c.direction === 'request' ? def.requestDeserialize(b) : def.responseDeserialize(b);
    };

    it(`encodes ${c.golden} to the upstream bytes`, () => {
      expect(serialize(c.message).toString('hex')).to.equal(golden(c.golden).toString('hex'));
    });

    it(`decodes ${c.golden} and encodes it back unchanged`, () => {
      const decoded = deserialize(golden(c.golden));
      expect(serialize(decoded).toString('hex')).to.equal(golden(c.golden).toString('hex'));
    });
  }

  it('decodes with the pinned options: enums and 64-bit integers as strings, oneof names, bytes as Buffer', () => {
    const publish = methodOf('csi.v1.Node', 'NodePublishVolume').requestDeserialize(
      golden('csi.v1.NodePublishVolumeRequest'),
    ) as Record<string, unknown>;
    expect(publish).to.deep.include({ readonly: true, volume_context: { secretProviderClass: 'azure-kv' } });
    expect(publish.volume_capability).to.deep.include({
      access_type: 'mount',
      access_mode: { mode: 'SINGLE_NODE_READER_ONLY' },
    });

    const expand = methodOf('csi.v1.Node', 'NodeExpandVolume').requestDeserialize(
      golden('csi.v1.NodeExpandVolumeRequest'),
    ) as { capacity_range: { limit_bytes: unknown } };
    expect(expand.capacity_range.limit_bytes).to.equal('9007199254740993');

    const mount = methodOf('v1alpha1.CSIDriverProvider', 'Mount').responseDeserialize(
      golden('v1alpha1.MountResponse'),
    ) as { files: { contents: unknown }[] };
    expect(Buffer.isBuffer(mount.files[1]?.contents)).to.equal(true);
    expect(mount.files[1]?.contents).to.deep.equal(Buffer.from([0, 1, 255]));
  });

  it('fills defaults for absent fields so receivers never see undefined', () => {
    const request = methodOf('v1alpha1.CSIDriverProvider', 'Mount').requestDeserialize(Buffer.alloc(0));
    expect(request).to.deep.equal({
      attributes: '',
      secrets: '',
      target_path: '',
      permission: '',
      current_object_version: [],
    });
  });
});
