import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type { CloudEnvironment } from '../../../src/model.js';
import {
  azureChinaCloud,
  azureGermanCloud,
  azurePublicCloud,
  azureUSGovernmentCloud,
  cloudByName,
  isNamedCloud,
  resolveCloud,
} from '../../../src/parameters/clouds.js';

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

const stack: CloudEnvironment = {
  name: 'AzureStackCloud',
  activeDirectoryEndpoint: 'https://login.stack.test/adfs/',
  keyVaultEndpoint: 'https://vault.stack.test/',
  keyVaultDNSSuffix: 'vault.stack.test:8443',
};

describe('parameters/clouds', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'azure-clouds-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function envFile(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  const named: readonly [string, CloudEnvironment, string, string][] = [
    ['AzurePublicCloud', azurePublicCloud, 'https://login.microsoftonline.com/', 'vault.azure.net'],
    ['azurecloud', azurePublicCloud, 'https://login.microsoftonline.com/', 'vault.azure.net'],
    [
      'AZUREUSGOVERNMENTCLOUD',
      azureUSGovernmentCloud,
      'https://login.microsoftonline.us/',
      'vault.usgovcloudapi.net',
    ],
    [
      'AzureUSGovernment',
      azureUSGovernmentCloud,
      'https://login.microsoftonline.us/',
      'vault.usgovcloudapi.net',
    ],
    ['AzureChinaCloud', azureChinaCloud, 'https://login.chinacloudapi.cn/', 'vault.azure.cn'],
    ['azureGermanCloud', azureGermanCloud, 'https://login.microsoftonline.de/', 'vault.microsoftazure.de'],
  ];
  for (const [name, cloud, login, suffix] of named) {
    it(`resolves ${name}`, async () => {
      const resolved = await resolveCloud(name, '', stack, undefined, {});
      expect(resolved).to.equal(cloud);
      expect(resolved.activeDirectoryEndpoint).to.equal(login);
      expect(resolved.keyVaultDNSSuffix).to.equal(suffix);
      expect(resolved.keyVaultEndpoint).to.equal(`https://${suffix}/`);
      expect(isNamedCloud(resolved)).to.equal(true);
    });
  }

  it('uses the default cloud when no name is given, ignoring the file', async () => {
    expect(await resolveCloud('', '/nowhere.json', azureChinaCloud, undefined, {})).to.equal(azureChinaCloud);
  });

  it('refuses an unknown name, upper-cased in the message', async () => {
    expect(await rejection(resolveCloud('AzureCloud1', '', azurePublicCloud, undefined, {}))).to.equal(
      'autorest/azure: There is no cloud environment matching the name "AZURECLOUD1"',
    );
  });

  it('loads AzureStackCloud from the per-request file, in any case, with Go-style key matching', async () => {
    const path = await envFile(
      'stack.json',
      JSON.stringify({
        name: 'AzureStackCloud',
        ActiveDirectoryEndpoint: 'https://login.stack.test/adfs/',
        keyVaultEndpoint: 'https://vault.stack.test/',
        keyVaultDNSSuffix: 'vault.stack.test:8443',
        resourceManagerEndpoint: 'https://management.stack.test/',
      }),
    );
    const resolved = await resolveCloud('azurestackcloud', path, azurePublicCloud, undefined, {
      AZURE_ENVIRONMENT_FILEPATH: '/not/this/one.json',
    });
    expect(resolved).to.deep.equal(stack);
    expect(isNamedCloud(resolved)).to.equal(false);
  });

  it('falls back to AZURE_ENVIRONMENT_FILEPATH when the request names no file', async () => {
    const path = await envFile('env.json', JSON.stringify(stack));
    expect(
      await resolveCloud('AzureStackCloud', '', azurePublicCloud, undefined, {
        AZURE_ENVIRONMENT_FILEPATH: path,
      }),
    ).to.deep.equal(stack);
  });

  it('reads through an injected readFile', async () => {
    const read: string[] = [];
    const readFile = (path: string) => {
      read.push(path);
      return Promise.resolve(JSON.stringify(stack));
    };
    expect(
      await resolveCloud('AzureStackCloud', '/etc/x.json', azurePublicCloud, readFile, {}),
    ).to.deep.equal(stack);
    expect(read).to.deep.equal(['/etc/x.json']);
  });

  it('treats a file that copies a built-in cloud as that cloud', () => {
    expect(isNamedCloud({ ...azurePublicCloud })).to.equal(true);
    expect(isNamedCloud({ ...azurePublicCloud, keyVaultDNSSuffix: 'vault.other' })).to.equal(false);
  });

  const fileErrors: readonly [string, () => Promise<string>, (path: string) => string][] = [
    ['no path at all', () => Promise.resolve(''), () => 'open : no such file or directory'],
    [
      'a missing file',
      () => Promise.resolve(join(dir, 'missing.json')),
      (path) => `open ${path}: no such file or directory`,
    ],
    ['a directory', () => Promise.resolve(dir), (path) => `read ${path}: is a directory`],
    [
      'invalid JSON',
      () => envFile('bad.json', '{"name":'),
      (path) => `failed to parse cloud environment file ${path}: not valid JSON`,
    ],
    [
      'more than 64 KiB',
      () => envFile('huge.json', ' '.repeat(64 * 1024 + 1)),
      (path) => `read ${path}: larger than 65536 bytes`,
    ],
    [
      'a JSON array',
      () => envFile('array.json', '[]'),
      (path) =>
        `failed to parse cloud environment file ${path}: json: cannot unmarshal array into an environment object`,
    ],
    [
      'a number field',
      () => envFile('number.json', '{"name": 5}'),
      (path) =>
        `failed to parse cloud environment file ${path}: json: cannot unmarshal number into field name of type string`,
    ],
    [
      'missing required fields',
      () =>
        envFile(
          'partial.json',
          JSON.stringify({ name: 'x', activeDirectoryEndpoint: 'https://l/', keyVaultEndpoint: ' ' }),
        ),
      (path) =>
        `cloud environment file ${path} does not set the required field(s): keyVaultEndpoint, keyVaultDNSSuffix`,
    ],
    [
      'JSON null',
      () => envFile('null.json', 'null'),
      (path) =>
        `cloud environment file ${path} does not set the required field(s): name, activeDirectoryEndpoint, keyVaultEndpoint, keyVaultDNSSuffix`,
    ],
  ];
  for (const [what, pathOf, message] of fileErrors) {
    it(`refuses an Azure Stack environment with ${what}`, async () => {
      const path = await pathOf();
      const text = await rejection(resolveCloud('AzureStackCloud', path, azurePublicCloud, undefined, {}));
      expect(text.startsWith(message(path))).to.equal(true, text);
    });
  }

  it('never quotes the content of a file that is not JSON (issue 12)', async () => {
    const path = await envFile('hostname', 'node-7.internal.example\nsecret-ish line\n');
    const text = await rejection(resolveCloud('AzureStackCloud', path, azurePublicCloud, undefined, {}));
    expect(text).to.match(/^failed to parse cloud environment file .*: not valid JSON/);
    for (const fragment of ['node-7', 'internal', 'secret']) expect(text).not.to.include(fragment);
  });

  it('refuses a FIFO at once, even more mounts than the libuv pool has threads, and keeps reading files (issue 12)', async function () {
    this.timeout(20_000);
    const fifo = join(dir, 'cloud.fifo');
    execFileSync('mkfifo', [fifo]);
    const good = await envFile('good.json', JSON.stringify(stack));
    try {
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          rejection(resolveCloud('AzureStackCloud', fifo, azurePublicCloud, undefined, {})),
        ),
      );
      const elapsedMs = performance.now() - started;
      for (const text of answers) {
        expect(text).to.equal(`read ${fifo}: not a regular file (a cloud environment file must be one)`);
      }
      // the pool is free: an ordinary file still reads
      expect(await resolveCloud('AzureStackCloud', good, azurePublicCloud, undefined, {})).to.deep.equal(
        stack,
      );
      console.log(`      8 FIFO mounts answered in ${elapsedMs.toFixed(1)} ms`);
    } finally {
      // unblock any reader left on the FIFO (only a broken reader would be waiting)
      await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
        .then((handle) => handle.close())
        .catch(() => undefined);
    }
  });

  describe('cloudByName (startup --cloud-name)', () => {
    it('resolves a named cloud', async () => {
      expect(await cloudByName('AzureUSGovernment', { env: {} })).to.equal(azureUSGovernmentCloud);
    });

    it('refuses an empty name as go-autorest does', async () => {
      expect(await rejection(cloudByName('', { env: {} }))).to.equal(
        'autorest/azure: There is no cloud environment matching the name ""',
      );
    });

    it('reads AzureStackCloud from AZURE_ENVIRONMENT_FILEPATH', async () => {
      const path = await envFile('startup.json', JSON.stringify(stack));
      expect(
        await cloudByName('AzureStackCloud', { env: { AZURE_ENVIRONMENT_FILEPATH: path } }),
      ).to.deep.equal(stack);
      expect(await rejection(cloudByName('AzureStackCloud', { env: {} }))).to.equal(
        'open : no such file or directory',
      );
    });
  });
});
