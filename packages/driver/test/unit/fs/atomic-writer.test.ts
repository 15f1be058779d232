import { expect } from 'chai';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isCodedError } from '@secrets-store-csi/core';
import { AtomicWriter, timestampPrefix } from '../../../src/fs/atomic-writer.js';
import type { PayloadFile } from '../../../src/fs/payload.js';

const tsDirPattern = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\./;

function file(filePath: string, contents: string, mode = 0o644): PayloadFile {
  return { path: filePath, mode, contents: new TextEncoder().encode(contents) };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  return expect.fail('the write should have failed');
}

describe('AtomicWriter', () => {
  let root: string;
  let target: string;
  const writer = new AtomicWriter();

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'atomic-writer-'));
    target = path.join(root, 'volume');
    await mkdir(target);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const read = (relative: string): Promise<string> => readFile(path.join(target, relative), 'utf8');
  const dataLink = (): Promise<string> => readlink(path.join(target, '..data'));
  const tsDirs = async (): Promise<string[]> => (await readdir(target)).filter((n) => tsDirPattern.test(n));
  const modeOf = async (relative: string): Promise<number> =>
    (await stat(path.join(target, relative))).mode & 0o7777;

  describe('on the first write', () => {
    const payload = [
      file('private.key', 'KEY', 0o600),
      file('public.crt', 'CRT', 0o644),
      file('locked', 'LOCKED', 0),
      file('shared', 'SHARED', 0o777),
      file('dir/nested', 'NESTED', 0o640),
    ];

    it('reports a change', async () => {
      expect(await writer.write(target, payload)).to.deep.equal({ changed: true });
    });

    it('points ..data at a relative timestamped directory of mode 0755', async () => {
      await writer.write(target, payload);
      expect((await lstat(path.join(target, '..data'))).isSymbolicLink()).to.equal(true);
      const tsDir = await dataLink();
      expect(tsDir).to.match(tsDirPattern);
      expect(tsDir).not.to.include('/');
      expect((await lstat(path.join(target, tsDir))).isDirectory()).to.equal(true);
      expect(await modeOf(tsDir)).to.equal(0o755);
    });

    it('links each top-level name into ..data with a relative symlink', async () => {
      await writer.write(target, payload);
      for (const name of ['private.key', 'public.crt', 'locked', 'shared', 'dir']) {
        expect((await lstat(path.join(target, name))).isSymbolicLink(), name).to.equal(true);
        expect(await readlink(path.join(target, name))).to.equal(`..data/${name}`);
      }
    });

    it('leaves exactly the files, the links, ..data and one timestamped directory', async () => {
      await writer.write(target, payload);
      const names = (await readdir(target)).sort();
      expect(names).to.deep.equal([
        await dataLink(),
        '..data',
        'dir',
        'locked',
        'private.key',
        'public.crt',
        'shared',
      ]);
      expect(await readdir(path.join(target, await dataLink(), 'dir'))).to.deep.equal(['nested']);
    });

    it('writes the contents and applies each mode verbatim, whatever the umask, 0 included', async () => {
      await writer.write(target, payload);
      expect(await read('private.key')).to.equal('KEY');
      expect(await read('dir/nested')).to.equal('NESTED');
      expect(await modeOf('private.key')).to.equal(0o600);
      expect(await modeOf('public.crt')).to.equal(0o644);
      expect(await modeOf('locked')).to.equal(0);
      expect(await modeOf('shared')).to.equal(0o777);
      expect(await modeOf('dir/nested')).to.equal(0o640);
    });

    it('names the timestamped directory after the UTC time', async () => {
      const pinned = new AtomicWriter({ now: () => new Date(Date.UTC(2026, 10, 22, 10, 4, 5)) });
      await pinned.write(target, payload);
      expect(await dataLink()).to.match(/^\.\.2026_11_22_10_04_05\.[A-Za-z0-9]+$/);
    });
  });

  it('formats the timestamp prefix with zero padding', () => {
    expect(timestampPrefix(new Date(Date.UTC(2027, 0, 2, 3, 4, 5)))).to.equal('..2027_01_02_03_04_05.');
  });

  it('treats a byte-equal rewrite as a no-op that keeps the same ..data target', async () => {
    await writer.write(target, [file('a', 'A'), file('dir/b', 'B')]);
    const before = await dataLink();
    expect(await writer.write(target, [file('dir/b', 'B'), file('a', 'A')])).to.deep.equal({
      changed: false,
    });
    expect(await dataLink()).to.equal(before);
    expect(await tsDirs()).to.deep.equal([before]);
  });

  it('does not apply a mode-only change, as upstream', async () => {
    await writer.write(target, [file('a', 'A', 0o644)]);
    expect(await writer.write(target, [file('a', 'A', 0o600)])).to.deep.equal({ changed: false });
    expect(await modeOf('a')).to.equal(0o644);
  });

  it('swaps ..data on a content change and deletes the old timestamped directory', async () => {
    await writer.write(target, [file('a', 'v1'), file('b', 'same')]);
    const before = await dataLink();
    expect(await writer.write(target, [file('a', 'v2'), file('b', 'same')])).to.deep.equal({ changed: true });
    const after = await dataLink();
    expect(after).to.not.equal(before);
    expect(await tsDirs()).to.deep.equal([after]);
    expect(await read('a')).to.equal('v2');
    expect(await read('b')).to.equal('same');
  });

  it('writes when a file is added even though the existing ones are unchanged', async () => {
    await writer.write(target, [file('a', 'A')]);
    expect(await writer.write(target, [file('a', 'A'), file('b', 'B')])).to.deep.equal({ changed: true });
    expect(await read('b')).to.equal('B');
  });

  it('removes the top-level link of a file that is no longer in the payload', async () => {
    await writer.write(target, [file('a', 'A'), file('b', 'B')]);
    expect(await writer.write(target, [file('a', 'A')])).to.deep.equal({ changed: true });
    expect((await readdir(target)).sort()).to.deep.equal([await dataLink(), '..data', 'a']);
  });

  it('keeps a directory that still holds files when one of its files is removed', async () => {
    await writer.write(target, [file('dir/a', 'A'), file('dir/b', 'B')]);
    expect(await writer.write(target, [file('dir/a', 'A')])).to.deep.equal({ changed: true });
    expect(await readlink(path.join(target, 'dir'))).to.equal('..data/dir');
    expect(await readdir(path.join(target, 'dir'))).to.deep.equal(['a']);
    expect(await read('dir/a')).to.equal('A');
  });

  it('removes the link of a directory whose files are all gone', async () => {
    await writer.write(target, [file('dir/a', 'A'), file('x', 'X')]);
    await writer.write(target, [file('x', 'X')]);
    expect((await readdir(target)).sort()).to.deep.equal([await dataLink(), '..data', 'x']);
  });

  it('handles a file turning into a directory', async () => {
    await writer.write(target, [file('a', 'A')]);
    await writer.write(target, [file('a/b', 'B')]);
    expect(await read('a/b')).to.equal('B');
    expect(await tsDirs()).to.have.length(1);
  });

  it('replaces files and directories a legacy provider wrote directly into the target', async () => {
    await writeFile(path.join(target, 'a'), 'legacy');
    await mkdir(path.join(target, 'dir'));
    await writeFile(path.join(target, 'dir', 'old'), 'legacy');
    await writer.write(target, [file('a', 'new-a'), file('dir/b', 'new-b')]);
    expect(await readlink(path.join(target, 'a'))).to.equal('..data/a');
    expect(await readlink(path.join(target, 'dir'))).to.equal('..data/dir');
    expect(await read('a')).to.equal('new-a');
    expect(await readdir(path.join(target, 'dir'))).to.deep.equal(['b']);
  });

  it('writes even when a legacy file already holds the same bytes', async () => {
    await writeFile(path.join(target, 'a'), 'A');
    expect(await writer.write(target, [file('a', 'A')])).to.deep.equal({ changed: true });
    expect(await readlink(path.join(target, 'a'))).to.equal('..data/a');
  });

  for (const kind of ['symlink', 'directory'] as const) {
    it(`recovers from a leftover ..data_tmp ${kind} of a crashed write`, async () => {
      await writer.write(target, [file('a', 'v1')]);
      const leftover = path.join(target, '..data_tmp');
      if (kind === 'symlink') await symlink('..2000_01_01_00_00_00.gone', leftover);
      else await mkdir(leftover);
      expect(await writer.write(target, [file('a', 'v2')])).to.deep.equal({ changed: true });
      expect(await read('a')).to.equal('v2');
      expect(await readdir(target)).not.to.include('..data_tmp');
    });
  }

  it('removes timestamped directories a killed write left behind, and nothing else of ..', async () => {
    const abandoned = '..2000_01_01_00_00_00.gone';
    await mkdir(path.join(target, abandoned));
    await writeFile(path.join(target, abandoned, 'a'), 'half');
    await mkdir(path.join(target, '..not-ours'));
    await writer.write(target, [file('a', 'v1')]);
    await mkdir(path.join(target, abandoned));
    await writer.write(target, [file('a', 'v2')]);
    expect(await tsDirs()).to.deep.equal([await dataLink()]);
    expect(await readdir(target)).to.include('..not-ours');
    expect(await read('a')).to.equal('v2');
  });

  it('rewrites everything when ..data points at a timestamped directory that is gone', async () => {
    await writer.write(target, [file('a', 'A')]);
    await rm(path.join(target, await dataLink()), { recursive: true });
    expect(await writer.write(target, [file('a', 'A')])).to.deep.equal({ changed: true });
    expect(await read('a')).to.equal('A');
  });

  it('never deletes what a ..data link pointing outside the volume names', async () => {
    const outside = path.join(root, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'keep'), 'K');
    await symlink('../outside', path.join(target, '..data'));
    await writer.write(target, [file('a', 'A')]);
    expect(await dataLink()).to.match(tsDirPattern);
    expect(await readFile(path.join(outside, 'keep'), 'utf8')).to.equal('K');
  });

  it('keeps the old version and leaves no half-written directory when a write fails', async () => {
    await writer.write(target, [file('a', 'v1')]);
    const before = await dataLink();
    // Valid as a payload path (4095 bytes), but too long for the kernel once joined to the target.
    const tooLong = Array.from({ length: 16 }, () => 'n'.repeat(255)).join('/');
    const error = await rejection(writer.write(target, [file('a', 'SECRET-v2'), file(tooLong, 'x')]));
    expect(isCodedError(error) && error.code).to.equal('FileWriteError');
    expect(error.message).to.include(target).and.to.include('ENAMETOOLONG');
    expect(error.message).not.to.include('SECRET-v2');
    expect(await dataLink()).to.equal(before);
    expect(await read('a')).to.equal('v1');
    expect((await readdir(target)).sort()).to.deep.equal([before, '..data', 'a']);
  });

  it('fails with FileWriteError when the target is a regular file', async () => {
    const notADir = path.join(root, 'file');
    await writeFile(notADir, '');
    const error = await rejection(writer.write(notADir, [file('a', 'A')]));
    expect(isCodedError(error) && error.code).to.equal('FileWriteError');
    expect(error.message).to.include(notADir);
  });

  it('writes nothing when the payload is invalid', async () => {
    const error = await rejection(writer.write(target, [file('ok', 'A'), file('../escape', 'B')]));
    expect(isCodedError(error) && error.code).to.equal('FileWriteError');
    expect(await readdir(target)).to.deep.equal([]);
  });

  it('writes an empty payload as an empty version', async () => {
    await writer.write(target, [file('a', 'A')]);
    expect(await writer.write(target, [])).to.deep.equal({ changed: true });
    expect((await readdir(target)).sort()).to.deep.equal([await dataLink(), '..data']);
  });
});
