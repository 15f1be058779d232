/**
 * The Dockerfiles users build with Docker (deploy/<image>/Dockerfile, context: the repository root) stay the
 * same recipe as the images scripts/images.sh builds and the charts run: same entrypoint and user as the
 * built image's configuration, pnpm and Node at the repository's pins, and a .dockerignore that keeps the
 * host's node_modules, dist and .git out while leaving every file the build reads in.
 * Building them takes minutes (scripts/verify-dockerfiles.sh does it with buildah, opt-in; docs/testing.md).
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join, matchesGlob } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const IMAGES_DIR = join(ROOT, 'dist/images');
const images = ['driver', 'provider-azure', 'provider-directory'] as const;

interface Dockerfile {
  args: Map<string, string>; // ARG defaults before the first FROM and in any stage
  finalStage: string[]; // the instructions of the last FROM's stage, continuation lines joined
}

function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map<string, string>();
  let finalStage: string[] = [];
  for (const line of lines) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    const operand = rest.join(' ');
    if (instruction.toUpperCase() === 'FROM') finalStage = [];
    if (instruction.toUpperCase() === 'ARG' && operand.includes('=')) {
      const at = operand.indexOf('=');
      args.set(operand.slice(0, at), operand.slice(at + 1));
    }
    finalStage.push(line);
  }
  return { args, finalStage };
}

function instruction(stage: string[], name: string): string | undefined {
  const line = stage.findLast((l) => l.toUpperCase().startsWith(`${name} `));
  return line?.slice(name.length + 1).trim();
}

/** The configuration of the image an OCI layout archive holds (scripts/images.sh's output). */
async function imageConfig(archive: string): Promise<{ Entrypoint?: string[]; User?: string }> {
  const member = async (path: string): Promise<unknown> =>
    JSON.parse((await run('tar', ['-xOf', archive, `./${path}`], { maxBuffer: 1 << 20 })).stdout) as unknown;
  const blob = (digest: string) => `blobs/${digest.replace(':', '/')}`;
  const index = (await member('index.json')) as { manifests: { digest: string }[] };
  const manifest = (await member(blob(index.manifests[0]!.digest))) as { config: { digest: string } };
  const config = (await member(blob(manifest.config.digest))) as {
    config: { Entrypoint?: string[]; User?: string };
  };
  return config.config;
}

/** Docker's rule: a path is left out of the context when it or one of its parent directories matches. */
function ignored(path: string, patterns: readonly string[]): boolean {
  const parts = path.split('/');
  return parts.some((_, i) =>
    patterns.some((pattern) => matchesGlob(parts.slice(0, i + 1).join('/'), pattern)),
  );
}

describe('the Dockerfiles', () => {
  let patterns: string[];
  let tracked: string[];

  before(async () => {
    patterns = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    tracked = (await run('git', ['ls-files'], { cwd: ROOT, maxBuffer: 16 << 20 })).stdout
      .split('\n')
      .filter(Boolean);
  });

  it('.dockerignore uses only patterns this check reads as Docker does (no exceptions)', () => {
    expect(patterns.filter((pattern) => pattern.startsWith('!'))).to.deep.equal([]);
  });

  it("keep the host's node_modules, build output and .git out of the context", () => {
    for (const path of [
      'node_modules/x',
      'packages/driver/node_modules/x',
      'packages/driver/dist/main.js',
      '.git/HEAD',
    ])
      expect(ignored(path, patterns), path).to.equal(true);
  });

  it('leave every file the build reads in the context', () => {
    // pnpm install --frozen-lockfile reads every workspace package's manifest; turbo builds from src and scripts.
    const needed = tracked.filter(
      (path) =>
        /(^|\/)package\.json$/.test(path) ||
        /^packages\/[^/]+\/(src|scripts)\//.test(path) ||
        /^packages\/[^/]+\/tsconfig[^/]*\.json$/.test(path) ||
        /^proto\//.test(path) ||
        ['pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc', 'turbo.json', 'tsconfig.base.json'].includes(
          path,
        ),
    );
    expect(needed.length).to.be.greaterThan(50);
    expect(needed.filter((path) => ignored(path, patterns))).to.deep.equal([]);
  });

  for (const image of images) {
    describe(`deploy/${image}/Dockerfile`, () => {
      let dockerfile: Dockerfile;

      before(async () => {
        dockerfile = parseDockerfile(await readFile(join(ROOT, 'deploy', image, 'Dockerfile'), 'utf8'));
      });

      it('installs the pnpm package.json pins, without corepack', async () => {
        const pinned = (
          JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }
        ).packageManager;
        expect(`pnpm@${dockerfile.args.get('PNPM_VERSION')}`).to.equal(pinned);
        expect(dockerfile.finalStage.join('\n')).not.to.match(/corepack (enable|prepare)/);
      });

      it("defaults to the public Node image of scripts/bootstrap.sh's Node major, overridable", async () => {
        const bootstrap = await readFile(join(ROOT, 'scripts/bootstrap.sh'), 'utf8');
        const major = /NODE_VERSION="\$\{SSCSI_NODE_VERSION:-(\d+)\./.exec(bootstrap)?.[1];
        expect(dockerfile.args.get('NODE_IMAGE')).to.equal(`node:${major}-bookworm-slim`);
        expect(instruction(dockerfile.finalStage, 'FROM')).to.equal('${NODE_IMAGE}');
      });

      it('has the entrypoint and user of the image scripts/images.sh builds', async function () {
        const archive = join(IMAGES_DIR, `${image}.oci.tar`);
        const built = await stat(archive).then(
          () => true,
          () => false,
        );
        if (!built) this.skip(); // reason: dist/images is empty; scripts/test.sh builds it (root, network)
        const config = await imageConfig(archive);
        const entrypoint = JSON.parse(instruction(dockerfile.finalStage, 'ENTRYPOINT') ?? '[]') as string[];
        // The Dockerfile finds node on the base image's PATH; scripts/images.sh names it.
        expect(
          entrypoint.map((part, i) => (i === 0 && part === 'node' ? '/usr/local/bin/node' : part)),
        ).to.deep.equal(config.Entrypoint);
        expect(instruction(dockerfile.finalStage, 'USER') ?? '0:0').to.equal(config.User);
      });
    });
  }
});
