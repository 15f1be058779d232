/**
 * The driver started outside a cluster with no kubeconfig anywhere: one line that says what it looked for,
 * and a non-zero exit (it used to fall back to http://localhost:8080 and retry forever).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';

const driverMain = new URL('../../../src/main.ts', import.meta.url).pathname;
const driverPackageDir = new URL('../../../', import.meta.url).pathname;

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve) => {
    // The timeout only ends a driver that never exits (the bug), so that the assertion below reports it.
    execFile(
      process.execPath,
      ['--conditions=source', '--import=tsx', driverMain, ...args],
      { cwd: driverPackageDir, env, timeout: 60_000, killSignal: 'SIGKILL' },
      (error, _stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          signal: error?.signal ?? null,
          stderr,
        });
      },
    );
  });
}

describe('the driver process without a kubeconfig or a cluster', function () {
  this.timeout(90_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'no-kubeconfig-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says in one line that it found neither, names what it looked for, and exits 1', async () => {
    const exit = await run(
      [
        `--endpoint=unix://${join(dir, 'csi.sock')}`,
        '--nodeid=node-1',
        `--provider-volume=${join(dir, 'providers')}`,
        '--additional-provider-volume-paths=',
        '--metrics-addr=127.0.0.1:0',
      ],
      // An empty HOME and no KUBECONFIG or KUBERNETES_SERVICE_* variables: nothing to find.
      { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    );
    expect(exit.signal, `the driver did not exit; stderr:\n${exit.stderr}`).to.equal(null);
    expect(exit.code).to.equal(1);
    const lines = exit.stderr.split('\n').filter((line) => line.includes('no kubeconfig'));
    expect(lines, exit.stderr).to.have.length(1);
    expect(lines[0]).to.include('found no kubeconfig and no in-cluster configuration');
    for (const place of [
      '--kubeconfig',
      '$KUBECONFIG',
      join(dir, '.kube', 'config'),
      'KUBERNETES_SERVICE_HOST',
    ])
      expect(lines[0]).to.include(place);
    expect(exit.stderr).not.to.include('HTTP protocol is not allowed');
  });
});
