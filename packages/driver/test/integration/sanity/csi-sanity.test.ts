/**
 * csi-sanity (kubernetes-csi/csi-test, pinned in scripts/test-world/versions.env) against the driver process,
 * with the skips upstream's own sanity run uses: no controller (its RPCs are unimplemented) and no check that
 * needs a volume created by a controller.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  artifact,
  sharedTestWorld,
  startProcess,
  waitUntil,
  type ManagedProcess,
} from '@secrets-store-csi/test-support';

const run = promisify(execFile);
const driverMain = new URL('../../../src/main.ts', import.meta.url).pathname;

describe('csi-sanity against the driver socket', function () {
  this.timeout(120_000);
  let dir: string;
  let driver: ManagedProcess;

  before(async () => {
    const world = await sharedTestWorld();
    dir = await mkdtemp(join(tmpdir(), 'sscsi-sanity-'));
    driver = await startProcess({
      name: 'driver-sanity',
      command: process.execPath,
      args: [
        '--conditions=source',
        '--import=tsx',
        driverMain,
        `--endpoint=unix://${dir}/csi.sock`,
        '--nodeid=sanity-node',
        `--kubeconfig=${world.kube.adminKubeconfigPath}`,
        `--provider-volume=${dir}/providers`,
        '--additional-provider-volume-paths=',
        '--metrics-addr=',
      ],
      logPath: join(dir, 'driver.log'),
    });
    await waitUntil(
      () =>
        stat(join(dir, 'csi.sock')).then(
          () => true,
          () => false,
        ),
      {
        timeoutMs: 30_000,
        description: 'the driver socket',
        process: driver,
      },
    );
  });

  after(async () => {
    await driver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes every node and identity check that applies to an ephemeral-only driver', async () => {
    const binary = await artifact('csi-sanity');
    const result = await run(
      binary,
      [
        `-csi.endpoint=${dir}/csi.sock`,
        `-csi.mountdir=${dir}/mount`,
        `-csi.stagingdir=${dir}/staging`,
        // Upstream's skips, plus two checks that start by creating a volume through the controller service,
        // which an ephemeral-only driver does not implement (upstream's older csi-test did not run them).
        '-ginkgo.skip=Controller|should.work|NodeStageVolume|should.remove.target.path|should.be.idempotent',
        '-ginkgo.no-color',
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: unknown) => error as { stdout: string; stderr: string; code: number });
    const output = `${result.stdout}\n${result.stderr}`;
    const summary = /Ran (\d+) of (\d+) Specs.*\n.*?(\d+) Passed \| (\d+) Failed/s.exec(output);
    expect(summary, output.slice(-4000)).to.not.equal(null);
    const [, ran = '0', , passed = '0', failed = '1'] = summary ?? [];
    expect(Number(failed), output.slice(-6000)).to.equal(0);
    expect(Number(passed)).to.equal(Number(ran));
    expect(Number(ran)).to.be.greaterThan(5);
  });
});
