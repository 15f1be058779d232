/**
 * A container image built on this machine without any registry (test infrastructure): an OCI layout made with
 * `umoci` holding Debian's statically linked busybox, with the applets the tests use as symlinks. It serves as
 * the pods' image and as the CRI sandbox ("pause") image.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { explainMissingTool } from '../process.js';

const run = promisify(execFile);

/** Debian's busybox-static installs the binary here. */
export const BUSYBOX_PATH = '/bin/busybox';

const APPLETS = ['sh', 'cat', 'ls', 'sleep', 'echo', 'env', 'test', 'grep', 'true', 'stat'];

async function tool(command: string, args: readonly string[], installHint: string): Promise<void> {
  try {
    await run(command, [...args]);
  } catch (error) {
    throw explainMissingTool(error, command, installHint, `${command} ${args.join(' ')}`);
  }
}

const umoci = (args: readonly string[]) => tool('umoci', args, 'apt-get install umoci');

/**
 * Builds the busybox image in `dir` and returns the path of its OCI layout tarball, ready for
 * `ctr images import`. `command` is the image's default command.
 */
export async function buildBusyboxImage(dir: string, command: readonly string[]): Promise<string> {
  const layout = join(dir, 'layout');
  const bundle = join(dir, 'bundle');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await umoci(['init', '--layout', layout]);
  await umoci(['new', '--image', `${layout}:latest`]);
  await umoci(['unpack', '--rootless', '--image', `${layout}:latest`, bundle]);
  const bin = join(bundle, 'rootfs', 'bin');
  await mkdir(bin, { recursive: true });
  await copyFile(BUSYBOX_PATH, join(bin, 'busybox')).catch((error: unknown) => {
    throw new Error(`no ${BUSYBOX_PATH}: apt-get install busybox-static`, { cause: error });
  });
  await Promise.all(APPLETS.map((applet) => symlink('busybox', join(bin, applet))));
  await umoci(['repack', '--image', `${layout}:latest`, bundle]);
  await umoci([
    'config',
    '--image',
    `${layout}:latest`,
    '--config.env',
    'PATH=/bin',
    ...command.flatMap((part) => ['--config.cmd', part]),
  ]);
  const tarball = join(dir, 'image.tar');
  await tool('tar', ['-C', layout, '-cf', tarball, '.'], 'apt-get install tar');
  await rm(bundle, { recursive: true, force: true });
  return tarball;
}
