import { expect } from 'chai';
import type { MountResult } from '../../src/contract.js';
import { ProviderError } from '../../src/errors.js';
import {
  DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES,
  checkFileMode,
  checkFilePath,
  checkMountResult,
  responseTooLargeError,
} from '../../src/rules.js';

const bytes = new Uint8Array([1]);

function result(paths: readonly string[], mode = 0o644): MountResult {
  return {
    files: paths.map((path) => ({ path, mode, contents: bytes })),
    objectVersions: [{ id: 'secret/a', version: 'v1' }],
  };
}

function thrown(run: () => void): ProviderError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected an error');
}

describe('rules', () => {
  describe('checkFilePath', () => {
    const cases: readonly { path: string; problem: string | undefined }[] = [
      { path: 'secret', problem: undefined },
      { path: 'dir/secret.pem', problem: undefined },
      { path: '.env', problem: undefined },
      { path: 'a..b', problem: undefined },
      { path: 'dir/..hidden', problem: undefined },
      { path: 'x'.repeat(255), problem: undefined },
      { path: '', problem: 'must not be empty' },
      { path: 'a\0b', problem: 'must not contain a NUL character' },
      { path: '/etc/passwd', problem: 'must be a relative path' },
      { path: `${'a/'.repeat(2048)}b`, problem: 'must be at most 4096 bytes long' },
      { path: '..', problem: "must not contain '..'" },
      { path: '../secret', problem: "must not contain '..'" },
      { path: 'dir/../../secret', problem: "must not contain '..'" },
      { path: 'dir/..', problem: "must not contain '..'" },
      { path: 'x'.repeat(256), problem: 'must not have an element longer than 255 bytes' },
      { path: `dir/${'é'.repeat(128)}`, problem: 'must not have an element longer than 255 bytes' },
      { path: '..data', problem: "must not start with '..' (the driver reserves such names)" },
      { path: '..data/secret', problem: "must not start with '..' (the driver reserves such names)" },
      { path: './secret', problem: "must be clean (no empty or '.' elements, no trailing '/')" },
      { path: 'dir//secret', problem: "must be clean (no empty or '.' elements, no trailing '/')" },
      { path: 'dir/', problem: "must be clean (no empty or '.' elements, no trailing '/')" },
      { path: '.', problem: "must be clean (no empty or '.' elements, no trailing '/')" },
    ];
    for (const { path, problem } of cases) {
      it(`${problem === undefined ? 'accepts' : 'refuses'} ${JSON.stringify(path.slice(0, 40))}`, () => {
        expect(checkFilePath(path)).to.equal(problem);
      });
    }
  });

  it('accepts modes 0 to 0o777 and nothing else', () => {
    for (const mode of [0, 0o400, 0o644, 0o777]) expect(checkFileMode(mode)).to.equal(undefined);
    for (const mode of [-1, 0o1000, 4.5, Number.NaN]) {
      expect(checkFileMode(mode)).to.equal('must be an integer between 0 and 0o777 (511)');
    }
  });

  describe('checkMountResult', () => {
    it('accepts a result with files in nested directories', () => {
      expect(() => {
        checkMountResult(result(['a', 'dir/b', 'dir/sub/c']));
      }).not.to.throw();
    });

    it('requires at least one object version, each with an id', () => {
      const none = thrown(() => {
        checkMountResult({ files: [], objectVersions: [] });
      });
      expect(none.kind).to.equal('internal');
      expect(none.code).to.equal('MissingObjectVersions');
      expect(none.message).to.equal(
        'the provider returned no object versions; the driver refuses such a mount (missing object versions)',
      );
      const empty = thrown(() => {
        checkMountResult({ files: [], objectVersions: [{ id: '', version: 'v1' }] });
      });
      expect(empty.message).to.equal('object version 0 has an empty id');
    });

    it('accepts no object versions when the provider reports absent optional objects (ours)', () => {
      expect(() => {
        checkMountResult({
          files: [],
          objectVersions: [],
          absentObjects: [{ id: 'secret/a', path: 'a', reason: 'secret a not found in vault kv' }],
        });
      }).not.to.throw();
    });

    it('refuses an absent object without an id, with a bad path or without a one-line reason', () => {
      const check = (absent: { id: string; path: string; reason: string }) =>
        thrown(() => {
          checkMountResult({ ...result(['a']), absentObjects: [absent] });
        });
      const noId = check({ id: '', path: 'b', reason: 'gone' });
      expect(noId.code).to.equal('InvalidAbsentObject');
      expect(noId.message).to.equal('absent object 0 has an empty id');
      expect(check({ id: 'secret/b', path: '../b', reason: 'gone' }).message).to.equal(
        `absent object 0 has an invalid path "../b": must not contain '..'`,
      );
      for (const reason of ['', 'two\nlines', 'x'.repeat(1025)]) {
        expect(check({ id: 'secret/b', path: 'b', reason }).message).to.equal(
          'absent object 0 needs a reason of 1 to 1024 characters on one line',
        );
      }
    });

    it('accepts one path twice, as upstream: the driver mounts the last file of the path', () => {
      expect(() => {
        checkMountResult(result(['a', 'dir/b', 'a', 'dir/b']));
      }).not.to.throw();
    });

    const refusals: readonly { paths: string[]; message: string }[] = [
      { paths: ['../etc/passwd'], message: `invalid file path "../etc/passwd": must not contain '..'` },
      {
        paths: ['dir/a', 'dir'],
        message: 'invalid file path "dir": is also the directory of another file',
      },
      {
        paths: ['dir', 'dir/a'],
        message: 'invalid file path "dir/a": needs "dir" to be a directory, but it is a file',
      },
    ];
    for (const { paths, message } of refusals) {
      it(`refuses ${JSON.stringify(paths)} as an invalid argument`, () => {
        const error = thrown(() => {
          checkMountResult(result(paths));
        });
        expect(error.kind).to.equal('invalid-argument');
        expect(error.code).to.equal('InvalidFilePath');
        expect(error.message).to.equal(message);
      });
    }

    it('refuses a mode out of range and contents that are not bytes', () => {
      expect(
        thrown(() => {
          checkMountResult(result(['a'], 0o4755));
        }).message,
      ).to.equal('invalid mode 2541 for file "a": must be an integer between 0 and 0o777 (511)');
      const text = {
        ...result(['a']),
        files: [{ path: 'a', mode: 0o644, contents: 'text' as unknown as Uint8Array }],
      };
      expect(
        thrown(() => {
          checkMountResult(text);
        }).message,
      ).to.equal('invalid contents for file "a": must be a Uint8Array (or Buffer)');
    });
  });

  it('names the limit and the flags to raise when a response is too large', () => {
    const error = responseTooLargeError('object "big"', 5_000_000, DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES);
    expect(error.kind).to.equal('resource-exhausted');
    expect(error.code).to.equal('ResponseTooLarge');
    expect(error.message).to.equal(
      'object "big" is 5000000 bytes, over the 4194304-byte limit on a mount response; the driver accepts at ' +
        'most its --max-call-recv-msg-size (4 MiB by default): to send more, raise it on the driver and ' +
        '--max-response-size on this provider to the same value',
    );
  });
});
