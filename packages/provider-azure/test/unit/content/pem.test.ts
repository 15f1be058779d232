/**
 * PEM in Go's `pem.EncodeToMemory` layout and block reading as repeated `pem.Decode` calls find them. The
 * expected layouts are written out by hand from Go's format (64-column lines, trailing newline).
 */
import { expect } from 'chai';
import { encodePemBlocks, parsePemBlocks, pemBlock } from '../../../src/content/index.js';

const bytes = (length: number, seed = 1): Buffer =>
  Buffer.from(Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff));

describe('content/pem', () => {
  describe('pemBlock', () => {
    it('writes an empty body as BEGIN and END lines only', () => {
      expect(pemBlock('X', new Uint8Array())).to.equal('-----BEGIN X-----\n-----END X-----\n');
    });

    it('writes a short body on one line with a trailing newline', () => {
      expect(pemBlock('CERTIFICATE', Buffer.from('hello'))).to.equal(
        '-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n',
      );
    });

    it('wraps at exactly 64 columns', () => {
      const der = bytes(100);
      const base64 = der.toString('base64');
      expect(base64).to.have.length(136);
      expect(pemBlock('PRIVATE KEY', der)).to.equal(
        `-----BEGIN PRIVATE KEY-----\n${base64.slice(0, 64)}\n${base64.slice(64, 128)}\n${base64.slice(128)}\n-----END PRIVATE KEY-----\n`,
      );
    });

    it('does not add an empty line when the body fills the last line exactly', () => {
      const der = bytes(48);
      const base64 = der.toString('base64');
      expect(base64).to.have.length(64);
      expect(pemBlock('T', der)).to.equal(`-----BEGIN T-----\n${base64}\n-----END T-----\n`);
    });

    it('writes headers Proc-Type first, then sorted, then a blank line (Go layout)', () => {
      const text = pemBlock('RSA PRIVATE KEY', Buffer.from('hi'), [
        ['Zeta', '1'],
        ['DEK-Info', 'AES-128-CBC,00'],
        ['Proc-Type', '4,ENCRYPTED'],
      ]);
      expect(text).to.equal(
        '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\nZeta: 1\n\naGk=\n-----END RSA PRIVATE KEY-----\n',
      );
    });

    it('honours a Uint8Array view into a larger buffer', () => {
      const backing = Buffer.from('xxhelloxx');
      expect(pemBlock('T', backing.subarray(2, 7))).to.equal(
        '-----BEGIN T-----\naGVsbG8=\n-----END T-----\n',
      );
    });
  });

  describe('parsePemBlocks', () => {
    it('reads blocks in order and ignores text around and between them', () => {
      const a = bytes(70, 3);
      const b = bytes(5, 9);
      const text = `Bag Attributes\n  friendlyName: x\n${pemBlock('CERTIFICATE', a)}subject=CN = y\n\n${pemBlock('PRIVATE KEY', b)}trailing`;
      const blocks = parsePemBlocks(text);
      expect(blocks.map((block) => block.type)).to.deep.equal(['CERTIFICATE', 'PRIVATE KEY']);
      expect(Buffer.from(blocks[0]!.der).equals(a)).to.equal(true);
      expect(Buffer.from(blocks[1]!.der).equals(b)).to.equal(true);
      expect(blocks[0]!.headers).to.equal(undefined);
    });

    it('accepts CRLF line endings, trailing blanks and unwrapped or unevenly wrapped bodies', () => {
      const der = bytes(90);
      const base64 = der.toString('base64');
      const text = `-----BEGIN A B-----  \r\n${base64.slice(0, 10)}\r\n ${base64.slice(10)}\t\r\n-----END A B-----\r\n`;
      const blocks = parsePemBlocks(text);
      expect(blocks).to.have.length(1);
      expect(blocks[0]!.type).to.equal('A B');
      expect(Buffer.from(blocks[0]!.der).equals(der)).to.equal(true);
    });

    it('reads headers and keeps them for re-encoding', () => {
      const text =
        '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\naGk=\n-----END RSA PRIVATE KEY-----\n';
      const blocks = parsePemBlocks(text);
      expect(blocks[0]!.headers).to.deep.equal([
        ['Proc-Type', '4,ENCRYPTED'],
        ['DEK-Info', 'AES-128-CBC,00'],
      ]);
      expect(Buffer.from(blocks[0]!.der).toString()).to.equal('hi');
      expect(encodePemBlocks(blocks)).to.equal(text);
    });

    it('skips a block whose body is not base64 and keeps the next one', () => {
      const text = `-----BEGIN BAD-----\n!!!!\n-----END BAD-----\n${pemBlock('GOOD', Buffer.from('ok'))}`;
      expect(parsePemBlocks(text).map((block) => block.type)).to.deep.equal(['GOOD']);
    });

    it('skips a block whose END line is missing or names another type', () => {
      const text = `-----BEGIN OPEN-----\naGk=\n-----END OTHER-----\n${pemBlock('GOOD', Buffer.from('ok'))}`;
      expect(parsePemBlocks(text).map((block) => block.type)).to.deep.equal(['GOOD']);
      expect(parsePemBlocks('-----BEGIN OPEN-----\naGk=\n')).to.deep.equal([]);
    });

    it('finds nothing in text without blocks', () => {
      expect(parsePemBlocks('')).to.deep.equal([]);
      expect(parsePemBlocks('just a secret value')).to.deep.equal([]);
      expect(parsePemBlocks('QUJD')).to.deep.equal([]);
    });

    it('round-trips through encodePemBlocks', () => {
      const text = pemBlock('PRIVATE KEY', bytes(121)) + pemBlock('CERTIFICATE', bytes(300, 5));
      expect(encodePemBlocks(parsePemBlocks(text))).to.equal(text);
    });
  });
});
