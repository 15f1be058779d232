import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DriverError } from '../../../src/errors.js';
import { findProviderSocket, parseAdditionalProviderPaths } from '../../../src/providers/discovery.js';

describe('provider discovery', () => {
  let dir: string;
  let etc: string;
  let run: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'discovery-'));
    etc = join(dir, 'etc');
    run = join(dir, 'run');
    await mkdir(etc);
    await mkdir(run);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads --additional-provider-volume-paths as upstream: trimmed as a whole, split on commas', () => {
    expect(parseAdditionalProviderPaths(' /a,/b ')).to.deep.equal(['/a', '/b']);
    expect(parseAdditionalProviderPaths('  ')).to.deep.equal([]);
  });

  it('prefers the additional directories, in order, over --provider-volume', async () => {
    await writeFile(join(etc, 'azure.sock'), '');
    await writeFile(join(run, 'azure.sock'), '');
    expect(await findProviderSocket('azure', { additional: [etc], primary: run })).to.equal(
      join(etc, 'azure.sock'),
    );
  });

  it('finds the socket in --provider-volume when no additional directory has it', async () => {
    await writeFile(join(run, 'azure.sock'), '');
    expect(await findProviderSocket('azure', { additional: [etc], primary: run })).to.equal(
      join(run, 'azure.sock'),
    );
  });

  it('names the provider and every path tried when no socket exists', async () => {
    const error = await findProviderSocket('vault', { additional: [etc], primary: run }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(DriverError);
    expect((error as DriverError).code).to.equal('ProviderNotFound');
    expect((error as DriverError).message).to.equal(
      `provider not found: provider "vault" (no socket at ${join(etc, 'vault.sock')}, ${join(run, 'vault.sock')}; ` +
        'is the vault provider installed on this node?)',
    );
  });

  it("refuses a provider name that does not match upstream's pattern", async () => {
    const error = await findProviderSocket('../etc/x', { additional: [], primary: run }).catch(
      (e: unknown) => e,
    );
    expect((error as DriverError).message).to.equal('invalid provider: provider "../etc/x"');
  });
});
