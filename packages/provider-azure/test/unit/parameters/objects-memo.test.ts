/**
 * The memo of parsed `objects` texts: a repeated text is parsed once, what it hands out is frozen, the checks
 * against the class still run on every mount, and it stays within its bounds.
 */
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type { KeyVaultObject } from '../../../src/model.js';
import { azurePublicCloud } from '../../../src/parameters/clouds.js';
import { ObjectsMemo } from '../../../src/parameters/objects-memo.js';
import { parseMountParameters } from '../../../src/parameters/parameters.js';

const OBJECTS =
  'array:\n' +
  '  - |\n    objectName: one\n    objectType: secret\n    jmesPath:\n      - path: a\n        objectAlias: a.txt\n' +
  '  - |\n    objectName: two\n    objectType: secret\n    tenantId: other-tenant\n';

function attributes(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    'csi.storage.k8s.io/pod.name': 'pod1',
    'csi.storage.k8s.io/pod.namespace': 'ns1',
    keyvaultName: 'kv1',
    tenantID: 'tenant1',
    objects: OBJECTS,
    ...overrides,
  };
}

const servicePrincipal = { clientid: 'app', clientsecret: 'sp-secret' };

function parse(
  memo: ObjectsMemo | undefined,
  overrides: Record<string, string> = {},
  secrets: Readonly<Record<string, string>> = servicePrincipal,
) {
  return parseMountParameters(
    { attributes: attributes(overrides), secrets },
    { defaultCloud: azurePublicCloud, env: {}, ...(memo ? { objectsMemo: memo } : {}) },
  );
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    return (error as Error).message;
  }
  throw new Error('expected a failure');
}

describe('parameters/ObjectsMemo', () => {
  it('parses a repeated objects text once and hands out the same frozen objects', async () => {
    const memo = new ObjectsMemo();
    const first = await parse(memo);
    const second = await parse(memo, { 'csi.storage.k8s.io/pod.name': 'pod2' });
    expect(second.objects).to.equal(first.objects);
    expect(memo.size).to.equal(1);
    const [one] = second.objects as KeyVaultObject[];
    expect(Object.isFrozen(second.objects)).to.equal(true);
    expect(Object.isFrozen(one)).to.equal(true);
    expect(Object.isFrozen(one?.shaping?.jmesPath)).to.equal(true);
    expect(Object.isFrozen(one?.shaping?.jmesPath[0])).to.equal(true);
    expect(() => {
      (one as { objectName: string }).objectName = 'changed';
    }).to.throw(TypeError);
    // What a mount without the memo reads is the same.
    expect(second.objects).to.deep.equal((await parse(undefined)).objects);
  });

  it('still checks each remembered object against the class, with the same text as without the memo', async () => {
    const memo = new ObjectsMemo();
    await parse(memo);
    expect(memo.size).to.equal(1);
    // VM managed identity gets tokens in one tenant only: object two's tenantId is refused for this class.
    const vmIdentity = { useVMManagedIdentity: 'true' };
    const withMemo = await messageOf(parse(memo, vmIdentity, {}));
    const without = await messageOf(parse(undefined, vmIdentity, {}));
    expect(withMemo).to.equal(without);
    expect(withMemo).to.include('objectName:two');
  });

  it('keeps no text whose objects fail their own checks', async () => {
    const memo = new ObjectsMemo();
    const bad = 'array:\n  - |\n    objectName: one\n    objectType: secret\n    objectFormat: der\n';
    const first = await messageOf(parse(memo, { objects: bad }));
    expect(first).to.equal(
      'failed to get objectType:secret, objectName:one, objectVersion:: invalid objectFormat: der, should be PEM or PFX',
    );
    expect(memo.size).to.equal(0);
    expect(await messageOf(parse(memo, { objects: bad }))).to.equal(first);
  });

  it('stays within its bounds, dropping the least recently used text first', async () => {
    const memo = new ObjectsMemo({ maxEntries: 2, maxChars: 10_000 });
    const text = (name: string) => `array:\n  - |\n    objectName: ${name}\n    objectType: secret\n`;
    const a = await parse(memo, { objects: text('a') });
    await parse(memo, { objects: text('b') });
    expect((await parse(memo, { objects: text('a') })).objects).to.equal(a.objects);
    await parse(memo, { objects: text('c') });
    expect(memo.size).to.equal(2);
    expect(memo.get(text('a').trim())).to.equal(a.objects);
    expect(memo.get(text('b').trim())).to.equal(undefined);

    const small = new ObjectsMemo({ maxEntries: 10, maxChars: text('a').length });
    await parse(small, { objects: text('a') });
    await parse(small, { objects: text('b') });
    await parse(small, { objects: text('c') });
    expect(small.size).to.equal(1);
    const huge = `${text('d')}${'#'.repeat(100)}\n`;
    await parse(small, { objects: huge });
    expect(small.get(huge.trim())).to.equal(undefined);
  });
});
