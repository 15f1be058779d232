/**
 * Fuzz (fixed seed, bounded runs): a careless or hostile SecretProviderClass author sends random parameters
 * to the Azure provider served by the SDK's serve() on a real unix socket (issue 12): lone surrogates and
 * control characters, deep and huge YAML, cloud files that are FIFOs, devices, directories or any node file.
 * Whatever arrives, the provider answers each mount with a valid gRPC status, a well-formed bounded text,
 * a printable error code, no file content and no secret, and keeps serving.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_STATUS_TEXT_LENGTH, silentLogger } from '@secrets-store-csi/core';
import { serve, type ProviderServer } from '@secrets-store-csi/provider-sdk';
import { ProviderClient, driverMountRequest } from '@secrets-store-csi/provider-sdk/testing';
import { expect } from 'chai';
import fc from 'fast-check';
import { CredentialCache, classifyCredentialError, identityKey } from '../../src/auth/index.js';
import { FakeKeyVault } from '../../src/keyvault/fake.js';
import { azurePublicCloud } from '../../src/parameters/index.js';
import { AzureProvider } from '../../src/provider.js';
import { fakeEntra } from './auth/fake-entra.js';

const SEED = 1212;
const RUNS = 150;
const FILE_MARKER = 'node-file-content-marker-7f3a';
const SECRET = 'client-secret-value-9b2c';
const CODE = /^[A-Za-z][A-Za-z0-9_]*$/;

describe('the Azure provider against hostile parameters (fuzz, fixed seed)', function () {
  this.timeout(120_000);
  let dir: string;
  let server: ProviderServer;
  let client: ProviderClient;
  let paths: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-parameters-'));
    paths = {
      fifo: join(dir, 'cloud.fifo'),
      text: join(dir, 'hostname'),
      huge: join(dir, 'huge.json'),
      dir,
      device: '/dev/zero',
      missing: join(dir, 'missing.json'),
    };
    execFileSync('mkfifo', [paths.fifo!]);
    await writeFile(paths.text!, `${FILE_MARKER}\n`);
    await writeFile(paths.huge!, `{"name": "${'x'.repeat(70 * 1024)}"}`);
    const vault = new FakeKeyVault();
    vault.add('https://kv1.vault.azure.net/', 'secret', 'db', {
      value: 'pa55',
      contentType: undefined,
      kid: undefined,
    });
    const credentials = new CredentialCache({ httpClient: fakeEntra(), disableInstanceDiscovery: true });
    const provider = new AzureProvider(
      {
        defaultCloud: azurePublicCloud,
        constructPemChain: true,
        writeCertAndKeyInSeparateFiles: false,
        maxConcurrentFetchesPerMount: 4,
        objectCacheTtlInMs: 0,
        objectCacheMaxEntries: 100,
      },
      {
        connector: vault,
        identities: {
          credentialFor: (auth, cloud, tenantId, subject) => credentials.get(auth, cloud, tenantId, subject),
          identityKey,
          classifyCredentialError: (error) => classifyCredentialError(error),
        },
        recordKeyVaultRequest: () => undefined,
        logger: silentLogger,
      },
    );
    server = await serve(provider, { endpoint: `unix://${join(dir, 'azure.sock')}`, signals: [] });
    client = new ProviderClient(join(dir, 'azure.sock'));
  });

  after(async () => {
    client.close();
    await server.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  const hostileText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom('\ud800', 'a\udfffb', 'x\n\ty', '', ' ', 'AzureStackCloud', 'tenant-a', 'kv1', 'true'),
  );
  const objectYaml = fc.oneof(
    hostileText,
    fc.constantFrom(
      'array:\n  - |\n    objectName: db\n    objectType: secret\n',
      `array: ${'['.repeat(3000)}`,
      `array:\n  - ${'- '.repeat(3000)}x`,
      `array:\n  - |\n    objectName: ${'{'.repeat(3000)}`,
      'array:\n  - |\n    objectName: db\n    objectType: secret\n    objectVersionHistory: 99999999999\n',
      '*alias',
      '&a [*a]',
    ),
    fc
      .string({ unit: 'binary', maxLength: 30 })
      .map((name) => `array:\n  - |\n    objectName: "${name}"\n    objectType: secret\n`),
  );
  const parameters = fc.record(
    {
      keyvaultName: hostileText,
      tenantID: hostileText,
      cloudName: fc.oneof(hostileText, fc.constant('AzureStackCloud')),
      cloudEnvFileName: fc.oneof(
        hostileText,
        fc.constantFrom('fifo', 'text', 'huge', 'dir', 'device', 'missing').map((key) => paths[key] ?? ''),
        fc.constant('../../../../etc/hostname'),
      ),
      objects: objectYaml,
      usePodIdentity: hostileText,
      useVMManagedIdentity: hostileText,
      clientID: hostileText,
      userAssignedIdentityID: hostileText,
      'csi.storage.k8s.io/serviceAccount.tokens': hostileText,
    },
    { requiredKeys: ['keyvaultName', 'tenantID', 'objects'] },
  );

  it('answers every mount well-formed, never quotes a file or a secret, and keeps serving', async () => {
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(parameters, async (params) => {
        const outcome = await client.mount(
          driverMountRequest({ parameters: params, secrets: { clientid: 'app', clientsecret: SECRET } }),
        );
        if (outcome.ok) return;
        failed += 1;
        expect(outcome.code).to.be.within(1, 16);
        expect(outcome.details.isWellFormed()).to.equal(true);
        expect(outcome.details.length).to.be.at.most(MAX_STATUS_TEXT_LENGTH);
        expect(outcome.details).not.to.include(FILE_MARKER);
        expect(outcome.details).not.to.include(SECRET);
        expect(outcome.details).not.to.match(/Maximum call stack|URI malformed/);
        if (outcome.errorCode !== undefined) expect(outcome.errorCode).to.match(CODE);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(failed).to.be.greaterThan(RUNS / 2);

    // still serving
    expect((await client.version()).ok).to.equal(true);
    const good = await client.mount(
      driverMountRequest({
        parameters: {
          keyvaultName: 'kv1',
          tenantID: 'tenant-a',
          objects: 'array:\n  - |\n    objectName: db\n    objectType: secret\n',
        },
        secrets: { clientid: 'app', clientsecret: SECRET },
      }),
    );
    expect(good.ok, good.ok ? '' : good.details).to.equal(true);
  });
});
