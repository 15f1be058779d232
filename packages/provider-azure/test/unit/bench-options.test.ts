/**
 * The bench's command line (bench/sweep.ts): it is what a user runs to check the figures, so bad options stop
 * it with a message before it starts any process. Each case fails within seconds or the test times out.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const packageDir = fileURLToPath(new URL('../../', import.meta.url));

function runBench(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import=tsx', 'bench/sweep.ts', ...args],
      { cwd: packageDir, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } },
      (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : (error.code as number | null), stderr });
      },
    );
  });
}

describe('the Azure bench command line', function () {
  this.timeout(40_000);

  it('takes options after the literal -- that pnpm passes on, and refuses a number that is not one', async () => {
    const { code, stderr } = await runBench(['--', '--no-upstream', '--iterations=x']);
    expect(code).to.equal(1);
    expect(stderr).to.include('--iterations must be a whole number of at least 1, got "x"');
    expect(stderr).not.to.include('ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL');
  });

  it('refuses a negative latency, and a concurrency of 0', async () => {
    expect((await runBench(['--latency-ms=-1'])).stderr).to.include(
      '--latency-ms must be a whole number of at least 0, got "-1"',
    );
    expect((await runBench(['--concurrency=0'])).stderr).to.include(
      '--concurrency must be a whole number of at least 1, got "0"',
    );
  });
});
