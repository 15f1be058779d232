/**
 * Ours (issue 16 items 1 and 3): per-object keyvaultName/tenantId/cloudName and `optional: true`, from the
 * parsing of the keys to what a mount returns, with the in-memory Key Vault. The same behaviour through the
 * real Azure SDK and the Key Vault double is in test/integration/multi-vault.test.ts.
 */
import type { TokenCredential } from '@azure/identity';
import { RestError } from '@azure/core-rest-pipeline';
import { silentLogger } from '@secrets-store-csi/core';
import { checkMountResult, type MountRequest, type ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { absenceOf } from '../../src/keyvault/errors.js';
import { FakeKeyVault } from '../../src/keyvault/fake.js';
import type { AuthConfig } from '../../src/model.js';
import { azurePublicCloud, parseMountParameters, parseObject } from '../../src/parameters/index.js';
import { AzureProvider, type Identities } from '../../src/provider.js';

const KV1 = 'https://kv1.vault.azure.net/';
const KV2 = 'https://kv2.vault.azure.net/';

function objects(...entries: string[]): string {
  const blocks = entries.map(
    (entry) =>
      `  - |\n${entry
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n')}`,
  );
  return `array:\n${blocks.join('\n')}\n`;
}

function request(parameters: Record<string, string>): MountRequest {
  return {
    attributes: {
      'csi.storage.k8s.io/pod.name': 'web-0',
      'csi.storage.k8s.io/pod.namespace': 'shop',
      'csi.storage.k8s.io/serviceAccount.name': 'web',
      keyvaultName: 'kv1',
      tenantID: 'tenant-a',
      ...parameters,
    },
    secrets: { clientid: 'app', clientsecret: 's3cr3t' },
    defaultFileMode: 0o644,
    currentObjectVersions: [],
    targetPath: '/target',
  };
}

function setup(cacheTtlInMs = 0) {
  const vault = new FakeKeyVault();
  const credentials: { auth: AuthConfig; tenant: string }[] = [];
  const identities: Identities = {
    identityKey: (auth, subject) => `${JSON.stringify(auth)}|${subject}`,
    credentialFor(auth, _cloud, tenant) {
      credentials.push({ auth, tenant });
      return { getToken: () => Promise.resolve(null) } satisfies TokenCredential;
    },
    classifyCredentialError: () => undefined,
  };
  const provider = new AzureProvider(
    {
      defaultCloud: azurePublicCloud,
      constructPemChain: true,
      writeCertAndKeyInSeparateFiles: false,
      maxConcurrentFetchesPerMount: 4,
      objectCacheTtlInMs: cacheTtlInMs,
      objectCacheMaxEntries: 100,
    },
    { connector: vault, identities, recordKeyVaultRequest: () => undefined, logger: silentLogger },
  );
  const mount = (parameters: Record<string, string>) =>
    provider.mount(request(parameters), { abortSignal: new AbortController().signal });
  return { vault, credentials, mount };
}

const secret = (value: string) => ({ value, contentType: undefined, kid: undefined });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    return error as ProviderError;
  }
  throw new Error('expected the mount to fail');
}

