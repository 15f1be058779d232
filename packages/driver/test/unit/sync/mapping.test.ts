/**
 * `spec.secretObjects` plus a volume's files to the Secrets that should exist: upstream's validation and
 * data rules, one problem per bad entry, and byte-exact data.
 */
import { API_VERSION_V1, MANAGED_SECRET_LABEL } from '@secrets-store-csi/core';
import type { SecretObject, SecretProviderClass } from '@secrets-store-csi/core';
import { expect } from 'chai';
import { buildDesiredSecrets, secretDataEqual } from '../../../src/sync/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string => new TextDecoder().decode(value);

function spcWith(secretObjects: SecretObject[] | undefined): SecretProviderClass {
  return {
    apiVersion: API_VERSION_V1,
    kind: 'SecretProviderClass',
    metadata: { name: 'app-secrets', namespace: 'team-a' },
    spec: { provider: 'directory', parameters: {}, ...(secretObjects !== undefined && { secretObjects }) },
  };
}

const files: ReadonlyMap<string, Uint8Array> = new Map([
  ['username', bytes('admin')],
  ['password', bytes('s3cr3t-value')],
  ['dir/file', bytes('nested contents')],
  ['binary', Uint8Array.from([0, 255, 10, 13, 128])],
]);

describe('buildDesiredSecrets', function () {
  describe('validation of each secretObjects entry', function () {
    const cases: { title: string; entry: SecretObject; secretName: string; message: string }[] = [
      {
        title: 'an empty secret name',
        entry: { secretName: '', type: 'Opaque', data: [{ objectName: 'username', key: 'u' }] },
        secretName: '',
        message: 'secret name is empty',
      },
      {
        title: 'a secret name of only spaces',
        entry: { secretName: '   ', type: 'Opaque', data: [{ objectName: 'username', key: 'u' }] },
        secretName: '',
        message: 'secret name is empty',
      },
      {
        title: 'a type of only spaces',
        entry: { secretName: 'creds', type: ' ', data: [{ objectName: 'username', key: 'u' }] },
        secretName: 'creds',
        message: 'secret type is empty',
      },
      {
        title: 'an entry without data items',
        entry: { secretName: 'creds', type: 'Opaque', data: [] },
        secretName: 'creds',
        message: 'data is empty',
      },
      {
        title: 'an object name of only spaces',
        entry: { secretName: 'creds', type: 'Opaque', data: [{ objectName: '  ', key: 'u' }] },
        secretName: 'creds',
        message: 'object name in secretObjects.data[0] is empty',
      },
      {
        title: 'an empty key in the second data item',
        entry: {
          secretName: 'creds',
          type: 'Opaque',
          data: [
            { objectName: 'username', key: 'u' },
            { objectName: 'password', key: ' ' },
          ],
        },
        secretName: 'creds',
        message: 'key in secretObjects.data[1] is empty',
      },
      {
        title: 'a file missing from the volume',
        entry: { secretName: 'creds', type: 'Opaque', data: [{ objectName: 'nope', key: 'u' }] },
        secretName: 'creds',
        message: 'file matching objectName nope not found in the pod',
      },
    ];
    for (const { title, entry, secretName, message } of cases) {
      it(`reports ${title} and builds no Secret`, function () {
        const result = buildDesiredSecrets(spcWith([entry]), 'team-a', files);
        expect(result.secrets).to.deep.equal([]);
        expect(result.problems).to.deep.equal([{ secretName, message }]);
      });
    }

    it('checks the name before the type and the type before the data, as upstream', function () {
      const result = buildDesiredSecrets(
        spcWith([
          { secretName: '', type: '', data: [] },
          { secretName: 'creds', type: '', data: [] },
        ]),
        'team-a',
        files,
      );
      expect(result.problems.map((problem) => problem.message)).to.deep.equal([
        'secret name is empty',
        'secret type is empty',
      ]);
    });

    it('keeps going with the next entry after a bad one', function () {
      const result = buildDesiredSecrets(
        spcWith([
          { secretName: 'broken', type: 'Opaque', data: [{ objectName: 'nope', key: 'u' }] },
          { secretName: '', type: 'Opaque', data: [{ objectName: 'username', key: 'u' }] },
          { secretName: 'good', type: 'Opaque', data: [{ objectName: 'username', key: 'u' }] },
        ]),
        'team-a',
        files,
      );
      expect(result.secrets.map((secret) => secret.name)).to.deep.equal(['good']);
      expect(result.problems.map((problem) => problem.secretName)).to.deep.equal(['broken', '']);
    });

    it('builds no partial Secret when a later data item of the same entry is bad', function () {
      const result = buildDesiredSecrets(
        spcWith([
          {
            secretName: 'creds',
            type: 'Opaque',
            data: [
              { objectName: 'username', key: 'u' },
              { objectName: 'missing', key: 'p' },
            ],
          },
        ]),
        'team-a',
        files,
      );
      expect(result.secrets).to.deep.equal([]);
      expect(result.problems).to.have.length(1);
    });

    it('reports a second entry with the same secret name and keeps the first', function () {
      const result = buildDesiredSecrets(
        spcWith([
          { secretName: 'creds', type: 'Opaque', data: [{ objectName: 'username', key: 'first' }] },
          { secretName: ' creds ', type: 'Opaque', data: [{ objectName: 'password', key: 'second' }] },
        ]),
        'team-a',
        files,
      );
      expect(result.secrets).to.have.length(1);
      expect(Object.keys(result.secrets[0]!.data)).to.deep.equal(['first']);
      expect(result.problems).to.deep.equal([
        {
          secretName: 'creds',
          message:
            'secret name creds is already used by an earlier secretObjects entry; this entry is ignored',
        },
      ]);
    });

    it('never quotes file contents in a problem', function () {
      const result = buildDesiredSecrets(
        spcWith([
          {
            secretName: 'tls',
            type: 'kubernetes.io/tls',
            data: [{ objectName: 'password', key: 'tls.key' }],
          },
        ]),
        'team-a',
        files,
      );
      expect(result.problems).to.have.length(1);
      expect(result.problems[0]!.message).not.to.contain('s3cr3t-value');
    });
  });

  describe('data', function () {
    it('maps Opaque data keys to the bytes of the named files, nested paths included', function () {
      const result = buildDesiredSecrets(
        spcWith([
          {
            secretName: 'creds',
            type: 'Opaque',
            data: [
              { objectName: 'username', key: 'user' },
              { objectName: 'dir/file', key: 'nested' },
              { objectName: 'binary', key: 'raw' },
            ],
          },
        ]),
        'team-a',
        files,
      );
      expect(result.problems).to.deep.equal([]);
      expect(result.secrets).to.have.length(1);
      const secret = result.secrets[0]!;
      expect(secret.name).to.equal('creds');
      expect(secret.namespace).to.equal('team-a');
      expect(secret.type).to.equal('Opaque');
      expect(Object.keys(secret.data)).to.deep.equal(['user', 'nested', 'raw']);
      expect(text(secret.data.user)).to.equal('admin');
      expect(text(secret.data.nested)).to.equal('nested contents');
      expect(Array.from(secret.data.raw!)).to.deep.equal([0, 255, 10, 13, 128]);
    });

    it('trims the secret name, type, object names and keys', function () {
      const result = buildDesiredSecrets(
        spcWith([
          { secretName: ' creds ', type: ' Opaque ', data: [{ objectName: ' username ', key: ' user ' }] },
        ]),
        'team-a',
        files,
      );
      const secret = result.secrets[0]!;
      expect([secret.name, secret.type, Object.keys(secret.data)]).to.deep.equal([
        'creds',
        'Opaque',
        ['user'],
      ]);
    });

    it('passes a custom type through and copies its file bytes verbatim', function () {
      const result = buildDesiredSecrets(
        spcWith([
          {
            secretName: 'login',
            type: 'kubernetes.io/basic-auth',
            data: [{ objectName: 'username', key: 'username' }],
          },
          {
            secretName: 'custom',
            type: 'example.com/anything',
            data: [{ objectName: 'binary', key: 'blob' }],
          },
        ]),
        'team-a',
        files,
      );
      expect(result.secrets.map((secret) => secret.type)).to.deep.equal([
        'kubernetes.io/basic-auth',
        'example.com/anything',
      ]);
      expect(text(result.secrets[0]!.data.username)).to.equal('admin');
      expect(Array.from(result.secrets[1]!.data.blob!)).to.deep.equal([0, 255, 10, 13, 128]);
    });

    it('lets the last item win when two items use the same key, as upstream', function () {
      const result = buildDesiredSecrets(
        spcWith([
          {
            secretName: 'creds',
            type: 'Opaque',
            data: [
              { objectName: 'username', key: 'value' },
              { objectName: 'password', key: 'value' },
            ],
          },
        ]),
        'team-a',
        files,
      );
      expect(text(result.secrets[0]!.data.value)).to.equal('s3cr3t-value');
    });

    it('copies the bytes, so changing the file buffer later leaves the Secret as it was', function () {
      const buffer = bytes('before');
      const result = buildDesiredSecrets(
        spcWith([{ secretName: 'creds', type: 'Opaque', data: [{ objectName: 'f', key: 'k' }] }]),
        'team-a',
        new Map([['f', buffer]]),
      );
      buffer.fill(0);
      expect(text(result.secrets[0]!.data.k)).to.equal('before');
    });

    it('keeps a data key named __proto__ as an ordinary key', function () {
      const result = buildDesiredSecrets(
        spcWith([
          { secretName: 'creds', type: 'Opaque', data: [{ objectName: 'username', key: '__proto__' }] },
        ]),
        'team-a',
        files,
      );
      const data = result.secrets[0]!.data;
      expect(Object.keys(data)).to.deep.equal(['__proto__']);
      expect(Object.getPrototypeOf(data)).to.equal(Object.prototype);
    });
  });

  describe('metadata', function () {
    it('adds the managed label to the entry labels, overriding a user value, and copies annotations', function () {
      const labels = { app: 'web', [MANAGED_SECRET_LABEL]: 'false' };
      const annotations = { 'example.com/owner': 'team-a' };
      const result = buildDesiredSecrets(
        spcWith([
          {
            secretName: 'creds',
            type: 'Opaque',
            labels,
            annotations,
            data: [{ objectName: 'username', key: 'u' }],
          },
        ]),
        'team-a',
        files,
      );
      const secret = result.secrets[0]!;
      expect(secret.labels).to.deep.equal({ app: 'web', [MANAGED_SECRET_LABEL]: 'true' });
      expect(secret.annotations).to.deep.equal({ 'example.com/owner': 'team-a' });
      expect(labels[MANAGED_SECRET_LABEL]).to.equal('false');
      expect(secret.annotations).not.to.equal(annotations);
    });

    it('gives an entry without labels or annotations just the managed label and no annotations', function () {
      const result = buildDesiredSecrets(
        spcWith([{ secretName: 'creds', type: 'Opaque', data: [{ objectName: 'username', key: 'u' }] }]),
        'ns-from-pod',
        files,
      );
      const secret = result.secrets[0]!;
      expect(secret.labels).to.deep.equal({ [MANAGED_SECRET_LABEL]: 'true' });
      expect(secret.annotations).to.deep.equal({});
      expect(secret.namespace).to.equal('ns-from-pod');
    });

    it('returns nothing for a class without secretObjects', function () {
      expect(buildDesiredSecrets(spcWith(undefined), 'team-a', files)).to.deep.equal({
        secrets: [],
        problems: [],
      });
    });
  });
});

