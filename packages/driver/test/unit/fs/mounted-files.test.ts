import { expect } from 'chai';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isCodedError } from '@secrets-store-csi/core';
import { AtomicWriter } from '../../../src/fs/atomic-writer.js';
import { readMountedContents, readMountedFiles } from '../../../src/fs/mounted-files.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

describe('readMountedFiles', () => {
  let root: string;
  let target: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mounted-files-'));
    target = path.join(root, 'volume');
    await mkdir(target);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('maps every file the atomic writer wrote, nested ones included, to its user-visible path', async () => {
    await new AtomicWriter().write(target, [
      { path: 'a', mode: 0o644, contents: encode('A') },
      { path: 'dir/b', mode: 0o644, contents: encode('B') },
      { path: 'dir/sub/c', mode: 0o600, contents: encode('C') },
    ]);
    const files = await readMountedFiles(target);
    expect([...files.entries()].sort()).to.deep.equal([
      ['a', path.join(target, 'a')],
      ['dir/b', path.join(target, 'dir/b')],
      ['dir/sub/c', path.join(target, 'dir/sub/c')],
    ]);
  });

  it('leaves out directories, ..data and the timestamped directories', async () => {
    await new AtomicWriter().write(target, [{ path: 'dir/b', mode: 0o644, contents: encode('B') }]);
    await mkdir(path.join(target, 'empty-dir'));
    expect([...(await readMountedFiles(target)).keys()]).to.deep.equal(['dir/b']);
  });

  it('reads files a legacy provider wrote without symlinks', async () => {
    await writeFile(path.join(target, 'plain'), 'P');
    await mkdir(path.join(target, 'd'));
    await writeFile(path.join(target, 'd', 'f'), 'F');
    expect([...(await readMountedFiles(target)).keys()].sort()).to.deep.equal(['d/f', 'plain']);
  });

  it('includes nested symlinks to files but does not follow nested symlinks to directories', async () => {
    await mkdir(path.join(target, 'd'));
    await writeFile(path.join(target, 'd', 'f'), 'F');
    await symlink('f', path.join(target, 'd', 'link-to-file'));
    await symlink('..', path.join(target, 'd', 'loop'));
    expect([...(await readMountedFiles(target)).keys()].sort()).to.deep.equal(['d/f', 'd/link-to-file']);
  });

  it('skips a dangling top-level link', async () => {
    await symlink('..data/missing', path.join(target, 'missing'));
    await writeFile(path.join(target, 'present'), 'P');
    expect([...(await readMountedFiles(target)).keys()]).to.deep.equal(['present']);
  });

  it('returns an empty map for an empty volume', async () => {
    expect((await readMountedFiles(target)).size).to.equal(0);
  });

  it('throws FileWriteError naming the target when it does not exist', async () => {
    const missing = path.join(root, 'missing');
    try {
      await readMountedFiles(missing);
      expect.fail('should have thrown');
    } catch (error) {
      expect(isCodedError(error) && error.code).to.equal('FileWriteError');
      expect((error as Error).message).to.include(missing);
    }
  });
});

describe('readMountedContents', () => {
  let target: string;

  beforeEach(async () => {
    target = await mkdtemp(path.join(tmpdir(), 'mounted-contents-'));
  });

  afterEach(async () => {
    await rm(target, { recursive: true, force: true });
  });

  it('returns the bytes of every mounted file by relative path', async () => {
    await new AtomicWriter().write(target, [
      { path: 'a', mode: 0o644, contents: encode('A') },
      { path: 'dir/b', mode: 0o400, contents: encode('B') },
    ]);
    const contents = await readMountedContents(target);
    expect([...contents.keys()].sort()).to.deep.equal(['a', 'dir/b']);
    expect(decode(contents.get('a'))).to.equal('A');
    expect(decode(contents.get('dir/b'))).to.equal('B');
  });
});
