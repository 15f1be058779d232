/**
 * The hand-written provider-protocol codecs of wire/provider.ts against the reflection codecs of @secrets-store-csi/protocol (protobufjs
 * over the generated descriptor, zero values left off as Go does), which the driver still uses: same bytes
 * out, same messages in, for arbitrary messages with fixed seeds.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { loadProtocol } from '../src/index.js';
import {
  decodeMountRequest,
  decodeMountResponse,
  decodeVersionRequest,
  decodeVersionResponse,
  encodeMountRequest,
  encodeMountResponse,
  encodeVersionRequest,
  encodeVersionResponse,
  healthServiceDefinition,
} from '../src/wire/index.js';

const reference = loadProtocol().provider.CSIDriverProvider.service;
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const objectVersion = fc.record({ id: text, version: text });
const mountRequest = fc.record({
  attributes: text,
  secrets: text,
  target_path: text,
  permission: text,
  current_object_version: fc.array(objectVersion, { maxLength: 4 }),
});
const mountResponse = fc.record({
  object_version: fc.array(objectVersion, { maxLength: 4 }),
  files: fc.array(
    fc.record({
      path: text,
      mode: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0o777 }), fc.integer()),
      contents: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    }),
    { maxLength: 4 },
  ),
  // Ours: field 1000, the optional objects a provider reports absent.
  absent_object: fc.array(fc.record({ id: text, path: text, reason: text }), { maxLength: 3 }),
});
const params = { seed: 1313, numRuns: 300 };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('wire codecs of the provider protocol', () => {
  it('encode a MountResponse to the bytes of the reflection codec', () => {
    fc.assert(
      fc.property(mountResponse, (response) => {
        expect(hex(encodeMountResponse(response))).to.equal(hex(reference.Mount.responseSerialize(response)));
      }),
      params,
    );
  });

  it('encode a MountRequest, VersionRequest and VersionResponse to the bytes of the reflection codec', () => {
    fc.assert(
      fc.property(mountRequest, text, text, text, (request, a, b, c) => {
        expect(hex(encodeMountRequest(request))).to.equal(hex(reference.Mount.requestSerialize(request)));
        expect(hex(encodeVersionRequest({ version: a }))).to.equal(
          hex(reference.Version.requestSerialize({ version: a })),
        );
        const version = { version: a, runtime_name: b, runtime_version: c };
        expect(hex(encodeVersionResponse(version))).to.equal(
          hex(reference.Version.responseSerialize(version)),
        );
      }),
      params,
    );
  });

  it('decode what the reflection codec encodes', () => {
    fc.assert(
      fc.property(mountRequest, mountResponse, text, (request, response, version) => {
        expect(decodeMountRequest(reference.Mount.requestSerialize(request))).to.deep.equal(request);
        const decoded = decodeMountResponse(reference.Mount.responseSerialize(response));
        expect(decoded.object_version).to.deep.equal(response.object_version);
        expect(decoded.absent_object).to.deep.equal(response.absent_object);
        expect(
          decoded.files.map((file) => ({ ...file, contents: Buffer.from(file.contents) })),
        ).to.deep.equal(response.files);
        expect(decodeVersionRequest(reference.Version.requestSerialize({ version }))).to.deep.equal({
          version,
        });
        const full = { version, runtime_name: 'r', runtime_version: 'v' };
        expect(decodeVersionResponse(reference.Version.responseSerialize(full))).to.deep.equal(full);
      }),
      params,
    );
  });

  it('skips unknown fields of every wire type and keeps the last value of a repeated scalar', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((1 << 3) | 2).string('first');
    writer.uint32((9 << 3) | 0).uint64(12345);
    writer.uint32((10 << 3) | 1).fixed64(7);
    writer.uint32((11 << 3) | 5).fixed32(7);
    writer.uint32((12 << 3) | 2).bytes(Buffer.from('unknown'));
    writer.uint32((5 << 3) | 2).fork();
    writer.uint32((1 << 3) | 2).string('secret/a');
    writer.uint32((7 << 3) | 0).uint32(1);
    writer.uint32((2 << 3) | 2).string('v1');
    writer.ldelim();
    writer.uint32((1 << 3) | 2).string('last');
    expect(decodeMountRequest(writer.finish())).to.deep.equal({
      attributes: 'last',
      secrets: '',
      target_path: '',
      permission: '',
      current_object_version: [{ id: 'secret/a', version: 'v1' }],
    });
  });

  it('refuses a truncated message', () => {
    const bytes = encodeMountRequest({
      attributes: 'a'.repeat(20),
      secrets: '',
      target_path: '',
      permission: '',
      current_object_version: [],
    });
    expect(() => decodeMountRequest(bytes.subarray(0, bytes.length - 3))).to.throw();
  });

  it('answers health checks with the enum number of the reflection codec', () => {
    const check = healthServiceDefinition.Check;
    expect(hex(check.responseSerialize({ status: 'SERVING' }))).to.equal('0801');
    expect(check.responseDeserialize(Buffer.from('0802', 'hex'))).to.deep.equal({ status: 'NOT_SERVING' });
    expect(check.responseDeserialize(Buffer.alloc(0))).to.deep.equal({ status: 'UNKNOWN' });
    expect(check.requestDeserialize(check.requestSerialize({ service: 'x' }))).to.deep.equal({
      service: 'x',
    });
  });
});
