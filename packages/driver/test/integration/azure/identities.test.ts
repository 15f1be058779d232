/**
 * End to end with the Azure Key Vault provider: our driver as a process, the real API server, the kubelet
 * stand-in, the provider as its own process, the Entra ID stand-in and the Key Vault double, with a custom
 * cloud (AzureStackCloud + cloudEnvFileName). One secret is mounted as a file with each identity users start
 * with: a service principal from a nodePublishSecretRef Secret, the VM's managed identity (system- and
 * user-assigned, through IMDS) and workload identity (the pod's TokenRequest token exchanged with Entra ID).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { TOKEN_AUDIENCE, isMounted, volumeOf } from '../support.js';
import {
  IDENTITY_BINDING_AUDIENCE,
  TENANT_ID,
  TOKEN_PROXY_SNI_NAME,
  jwtClaims,
  useAzureWorld,
} from './world.js';

describe('the driver with the Azure Key Vault provider: mounting a secret with each identity', function () {
  this.timeout(60_000);
  const { fixture, azure } = useAzureWorld('azure-id');

  const tokenRequests = (clientId: string | undefined) =>
    azure()
      .entra.requests.filter((r) => r.clientId === clientId)
      .map((r) => ({ kind: r.kind, tenantId: r.tenantId, status: r.status }));
  const failureOf = (result: ReturnType<typeof volumeOf>['lastResult']) => {
    expect(result?.ok, 'the mount should fail').to.equal(false);
    return result?.ok === false ? result : expect.fail('unreachable');
  };

  it('mounts a secret with service-principal credentials from a labelled nodePublishSecretRef Secret', async () => {
    const { keyVault, vault } = azure();
    azure().entra.addServicePrincipal({ tenantId: TENANT_ID, clientId: 'sp-app', clientSecret: 'sp-s3cret' });
    const version = keyVault.setSecret(vault, 'db-password', 'hunter2-from-key-vault');
    await azure().createServicePrincipalSecret('sp-creds', 'sp-app', 'sp-s3cret');
    await azure().createSpc('sp', {
      identity: { mode: 'service-principal' },
      objects: [{ objectName: 'db-password', objectType: 'secret', objectAlias: 'password' }],
    });
    keyVault.clearRequests();

    const pod = await azure().runPod('sp-reader', { spc: 'sp', nodePublishSecretRef: 'sp-creds' });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    expect(await isMounted(volume.targetPath)).to.equal(true);
    expect(await readFile(join(volume.targetPath, 'password'), 'utf8')).to.equal('hunter2-from-key-vault');
    // kubelet handed the Secret's keys to the driver, which passed them on to the provider
    expect(volume.lastPublishRequest?.secrets).to.deep.equal({
      clientid: 'sp-app',
      clientsecret: 'sp-s3cret',
    });

    const status = await fixture().podStatus(`sp-reader-${fixture().namespace}-sp`);
    expect(status.status.objects).to.deep.equal([{ id: 'secret/db-password', version }]);
    expect(tokenRequests('sp-app')).to.deep.equal([
      { kind: 'client-secret', tenantId: TENANT_ID, status: 200 },
    ]);
    const claims = azure().vaultClaims();
    expect(claims).to.not.be.empty;
    for (const c of claims) {
      expect(c).to.deep.include({
        appid: 'sp-app',
        grant: 'client-secret',
        tid: TENANT_ID,
        aud: azure().keyVault.resource,
      });
    }
  });

  it('fails the mount when the nodePublishSecretRef Secret holds a wrong client secret, without quoting it', async () => {
    azure().entra.addServicePrincipal({ tenantId: TENANT_ID, clientId: 'sp-other', clientSecret: 'right' });
    azure().keyVault.setSecret(azure().vault, 'guarded', 'never-mounted');
    await azure().createServicePrincipalSecret('wrong-creds', 'sp-other', 'wrong-s3cret');
    await azure().createSpc('sp-wrong', {
      identity: { mode: 'service-principal' },
      objects: [{ objectName: 'guarded', objectType: 'secret' }],
    });
    const pod = await azure().runPod('sp-refused', { spc: 'sp-wrong', nodePublishSecretRef: 'wrong-creds' });
    const failure = failureOf(volumeOf(pod).lastResult);
    expect(failure.message).to.include('AADSTS7000215').and.not.include('wrong-s3cret');
    expect(await isMounted(volumeOf(pod).targetPath)).to.equal(false);
    expect(tokenRequests('sp-other').map((r) => r.status)).to.deep.equal([401]);
  });

  it('mounts secrets with the VM managed identity, system-assigned and userAssignedIdentityID, through IMDS', async () => {
    const { keyVault, vault, entra } = azure();
    entra.addManagedIdentity({ tenantId: TENANT_ID });
    entra.addManagedIdentity({ tenantId: TENANT_ID, clientId: 'mi-user' });
    keyVault.setSecret(vault, 'system-secret', 'from-the-system-assigned-identity');
    keyVault.setSecret(vault, 'user-secret', 'from-the-user-assigned-identity');
    await azure().createSpc('mi-system', {
      identity: { mode: 'vm-managed-identity' },
      objects: [{ objectName: 'system-secret', objectType: 'secret' }],
    });
    await azure().createSpc('mi-user', {
      identity: { mode: 'vm-managed-identity', userAssignedIdentityID: 'mi-user' },
      objects: [{ objectName: 'user-secret', objectType: 'secret' }],
    });

    keyVault.clearRequests();
    const system = await azure().runPod('mi-system', { spc: 'mi-system' });
    expect(volumeOf(system).lastResult, JSON.stringify(volumeOf(system).lastResult)).to.deep.include({
      ok: true,
    });
    expect(await readFile(join(volumeOf(system).targetPath, 'system-secret'), 'utf8')).to.equal(
      'from-the-system-assigned-identity',
    );
    const systemClaims = azure().vaultClaims();
    expect(systemClaims).to.not.be.empty;
    for (const c of systemClaims) {
      expect(c).to.deep.include({ appid: 'system-assigned', grant: 'managed-identity', tid: TENANT_ID });
    }

    keyVault.clearRequests();
    const user = await azure().runPod('mi-user', { spc: 'mi-user' });
    expect(volumeOf(user).lastResult, JSON.stringify(volumeOf(user).lastResult)).to.deep.include({
      ok: true,
    });
    expect(await readFile(join(volumeOf(user).targetPath, 'user-secret'), 'utf8')).to.equal(
      'from-the-user-assigned-identity',
    );
    const userClaims = azure().vaultClaims();
    expect(userClaims).to.not.be.empty;
    for (const c of userClaims) expect(c).to.deep.include({ appid: 'mi-user', grant: 'managed-identity' });

    expect(tokenRequests(undefined)).to.deep.equal([
      { kind: 'managed-identity', tenantId: TENANT_ID, status: 200 },
    ]);
    expect(tokenRequests('mi-user')).to.deep.equal([
      { kind: 'managed-identity', tenantId: TENANT_ID, status: 200 },
    ]);
  });

  it("mounts a secret with workload identity: the pod's TokenRequest token, verified by Entra ID against the federated credential", async () => {
    const { keyVault, vault, entra } = azure();
    const { world } = fixture();
    await azure().createServiceAccount('workload');
    await azure().createServiceAccount('intruder');
    entra.addFederatedCredential({
      tenantId: TENANT_ID,
      clientId: 'wi-app',
      issuer: world.kube.serviceAccountIssuer,
      subject: azure().subject('workload'),
    });
    keyVault.setSecret(vault, 'api-key', 'k-wi-123');
    await azure().createSpc('wi', {
      identity: { mode: 'workload-identity', clientID: 'wi-app' },
      objects: [{ objectName: 'api-key', objectType: 'secret' }],
    });

    keyVault.clearRequests();
    const pod = await azure().runPod('wi-reader', { spc: 'wi', serviceAccountName: 'workload' });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    expect(await readFile(join(volume.targetPath, 'api-key'), 'utf8')).to.equal('k-wi-123');

    // The token kubelet asked the API server for, bound to the pod, as the driver received it.
    const tokens = JSON.parse(
      volume.lastPublishRequest?.volume_context?.['csi.storage.k8s.io/serviceAccount.tokens'] ?? '{}',
    ) as Record<string, { token: string }>;
    const claims = jwtClaims(tokens[TOKEN_AUDIENCE]?.token ?? '');
    expect(claims).to.deep.include({
      iss: world.kube.serviceAccountIssuer,
      sub: azure().subject('workload'),
    });
    expect(claims.aud).to.deep.equal([TOKEN_AUDIENCE]);
    expect(claims).to.have.nested.property('kubernetes\\.io.pod.uid', pod.pod.metadata?.uid);

    expect(tokenRequests('wi-app')).to.deep.equal([
      { kind: 'client-assertion', tenantId: TENANT_ID, status: 200 },
    ]);
    const vaultClaims = azure().vaultClaims();
    expect(vaultClaims).to.not.be.empty;
    for (const c of vaultClaims) expect(c).to.deep.include({ appid: 'wi-app', grant: 'client-assertion' });

    // Another service account of the namespace has no federated credential: Entra ID refuses its token.
    const intruder = await azure().runPod('wi-intruder', { spc: 'wi', serviceAccountName: 'intruder' });
    const failure = failureOf(volumeOf(intruder).lastResult);
    expect(failure.message).to.include('AADSTS70021').and.include(azure().subject('intruder'));
    expect(failure.message).to.not.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    expect(await isMounted(volumeOf(intruder).targetPath)).to.equal(false);
    expect(tokenRequests('wi-app').map((r) => r.status)).to.deep.equal([200, 401]);
  });

  it("mounts a secret with identity binding: the pod's api://AKSIdentityBinding token through the token proxy, with deploy/'s CSIDriver (issue 12)", async () => {
    const { keyVault, vault, entra, tokenProxy } = azure();
    const { world } = fixture();
    await azure().createServiceAccount('bound');
    entra.addFederatedCredential({
      tenantId: TENANT_ID,
      clientId: 'ib-app',
      issuer: world.kube.serviceAccountIssuer,
      subject: azure().subject('bound'),
      audience: IDENTITY_BINDING_AUDIENCE,
    });
    keyVault.setSecret(vault, 'bound-key', 'k-ib-456');
    await azure().createSpc('ib', {
      identity: { mode: 'identity-binding', clientID: 'ib-app' },
      objects: [{ objectName: 'bound-key', objectType: 'secret' }],
    });

    keyVault.clearRequests();
    const pod = await azure().runPod('ib-reader', { spc: 'ib', serviceAccountName: 'bound' });
    const volume = volumeOf(pod);
    expect(volume.lastResult, JSON.stringify(volume.lastResult)).to.deep.include({ ok: true });
    expect(await readFile(join(volume.targetPath, 'bound-key'), 'utf8')).to.equal('k-ib-456');

    // kubelet asked for the identity-binding audience because deploy/driver/csidriver.yaml requests it
    const tokens = JSON.parse(
      volume.lastPublishRequest?.volume_context?.['csi.storage.k8s.io/serviceAccount.tokens'] ?? '{}',
    ) as Record<string, { token: string }>;
    const claims = jwtClaims(tokens[IDENTITY_BINDING_AUDIENCE]?.token ?? '');
    expect(claims).to.deep.include({ sub: azure().subject('bound') });
    expect(claims.aud).to.deep.equal([IDENTITY_BINDING_AUDIENCE]);

    // the token request went through the proxy, with AKS's server name, and Entra ID accepted the assertion
    expect(tokenProxy.requests.map((r) => [r.method, r.servername, r.status])).to.deep.include([
      'POST',
      TOKEN_PROXY_SNI_NAME,
      200,
    ]);
    expect(tokenProxy.requests.some((r) => r.path.startsWith(`/${TENANT_ID}/oauth2/v2.0/token`))).to.equal(
      true,
    );
    expect(tokenRequests('ib-app')).to.deep.equal([
      { kind: 'client-assertion', tenantId: TENANT_ID, status: 200 },
    ]);
    for (const c of azure().vaultClaims())
      expect(c).to.deep.include({ appid: 'ib-app', grant: 'client-assertion' });
  });
});