describe('per-object vaults and optional objects: parsing', () => {
  it('adds no key to an object that does not name them (an upstream object parses as before)', () => {
    expect(parseObject('objectName: a\nobjectType: secret', 0)).to.have.all.keys(
      'objectName',
      'objectAlias',
      'objectType',
      'objectVersion',
      'objectFormat',
      'objectEncoding',
      'filePermission',
      'objectVersionHistory',
    );
  });

  it('reads keyvaultName, tenantId (tenantID wins), cloudName and optional, trimmed; empty is unset', () => {
    expect(
      parseObject(
        'objectName: a\nkeyvaultName: " kv2 "\ntenantId: t-old\ntenantID: t-new\ncloudName: AzurePublicCloud\noptional: true',
        0,
      ),
    ).to.include({ keyvaultName: 'kv2', tenantId: 't-new', cloudName: 'AzurePublicCloud', optional: true });
    expect(parseObject('objectName: a\ntenantId: t-old\ntenantID: ""', 0).tenantId).to.equal('t-old');
    const empty = parseObject('objectName: a\nkeyvaultName: ""\ncloudName: ~\noptional: false', 0);
    expect(empty).not.to.have.any.keys('keyvaultName', 'cloudName', 'tenantId');
    expect(empty.optional).to.equal(false);
    expect(parseObject('objectName: a\noptional: TRUE', 0).optional).to.equal(true);
    expect(parseObject('objectName: a\noptional:', 0).optional).to.equal(false);
  });

  for (const value of ['"true"', 'yes', '1', '[true]']) {
    it(`refuses optional: ${value} as yaml.v3 refuses it for a bool`, () => {
      let error: ProviderError | undefined;
      try {
        parseObject(`objectName: a\noptional: ${value}`, 3);
      } catch (caught) {
        error = caught as ProviderError;
      }
      expect(error?.code).to.equal('InvalidParameter');
      expect(error?.message).to.match(
        /^unmarshal failed for keyVaultObjects at index 3, error: yaml: unmarshal errors: line 2: cannot unmarshal !!(str|int|seq).* into bool$/,
      );
    });
  }

  const parse = (parameters: Record<string, string>, secrets = { clientid: 'app', clientsecret: 'x' }) =>
    parseMountParameters(
      { attributes: request(parameters).attributes, secrets },
      { defaultCloud: azurePublicCloud },
    );

  it('refuses a cloudName per object other than the class cloud, naming both', async () => {
    const error = await rejection(
      parse({ objects: objects('objectName: a\nobjectType: secret\ncloudName: AzureChinaCloud') }),
    );
    expect(error.message).to.equal(
      "failed to get objectType:secret, objectName:a, objectVersion:: cloudName AzureChinaCloud differs from the class's cloud AzurePublicCloud; the pod identity signs in to one cloud, so mount a vault of another cloud with a second volume and SecretProviderClass",
    );
    const same = await parse({
      cloudName: 'azurepubliccloud',
      objects: objects('objectName: a\nobjectType: secret\ncloudName: AzurePublicCloud'),
    });
    expect(same.objects[0]?.cloudName).to.equal('AzurePublicCloud');
  });

  it('refuses another tenant per object for VM managed identity, which signs in to one tenant', async () => {
    const error = await rejection(
      parse({
        useVMManagedIdentity: 'true',
        objects: objects('objectName: a\nobjectType: secret\ntenantId: tenant-b'),
      }),
    );
    expect(error.message).to.equal(
      "failed to get objectType:secret, objectName:a, objectVersion:: tenantId tenant-b differs from the class's tenant tenant-a, but vm-managed-identity gets its token in one tenant only; a vault of another tenant needs a service principal, workload identity or identity binding",
    );
  });

  it('reports upstream faults of an object before ours', async () => {
    const error = await rejection(
      parse({ objects: objects('objectName: a\nobjectType: key\nobjectEncoding: hex\ncloudName: Nope') }),
    );
    expect(error.message).to.equal(
      'failed to get objectType:key, objectName:a, objectVersion:: objectEncoding only supported for objectType: secret',
    );
  });
});

