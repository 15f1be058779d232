import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { parseObject, parseObjects, readObjectTexts } from '../../../src/parameters/objects.js';

/** The `objects` text for a list of object YAML texts, as a SecretProviderClass holds it. */
function objects(...items: string[]): string {
  return `array:\n${items.map((item) => `  - |\n${item.replace(/^/gm, '    ')}\n`).join('')}`;
}

function failure(run: () => unknown): ProviderError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).code).to.equal('InvalidParameter');
    return error as ProviderError;
  }
  throw new Error('expected a failure');
}

const EMPTY = {
  objectName: '',
  objectAlias: '',
  objectType: '',
  objectVersion: '',
  objectFormat: '',
  objectEncoding: '',
  filePermission: '',
  objectVersionHistory: 0,
};

describe('parameters/objects', () => {
  it('reads every field of each object, in order', () => {
    const text = objects(
      'objectName: s1\nobjectAlias: a/b\nobjectType: secret\nobjectVersion: abc\nobjectFormat: pfx\nobjectEncoding: base64\nfilePermission: 0600\nobjectVersionHistory: 3',
      'objectName: k1\nobjectType: key',
    );
    expect(parseObjects(text)).to.deep.equal([
      {
        objectName: 's1',
        objectAlias: 'a/b',
        objectType: 'secret',
        objectVersion: 'abc',
        objectFormat: 'pfx',
        objectEncoding: 'base64',
        filePermission: '0600',
        objectVersionHistory: 3,
      },
      { ...EMPTY, objectName: 'k1', objectType: 'key' },
    ]);
  });

  const rawScalars: readonly [string, string, string][] = [
    ['an octal-looking permission', 'filePermission: 0755', '0755'],
    ['a leading-zero version', 'objectVersion: 0123', '0123'],
    ['a decimal version', 'objectVersion: 123', '123'],
    ['a float-looking version', 'objectVersion: 1.50', '1.50'],
    ['a hex-looking version', 'objectVersion: 0x1F', '0x1F'],
    ['an underscored number', 'objectVersion: 1_000', '1_000'],
    ['a boolean-looking name', 'objectName: true', 'true'],
    ['0o notation', 'filePermission: 0o644', '0o644'],
    ['null', 'objectVersion: null', ''],
    ['tilde', 'objectVersion: ~', ''],
    ['nothing', 'objectVersion:', ''],
    ['a quoted null', 'objectVersion: "null"', 'null'],
    ['a single-quoted text', "objectVersion: 'it''s'", "it's"],
    ['a double-quoted escape', 'objectVersion: "a\\tb"', 'a\tb'],
    ['an explicit !!str tag', 'objectVersion: !!str 5', '5'],
    ['a padded value, trimmed', "objectVersion: '  v1  '", 'v1'],
  ];
  for (const [what, yaml, expected] of rawScalars) {
    it(`keeps the raw scalar text of ${what}`, () => {
      const object = parseObject(yaml, 0);
      const field = yaml.split(':')[0] as keyof typeof object;
      expect(object[field]).to.equal(expected);
    });
  }

  it('trims block scalars and aliases resolve to their text', () => {
    const object = parseObject('objectName: &n |\n  name\n\nobjectAlias: *n', 0);
    expect(object.objectName).to.equal('name');
    expect(object.objectAlias).to.equal('name');
  });

  it('ignores unknown keys and matches keys case-sensitively', () => {
    expect(parseObject('objectname: x\nObjectName: y\nresourceGroup: z\nobjectName: n', 0)).to.deep.equal({
      ...EMPTY,
      objectName: 'n',
    });
  });

  const histories: readonly [string, number][] = [
    ['5', 5],
    ['0', 0],
    ['-3', -3],
    ['+4', 4],
    ['0x10', 16],
    ['0o10', 8],
    ['010', 8],
    ['0b11', 3],
    ['1_0', 10],
    ['2.9', 2],
    ['~', 0],
    ['', 0],
    ['!!int "7"', 7],
    ['2147483647', 2147483647],
  ];
  for (const [text, expected] of histories) {
    it(`reads objectVersionHistory ${JSON.stringify(text)} as the int ${expected}`, () => {
      expect(parseObject(`objectVersionHistory: ${text}`, 0).objectVersionHistory).to.equal(expected);
    });
  }

  const badHistories: readonly [string, string][] = [
    ['"5"', 'cannot unmarshal !!str `5` into int32'],
    ["'5'", 'cannot unmarshal !!str `5` into int32'],
    ['five', 'cannot unmarshal !!str `five` into int32'],
    ['true', 'cannot unmarshal !!bool `true` into int32'],
    ['2147483648', 'cannot unmarshal !!int `2147483648` into int32'],
    ['.inf', 'cannot unmarshal !!float `.inf` into int32'],
    ['[1]', 'cannot unmarshal !!seq into int32'],
  ];
  for (const [text, reason] of badHistories) {
    it(`refuses objectVersionHistory ${text}`, () => {
      expect(failure(() => parseObject(`objectName: a\nobjectVersionHistory: ${text}`, 2)).message).to.equal(
        `unmarshal failed for keyVaultObjects at index 2, error: yaml: unmarshal errors: line 2: ${reason}`,
      );
    });
  }

  const outerCases: readonly [string, string, number][] = [
    ['no array key', 'other: 1', 0],
    ['a null array', 'array:', 0],
    ['a tilde array', 'array: ~', 0],
    ['an empty array', 'array: []', 0],
    ['only a comment', '# nothing', 0],
    ['a flow list of strings', 'array: ["objectName: a", "objectName: b"]', 2],
    ['a null element', 'array:\n  - ~', 1],
  ];
  for (const [what, text, count] of outerCases) {
    it(`reads ${what} as ${count} object(s)`, () => {
      expect(readObjectTexts(text)).to.have.length(count);
    });
  }

  it('reads a null element as an empty object', () => {
    expect(parseObjects('array:\n  - ~')).to.deep.equal([EMPTY]);
  });

  const outerErrors: readonly [string, string, string][] = [
    [
      'a top-level sequence',
      '- objectName: a',
      'yaml: unmarshal errors: line 1: cannot unmarshal !!seq into a mapping with an "array" list',
    ],
    [
      'a top-level string',
      'objectName',
      'yaml: unmarshal errors: line 1: cannot unmarshal !!str `objectName` into a mapping with an "array" list',
    ],
    [
      'an element that is a mapping',
      'array:\n  - objectName: a',
      'yaml: unmarshal errors: line 2: cannot unmarshal !!map into string',
    ],
    [
      'an array that is a string',
      'array: objectName',
      'yaml: unmarshal errors: line 1: cannot unmarshal !!str `objectName` into a list of strings',
    ],
    [
      'an array that is a mapping',
      'array:\n  a: b',
      'yaml: unmarshal errors: line 2: cannot unmarshal !!map into a list of strings',
    ],
    [
      'a syntax error',
      'array: [',
      'yaml: Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 9',
    ],
    ['a duplicate key', 'array: []\narray: []', 'yaml: Map keys must be unique at line 2, column 1'],
  ];
  for (const [what, text, reason] of outerErrors) {
    it(`refuses ${what} with the outer error`, () => {
      expect(failure(() => parseObjects(text)).message).to.equal(
        `failed to yaml unmarshal objects, error: ${reason}`,
      );
    });
  }

  const innerErrors: readonly [string, string, string][] = [
    [
      'a sequence',
      '- a',
      'yaml: unmarshal errors: line 1: cannot unmarshal !!seq into a Key Vault object mapping',
    ],
    [
      'a plain string',
      'secret1',
      'yaml: unmarshal errors: line 1: cannot unmarshal !!str `secret1` into a Key Vault object mapping',
    ],
    [
      'a mapping as a field',
      'objectName:\n  a: b',
      'yaml: unmarshal errors: line 2: cannot unmarshal !!map into string',
    ],
    ['a syntax error', 'objectName: "a', 'yaml: Missing closing "quote at line 2, column 1'],
  ];
  for (const [what, text, reason] of innerErrors) {
    it(`refuses an element that is ${what}, naming its index`, () => {
      expect(failure(() => parseObjects(objects('objectName: fine', text))).message).to.equal(
        `unmarshal failed for keyVaultObjects at index 1, error: ${reason}`,
      );
    });
  }
});

