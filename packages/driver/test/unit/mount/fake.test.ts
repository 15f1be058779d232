import { expect } from 'chai';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isCodedError } from '@secrets-store-csi/core';
import { FakeMounter } from '../../../src/mount/fake.js';

describe('FakeMounter', () => {
  let root: string;
  let target: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'fake-mounter-'));
    target = path.join(root, 'pods', 'vol');
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('records mounts and unmounts with their options', async () => {
    const fake = new FakeMounter();
    await fake.mountTmpfs(target, { noexec: true, sizeBytes: 1024 });
    await fake.isMountPoint(target);
    await fake.unmount(target);
    expect(fake.calls).to.deep.equal([
      { op: 'mountTmpfs', target, options: { noexec: true, sizeBytes: 1024 } },
      { op: 'unmount', target },
    ]);
  });

  it('creates the target directory on the real filesystem and tracks it as mounted', async () => {
    const fake = new FakeMounter();
    await fake.mountTmpfs(target, { noexec: false });
    expect((await stat(target)).isDirectory()).to.equal(true);
    expect(fake.mounted.has(target)).to.equal(true);
    expect(await fake.isMountPoint(target)).to.equal(true);
    expect(await fake.isMountPoint(root)).to.equal(false);
  });

  it('empties the directory on unmount, as a tmpfs would, and keeps the directory', async () => {
    const fake = new FakeMounter();
    await fake.mountTmpfs(target, { noexec: false });
    await writeFile(path.join(target, 'secret'), 'S');
    await fake.unmount(target);
    expect(fake.mounted.has(target)).to.equal(false);
    expect(await readdir(target)).to.deep.equal([]);
  });

  it('leaves a directory it did not mount untouched on unmount', async () => {
    const fake = new FakeMounter();
    await writeFile(path.join(root, 'keep'), 'K');
    await fake.unmount(root);
    expect(await readdir(root)).to.include('keep');
  });

  it('fails the next mount once with FailedToMount by default, then mounts again', async () => {
    const fake = new FakeMounter();
    fake.failNext('mountTmpfs');
    try {
      await fake.mountTmpfs(target, { noexec: false });
      expect.fail('should have thrown');
    } catch (error) {
      expect(isCodedError(error) && error.code).to.equal('FailedToMount');
    }
    expect(fake.mounted.size).to.equal(0);
    await fake.mountTmpfs(target, { noexec: false });
    expect(fake.mounted.has(target)).to.equal(true);
    expect(fake.calls).to.have.length(2);
  });

  it('fails the next unmount with the given error and keeps the target mounted', async () => {
    const fake = new FakeMounter();
    await fake.mountTmpfs(target, { noexec: false });
    const injected = new Error('device busy');
    fake.failNext('unmount', injected);
    try {
      await fake.unmount(target);
      expect.fail('should have thrown');
    } catch (error) {
      expect(error).to.equal(injected);
    }
    expect(fake.mounted.has(target)).to.equal(true);
    await fake.unmount(target);
    expect(fake.mounted.has(target)).to.equal(false);
  });

  it('defaults an injected unmount failure to UnmountFailed', async () => {
    const fake = new FakeMounter();
    fake.failNext('unmount');
    try {
      await fake.unmount(target);
      expect.fail('should have thrown');
    } catch (error) {
      expect(isCodedError(error) && error.code).to.equal('UnmountFailed');
    }
  });
});
