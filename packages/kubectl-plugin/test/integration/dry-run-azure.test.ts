/**
 * dry-run with the Azure provider and workload identity, all real but the cloud: the service account's real
 * TokenRequest token goes through the driver's publish path to the Azure provider process, which exchanges
 * it with the Entra ID stand-in (signature checked against the API server's key, subject against the
 * federated credential) and reads the Key Vault double through the real Azure SDK.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  issueLocalhostServing,
  startKeyVaultCloud,
  startProcess,
  startTokenEndpoint,
  waitUntil,
  type KeyVaultCloud,
  type ManagedProcess,
  type TokenEndpoint,
} from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { run } from '../../src/main.js';
import type { Report } from '../../src/report.js';
import { collect, createServiceAccount, pluginWorld, type PluginWorld } from './world.js';

const TENANT_ID = 'tenant-plugin';
const CLIENT_ID = 'wi-plugin-app';
const SECRET_VALUE = 'k-plugin-dry-run-value';
const providerMain = new URL('../../../provider-azure/src/main.ts', import.meta.url).pathname;
const providerPackageDir = new URL('../../../provider-azure/', import.meta.url).pathname;

describe('dry-run with the Azure provider, workload identity and the Key Vault double', function () {
  this.timeout(90_000);
  let w: PluginWorld;
  let dir: string;
  let sockets: string;
  let entra: TokenEndpoint;
  let cloud: KeyVaultCloud;
  let provider: ManagedProcess;
  const vault = `kv-plugin-${process.pid}`;

  before(async () => {
    w = await pluginWorld('plugin-azure');
    dir = await mkdtemp(join(tmpdir(), 'plugin-azure-test-'));
    sockets = join(dir, 'providers');
    await mkdir(sockets);
    entra = await startTokenEndpoint({
      ...(await issueLocalhostServing(w.world.pki, 'plugin-entra')),
      assertionPublicKeyPaths: [w.world.kube.serviceAccountPublicKeyPath],
    });
    cloud = await startKeyVaultCloud({
      dir,
      name: 'plugin-azure',
      pki: w.world.pki,
      entra,
      vaults: [{ name: vault, tenantId: TENANT_ID }],
    });
    const socket = join(sockets, 'azure.sock');
    provider = await startProcess({
      name: 'provider-azure',
      command: process.execPath,
      cwd: providerPackageDir,
      args: [
        '--conditions=source',
        '--import=tsx',
        providerMain,
        `--endpoint=unix://${socket}`,
        '--healthz-port=0',
        '--prometheus-port=0',
        '--keyvault-max-retries=1',
      ],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: w.world.pki.caCertPath },
      logPath: join(dir, 'provider-azure.log'),
    });
    await waitUntil(
      () =>
        stat(socket).then(
          () => true,
          () => false,
        ),
      { description: 'the Azure provider socket', timeoutMs: 60_000, process: provider },
    );
    await createServiceAccount(w.kubeConfig, w.namespace, 'workload');
    await createServiceAccount(w.kubeConfig, w.namespace, 'intruder');
    entra.addFederatedCredential({
      tenantId: TENANT_ID,
      clientId: CLIENT_ID,
      issuer: w.world.kube.serviceAccountIssuer,
      subject: `system:serviceaccount:${w.namespace}:workload`,
    });
    cloud.keyVault.setSecret(vault, 'api-key', SECRET_VALUE);
  });

  after(async () => {
    await provider.stop();
    await cloud.stop();
    await entra.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function dryRun(
    serviceAccount: string,
    objectName: string,
  ): Promise<{ code: number; report: Report; out: string }> {
    const file = join(dir, `${serviceAccount}-${objectName}.yaml`);
    await writeFile(
      file,
      `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: azure-wi
spec:
  provider: azure
  parameters:
    keyvaultName: ${vault}
    tenantId: ${TENANT_ID}
    clientID: ${CLIENT_ID}
    cloudName: AzureStackCloud
    cloudEnvFileName: ${cloud.cloudEnvFile}
    objects: |
      array:
        - |
          objectName: ${objectName}
          objectType: secret
`,
    );
    const r = collect();
    const code = await run(
      [
        'dry-run',
        '-f',
        file,
        '--service-account',
        `${w.namespace}/${serviceAccount}`,
        '--provider-volume',
        sockets,
        '--kubeconfig',
        w.kubeconfigPath,
        '-o',
        'json',
      ],
      r.io,
    );
    const out = r.out.join('');
    return { code, out, report: JSON.parse(out || '{}') as Report };
  }

  it('mounts with the federated service account and reports the object version, never the value', async () => {
    const { code, out, report } = await dryRun('workload', 'api-key');
    expect(out).not.to.include(SECRET_VALUE);
    expect(code, out).to.equal(0);
    const [volume] = report.volumes;
    expect(volume?.state).to.equal('Mounted');
    expect(volume?.objects.map((o) => o.id)).to.deep.equal(['secret/api-key']);
    expect(volume?.objects[0]?.version).to.match(/^[0-9a-f]{32}$/);
    expect(volume?.files).to.deep.equal([{ path: 'api-key', bytes: SECRET_VALUE.length, mode: '0644' }]);
    expect(entra.requests.filter((r) => r.clientId === CLIENT_ID).map((r) => r.status)).to.include(200);
  });

  it('names the identity cause for a service account without a federated credential', async () => {
    const { code, report } = await dryRun('intruder', 'api-key');
    expect(code).to.equal(1);
    const problem = report.volumes[0]?.problems[0];
    expect(problem?.message).to.include('AADSTS70021');
    expect(problem?.diagnosis).to.deep.include({ id: 'federation-mismatch', category: 'identity' });
  });

  it('names the object cause for an object the vault lacks', async () => {
    const { code, report } = await dryRun('workload', 'no-such-secret');
    expect(code).to.equal(1);
    const problem = report.volumes[0]?.problems[0];
    expect(problem?.message).to.include('SecretNotFound');
    expect(problem?.diagnosis).to.deep.include({ id: 'object-not-found', category: 'object' });
  });
});
