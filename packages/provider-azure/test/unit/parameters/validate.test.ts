import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type { KeyVaultObject } from '../../../src/model.js';
import { fileModeOf, fileNameOf, validateObject } from '../../../src/parameters/validate.js';

function object(fields: Partial<KeyVaultObject>): KeyVaultObject {
  return {
    objectName: 'name1',
    objectAlias: '',
    objectType: 'secret',
    objectVersion: 'v1',
    objectFormat: '',
    objectEncoding: '',
    filePermission: '',
    objectVersionHistory: 0,
    ...fields,
  };
}

function problem(fields: Partial<KeyVaultObject>): string | undefined {
  try {
    validateObject(object(fields));
    return undefined;
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).code).to.equal('InvalidParameter');
    return (error as Error).message;
  }
}

describe('parameters/validate', () => {
  const valid: readonly [string, Partial<KeyVaultObject>][] = [
    ['no format or encoding', {}],
    ['format pem in any case', { objectFormat: 'PeM', objectType: 'cert' }],
    ['format pfx for a secret', { objectFormat: 'pfx' }],
    ['format PFX for a secret', { objectFormat: 'PFX' }],
    ['encodings in any case', { objectEncoding: 'HEX' }],
    ['encoding base64', { objectEncoding: 'Base64' }],
    ['encoding utf-8', { objectEncoding: 'UTF-8' }],
    ['a nested alias', { objectAlias: 'dir/file.txt' }],
    ['a dotted name', { objectName: 'a.b' }],
    ['permission 0644', { filePermission: '0644' }],
    ['permission 755', { filePermission: '755' }],
    ['permission 0', { filePermission: '0' }],
    ['permission 0777', { filePermission: '0777' }],
    ['an unknown type (checked at fetch)', { objectType: 'blob' }],
  ];
  for (const [what, fields] of valid) {
    it(`accepts ${what}`, () => {
      expect(problem(fields)).to.equal(undefined);
    });
  }

  const prefix = 'failed to get objectType:secret, objectName:name1, objectVersion:v1: ';
  const invalid: readonly [string, Partial<KeyVaultObject>, string][] = [
    [
      'an unknown format',
      { objectFormat: 'der' },
      `${prefix}invalid objectFormat: der, should be PEM or PFX`,
    ],
    [
      'pfx for a cert',
      { objectFormat: 'pfx', objectType: 'cert' },
      'failed to get objectType:cert, objectName:name1, objectVersion:v1: PFX format only supported for objectType: secret',
    ],
    [
      'PFX (upper case, our fix) for a key',
      { objectFormat: 'PFX', objectType: 'key' },
      'failed to get objectType:key, objectName:name1, objectVersion:v1: PFX format only supported for objectType: secret',
    ],
    [
      'pfx for type Secret (exact match)',
      { objectFormat: 'pfx', objectType: 'Secret' },
      'failed to get objectType:Secret, objectName:name1, objectVersion:v1: PFX format only supported for objectType: secret',
    ],
    [
      'an encoding for a key',
      { objectEncoding: 'hex', objectType: 'key' },
      'failed to get objectType:key, objectName:name1, objectVersion:v1: objectEncoding only supported for objectType: secret',
    ],
    [
      'an unknown encoding',
      { objectEncoding: 'utf8' },
      `${prefix}invalid objectEncoding: utf8, should be hex, base64 or utf-8`,
    ],
    [
      'an empty file name',
      { objectName: '' },
      'failed to get objectType:secret, objectName:, objectVersion:v1: file name must not be empty',
    ],
    ['an absolute alias', { objectAlias: '/etc/passwd' }, `${prefix}file name must be a relative path`],
    ['a .. element', { objectAlias: 'a/../b' }, `${prefix}file name must not contain '..'`],
    ['a leading ..', { objectAlias: '../b' }, `${prefix}file name must not contain '..'`],
    [
      '.. inside a name',
      { objectName: 'a..b' },
      "failed to get objectType:secret, objectName:a..b, objectVersion:v1: file name must not contain '..'",
    ],
    [
      'permission 0o644',
      { filePermission: '0o644' },
      `${prefix}invalid filePermission: 0o644, should be an octal file mode such as 0644`,
    ],
    [
      'permission 0800',
      { filePermission: '0800' },
      `${prefix}invalid filePermission: 0800, should be an octal file mode such as 0644`,
    ],
    [
      'permission 1777',
      { filePermission: '1777' },
      `${prefix}invalid filePermission: 1777, should be an octal file mode such as 0644`,
    ],
    [
      'permission -644',
      { filePermission: '-644' },
      `${prefix}invalid filePermission: -644, should be an octal file mode such as 0644`,
    ],
    [
      'permission rw-r--r--',
      { filePermission: 'rw-r--r--' },
      `${prefix}invalid filePermission: rw-r--r--, should be an octal file mode such as 0644`,
    ],
  ];
  for (const [what, fields, message] of invalid) {
    it(`refuses ${what}`, () => {
      expect(problem(fields)).to.equal(message);
    });
  }

  const precedence: readonly [string, Partial<KeyVaultObject>, string][] = [
    ['format before encoding', { objectFormat: 'der', objectEncoding: 'x' }, 'invalid objectFormat'],
    ['encoding before file name', { objectEncoding: 'x', objectName: '' }, 'invalid objectEncoding'],
    [
      'file name before permission',
      { objectName: '/a', filePermission: 'x' },
      'file name must be a relative path',
    ],
  ];
  for (const [what, fields, expected] of precedence) {
    it(`checks ${what}`, () => {
      expect(problem(fields)).to.include(expected);
    });
  }

  it('names the file by alias, else by name', () => {
    expect(fileNameOf(object({ objectAlias: 'alias' }))).to.equal('alias');
    expect(fileNameOf(object({}))).to.equal('name1');
  });

  it('gives the file mode from filePermission, else the default', () => {
    expect(fileModeOf(object({ filePermission: '0755' }), 0o644)).to.equal(0o755);
    expect(fileModeOf(object({ filePermission: '600' }), 0o644)).to.equal(0o600);
    expect(fileModeOf(object({}), 0o640)).to.equal(0o640);
    expect(() => fileModeOf(object({ filePermission: '9' }), 0o644)).to.throw(
      'invalid filePermission: 9, should be an octal file mode such as 0644',
    );
  });
});
