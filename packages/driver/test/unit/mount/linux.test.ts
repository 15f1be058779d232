import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isCodedError } from '@secrets-store-csi/core';
import { constants as osConstants } from 'node:os';
import { SyscallError, type MountSyscalls } from '../../../src/mount/syscalls.js';
import {
  LinuxMounter,
  decodeMountinfoField,
  hasMountPoint,
  parseMountPoints,
  tmpfsMountOptions,
} from '../../../src/mount/linux.js';

/**
 * The kernel's escape decoding, written out again here so that the suite's checks and clean-up do not rely
 * on the code under test (a broken decoder must not leave mounts behind).
 */
function decode(field: string): string {
  return field
    .replaceAll('\\040', ' ')
    .replaceAll('\\011', '\t')
    .replaceAll('\\012', '\n')
    .replaceAll('\\134', '\\');
}

/** Every mount point in this process's mount table. */
async function mountPoints(): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.filter((l) => l !== '').map((l) => decode(l.split(' ')[4] ?? ''));
}

/** The mountinfo line of a mount point, split into its per-mount options, fs type and super options. */
async function mountinfoEntry(
  mountPoint: string,
): Promise<{ mountOptions: string[]; fsType: string; superOptions: string[] } | undefined> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  const line = lines.find((l) => decode(l.split(' ')[4] ?? '') === mountPoint);
  if (line === undefined) return undefined;
  const fields = line.split(' ');
  const separator = fields.indexOf('-');
  return {
    mountOptions: (fields[5] ?? '').split(','),
    fsType: fields[separator + 1] ?? '',
    superOptions: (fields[separator + 3] ?? '').split(','),
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  return expect.fail('should have failed');
}

describe('tmpfsMountOptions', () => {
  it('always asks for nosuid and nodev', () => {
    expect(tmpfsMountOptions({ noexec: false })).to.equal('nosuid,nodev');
  });

  it('adds noexec and the size in bytes when asked', () => {
    expect(tmpfsMountOptions({ noexec: true, sizeBytes: 1_048_576 })).to.equal(
      'nosuid,nodev,noexec,size=1048576',
    );
  });
});

describe('parseMountPoints', () => {
  const fixture = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '42 27 0:39 / /var/lib/kubelet/pods/p1/volumes/my\\040secrets rw,nosuid,nodev - tmpfs tmpfs rw,size=1024k',
    '43 27 0:40 / /tmp/tab\\011and\\012newline\\134backslash rw - tmpfs tmpfs rw',
    '',
  ].join('\n');

  it('returns the decoded mount point of every line', () => {
    expect(parseMountPoints(fixture)).to.deep.equal([
      '/',
      '/var/lib/kubelet/pods/p1/volumes/my secrets',
      '/tmp/tab\tand\nnewline\\backslash',
    ]);
  });

  it('leaves a backslash that is not an octal escape alone', () => {
    expect(decodeMountinfoField('/a\\x/b\\04')).to.equal('/a\\x/b\\04');
  });
});

/** Syscalls that fail every call with `code`, as the kernel would. */
function failingSyscalls(code: string): MountSyscalls {
  const errno = -(Object.entries(osConstants.errno).find(([name]) => name === code)?.[1] ?? 1);
  return {
    mount: () => Promise.reject(new SyscallError('mount', -errno)),
    umount: () => Promise.reject(new SyscallError('umount2', -errno)),
  };
}

describe('hasMountPoint', () => {
  const table = [
    '22 1 8:1 / / rw - ext4 /dev/sda1 rw',
    '42 22 0:39 / /var/lib/kubelet/pods/p1/volumes/my\\040secrets rw - tmpfs tmpfs rw',
    '43 22 0:40 /var/lib/x /mnt/bind rw - ext4 /dev/sda1 rw',
  ].join('\n');

  it('finds a mount point by field 5, in the kernel encoding', () => {
    expect(hasMountPoint(table, '/')).to.equal(true);
    expect(hasMountPoint(table, '/var/lib/kubelet/pods/p1/volumes/my secrets')).to.equal(true);
    expect(hasMountPoint(table, '/mnt/bind')).to.equal(true);
  });

  it('does not take the root field (4) or a prefix for the mount point', () => {
    expect(hasMountPoint(table, '/var/lib/x')).to.equal(false);
    expect(hasMountPoint(table, '/mnt')).to.equal(false);
    expect(hasMountPoint(table, '/var/lib/kubelet/pods/p1/volumes/my')).to.equal(false);
  });
});