describe('per-object vaults: mounting', () => {
  it('fetches each object from its own vault in one mount, one reader per vault', async () => {
    const { vault, mount, credentials } = setup();
    vault.add(KV1, 'secret', 'db', secret('one'));
    vault.add(KV2, 'secret', 'db', secret('two'));
    const result = await mount({
      objects: objects(
        'objectName: db\nobjectType: secret',
        'objectName: db\nobjectType: secret\nobjectAlias: db-2\nkeyvaultName: kv2',
      ),
    });
    expect(result.files.map((f) => [f.path, text(f.contents)])).to.deep.equal([
      ['db', 'one'],
      ['db-2', 'two'],
    ]);
    expect(result.objectVersions.map((v) => v.id)).to.deep.equal(['secret/db', 'kv2/secret/db']);
    expect(vault.accesses.map((a) => a.vaultUrl)).to.deep.equal([KV1, KV2]);
    expect(credentials).to.have.length(2);
    expect(result).not.to.have.property('absentObjects');
  });

  it('asks the object tenant for tokens with the same identity', async () => {
    const { vault, mount, credentials } = setup();
    vault.add(KV2, 'secret', 'db', secret('two'));
    await mount({
      objects: objects('objectName: db\nobjectType: secret\nkeyvaultName: kv2\ntenantId: tenant-b'),
    });
    expect(
      credentials.map(({ auth, tenant }) => [auth.mode, (auth as { tenantId: string }).tenantId, tenant]),
    ).to.deep.equal([['service-principal', 'tenant-b', 'tenant-b']]);
  });

  it('caches per (identity, vault, object): the same name in two vaults is two entries', async () => {
    const { vault, mount } = setup(60_000);
    vault.add(KV1, 'secret', 'db', secret('one'));
    vault.add(KV2, 'secret', 'db', secret('two'));
    const parameters = {
      objects: objects(
        'objectName: db\nobjectType: secret',
        'objectName: db\nobjectType: secret\nobjectAlias: db-2\nkeyvaultName: kv2',
      ),
    };
    await mount(parameters);
    const second = await mount(parameters);
    expect(second.files.map((f) => text(f.contents))).to.deep.equal(['one', 'two']);
    expect(vault.callsOf('getSecret').map((c) => c.vaultUrl)).to.deep.equal([KV1, KV2]);
  });

  it('checks every vault name before any credential, naming the object and the vault', async () => {
    const { mount, credentials } = setup();
    const error = await rejection(
      mount({
        objects: objects(
          'objectName: a\nobjectType: secret',
          'objectName: b\nobjectType: secret\nkeyvaultName: k',
        ),
      }),
    );
    expect(error.message).to.equal(
      'failed to get objectType:secret, objectName:b, objectVersion:, keyvaultName:k: failed to get vault: Invalid vault name: "k", must be between 3 and 24 chars',
    );
    expect(credentials).to.have.length(0);
  });

  it('names the vault in every error of a class that names vaults per object, class vault included', async () => {
    const { vault, mount } = setup();
    vault.failNext(() => true, new RestError('Too many requests', { statusCode: 429, code: 'Throttled' }));
    const error = await rejection(
      mount({
        objects: objects(
          'objectName: a\nobjectType: secret',
          'objectName: b\nobjectType: secret\nkeyvaultName: kv2',
        ),
      }),
    );
    expect(error.message).to.match(
      /^failed to get objectType:secret, objectName:[ab], objectVersion:, keyvaultName:kv[12]: /,
    );
  });

  it('keeps upstream prefixes for a class without per-object vaults', async () => {
    const { mount } = setup();
    const error = await rejection(mount({ objects: objects('objectName: gone\nobjectType: secret') }));
    expect(error.message).to.match(/^failed to get objectType:secret, objectName:gone, objectVersion:: /);
  });
});

