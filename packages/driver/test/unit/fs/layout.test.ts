import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isCodedError } from '@secrets-store-csi/core';
import { AtomicWriter, inspectVolumeLayout, type PayloadFile } from '../../../src/fs/index.js';

function file(filePath: string, contents: string): PayloadFile {
  return { path: filePath, mode: 0o644, contents: new TextEncoder().encode(contents) };
}

const tsDir = '..2026_11_22_10_04_05.AbC123';

describe('inspectVolumeLayout', () => {
  let root: string;
  let target: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'layout-'));
    target = path.join(root, 'volume');
    await mkdir(target);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const at = (relative: string): string => path.join(target, relative);

  describe('finds a volume complete', () => {
    it('after a write of the atomic writer, nested files included', async () => {
      await new AtomicWriter().write(target, [file('a', 'A'), file('dir/b', 'B'), file('dir/c/d', 'D')]);
      expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'complete' });
    });

    it('when laid out by another writer of the same layout (upstream driver, kubelet)', async () => {
      await mkdir(at(tsDir));
      await writeFile(at(`${tsDir}/a`), 'A');
      await symlink(tsDir, at('..data'));
      await symlink('..data/a', at('a'));
      expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'complete' });
    });

    it('when a refresh was killed before its swap: the previous version is still whole', async () => {
      await new AtomicWriter().write(target, [file('a', 'A')]);
      // what the interrupted refresh left: a half-written directory and a link for a new name
      await mkdir(at('..2026_11_22_11_00_00.Zz9999'));
      await writeFile(at('..2026_11_22_11_00_00.Zz9999/a'), 'A2');
      await symlink('..data/b', at('b'));
      await symlink('..2026_11_22_11_00_00.Zz9999', at('..data_tmp'));
      expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'complete' });
    });

    it('when a refresh was killed after its swap, before removing an obsolete link', async () => {
      await new AtomicWriter().write(target, [file('a', 'A')]);
      await symlink('..data/gone', at('gone'));
      expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'complete' });
    });
  });

  describe('finds a volume incomplete', () => {
    it('when the tmpfs is empty (killed before the provider answered)', async () => {
      expect(await inspectVolumeLayout(target)).to.deep.equal({
        kind: 'incomplete',
        reason: 'the volume is empty',
      });
    });

    it('when it holds only a timestamped directory (killed while writing files)', async () => {
      await mkdir(at(tsDir));
      await writeFile(at(`${tsDir}/a`), 'A');
      expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'incomplete', reason: 'no ..data' });
    });

    it('when the links exist but dangle and ..data_tmp was never renamed (killed during the swap)', async () => {
      await mkdir(at(tsDir));
      await writeFile(at(`${tsDir}/a`), 'A');
      await symlink('..data/a', at('a'));
      await symlink(tsDir, at('..data_tmp'));
      expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'incomplete', reason: 'no ..data' });
    });

    it('when ..data points at a directory that is gone', async () => {
      await symlink(tsDir, at('..data'));
      expect(await inspectVolumeLayout(target)).to.deep.equal({
        kind: 'incomplete',
        reason: '..data points at a missing directory',
      });
    });

    it('when ..data points outside the volume', async () => {
      await mkdir(path.join(root, 'elsewhere'));
      await symlink('../elsewhere', at('..data'));
      expect((await inspectVolumeLayout(target)).kind).to.equal('incomplete');
    });

    it('when a name of the data directory is not linked for the pod', async () => {
      await new AtomicWriter().write(target, [file('a', 'A'), file('dir/b', 'B')]);
      await rm(at('dir'));
      expect(await inspectVolumeLayout(target)).to.deep.equal({
        kind: 'incomplete',
        reason: '"dir" is not linked',
      });
    });

    it('when a name is linked somewhere else than through ..data', async () => {
      await new AtomicWriter().write(target, [file('a', 'A')]);
      await rm(at('a'));
      await writeFile(at('a'), 'not through ..data');
      expect(await inspectVolumeLayout(target)).to.deep.equal({
        kind: 'incomplete',
        reason: '"a" is not linked',
      });
    });
  });

  it('leaves files a provider wrote itself (no ..data) as they are', async () => {
    await writeFile(at('written-by-provider'), 'X');
    expect(await inspectVolumeLayout(target)).to.deep.equal({ kind: 'providerWritten' });
  });

  it('throws FileWriteError naming the target, never "complete", when the volume cannot be read', async () => {
    const missing = path.join(root, 'missing');
    try {
      await inspectVolumeLayout(missing);
      expect.fail('the inspection should have failed');
    } catch (error) {
      expect(isCodedError(error) && error.code).to.equal('FileWriteError');
      expect((error as Error).message).to.contain(missing);
    }
  });

  it('only reads: inspecting changes nothing', async () => {
    await mkdir(at(tsDir));
    await symlink('..data/a', at('a'));
    const before = (await readdir(target)).sort();
    await inspectVolumeLayout(target);
    expect((await readdir(target)).sort()).to.deep.equal(before);
    expect(await readlink(at('a'))).to.equal('..data/a');
  });
});