describe('objects limits (issue 12)', () => {
  const tooDeep = 'yaml: collections are nested deeper than the limit of 32';
  for (const [what, text, prefix] of [
    ['deep flow lists', `array: ${'['.repeat(5000)}${']'.repeat(5000)}`, 'failed to yaml unmarshal objects'],
    [
      'deep flow mappings',
      `array: ${'{a: '.repeat(5000)}${'}'.repeat(5000)}`,
      'failed to yaml unmarshal objects',
    ],
    ['deep block lists', `array:\n  - ${'- '.repeat(5000)}x`, 'failed to yaml unmarshal objects'],
    [
      'a deep object text',
      objects(`objectName: ${'['.repeat(5000)}`),
      'unmarshal failed for keyVaultObjects at index 0',
    ],
  ] as const) {
    it(`refuses ${what} with InvalidArgument naming the depth limit`, () => {
      const error = failure(() => parseObjects(text));
      expect(error.kind).to.equal('invalid-argument');
      expect(error.message).to.equal(`${prefix}, error: ${tooDeep}`);
    });
  }

  it('refuses a text over 512 KiB, naming the limit', () => {
    const error = failure(() => parseObjects(`array: []\n#${'x'.repeat(512 * 1024)}`));
    expect(error.message).to.equal(
      'failed to yaml unmarshal objects, error: yaml: the text is longer than the limit of 524288 characters',
    );
  });

  it('still reads the ordinary shape', () => {
    expect(parseObjects(objects('objectName: a\nobjectType: secret'))[0]).to.include({
      objectName: 'a',
      objectType: 'secret',
    });
  });
});
