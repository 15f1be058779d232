import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { artifact, readManifest } from '../../src/index.js';

const run = promisify(execFile);

describe('csi-sanity', () => {
  it('is built at the pinned version and runs', async () => {
    const binary = await artifact('csi-sanity');
    const { versions } = await readManifest();
    const { stdout } = await run(binary, ['-version']);
    expect(stdout).to.include(versions.csiTest);
  });

  it('offers the flags the driver suite will use', async () => {
    const binary = await artifact('csi-sanity');
    // -h prints usage to stderr and exits 0 (Go flag package with ContinueOnError prints and exits 0 on -h)
    const result = await run(binary, ['-h']).catch(
      (error: unknown) => error as { stdout: string; stderr: string },
    );
    const usage = `${result.stdout}${result.stderr}`;
    for (const flag of ['-csi.endpoint', '-csi.mountdir', '-ginkgo.skip']) expect(usage).to.include(flag);
  });
});
