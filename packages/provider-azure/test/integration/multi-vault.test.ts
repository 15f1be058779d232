/**
 * Ours (issue 16 items 1 and 3), end to end as the driver drives the provider: several vaults (and tenants) in
 * one mount and optional objects, through `serve()` on a unix socket, the real @azure/identity and
 * @azure/keyvault-* SDKs, the Entra ID stand-in and the Key Vault double (vaults told apart by Host).
 */
import { driverMountRequest, type ProviderClient } from '@secrets-store-csi/provider-sdk/testing';
import type { KeyVaultDouble } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { objectsYaml, startWorld, TENANT, type ServedProvider, type World } from './world.js';

const CLIENT_ID = 'app';
const CLIENT_SECRET = 'multi-vault-app-secret-5e6f';
const OTHER_TENANT = 'tenant-b';
const POD = {
  'csi.storage.k8s.io/pod.name': 'web-0',
  'csi.storage.k8s.io/pod.namespace': 'shop',
  'csi.storage.k8s.io/pod.uid': '6d1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
  'csi.storage.k8s.io/serviceAccount.name': 'web',
};

type MountOutcome = Awaited<ReturnType<ProviderClient['mount']>>;

function succeeded(outcome: MountOutcome) {
  if (!outcome.ok)
    expect.fail(`the mount failed: ${outcome.codeName} ${outcome.errorCode ?? ''} ${outcome.details}`);
  const { files, object_version, absent_object } = outcome.response;
  return {
    files: Object.fromEntries(files.map((f) => [f.path, Buffer.from(f.contents).toString('utf8')])),
    versions: object_version.map(({ id }) => id),
    absent: absent_object.map(({ id, path, reason }) => ({ id, path, reason })),
  };
}

function failed(outcome: MountOutcome) {
  if (outcome.ok) expect.fail('expected the mount to fail');
  return { code: outcome.codeName, details: outcome.details, errorCode: outcome.errorCode };
}

