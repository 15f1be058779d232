/**
 * The commands the README runs (`pnpm exec secrets-store-csi --help`, ...): every workspace package's `bin`
 * points at a committed launcher, so `pnpm install` on a fresh clone links it without `ENOENT`, and the
 * launcher either runs the build or says how to make one.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url));
const ROOT = join(PACKAGES, '..');

interface PackageJson {
  readonly name: string;
  readonly bin?: Record<string, string>;
  readonly files?: readonly string[];
}

const withBin = readdirSync(PACKAGES)
  .map((dir) => join(PACKAGES, dir, 'package.json'))
  .filter((file) => existsSync(file))
  .map((file) => ({ dir: join(file, '..'), json: JSON.parse(readFileSync(file, 'utf8')) as PackageJson }))
  .filter(({ json }) => json.bin !== undefined);

function runNode(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT }, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
        stdout,
        stderr,
      });
    });
  });
}

describe('the packages’ commands', () => {
  it('the driver and both providers have commands', () => {
    expect(withBin.map(({ json }) => Object.keys(json.bin ?? {})).flat()).to.include.members([
      'secrets-store-csi',
      'secrets-store-csi-driver-provider-azure',
      'secrets-store-csi-driver-provider-directory',
    ]);
  });

  for (const { dir, json } of withBin)
    for (const [command, target] of Object.entries(json.bin ?? {})) {
      it(`${command} (${json.name}) points at a committed file, not at the build output`, () => {
        expect(target).not.to.match(/(^|\/)dist\//);
        expect(existsSync(join(dir, target)), target).to.equal(true);
        expect(json.files).to.include(target.replace(/^\.\//, '').split('/')[0]);
      });

      it(`${command} --help prints its usage when built, or says how to build`, async () => {
        const { code, stdout, stderr } = await runNode([join(dir, target), '--help']);
        if (existsSync(join(dir, 'dist', 'main.js'))) {
          expect(code).to.equal(0);
          // Upstream's commands print Go's usage on stderr; the kubectl plugin prints kubectl's on stdout.
          if (command.startsWith('kubectl-')) expect(stdout).to.include('Usage:');
          else expect(stderr).to.include(`Usage of ${command}:`);
        } else {
          expect(code).to.equal(1);
          expect(stderr).to.include('not built yet').and.include('pnpm build');
        }
      });
    }
});
