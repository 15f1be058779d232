import { expect } from 'chai';
import { identityKey, secretDigest } from '../../../src/auth/index.js';
import { credentialKey } from '../../../src/auth/identity-key.js';
import type { AuthConfig, CloudEnvironment } from '../../../src/model.js';

const publicCloud: CloudEnvironment = {
  name: 'AzurePublicCloud',
  activeDirectoryEndpoint: 'https://login.microsoftonline.com/',
  keyVaultEndpoint: 'https://vault.azure.net/',
  keyVaultDNSSuffix: 'vault.azure.net',
};
const chinaCloud: CloudEnvironment = {
  name: 'AzureChinaCloud',
  activeDirectoryEndpoint: 'https://login.chinacloudapi.cn/',
  keyVaultEndpoint: 'https://vault.azure.cn/',
  keyVaultDNSSuffix: 'vault.azure.cn',
};

const sp = (
  over: Partial<{ tenantId: string; clientId: string; clientSecret: string }> = {},
): AuthConfig => ({
  mode: 'service-principal',
  tenantId: 'tenant-a',
  clientId: 'client-1',
  clientSecret: 'the-client-secret',
  ...over,
});
const wi = (
  over: Partial<{ tenantId: string; clientId: string; serviceAccountToken: string }> = {},
): AuthConfig => ({
  mode: 'workload-identity',
  tenantId: 'tenant-a',
  clientId: 'client-1',
  serviceAccountToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl',
  ...over,
});

describe('identityKey', () => {
  it('gives the same identity the same key', () => {
    expect(identityKey(sp(), '')).to.equal(identityKey(sp(), ''));
    expect(identityKey(wi(), 'ns/sa')).to.equal(identityKey(wi(), 'ns/sa'));
    expect(identityKey({ mode: 'vm-managed-identity', userAssignedIdentityId: undefined }, '')).to.equal(
      identityKey({ mode: 'vm-managed-identity', userAssignedIdentityId: '' }, ''),
    );
  });

  it('tells tenants, clients, secrets, subjects, pods and modes apart', () => {
    const keys = [
      identityKey(sp(), ''),
      identityKey(sp({ tenantId: 'tenant-b' }), ''),
      identityKey(sp({ clientId: 'client-2' }), ''),
      identityKey(sp({ clientSecret: 'rotated-secret' }), ''),
      identityKey(wi(), 'ns/sa'),
      identityKey(wi(), 'ns/other'),
      identityKey(wi(), 'other/sa'),
      identityKey(wi({ tenantId: 'tenant-b' }), 'ns/sa'),
      identityKey(wi({ clientId: 'client-2' }), 'ns/sa'),
      identityKey(
        { mode: 'identity-binding', tenantId: 'tenant-a', clientId: 'client-1', serviceAccountToken: 't' },
        'ns/sa',
      ),
      identityKey({ mode: 'vm-managed-identity', userAssignedIdentityId: undefined }, ''),
      identityKey({ mode: 'vm-managed-identity', userAssignedIdentityId: 'mi-1' }, ''),
      identityKey({ mode: 'pod-identity', podNamespace: 'ns', podName: 'pod-1' }, ''),
      identityKey({ mode: 'pod-identity', podNamespace: 'ns', podName: 'pod-2' }, ''),
      identityKey({ mode: 'pod-identity', podNamespace: 'other', podName: 'pod-1' }, ''),
    ];
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('does not tell workload-identity mounts apart by their (per-mount) token', () => {
    expect(identityKey(wi({ serviceAccountToken: 'token-1' }), 'ns/sa')).to.equal(
      identityKey(wi({ serviceAccountToken: 'token-2' }), 'ns/sa'),
    );
  });

  it('never contains a raw secret or token', () => {
    const secretKey = identityKey(sp(), '');
    expect(secretKey).to.not.include('the-client-secret');
    expect(secretKey).to.include(secretDigest('the-client-secret'));
    const tokenKey = identityKey(wi(), 'ns/sa');
    expect(tokenKey).to.not.include('eyJ');
    for (const cloud of [publicCloud, chinaCloud]) {
      expect(credentialKey(sp(), cloud, '', '')).to.not.include('the-client-secret');
      expect(credentialKey(wi(), cloud, '', 'ns/sa')).to.not.include('eyJ');
    }
  });

  it('digests secrets with a keyed hash: stable in the process, not a plain SHA-256', async () => {
    const { createHash } = await import('node:crypto');
    expect(secretDigest('s')).to.equal(secretDigest('s'));
    expect(secretDigest('s')).to.match(/^[0-9a-f]{64}$/);
    expect(secretDigest('s')).to.not.equal(createHash('sha256').update('s').digest('hex'));
  });

  it('keys credentials by cloud too, and fills a missing tenant from the parameters', () => {
    expect(credentialKey(sp(), publicCloud, '', '')).to.not.equal(credentialKey(sp(), chinaCloud, '', ''));
    expect(credentialKey(sp({ tenantId: '' }), publicCloud, 'tenant-a', '')).to.equal(
      credentialKey(sp(), publicCloud, '', ''),
    );
    const pod: AuthConfig = { mode: 'pod-identity', podNamespace: 'ns', podName: 'p' };
    expect(credentialKey(pod, publicCloud, '', '')).to.not.equal(credentialKey(pod, chinaCloud, '', ''));
  });
});