describe('secretDataEqual', function () {
  const base = { a: bytes('one'), b: Uint8Array.from([1, 2, 3]) };

  it('treats the same keys with the same bytes as equal, whatever the key order or buffer identity', function () {
    expect(secretDataEqual(base, { b: Uint8Array.from([1, 2, 3]), a: bytes('one') })).to.equal(true);
    expect(secretDataEqual({}, {})).to.equal(true);
  });

  it('treats a changed byte as different', function () {
    expect(secretDataEqual(base, { a: bytes('one'), b: Uint8Array.from([1, 2, 4]) })).to.equal(false);
  });

  it('treats a different length as different', function () {
    expect(secretDataEqual(base, { a: bytes('one'), b: Uint8Array.from([1, 2]) })).to.equal(false);
  });

  it('does not mistake an inherited property such as constructor for a key', function () {
    expect(secretDataEqual({ constructor: bytes('x') }, { other: bytes('x') })).to.equal(false);
  });

  it('treats a missing, extra or renamed key as different', function () {
    expect(secretDataEqual(base, { a: bytes('one') })).to.equal(false);
    expect(secretDataEqual(base, { ...base, c: bytes('') })).to.equal(false);
    expect(secretDataEqual(base, { a: bytes('one'), c: Uint8Array.from([1, 2, 3]) })).to.equal(false);
  });
});
