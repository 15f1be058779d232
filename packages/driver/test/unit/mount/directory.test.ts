import { expect } from 'chai';
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isCodedError } from '@secrets-store-csi/core';
import { DirectoryMounter } from '../../../src/mount/directory.js';

describe('DirectoryMounter', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'directory-mounter-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the target with mode 0750 and then reports it as mounted', async () => {
    const mounter = new DirectoryMounter();
    const target = path.join(root, 'pods', 'vol');
    await mounter.mountTmpfs(target, { noexec: true });
    expect((await stat(target)).mode & 0o7777).to.equal(0o750);
    expect(await mounter.isMountPoint(target)).to.equal(true);
  });

  it('forgets the target on unmount and keeps its files', async () => {
    const mounter = new DirectoryMounter();
    const target = path.join(root, 'vol');
    await mounter.mountTmpfs(target, { noexec: false });
    await writeFile(path.join(target, 'f'), 'F');
    await mounter.unmount(target);
    expect(await mounter.isMountPoint(target)).to.equal(false);
    expect((await stat(path.join(target, 'f'))).isFile()).to.equal(true);
  });

  it('recognises a directory holding a ..data link as mounted, even in a new process', async () => {
    const target = path.join(root, 'vol');
    await mkdir(target);
    await symlink('..2026_01_01_00_00_00.abc', path.join(target, '..data'));
    expect(await new DirectoryMounter().isMountPoint(target)).to.equal(true);
  });

  it('does not count a plain directory, or one whose ..data is not a link, as mounted', async () => {
    const target = path.join(root, 'vol');
    await mkdir(path.join(target, '..data'), { recursive: true });
    const mounter = new DirectoryMounter();
    expect(await mounter.isMountPoint(root)).to.equal(false);
    expect(await mounter.isMountPoint(target)).to.equal(false);
  });

  it('answers false for a path that does not exist', async () => {
    expect(await new DirectoryMounter().isMountPoint(path.join(root, 'missing'))).to.equal(false);
  });

  it('treats unmounting an unknown target as a no-op', async () => {
    await new DirectoryMounter().unmount(path.join(root, 'missing'));
  });

  it('fails with FailedToMount when the target is a regular file', async () => {
    const target = path.join(root, 'file');
    await writeFile(target, '');
    try {
      await new DirectoryMounter().mountTmpfs(target, { noexec: false });
      expect.fail('should have thrown');
    } catch (error) {
      expect(isCodedError(error) && error.code).to.equal('FailedToMount');
      expect((error as Error).message).to.include(target);
    }
  });
});
