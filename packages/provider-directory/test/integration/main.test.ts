import { expect } from 'chai';
import { startProviderProcess } from '../process.js';

describe('the provider process', function () {
  this.timeout(30_000);

  it('prints its version as JSON', async () => {
    const provider = startProviderProcess(['--version']);
    expect(await provider.exited).to.equal(0);
    expect(JSON.parse(provider.stdout())).to.deep.equal({
      runtimeName: 'secrets-store-csi-driver-provider-directory',
      version: '0.1.0',
    });
  });

  it('exits 1 with a clear error when the root directory does not exist', async () => {
    const provider = startProviderProcess(['--root-dir=/nonexistent/secrets', '--log-format-json']);
    expect(await provider.exited).to.equal(1);
    expect(provider.logs.at(-1)).to.include({
      level: 'error',
      message: 'root directory "/nonexistent/secrets" does not exist (--root-dir)',
    });
  });

  it('exits 1 when no root directory is given, and 2 on an unknown flag', async () => {
    const missing = startProviderProcess(['--log-format-json']);
    const unknown = startProviderProcess(['--rootdir=/srv']);
    expect(await missing.exited).to.equal(1);
    expect(missing.logs.at(-1)).to.include({
      message: '--root-dir is required: the directory whose files the provider serves',
    });
    expect(await unknown.exited).to.equal(2);
    expect(unknown.stderr()).to.match(/^flag provided but not defined: -rootdir\n/);
    expect(unknown.stderr()).to.contain('  -root-dir string\n');
  });
});