describe('LinuxMounter', () => {
  let root: string;
  const mounter = new LinuxMounter();

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
  });

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'linux-mounter-'));
  });

  afterEach(async () => {
    // Unmount whatever a test left under root (stacked mounts included), so no tmpfs outlives the suite.
    for (;;) {
      const leftover = (await mountPoints()).filter((p) => p.startsWith(`${root}/`));
      if (leftover.length === 0) break;
      for (const p of leftover.reverse()) execFileSync('umount', [p]);
    }
    await rm(root, { recursive: true, force: true });
  });

  it('mounts a tmpfs with nosuid, nodev, noexec and the size limit', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: true, sizeBytes: 1_048_576 });
    const entry = await mountinfoEntry(target);
    expect(entry?.fsType).to.equal('tmpfs');
    expect(entry?.mountOptions).to.include.members(['nosuid', 'nodev', 'noexec']);
    expect(entry?.superOptions).to.include('size=1024k');
  });

  it('leaves noexec off and the size to the kernel by default', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    const entry = await mountinfoEntry(target);
    expect(entry?.mountOptions).to.include.members(['nosuid', 'nodev']);
    expect(entry?.mountOptions).not.to.include('noexec');
    expect(entry?.superOptions).not.to.include('size=1024k');
  });

  it('creates a missing target, parents included, with mode 0750 beneath the mount', async () => {
    const target = path.join(root, 'pods', 'p1', 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    execFileSync('umount', [target]);
    expect((await stat(target)).mode & 0o7777).to.equal(0o750);
  });

  it('reports a mount point only while it is mounted', async () => {
    const target = path.join(root, 'vol');
    await mkdir(target);
    expect(await mounter.isMountPoint(target)).to.equal(false);
    await mounter.mountTmpfs(target, { noexec: false });
    expect(await mounter.isMountPoint(target)).to.equal(true);
    await mounter.unmount(target);
    expect(await mounter.isMountPoint(target)).to.equal(false);
    expect(await mountinfoEntry(target)).to.equal(undefined);
  });

  it('treats unmounting a target that is not mounted as a no-op', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    await mounter.unmount(target);
    await mounter.unmount(target);
    await mounter.unmount(path.join(root, 'never-existed'));
    expect(await mounter.isMountPoint(target)).to.equal(false);
  });

  it('answers false for a path that does not exist', async () => {
    expect(await mounter.isMountPoint(path.join(root, 'missing', 'deeper'))).to.equal(false);
  });

  it('does not mistake a directory inside a mount for the mount point', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    await mkdir(path.join(target, 'inner'));
    expect(await mounter.isMountPoint(path.join(target, 'inner'))).to.equal(false);
  });

  it('handles a target with a space in its name', async () => {
    const target = path.join(root, 'my secrets');
    await mounter.mountTmpfs(target, { noexec: false });
    expect(await mounter.isMountPoint(target)).to.equal(true);
    expect(await mountinfoEntry(target)).not.to.equal(undefined);
    await mounter.unmount(target);
    expect(await mounter.isMountPoint(target)).to.equal(false);
  });

  it('answers a mounted target from the devices, without reading the mount table', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    const withoutTable = new LinuxMounter({ mountinfoPath: path.join(root, 'no-such-table') });
    expect(await withoutTable.isMountPoint(target)).to.equal(true);
    await rejection(withoutTable.isMountPoint(root));
  });

  it('resolves symlinks before looking the target up', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    await symlink(target, path.join(root, 'alias'));
    expect(await mounter.isMountPoint(path.join(root, 'alias'))).to.equal(true);
  });

  it('fails with FailedToMount and the command stderr when mount rejects the options', async () => {
    const target = path.join(root, 'vol');
    const error = await rejection(mounter.mountTmpfs(target, { noexec: false, sizeBytes: -1 }));
    expect(isCodedError(error) && error.code).to.equal('FailedToMount');
    expect(error.message).to.include(target).and.to.match(/mount/);
    expect(await mounter.isMountPoint(target)).to.equal(false);
  });

  it('fails with FailedToMount and the errno when mount(2) fails', async () => {
    const failing = new LinuxMounter({ syscalls: failingSyscalls('EPERM') });
    const error = await rejection(failing.mountTmpfs(path.join(root, 'vol'), { noexec: false }));
    expect(isCodedError(error) && error.code).to.equal('FailedToMount');
    expect(error.message).to.include('mount: EPERM (operation not permitted)');
  });

  it('fails with FailedToMount when the target is a regular file', async () => {
    const target = path.join(root, 'file');
    await writeFile(target, '');
    const error = await rejection(mounter.mountTmpfs(target, { noexec: false }));
    expect(isCodedError(error) && error.code).to.equal('FailedToMount');
    expect(error.message).to.include(target);
  });

  it('fails with UnmountFailed when umount2(2) fails on a mounted target', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    const failing = new LinuxMounter({ syscalls: failingSyscalls('EBUSY') });
    const error = await rejection(failing.unmount(target));
    expect(isCodedError(error) && error.code).to.equal('UnmountFailed');
    expect(error.message).to.include('EBUSY');
    expect(await mounter.isMountPoint(target)).to.equal(true);
  });

  it('fails with UnmountFailed when a file is open in the tmpfs (the kernel says busy)', async () => {
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    const file = await open(path.join(target, 'held'), 'w');
    try {
      const error = await rejection(mounter.unmount(target));
      expect(isCodedError(error) && error.code).to.equal('UnmountFailed');
      expect(error.message).to.include('EBUSY');
    } finally {
      await file.close();
    }
    await mounter.unmount(target);
    expect(await mounter.isMountPoint(target)).to.equal(false);
  });
});

describe('LinuxMounter with a mountinfo fixture', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mountinfo-fixture-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('decodes escaped mount points before comparing them with the resolved target', async () => {
    const target = path.join(root, 'my secrets');
    await mkdir(target);
    const fixture = path.join(root, 'mountinfo');
    const encoded = target.replaceAll(' ', '\\040');
    await writeFile(
      fixture,
      `22 1 8:1 / / rw - ext4 /dev/sda1 rw\n42 22 0:39 / ${encoded} rw - tmpfs tmpfs rw\n`,
    );
    const mounter = new LinuxMounter({ mountinfoPath: fixture });
    expect(await mounter.isMountPoint(target)).to.equal(true);
    expect(await mounter.isMountPoint(root)).to.equal(false);
  });

  it('fails with FailedToEnsureMountPoint when the mount table cannot be read', async () => {
    const mounter = new LinuxMounter({ mountinfoPath: path.join(root, 'missing') });
    const error = await rejection(mounter.isMountPoint(root));
    expect(isCodedError(error) && error.code).to.equal('FailedToEnsureMountPoint');
  });
});