describe('several vaults and optional objects in one mount (Key Vault double, real Azure SDK)', function () {
  this.timeout(60_000);
  let world: World;
  let kv: KeyVaultDouble;
  let cloudFile: string;
  let provider: ServedProvider;

  const mount = (objects: readonly string[], parameters: Record<string, string> = {}) =>
    provider.client.mount(
      driverMountRequest({
        parameters: {
          keyvaultName: 'kva',
          tenantID: TENANT,
          cloudName: 'AzureStackCloud',
          cloudEnvFileName: cloudFile,
          objects: objectsYaml(...objects),
          ...parameters,
        },
        podAttributes: POD,
        secrets: { clientid: CLIENT_ID, clientsecret: CLIENT_SECRET },
      }),
    );

  const vaultsAsked = () =>
    [...new Set(kv.requests.filter((r) => r.authenticated).map((r) => r.vault))].sort();

  before(async () => {
    world = await startWorld({ prefix: 'provider-azure-multi-vault-', vaults: ['kva', 'kvb', 'kvc'] });
    kv = world.kv;
    cloudFile = await world.cloudFile(kv);
    // One app registration, multi-tenant: known in both tenants with the same secret.
    world.entra.addServicePrincipal({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    world.entra.addServicePrincipal({
      tenantId: OTHER_TENANT,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });
    kv.createVault('kva', { tenantId: TENANT });
    kv.createVault('kvb', { tenantId: TENANT });
    kv.createVault('kvc', { tenantId: OTHER_TENANT });
    kv.setSecret('kva', 'db', 'from-a');
    kv.setSecret('kvb', 'db', 'from-b');
    kv.setSecret('kvc', 'api', 'from-c');
    // Without the object cache, so each mount shows what Key Vault answers now (unit tests cover the cache).
    provider = await world.startProvider(['--keyvault-max-retries=0', '--object-cache-ttl=0s']);
  });

  after(async () => {
    await world.close();
  });

  beforeEach(() => {
    kv.clearRequests();
  });

  it('reads an object of the same name from two vaults in one mount', async () => {
    const result = succeeded(
      await mount([
        'objectName: db\nobjectType: secret',
        'objectName: db\nobjectType: secret\nobjectAlias: db-b\nkeyvaultName: kvb',
      ]),
    );
    expect(result.files).to.deep.equal({ db: 'from-a', 'db-b': 'from-b' });
    expect(result.versions).to.deep.equal(['secret/db', 'kvb/secret/db']);
    expect(result.absent).to.deep.equal([]);
    expect(vaultsAsked()).to.deep.equal(['kva', 'kvb']);
  });

  it('asks the object tenant for the token of a vault in another tenant', async () => {
    const result = succeeded(
      await mount([
        'objectName: db\nobjectType: secret',
        `objectName: api\nobjectType: secret\nkeyvaultName: kvc\ntenantId: ${OTHER_TENANT}`,
      ]),
    );
    expect(result.files).to.deep.equal({ db: 'from-a', api: 'from-c' });
    const tenants = kv.requests
      .filter((r) => r.authenticated)
      .map((r) => [r.vault, (r.claims as { tid?: string } | undefined)?.tid]);
    expect(tenants).to.deep.include.members([
      ['kva', TENANT],
      ['kvc', OTHER_TENANT],
    ]);
  });

  it("names the vault when the object's vault is in a tenant the class did not name", async () => {
    const outcome = failed(await mount(['objectName: api\nobjectType: secret\nkeyvaultName: kvc']));
    expect(outcome.details).to.include(
      'failed to get objectType:secret, objectName:api, objectVersion:, keyvaultName:kvc: ',
    );
    expect(outcome.details).to.include(`the Key Vault belongs to tenant ${OTHER_TENANT}`);
  });

  it('names the object and the vault when a vault name does not resolve', async () => {
    const outcome = failed(
      await mount([
        'objectName: db\nobjectType: secret',
        'objectName: db\nobjectType: secret\nkeyvaultName: kv-typo',
      ]),
    );
    expect(outcome).to.include({ code: 'NOT_FOUND', errorCode: 'ObjectNotFound' });
    expect(outcome.details).to.include(
      'failed to get objectType:secret, objectName:db, objectVersion:, keyvaultName:kv-typo: ' +
        `the vault host kv-typo.${kv.dnsSuffixWithPort} does not resolve (ENOTFOUND)`,
    );
  });

  it('refuses an invalid vault name per object before any Key Vault call', async () => {
    const outcome = failed(await mount(['objectName: db\nobjectType: secret\nkeyvaultName: kv_b']));
    expect(outcome.errorCode).to.equal('InvalidParameter');
    expect(outcome.details).to.include(
      'keyvaultName:kv_b: failed to get vault: Invalid vault name: "kv_b", must match [-a-zA-Z0-9]{3,24}',
    );
    expect(kv.requests).to.deep.equal([]);
  });

  it('mounts without a missing optional object and reports it absent, naming the vault', async () => {
    const result = succeeded(
      await mount([
        'objectName: db\nobjectType: secret',
        'objectName: later\nobjectType: secret\nobjectAlias: conf/later\nkeyvaultName: kvb\noptional: true',
      ]),
    );
    expect(result.files).to.deep.equal({ db: 'from-a' });
    expect(result.versions).to.deep.equal(['secret/db']);
    expect(result.absent).to.deep.equal([
      {
        id: 'kvb/secret/later',
        path: 'conf/later',
        reason: 'optional secret later was not found in vault kvb',
      },
    ]);
  });

  it('reports a disabled optional object absent', async () => {
    kv.setSecret('kva', 'paused', 'value');
    const [version] = kv.versions('kva', 'secrets', 'paused');
    kv.setEnabled('kva', 'secrets', 'paused', version ?? '', false);
    const result = succeeded(
      await mount([
        'objectName: db\nobjectType: secret',
        'objectName: paused\nobjectType: secret\noptional: true',
      ]),
    );
    expect(result.absent).to.deep.equal([
      { id: 'secret/paused', path: 'paused', reason: 'optional secret paused is disabled in vault kva' },
    ]);
  });

  it('still fails the mount when Key Vault refuses access (403) to an optional object', async () => {
    kv.queueFailures({ vault: 'kvb', pathPrefix: '/secrets/db' }, { status: 403 });
    const outcome = failed(
      await mount([
        'objectName: db\nobjectType: secret',
        'objectName: db\nobjectType: secret\nobjectAlias: b\nkeyvaultName: kvb\noptional: true',
      ]),
    );
    expect(outcome).to.include({ code: 'PERMISSION_DENIED', errorCode: 'AccessDenied' });
    expect(outcome.details).to.include('keyvaultName:kvb: GET https://kvb.');
    expect(outcome.details).to.include('RESPONSE 403');
  });

  it('still fails the mount when Key Vault throttles an optional object', async () => {
    kv.queueFailures({ vault: 'kvb' }, { status: 429 });
    const outcome = failed(
      await mount(['objectName: db\nobjectType: secret\nkeyvaultName: kvb\noptional: true']),
    );
    expect(outcome).to.include({ code: 'RESOURCE_EXHAUSTED', errorCode: 'Throttled' });
  });

  it('mounts the optional object on the next mount once it is created', async () => {
    const objects = [
      'objectName: db\nobjectType: secret',
      'objectName: fresh\nobjectType: secret\nkeyvaultName: kvb\noptional: true',
    ];
    expect(succeeded(await mount(objects)).absent.map((a) => a.id)).to.deep.equal(['kvb/secret/fresh']);
    kv.setSecret('kvb', 'fresh', 'arrived');
    const after = succeeded(await mount(objects));
    expect(after.absent).to.deep.equal([]);
    expect(after.files).to.deep.equal({ db: 'from-a', fresh: 'arrived' });
    expect(after.versions).to.deep.equal(['secret/db', 'kvb/secret/fresh']);
  });
});
