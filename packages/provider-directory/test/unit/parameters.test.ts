import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { parseObjects } from '../../src/parameters.js';

/** The `objects` text for a list of object YAML texts, as a SecretProviderClass would hold it. */
function objects(...items: string[]): string {
  return `array:\n${items.map((item) => `  - |\n${item.replace(/^/gm, '    ')}\n`).join('')}`;
}

function refusal(text: string | undefined): string {
  try {
    parseObjects(text);
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).kind).to.equal('invalid-argument');
    expect((error as ProviderError).code).to.equal('InvalidObjects');
    return (error as Error).message;
  }
  throw new Error('expected the objects to be refused');
}

describe('parseObjects', () => {
  it('reads name, alias and permission of each object, in order', () => {
    expect(
      parseObjects(
        objects(
          'objectName: db/password\nobjectAlias: password\nfilePermission: 0600',
          'objectName: tls.crt',
        ),
      ),
    ).to.deep.equal([
      { objectName: 'db/password', objectAlias: 'password', mode: 0o600 },
      { objectName: 'tls.crt', objectAlias: 'tls.crt', mode: undefined },
    ]);
  });

  it('keeps the raw text of scalars as yaml.v3 does: 0600 and 600 are octal, quotes and nulls read as text', () => {
    const parsed = parseObjects(
      objects(
        'objectName: 123\nfilePermission: 600',
        'objectName: "true"\nfilePermission: "0640"',
        "objectName: ' padded '\nobjectAlias: ~\nfilePermission:",
        'objectName: 1.50\nobjectAlias: null',
      ),
    );
    expect(parsed).to.deep.equal([
      { objectName: '123', objectAlias: '123', mode: 0o600 },
      { objectName: 'true', objectAlias: 'true', mode: 0o640 },
      { objectName: 'padded', objectAlias: 'padded', mode: undefined },
      { objectName: '1.50', objectAlias: '1.50', mode: undefined },
    ]);
  });

  it('ignores unknown fields, such as the Azure provider’s', () => {
    expect(parseObjects(objects('objectName: a\nobjectType: secret\nobjectVersion: ""'))).to.deep.equal([
      { objectName: 'a', objectAlias: 'a', mode: undefined },
    ]);
  });

  it('accepts a flow-style list of quoted strings', () => {
    expect(parseObjects('array: ["objectName: a", "objectName: b"]')).to.have.length(2);
  });

  const refusals: readonly [string, string | undefined, string][] = [
    ['a missing parameter', undefined, 'objects is not set'],
    ['a blank parameter', '  \n', 'objects is not set'],
    [
      'YAML that does not parse',
      'array: [',
      'failed to yaml unmarshal objects, error: Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 9',
    ],
    [
      'a list without the array key',
      '- objectName: a',
      'failed to yaml unmarshal objects, error: expected a mapping with an "array" list, got a sequence',
    ],
    [
      'a plain string',
      'objectName',
      'failed to yaml unmarshal objects, error: expected a mapping with an "array" list, got a string',
    ],
    [
      'an array that is a mapping',
      'array:\n  objectName: a',
      'failed to yaml unmarshal objects, error: "array" must be a list of YAML strings, got a mapping',
    ],
    [
      'an array item that is a mapping, not a string',
      'array:\n  - objectName: a',
      'failed to yaml unmarshal objects, error: array item 0 must be a YAML string, got a mapping',
    ],
    ['no array key', 'other: 1', 'objects must name at least one object'],
    ['an empty array', 'array: []', 'objects must name at least one object'],
    ['a null array', 'array:', 'objects must name at least one object'],
    [
      'an object that does not parse',
      objects('objectName: [a'),
      'unmarshal failed for objects at index 0, error: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1',
    ],
    [
      'an object that is a string',
      objects('just-a-name'),
      'unmarshal failed for objects at index 0, error: expected a mapping of object fields, got a string',
    ],
    [
      'a field that is a mapping',
      objects('objectName:\n  nested: x'),
      'unmarshal failed for objects at index 0, error: objectName must be a string, got a mapping',
    ],
    [
      'a duplicated field',
      objects('objectName: a\nobjectName: b'),
      'unmarshal failed for objects at index 0, error: Map keys must be unique at line 2, column 1',
    ],
    ['a nameless object', objects('objectAlias: a'), 'object at index 0: objectName is not set'],
    [
      'a traversing name',
      objects('objectName: ../etc/shadow'),
      `object "../etc/shadow": objectName must not contain '..'`,
    ],
    [
      'an absolute name',
      objects('objectName: /etc/shadow'),
      'object "/etc/shadow": objectName must be a relative path',
    ],
    [
      'a name into the atomic writer’s data',
      objects('objectName: ..data/password'),
      `object "..data/password": objectName must not start with '..' (the driver reserves such names)`,
    ],
    [
      'an unclean name',
      objects('objectName: ./db//password'),
      `object "./db//password": objectName must be clean (no empty or '.' elements, no trailing '/')`,
    ],
    [
      'a traversing alias',
      objects('objectName: a\nobjectAlias: ../../etc/cron.d/evil'),
      `object "a": objectAlias must not contain '..'`,
    ],
    [
      'an absolute alias',
      objects('objectName: a\nobjectAlias: /etc/passwd'),
      'object "a": objectAlias must be a relative path',
    ],
    [
      'an octal permission Go would refuse',
      objects('objectName: a\nfilePermission: 0o644'),
      'object "a": filePermission "0o644" is not an octal file mode between 0000 and 0777',
    ],
    [
      'a permission with setuid bits',
      objects('objectName: a\nfilePermission: 4755'),
      'object "a": filePermission "4755" is not an octal file mode between 0000 and 0777',
    ],
    [
      'a decimal-looking permission',
      objects('objectName: a\nfilePermission: 644.0'),
      'object "a": filePermission "644.0" is not an octal file mode between 0000 and 0777',
    ],
    [
      'two objects writing one file',
      objects('objectName: a', 'objectName: b\nobjectAlias: a'),
      'object "b": file name "a" is already used by object "a"',
    ],
  ];
  for (const [what, text, message] of refusals) {
    it(`refuses ${what}`, () => {
      expect(refusal(text)).to.equal(message);
    });
  }
});
