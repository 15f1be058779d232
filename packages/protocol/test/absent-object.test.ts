import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import type { MethodDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { loadProtocol } from '../src/index.js';
import { descriptorJson } from '../src/generated/descriptor.js';

// MountResponse.absent_object (field 1000) is our addition. These tests show it is invisible to upstream:
// a decoder built from upstream's MountResponse (fields 1-3 only) skips it, and an upstream answer, which
// never carries it, decodes with an empty list.

const goldenHex = (name: string): Buffer =>
  Buffer.from(readFileSync(new URL(`./golden/${name}.hex`, import.meta.url), 'utf8').trim(), 'hex');

function mountMethod(): MethodDefinition<object, Record<string, unknown>> {
  const service = loadProtocol().packageDefinition['v1alpha1.CSIDriverProvider'] as unknown as Record<
    string,
    MethodDefinition<object, Record<string, unknown>>
  >;
  const method = service.Mount;
  if (method === undefined) throw new Error('Mount is not in the protocol');
  return method;
}

/** Upstream's MountResponse: our descriptor with the addition taken out. */
function upstreamMountResponse(): protobuf.Type {
  const json = structuredClone(descriptorJson) as {
    nested: { v1alpha1: { nested: Record<string, { fields?: Record<string, unknown> }> } };
  };
  const messages = json.nested.v1alpha1.nested;
  delete messages.AbsentObject;
  delete messages.MountResponse?.fields?.absent_object;
  return protobuf.Root.fromJSON(json as protobuf.INamespace).lookupType('v1alpha1.MountResponse');
}

const goldenMessage = {
  object_version: [{ id: 'secret/db-password', version: '4' }],
  error: { code: '' },
  files: [
    { path: 'db-password', mode: 420, contents: Buffer.from('hunter2\n') },
    { path: 'certs/tls.crt', mode: 256, contents: Buffer.from([0x00, 0x01, 0xff]) },
  ],
};

describe('MountResponse.absent_object (our addition)', () => {
  it('is field 1000 of its own message type, far from upstream field numbers', () => {
    const type = protobuf.Root.fromJSON(descriptorJson).lookupType('v1alpha1.MountResponse');
    expect(type.fields.absent_object?.id).to.equal(1000);
    expect(Object.values(type.fields).map((field) => field.id)).to.have.members([1, 2, 3, 1000]);
  });

  it('leaves the bytes of a response without absent objects exactly as upstream encodes them', () => {
    const bytes = mountMethod().responseSerialize({ ...goldenMessage, absent_object: [] });
    expect(bytes.toString('hex')).to.equal(goldenHex('v1alpha1.MountResponse').toString('hex'));
  });

  it('is appended after upstream fields and skipped by upstream decoders', () => {
    const bytes = mountMethod().responseSerialize({
      ...goldenMessage,
      absent_object: [{ id: 'secret/tls', path: 'tls', reason: 'secret tls not found in vault kv-b' }],
    });
    const golden = goldenHex('v1alpha1.MountResponse');
    expect(bytes.subarray(0, golden.length).toString('hex')).to.equal(golden.toString('hex'));
    const upstream = upstreamMountResponse();
    const decoded = upstream.toObject(upstream.decode(bytes), { defaults: false }) as Record<string, unknown>;
    expect(Object.keys(decoded).sort()).to.deep.equal(['error', 'files', 'object_version']);
    expect(Buffer.from(upstream.encode(upstream.fromObject(decoded)).finish()).toString('hex')).to.equal(
      golden.toString('hex'),
    );
  });

  it('decodes as an empty list from an upstream provider answer', () => {
    const decoded = mountMethod().responseDeserialize(goldenHex('v1alpha1.MountResponse'));
    expect(decoded.absent_object).to.deep.equal([]);
  });

  it('round-trips through our contracts', () => {
    const absent = [{ id: 'key/k', path: 'dir/k', reason: 'key k is disabled in vault kv-c' }];
    const method = mountMethod();
    const decoded = method.responseDeserialize(
      method.responseSerialize({ object_version: [], absent_object: absent }),
    );
    expect(decoded.absent_object).to.deep.equal(absent);
  });
});
