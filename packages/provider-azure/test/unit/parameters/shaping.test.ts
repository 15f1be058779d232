/**
 * The object fields that are ours (issue 16 §2, §4): how `objects` YAML reads them, their checks and their
 * texts, and that a class without them parses to exactly what it parsed to before.
 */
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type { KeyVaultObject } from '../../../src/model.js';
import { parseObject, parseObjects } from '../../../src/parameters/objects.js';
import { parseMountParameters } from '../../../src/parameters/parameters.js';
import { azurePublicCloud } from '../../../src/parameters/clouds.js';
import {
  checkShapingAcrossObjects,
  shapingProblem,
  validateShaping,
} from '../../../src/parameters/shaping.js';

function failure(run: () => unknown): ProviderError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).code).to.equal('InvalidParameter');
    expect((error as ProviderError).kind).to.equal('invalid-argument');
    return error as ProviderError;
  }
  throw new Error('expected a failure');
}

const object = (text: string): KeyVaultObject => parseObject(text, 0);
const problemOf = (text: string) => shapingProblem(object(text));
const DB = 'objectName: db\nobjectType: secret\n';

describe('parameters/shaping: jmesPath, objectContentType, pemContent, pfxPasswordSecretKey', () => {
  describe('reading the fields', () => {
    it('leaves an object without them exactly as upstream reads it (no shaping key at all)', () => {
      const parsed = object(
        'objectName: s\nobjectType: secret\nfilePermission: 0600\nobjectVersionHistory: 2',
      );
      expect(parsed).to.deep.equal({
        objectName: 's',
        objectAlias: '',
        objectType: 'secret',
        objectVersion: '',
        objectFormat: '',
        objectEncoding: '',
        filePermission: '0600',
        objectVersionHistory: 2,
      });
      expect(Object.hasOwn(parsed, 'shaping')).to.equal(false);
    });

    it('reads jmesPath entries with raw scalar text (0600 stays "0600") and the string fields trimmed', () => {
      const parsed = object(
        `${DB}jmesPath:\n  - path: username\n    objectAlias: db-user\n  - path: "creds.port"\n    objectAlias: port\n    filePermission: 0600\npemContent: ' key '\n`,
      );
      expect(parsed.shaping).to.deep.equal({
        jmesPath: [
          { path: 'username', objectAlias: 'db-user', filePermission: '' },
          { path: 'creds.port', objectAlias: 'port', filePermission: '0600' },
        ],
        objectContentType: '',
        pemContent: 'key',
        pfxPasswordSecretKey: '',
      });
    });

    it('reads a null jmesPath as no entries', () => {
      expect(object(`${DB}jmesPath:`).shaping?.jmesPath).to.deep.equal([]);
    });

    it('refuses a jmesPath that is not a list, an entry that is not a mapping, and unknown entry fields', () => {
      expect(failure(() => object(`${DB}jmesPath: username`)).message).to.equal(
        'unmarshal failed for keyVaultObjects at index 0, error: yaml: unmarshal errors: line 3: cannot unmarshal !!str `username` into a list of jmesPath entries',
      );
      expect(failure(() => object(`${DB}jmesPath:\n  - username`)).message).to.include(
        'cannot unmarshal !!str `username` into a jmesPath entry (path, objectAlias, filePermission)',
      );
      expect(failure(() => object(`${DB}jmesPath:\n  - path: a\n    alias: b`)).message).to.include(
        'line 5: unknown jmesPath field "alias": use path, objectAlias and filePermission',
      );
    });

    it('parses a whole objects text with one shaped and one plain object', () => {
      const text = `array:\n  - |\n    objectName: db\n    objectType: secret\n    jmesPath:\n      - path: a\n        objectAlias: b\n  - |\n    objectName: plain\n    objectType: secret\n`;
      const [shaped, plain] = parseObjects(text);
      expect(shaped?.shaping?.jmesPath).to.have.length(1);
      expect(plain?.shaping).to.equal(undefined);
    });
  });

  describe('checks of one object', () => {
    it('accepts valid uses', () => {
      expect(
        problemOf(
          `${DB}jmesPath:\n  - path: "items[0].name"\n    objectAlias: dir/name\n    filePermission: "0640"`,
        ),
      ).to.equal(undefined);
      expect(
        problemOf(
          `${DB}objectContentType: Application/X-PKCS12\npemContent: KEY\npfxPasswordSecretKey: pfx.password`,
        ),
      ).to.equal(undefined);
      expect(
        problemOf(`${DB}objectFormat: pfx\nobjectContentType: application/x-pkcs12\npemContent: all`),
      ).to.equal(undefined);
      // Empty fields are as good as absent, whatever the type.
      expect(problemOf('objectName: c\nobjectType: cert\njmesPath: []\npemContent: ""')).to.equal(undefined);
    });

    const cases: [string, string, string][] = [
      [
        'jmesPath on a key',
        'objectName: k\nobjectType: key\njmesPath:\n  - path: a\n    objectAlias: b',
        'jmesPath is only supported for objectType: secret',
      ],
      [
        'pemContent on a cert',
        'objectName: c\nobjectType: cert\npemContent: key',
        'pemContent is only supported for objectType: secret (the private key of a Key Vault certificate is read through its secret of the same name)',
      ],
      ['an empty path', `${DB}jmesPath:\n  - objectAlias: b`, 'jmesPath[0]: path is required'],
      [
        'a path that does not parse',
        `${DB}jmesPath:\n  - path: "a["\n    objectAlias: b`,
        'jmesPath[0]: invalid path "a[": ',
      ],
      [
        'no objectAlias',
        `${DB}jmesPath:\n  - path: a`,
        'jmesPath[0]: objectAlias is required (the file the value is written to)',
      ],
      [
        'an alias with ..',
        `${DB}jmesPath:\n  - path: a\n    objectAlias: b\n  - path: a\n    objectAlias: ../etc/passwd`,
        "jmesPath[1].objectAlias: file name must not contain '..'",
      ],
      [
        'an absolute alias',
        `${DB}jmesPath:\n  - path: a\n    objectAlias: /etc/passwd`,
        'jmesPath[0].objectAlias: file name must be a relative path',
      ],
      [
        'a bad filePermission',
        `${DB}jmesPath:\n  - path: a\n    objectAlias: b\n    filePermission: 0999`,
        'jmesPath[0]: invalid filePermission: 0999, should be an octal file mode such as 0644',
      ],
      [
        'history',
        `${DB}objectVersionHistory: 3\njmesPath:\n  - path: a\n    objectAlias: b`,
        'jmesPath is not supported with objectVersionHistory',
      ],
      [
        'jmesPath with pemContent',
        `${DB}pemContent: key\njmesPath:\n  - path: a\n    objectAlias: b`,
        'jmesPath reads a JSON or YAML value and cannot be combined with',
      ],
      [
        'an unknown content type',
        `${DB}objectContentType: text/plain`,
        'invalid objectContentType: text/plain, should be application/x-pkcs12 or application/x-pem-file',
      ],
      [
        'an unknown pemContent',
        `${DB}pemContent: cert`,
        'invalid pemContent: cert, should be all, key or certs',
      ],
      [
        'pemContent with objectFormat pfx',
        `${DB}objectFormat: PFX\npemContent: key`,
        'pemContent needs objectFormat pem',
      ],
      [
        'a password with objectFormat pfx',
        `${DB}objectFormat: pfx\npfxPasswordSecretKey: pw`,
        'pfxPasswordSecretKey needs objectFormat pem',
      ],
      [
        'a password key Kubernetes cannot hold',
        `${DB}pfxPasswordSecretKey: "pass word"`,
        'invalid pfxPasswordSecretKey: pass word',
      ],
    ];
    for (const [what, text, expected] of cases) {
      it(`refuses ${what}`, () => {
        expect(problemOf(text)).to.include(expected);
        expect(
          failure(() => {
            validateShaping(object(text));
          }).message,
        ).to.match(/^failed to get objectType:\w+, objectName:\w+, objectVersion:: /);
      });
    }
  });

  describe('checks across objects', () => {
    const objects = (...texts: string[]) => texts.map((text) => object(text));
    const extracting = (name: string, ...aliases: string[]) =>
      `objectName: ${name}\nobjectType: secret\njmesPath:\n${aliases.map((a) => `  - path: k\n    objectAlias: ${a}\n`).join('')}`;

    it('accepts distinct files and leaves colliding upstream objects alone', () => {
      expect(() => {
        checkShapingAcrossObjects(
          objects(
            'objectName: a\nobjectType: secret',
            'objectName: a\nobjectType: secret',
            extracting('db', 'user', 'dir/pass'),
          ),
          {},
        );
      }).not.to.throw();
    });

    it('refuses an alias equal to another object file, to another alias, or a directory of one', () => {
      expect(
        failure(() => {
          checkShapingAcrossObjects(
            objects('objectName: user\nobjectType: secret', extracting('db', 'user')),
            {},
          );
        }).message,
      ).to.equal(
        'failed to get objectType:secret, objectName:db, objectVersion:: jmesPath[0].objectAlias "user" collides with the file of object user ("user")',
      );
      expect(
        failure(() => {
          checkShapingAcrossObjects(objects(extracting('db', 'db')), {});
        }).message,
      ).to.include('jmesPath[0].objectAlias "db" collides with the file of object db ("db")');
      expect(
        failure(() => {
          checkShapingAcrossObjects(objects(extracting('db', 'x'), extracting('db2', 'x')), {});
        }).message,
      ).to.include(
        'objectName:db2, objectVersion:: jmesPath[0].objectAlias "x" collides with jmesPath[0] of object db ("x")',
      );
      expect(
        failure(() => {
          checkShapingAcrossObjects(objects(extracting('db', 'conf', 'conf/port')), {});
        }).message,
      ).to.include('jmesPath[1].objectAlias "conf/port" collides with jmesPath[0] of object db ("conf")');
      expect(
        failure(() => {
          checkShapingAcrossObjects(
            objects(
              'objectName: hist\nobjectType: secret\nobjectVersionHistory: 2',
              extracting('db', 'hist/0'),
            ),
            {},
          );
        }).message,
      ).to.include('collides with the file of object hist ("hist")');
    });

    it('needs the password key in the nodePublishSecretRef Secret, and never shows the Secret', () => {
      const pfx = objects(`${DB}objectContentType: application/x-pkcs12\npfxPasswordSecretKey: pfx-password`);
      expect(() => {
        checkShapingAcrossObjects(pfx, { 'pfx-password': 'pa55' });
      }).not.to.throw();
      const missing = failure(() => {
        checkShapingAcrossObjects(pfx, { clientid: 'id', clientsecret: 'SECRET-VALUE' });
      });
      expect(missing.message).to.equal(
        'failed to get objectType:secret, objectName:db, objectVersion:: pfxPasswordSecretKey "pfx-password": the nodePublishSecretRef Secret has no such key',
      );
      expect(
        failure(() => {
          checkShapingAcrossObjects(pfx, {});
        }).message,
      ).to.include("the pod's volume names no nodePublishSecretRef Secret");
    });
  });

  describe('in a Mount', () => {
    const parse = (objects: string, secrets: Record<string, string>) =>
      parseMountParameters(
        {
          attributes: {
            'csi.storage.k8s.io/pod.name': 'p',
            'csi.storage.k8s.io/pod.namespace': 'n',
            keyvaultName: 'kv1',
            tenantID: 't',
            objects,
          },
          secrets,
        },
        { defaultCloud: azurePublicCloud, env: {} },
      );
    const secrets = { clientid: 'id', clientsecret: 's', pw: 'x' };

    it("reports an upstream fault of an object before its shaping fault, in upstream's text", async () => {
      const text =
        'array:\n  - |\n    objectName: db\n    objectType: secret\n    objectEncoding: bad\n    pemContent: nope\n';
      const error = await parse(text, secrets).then(
        () => expect.fail('expected a failure'),
        (e: unknown) => e as ProviderError,
      );
      expect(error.message).to.equal(
        'failed to get objectType:secret, objectName:db, objectVersion:: invalid objectEncoding: bad, should be hex, base64 or utf-8',
      );
    });

    it('checks the password key once every object is valid, and keeps the fields on the parsed objects', async () => {
      const text =
        'array:\n  - |\n    objectName: db\n    objectType: secret\n    objectContentType: application/x-pkcs12\n    pfxPasswordSecretKey: pw\n';
      const params = await parse(text, secrets);
      expect(params.objects[0]?.shaping?.pfxPasswordSecretKey).to.equal('pw');
      const { pw: _pw, ...without } = secrets;
      await parse(text, without).then(
        () => expect.fail('expected a failure'),
        (e: unknown) => expect((e as Error).message).to.include('pfxPasswordSecretKey "pw"'),
      );
    });
  });
});