describe('optional objects: mounting', () => {
  it('reports a missing optional object absent and mounts the rest', async () => {
    const { vault, mount } = setup();
    vault.add(KV1, 'secret', 'db', secret('one'));
    const result = await mount({
      objects: objects(
        'objectName: db\nobjectType: secret',
        'objectName: tls\nobjectType: cert\nobjectAlias: certs/tls\nkeyvaultName: kv2\noptional: true',
        'objectName: api\nobjectType: key\noptional: true\nobjectVersion: 0123',
      ),
    });
    expect(result.files.map((f) => f.path)).to.deep.equal(['db']);
    expect(result.absentObjects).to.deep.equal([
      {
        id: 'kv2/cert/tls',
        path: 'certs/tls',
        reason: 'optional certificate tls was not found in vault kv2',
      },
      { id: 'key/api', path: 'api', reason: 'optional key api version 0123 was not found in vault kv1' },
    ]);
    expect(() => {
      checkMountResult(result);
    }).not.to.throw();
  });

  it('reports a disabled optional object absent', async () => {
    const { vault, mount } = setup();
    vault.add(KV1, 'secret', 'db', secret('one'), { enabled: false });
    const result = await mount({ objects: objects('objectName: db\nobjectType: secret\noptional: true') });
    expect(result.files).to.deep.equal([]);
    expect(result.objectVersions).to.deep.equal([]);
    expect(result.absentObjects).to.deep.equal([
      { id: 'secret/db', path: 'db', reason: 'optional secret db is disabled in vault kv1' },
    ]);
  });

  it('reports an optional object in history mode absent when it has no versions', async () => {
    const { mount } = setup();
    const result = await mount({
      objects: objects('objectName: db\nobjectType: secret\nobjectVersionHistory: 3\noptional: true'),
    });
    expect(result.absentObjects?.map((a) => a.id)).to.deep.equal(['secret/db']);
  });

  for (const [what, status, code] of [
    ['access refused (403)', 403, 'Forbidden'],
    ['throttling (429)', 429, 'Throttled'],
    ['an outage (503)', 503, 'ServiceUnavailable'],
  ] as const) {
    it(`still fails the mount on ${what} of an optional object`, async () => {
      const { vault, mount } = setup();
      vault.add(KV1, 'secret', 'db', secret('one'));
      vault.failNext(() => true, new RestError('refused', { statusCode: status, code }));
      const error = await rejection(
        mount({ objects: objects('objectName: db\nobjectType: secret\noptional: true') }),
      );
      expect(error.message).to.match(/^failed to get objectType:secret, objectName:db, objectVersion:: /);
    });
  }

  it('fails the mount when a required object is missing, as upstream', async () => {
    const { mount } = setup();
    const error = await rejection(
      mount({ objects: objects('objectName: db\nobjectType: secret\noptional: false') }),
    );
    expect(error.code).to.equal('ObjectNotFound');
  });

  it('mounts the object once it is created', async () => {
    const { vault, mount } = setup(60_000);
    const parameters = { objects: objects('objectName: db\nobjectType: secret\noptional: true') };
    expect((await mount(parameters)).absentObjects).to.have.length(1);
    vault.add(KV1, 'secret', 'db', secret('now'));
    const after = await mount(parameters);
    expect(after.absentObjects).to.equal(undefined);
    expect(after.files.map((f) => text(f.contents))).to.deep.equal(['now']);
  });
});

describe('absenceOf', () => {
  const rest = (statusCode: number, body: unknown, code?: string) =>
    new RestError('failed', {
      statusCode,
      ...(code !== undefined && { code }),
      response: { bodyAsText: JSON.stringify(body) } as never,
    });

  it('is not-found for a 404 with an object NotFound code, through causes', () => {
    const error = rest(404, {
      error: { code: 'SecretNotFound', message: 'A secret with (name/id) x was not found' },
    });
    expect(absenceOf(error)).to.equal('not-found');
    expect(absenceOf(new Error('wrapped', { cause: error }))).to.equal('not-found');
  });

  it('is disabled for a 403 whose inner code ends in Disabled', () => {
    expect(
      absenceOf(
        rest(403, { error: { code: 'Forbidden', message: 'x', innererror: { code: 'KeyDisabled' } } }),
      ),
    ).to.equal('disabled');
  });

  it('is nothing for other 404s, 403s and failures', () => {
    expect(absenceOf(rest(404, { error: { code: 'VaultNotFound', message: 'no vault' } }))).to.equal(
      undefined,
    );
    expect(
      absenceOf(
        rest(403, { error: { code: 'Forbidden', message: 'The user does not have secrets get permission' } }),
      ),
    ).to.equal(undefined);
    expect(absenceOf(new RestError('getaddrinfo ENOTFOUND', { code: 'ENOTFOUND' }))).to.equal(undefined);
    expect(absenceOf(new Error('boom'))).to.equal(undefined);
  });
});
