import { expect } from 'chai';
import { isCodedError } from '@secrets-store-csi/core';
import type { PayloadFile } from '../../../src/fs/payload.js';
import { lastWriteWins, validatePayload } from '../../../src/fs/validate.js';

function file(path: string, mode = 0o644, contents = 'secret-value'): PayloadFile {
  return { path, mode, contents: new TextEncoder().encode(contents) };
}

function rejection(files: PayloadFile[]): Error {
  try {
    validatePayload(files);
  } catch (error) {
    return error as Error;
  }
  return expect.fail('validatePayload should have thrown');
}

describe('validatePayload', () => {
  const element255 = 'e'.repeat(255);
  const valid: [string, string][] = [
    ['a plain name', 'tls.crt'],
    ['a nested path', 'dir/sub/file'],
    ['a name starting with one dot', '.hidden'],
    ['a name containing two dots', 'a..b'],
    ['a nested element starting with two dots', 'dir/..b'],
    ['a 255-byte element', element255],
    ['a 4096-byte path', `${'x/'.repeat(2047)}yy`],
  ];
  for (const [what, path] of valid) {
    it(`accepts ${what}`, () => {
      expect(() => {
        validatePayload([file(path)]);
      }).not.to.throw();
    });
  }

  it('accepts an empty payload', () => {
    expect(() => {
      validatePayload([]);
    }).not.to.throw();
  });

  it('accepts modes 0 and 0o777', () => {
    expect(() => {
      validatePayload([file('a', 0), file('b', 0o777)]);
    }).not.to.throw();
  });

  const invalid: [string, string][] = [
    ['an empty path', ''],
    ['an absolute path', '/abs'],
    ['the parent element', '..'],
    ['a reserved ".." prefix', '..a'],
    ['the reserved ..data name', '..data/x'],
    ['a parent element in the middle', 'a/../b'],
    ['a trailing parent element', 'a/..'],
    ['an empty element', 'a//b'],
    ['a trailing slash', 'a/'],
    ['a "." element', './a'],
    ['a lone "."', '.'],
    ['a "." element in the middle', 'a/./b'],
    ['a NUL byte', 'a\0b'],
    ['a 4097-byte path', 'p'.repeat(4097)],
    ['a 4097-byte path of short elements', `${'x/'.repeat(2048)}y`],
    ['a 256-byte element', `dir/${'e'.repeat(256)}`],
    ['an element of 128 two-byte characters', 'é'.repeat(128)],
  ];
  for (const [what, path] of invalid) {
    it(`rejects ${what} with FileWriteError`, () => {
      const error = rejection([file('ok'), file(path)]);
      expect(isCodedError(error) && error.code).to.equal('FileWriteError');
      expect(error.message).to.match(/^invalid file path/);
    });
  }

  it('names the offending path and never the contents in its message', () => {
    const error = rejection([file('a/../b', 0o644, 'TOP-SECRET')]);
    expect(error.message).to.include('"a/../b"');
    expect(error.message).not.to.include('TOP-SECRET');
  });

  const badModes: [string, number][] = [
    ['-1', -1],
    ['0o1000', 0o1000],
    ['0o4755 (setuid)', 0o4755],
    ['1.5', 1.5],
    ['NaN', Number.NaN],
  ];
  for (const [label, mode] of badModes) {
    it(`rejects mode ${label}`, () => {
      const error = rejection([file('a', mode)]);
      expect(isCodedError(error) && error.code).to.equal('FileWriteError');
      expect(error.message)
        .to.include('"a"')
        .and.to.include(`mode ${label.split(' ')[0] ?? ''}`);
    });
  }

  it('rejects a path listed twice', () => {
    const error = rejection([file('dup'), file('other'), file('dup')]);
    expect(error.message).to.include('"dup"').and.to.include('more than once');
  });

  it('rejects a path that is both a file and the parent directory of another file', () => {
    const error = rejection([file('dir/sub/leaf'), file('dir/sub')]);
    expect(isCodedError(error) && error.code).to.equal('FileWriteError');
    expect(error.message).to.include('"dir/sub"').and.to.include('parent directory');
  });

  it('accepts siblings that merely share a name prefix', () => {
    expect(() => {
      validatePayload([file('dir'), file('dir2/a'), file('dirx')]);
    }).not.to.throw();
  });
});

describe('lastWriteWins', () => {
  const decoded = (files: readonly PayloadFile[]) =>
    files.map((f) => [f.path, f.mode, new TextDecoder().decode(f.contents)]);

  it('keeps each path once with its last mode and contents, and names the duplicates', () => {
    const { files, duplicates } = lastWriteWins([
      file('dup', 0o644, 'first'),
      file('other', 0o644, 'o'),
      file('dir/x', 0o644, 'x1'),
      file('dup', 0o600, 'second'),
      file('dir/x', 0o640, 'x2'),
      file('dup', 0o400, 'third'),
    ]);
    expect(decoded(files)).to.have.deep.members([
      ['dup', 0o400, 'third'],
      ['other', 0o644, 'o'],
      ['dir/x', 0o640, 'x2'],
    ]);
    expect(duplicates).to.deep.equal(['dup', 'dir/x']);
    expect(() => {
      validatePayload(files);
    }).not.to.throw();
  });

  it('gives back the same files when no path repeats', () => {
    const input = [file('a'), file('b')];
    expect(lastWriteWins(input)).to.deep.equal({ files: input, duplicates: [] });
  });
});
