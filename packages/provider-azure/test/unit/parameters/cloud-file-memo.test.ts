/**
 * The memo of cloud environment files: a file unchanged since it was read is not read again, any change is,
 * a file changed just before it was read is never kept, and failures read as without the memo.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CloudFileMemo } from '../../../src/parameters/clouds.js';

const environment = (suffix: string) =>
  JSON.stringify({
    name: 'AzureStackCloud',
    activeDirectoryEndpoint: 'https://login.stack.test/',
    keyVaultEndpoint: `https://${suffix}/`,
    keyVaultDNSSuffix: suffix,
  });

describe('parameters/CloudFileMemo', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloud-memo-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers an unchanged file from memory and reads a changed one again', async () => {
    const path = join(dir, 'cloud.json');
    await writeFile(path, environment('vault.one.test'));
    // A clock well past the file's times: the file counts as settled.
    const memo = new CloudFileMemo({ now: () => Date.now() + 60_000 });
    const first = await memo.load(path);
    expect(first.keyVaultDNSSuffix).to.equal('vault.one.test');
    expect(await memo.load(path)).to.equal(first);
    expect(memo.size).to.equal(1);
    await writeFile(path, environment('vault.second.test'));
    expect((await memo.load(path)).keyVaultDNSSuffix).to.equal('vault.second.test');
  });

  it('never keeps a file changed just before it was read (its time stamp could hide a rewrite)', async () => {
    const path = join(dir, 'cloud.json');
    await writeFile(path, environment('vault.one.test'));
    const memo = new CloudFileMemo();
    expect((await memo.load(path)).keyVaultDNSSuffix).to.equal('vault.one.test');
    expect(memo.size).to.equal(0);
  });

  it('fails as without the memo, and keeps no failure', async () => {
    const memo = new CloudFileMemo({ now: () => Date.now() + 60_000 });
    const missing = join(dir, 'missing.json');
    let message = '';
    await memo.load(missing).catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.equal(`open ${missing}: no such file or directory`);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"name": 1}');
    await memo.load(broken).catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.equal(
      `failed to parse cloud environment file ${broken}: json: cannot unmarshal number into field name of type string`,
    );
    expect(memo.size).to.equal(0);
  });
});
