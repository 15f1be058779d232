/**
 * The images scripts/images.sh built (dist/images; scripts/test.sh builds them before the tests) import into
 * a real containerd with `ctr images import` under the names the charts use, and run there with a read-only
 * root filesystem, as their configured user, answering --version.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startContainerd, type Containerd } from '@secrets-store-csi/test-support';
import { AZURE_CHART, DIRECTORY_CHART, DRIVER_CHART, container, get, render } from './helm.js';

const run = promisify(execFile);
const IMAGES_DIR = fileURLToPath(new URL('../../../dist/images', import.meta.url));
const images = ['driver', 'provider-azure', 'provider-directory'] as const;

const present = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('images built by scripts/images.sh, in a real containerd', function () {
  this.timeout(180_000);
  let dir: string | undefined;
  let containerd: Containerd | undefined;

  before(async function () {
    for (const image of images) {
      if (!(await present(join(IMAGES_DIR, `${image}.oci.tar`)))) {
        // Building needs root and the network (Debian, npm): CI does it in scripts/test.sh.
        this.skip(); // reason: dist/images is empty; run `sudo bash scripts/images.sh` first
      }
    }
    if (process.getuid?.() !== 0) this.skip(); // reason: containerd needs root
    dir = await mkdtemp(join(tmpdir(), 'sscsi-images-'));
    containerd = await startContainerd({ dir, sandboxImage: 'docker.io/secrets-store-csi/driver:0.1.0' });
  });

  after(async () => {
    await containerd?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const ctr = async (args: readonly string[]): Promise<string> => {
    const address = join(dir!, 'containerd.sock');
    const { stdout } = await run('ctr', ['--address', address, '--namespace', 'k8s.io', ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  };

  it('import under the image names the charts render', async () => {
    for (const image of images) {
      await containerd!.importImage(
        join(IMAGES_DIR, `${image}.oci.tar`),
        `docker.io/secrets-store-csi/${image}`,
      );
    }
    const names = (await ctr(['images', 'list', '--quiet'])).split('\n').filter((name) => name !== '');
    const rendered = [
      container(get(await render(DRIVER_CHART), 'DaemonSet', 'csi-secrets-store-csi-driver'), 'secrets-store')
        .image,
      container(
        get(await render(AZURE_CHART), 'DaemonSet', 'csi-csi-secrets-store-provider-azure'),
        'provider-azure-installer',
      ).image,
      container(
        get(await render(DIRECTORY_CHART), 'DaemonSet', 'csi-csi-secrets-store-provider-directory'),
        'provider-directory',
      ).image,
    ];
    // kubelet resolves `secrets-store-csi/driver:0.1.0` to docker.io/secrets-store-csi/driver:0.1.0.
    expect(names).to.include.members(rendered.map((image) => `docker.io/${image}`));
  });

  for (const [image, user, expected] of [
    ['driver', '0', '"BuildVersion":"v0.1.0"'],
    ['provider-azure', '65532', '"version":"0.1.0"'],
    ['provider-directory', '65532', '"runtimeName":"secrets-store-csi-driver-provider-directory"'],
  ] as const) {
    it(`${image} runs with a read-only root filesystem as user ${user}`, async () => {
      const ref = `docker.io/secrets-store-csi/${image}:0.1.0`;
      const id = `check-${image}`;
      const version = await ctr([
        'run',
        '--rm',
        '--read-only',
        ref,
        `${id}-v`,
        '/usr/local/bin/node',
        '/app/dist/main.js',
        '--version',
      ]);
      expect(version).to.include(expected);
      // The image's configured user (the charts override it for the providers' socket directory).
      const uid = await ctr([
        'run',
        '--rm',
        '--read-only',
        ref,
        `${id}-id`,
        '/usr/local/bin/node',
        '-e',
        'process.stdout.write(String(process.getuid()))',
      ]);
      expect(uid).to.equal(user);
    });
  }
});
