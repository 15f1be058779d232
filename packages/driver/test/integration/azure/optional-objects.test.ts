/**
 * Ours (issue 16 items 1 and 3), the driver with the Azure provider on the real API server: one volume reads
 * two vaults, one of its objects is optional and missing. The pod mounts, the SecretProviderClassPodStatus
 * condition and a Warning event name the absent object and its vault, the synced Secret leaves its key out,
 * and once the object is created a refresh mounts it.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { waitUntil } from '@secrets-store-csi/test-support';
import { volumeOf } from '../support.js';
import { TENANT_ID, useAzureWorld } from './world.js';

const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('the driver with the Azure provider: several vaults and an optional object in one volume', function () {
  this.timeout(60_000);
  const { fixture, azure } = useAzureWorld('azure-optional');

  it('mounts without the absent optional object, records it, and mounts it once it exists', async () => {
    const { keyVault, vault, secondVault, entra } = azure();
    entra.addServicePrincipal({ tenantId: TENANT_ID, clientId: 'optional-app', clientSecret: 'opt-s3cret' });
    keyVault.setSecret(vault, 'db-password', 'from-first-vault');
    keyVault.setSecret(secondVault, 'api-key', 'from-second-vault');
    await azure().createServicePrincipalSecret('optional-creds', 'optional-app', 'opt-s3cret');
    await azure().createSpc('optional', {
      identity: { mode: 'service-principal' },
      objects: [
        { objectName: 'db-password', objectType: 'secret' },
        { objectName: 'api-key', objectType: 'secret', keyvaultName: secondVault },
        { objectName: 'feature-flag', objectType: 'secret', keyvaultName: secondVault, optional: true },
      ],
      secretObjects: [
        {
          secretName: 'optional-app',
          type: 'Opaque',
          data: [
            { objectName: 'db-password', key: 'db' },
            { objectName: 'feature-flag', key: 'flag' },
          ],
        },
      ],
    });
    const pod = await azure().runPod('optional', { spc: 'optional', nodePublishSecretRef: 'optional-creds' });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    const visible = async () =>
      (await readdir(volume.targetPath)).filter((name) => !name.startsWith('..')).sort();
    expect(await visible()).to.deep.equal(['api-key', 'db-password']);
    expect(await readFile(join(volume.targetPath, 'api-key'), 'utf8')).to.equal('from-second-vault');

    const statusName = `optional-${fixture().namespace}-optional`;
    const status = (await fixture().podStatus(statusName)).status;
    expect(status.objects.map((o) => o.id).sort()).to.deep.equal([
      `${secondVault}/secret/api-key`,
      'secret/db-password',
    ]);
    const absent = `${secondVault}/secret/feature-flag (optional secret feature-flag was not found in vault ${secondVault})`;
    expect(status.conditions?.find((c) => c.type === 'OptionalObjectsPresent')).to.deep.include({
      status: 'False',
      reason: 'OptionalObjectAbsent',
      message: `absent: ${absent}`,
    });
    const event = await fixture().waitForEvent('optional', 'Warning', 'OptionalObjectAbsent');
    expect(event.message).to.equal(
      `provider "azure" reports 1 optional object absent, mounted without it: ${absent}. ` +
        'A refresh (secret rotation) mounts an object once it exists',
    );
    const synced = await fixture().secret('optional-app');
    expect(Object.keys(synced.data ?? {})).to.deep.equal(['db']);

    keyVault.setSecret(secondVault, 'feature-flag', 'on');
    await fixture().republishUntil(
      pod,
      async () => (await visible()).includes('feature-flag'),
      'the optional object to be mounted once it exists',
    );
    expect(await readFile(join(volume.targetPath, 'feature-flag'), 'utf8')).to.equal('on');
    expect(decode((await fixture().secret('optional-app')).data?.flag)).to.equal('on');
    await waitUntil(
      async () =>
        (await fixture().podStatus(statusName)).status.conditions?.find(
          (c) => c.type === 'OptionalObjectsPresent',
        )?.status === 'True',
      { description: 'the condition to say every optional object is mounted', timeoutMs: 5_000 },
    );
  });
});
