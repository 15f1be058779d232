import { expect } from 'chai';
import fc from 'fast-check';
import type { WireMountRequest } from '@secrets-store-csi/protocol/wire';
import { decodeMountRequest, jsonSyntaxError } from '../../src/decode.js';
import { ProviderError } from '../../src/errors.js';

const good: WireMountRequest = {
  attributes: '{"csi.storage.k8s.io/pod.name":"web","objects":"array: []"}',
  secrets: 'null',
  target_path: '/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/v/mount',
  permission: '420',
  current_object_version: [{ id: 'file/a', version: 'v1' }],
};

function refusal(wire: Partial<WireMountRequest>): ProviderError {
  try {
    decodeMountRequest({ ...good, ...wire });
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).kind).to.equal('invalid-argument');
    expect((error as ProviderError).code).to.equal('InvalidMountRequest');
    return error as ProviderError;
  }
  throw new Error('expected the request to be refused');
}

describe('decodeMountRequest', () => {
  it('decodes the JSON string fields as the driver encodes them', () => {
    const request = decodeMountRequest(good);
    expect(request.attributes).to.deep.equal({ 'csi.storage.k8s.io/pod.name': 'web', objects: 'array: []' });
    expect(request.secrets).to.deep.equal({});
    expect(request.defaultFileMode).to.equal(0o644);
    expect(request.currentObjectVersions).to.deep.equal([{ id: 'file/a', version: 'v1' }]);
    expect(request.targetPath).to.equal(good.target_path);
    expect(Object.isFrozen(request.attributes)).to.equal(true);
  });

  it('reads secrets and attributes "null" as empty, as Go does for a nil map', () => {
    const request = decodeMountRequest({ ...good, attributes: 'null', secrets: ' {"user":"u"} ' });
    expect(request.attributes).to.deep.equal({});
    expect(request.secrets).to.deep.equal({ user: 'u' });
  });

  it('keeps a "__proto__" key as data', () => {
    const request = decodeMountRequest({ ...good, attributes: '{"__proto__":"x"}' });
    expect(Object.getPrototypeOf(request.attributes)).to.equal(Object.prototype);
    expect(Object.entries(request.attributes)).to.deep.equal([['__proto__', 'x']]);
  });

  const cases: readonly { field: keyof WireMountRequest; text: string; message: string }[] = [
    {
      field: 'attributes',
      text: '',
      message: 'failed to unmarshal attributes, error: unexpected end of JSON input',
    },
    {
      field: 'attributes',
      text: '{"a":"b"',
      message: 'failed to unmarshal attributes, error: unexpected end of JSON input',
    },
    {
      field: 'attributes',
      text: '{a:1}',
      message: 'failed to unmarshal attributes, error: invalid character at offset 1',
    },
    {
      field: 'attributes',
      text: '["a"]',
      message: 'failed to unmarshal attributes, error: expected a JSON object of strings, got an array',
    },
    {
      field: 'attributes',
      text: '{"a":{"b":"c"}}',
      message: 'failed to unmarshal attributes, error: expected a string value for key "a", got an object',
    },
    {
      field: 'attributes',
      text: '{"a":null}',
      message: 'failed to unmarshal attributes, error: expected a string value for key "a", got null',
    },
    {
      field: 'secrets',
      text: '',
      message: 'failed to unmarshal secrets, error: unexpected end of JSON input',
    },
    {
      field: 'secrets',
      text: 'nul',
      message: 'failed to unmarshal secrets, error: unexpected end of JSON input',
    },
    {
      field: 'secrets',
      text: '{"password":"hunter22"} x',
      message: 'failed to unmarshal secrets, error: invalid character at offset 24',
    },
    {
      field: 'secrets',
      text: '{"password":true}',
      message:
        'failed to unmarshal secrets, error: expected a string value for key "password", got a boolean',
    },
    {
      field: 'secrets',
      text: '42',
      message: 'failed to unmarshal secrets, error: expected a JSON object of strings, got a number',
    },
    {
      field: 'permission',
      text: '',
      message: 'failed to unmarshal file permission, error: unexpected end of JSON input',
    },
    {
      field: 'permission',
      text: '0644',
      message: 'failed to unmarshal file permission, error: invalid character at offset 1',
    },
    {
      field: 'permission',
      text: 'null',
      message: 'failed to unmarshal file permission, error: expected a JSON number, got null',
    },
    {
      field: 'permission',
      text: '1e3',
      message:
        'failed to unmarshal file permission, error: expected an integer file mode between 0 and 511, got 1000',
    },
  ];
  for (const { field, text, message } of cases) {
    it(`refuses ${field} ${JSON.stringify(text)}: ${message.slice(message.indexOf('error: ') + 7)}`, () => {
      expect(refusal({ [field]: text }).message).to.equal(message);
    });
  }

  it('reports the first bad field in upstream order: attributes, secrets, permission', () => {
    expect(refusal({ attributes: '', secrets: '', permission: '' }).message).to.match(
      /^failed to unmarshal attributes/,
    );
    expect(refusal({ secrets: '', permission: '' }).message).to.match(/^failed to unmarshal secrets/);
  });
});

describe('jsonSyntaxError', () => {
  const cases: readonly [string, string][] = [
    ['{"a":"\\q"}', 'invalid character at offset 7'],
    ['{"a":"\\u12G4"}', 'invalid character at offset 10'],
    ['{"a":"\\u12', 'unexpected end of JSON input'],
    ['{"a":"x\ny"}', 'invalid character at offset 7'],
    ['[1,]', 'invalid character at offset 3'],
    ['[1 2]', 'invalid character at offset 3'],
    ['{"a" 1}', 'invalid character at offset 5'],
    ['-', 'unexpected end of JSON input'],
    ['01', 'invalid character at offset 1'],
    ['1.', 'unexpected end of JSON input'],
    ['1.e', 'invalid character at offset 2'],
    ['1e+', 'unexpected end of JSON input'],
    ['fals', 'unexpected end of JSON input'],
    ['frue', 'invalid character at offset 1'],
    ['[{}, [], "\\u00e9", -0.5e-3, true, false, null,', 'unexpected end of JSON input'],
    ['['.repeat(2000), 'invalid character at offset 1001'],
  ];
  for (const [text, message] of cases) {
    it(`locates the error in ${JSON.stringify(text.slice(0, 30))}`, () => {
      expect(() => JSON.parse(text) as unknown).to.throw(SyntaxError);
      expect(jsonSyntaxError(text)).to.equal(message);
    });
  }

  it('calls every strict prefix of a JSON object that JSON.parse refuses an unexpected end', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.json())), fc.nat(), (object, cut) => {
        const text = JSON.stringify(object);
        const prefix = text.slice(0, cut % text.length);
        expect(jsonSyntaxError(prefix)).to.equal('unexpected end of JSON input');
      }),
    );
  });

  it('never quotes the input, whatever it is', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        fc.pre(
          (() => {
            try {
              JSON.parse(text);
              return false;
            } catch {
              return true;
            }
          })(),
        );
        expect(jsonSyntaxError(text)).to.match(
          /^(unexpected end of JSON input|invalid character at offset \d+)$/,
        );
      }),
    );
  });
});
