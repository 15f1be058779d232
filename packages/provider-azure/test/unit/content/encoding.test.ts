/**
 * `objectEncoding` decoding against Go's own results. Every expected value and error text below was produced
 * by Go 1.26 `base64.StdEncoding.DecodeString` and `hex.DecodeString` on the same input, not by our code.
 */
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { encodeContent } from '../../../src/content/index.js';

/** [input, expected hex output] or [input, Go's error text]. */
type Case = readonly [string, { hex: string } | { error: string }];

function check(encoding: string, [input, expected]: Case): void {
  if ('hex' in expected) {
    expect(Buffer.from(encodeContent(input, encoding)).toString('hex')).to.equal(expected.hex);
    return;
  }
  let caught: unknown;
  try {
    encodeContent(input, encoding);
  } catch (error) {
    caught = error;
  }
  expect(isProviderError(caught), 'a ProviderError').to.equal(true);
  expect((caught as Error).message).to.equal(expected.error);
  expect((caught as { code: string }).code).to.equal('InvalidContent');
}

const label = (input: string): string => JSON.stringify(input);

describe('content/encoding: encodeContent', () => {
  describe('utf-8 and the default', () => {
    for (const encoding of ['', 'utf-8', 'UTF-8', 'Utf-8']) {
      it(`'${encoding}' writes the text's UTF-8 bytes unchanged`, () => {
        const text = 'héllo wörld\n€ "quoted"';
        expect(
          Buffer.from(encodeContent(text, encoding)).equals(
            Buffer.from([
              0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0xc3, 0xb6, 0x72, 0x6c, 0x64, 0x0a, 0xe2, 0x82,
              0xac, 0x20, 0x22, 0x71, 0x75, 0x6f, 0x74, 0x65, 0x64, 0x22,
            ]),
          ),
        ).to.equal(true);
      });
    }
  });

  describe('base64 (Go StdEncoding)', () => {
    const cases: Case[] = [
      ['', { hex: '' }],
      ['QQ==', { hex: '41' }],
      ['QUI=', { hex: '4142' }],
      ['QUJD', { hex: '414243' }],
      ['QUJDRA==', { hex: '41424344' }],
      ['aGVsbG8=', { hex: '68656c6c6f' }],
      // Not strict: non-zero trailing bits are accepted.
      ['QR==', { hex: '41' }],
      // CR and LF are skipped anywhere, also inside the padding.
      ['QUJD\nRA==', { hex: '41424344' }],
      ['QUJD\r\nRA==\n', { hex: '41424344' }],
      ['QU\nI=', { hex: '4142' }],
      ['QQ=\n=', { hex: '41' }],
      ['QUJDRA==\n\n', { hex: '41424344' }],
      ['\n', { hex: '' }],
      // Missing padding / truncated input.
      ['QQ', { error: 'illegal base64 data at input byte 0' }],
      ['Q', { error: 'illegal base64 data at input byte 0' }],
      ['QQ=', { error: 'illegal base64 data at input byte 3' }],
      ['QUJDRA', { error: 'illegal base64 data at input byte 4' }],
      ['QUJDRA=', { error: 'illegal base64 data at input byte 7' }],
      ['aGVsbG8', { error: 'illegal base64 data at input byte 4' }],
      ['48656c6c6f', { error: 'illegal base64 data at input byte 8' }],
      // Bad padding and trailing garbage.
      ['=', { error: 'illegal base64 data at input byte 0' }],
      ['Q===', { error: 'illegal base64 data at input byte 1' }],
      ['QQ=x', { error: 'illegal base64 data at input byte 2' }],
      ['QUJDRA===', { error: 'illegal base64 data at input byte 8' }],
      ['QQ==QQ==', { error: 'illegal base64 data at input byte 4' }],
      ['QUI=x', { error: 'illegal base64 data at input byte 4' }],
      // Invalid characters, including spaces and tabs; offsets count UTF-8 bytes.
      ['aGVs!G8=', { error: 'illegal base64 data at input byte 4' }],
      ['QUJD RA==', { error: 'illegal base64 data at input byte 4' }],
      ['QUJD\t', { error: 'illegal base64 data at input byte 4' }],
      [' ', { error: 'illegal base64 data at input byte 0' }],
      ['héllo', { error: 'illegal base64 data at input byte 1' }],
      ['é', { error: 'illegal base64 data at input byte 0' }],
      ['aGVsbG8-', { error: 'illegal base64 data at input byte 7' }],
      ['aGVsbG8_', { error: 'illegal base64 data at input byte 7' }],
    ];
    for (const c of cases)
      it(`${label(c[0])} → ${JSON.stringify(c[1])}`, () => {
        check('base64', c);
      });

    it('accepts the encoding name in any case', () => {
      check('BASE64', ['QUJD', { hex: '414243' }]);
      check('Base64', ['QQ', { error: 'illegal base64 data at input byte 0' }]);
    });

    it('decodes binary data of every byte value', () => {
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      expect(Buffer.from(encodeContent(all.toString('base64'), 'base64')).equals(all)).to.equal(true);
    });
  });

  describe('hex (Go hex.DecodeString)', () => {
    const cases: Case[] = [
      ['', { hex: '' }],
      ['48656c6c6f', { hex: '48656c6c6f' }],
      ['ABCdef', { hex: 'abcdef' }],
      ['4865g', { error: "encoding/hex: invalid byte: U+0067 'g'" }],
      ['0g', { error: "encoding/hex: invalid byte: U+0067 'g'" }],
      ['g0', { error: "encoding/hex: invalid byte: U+0067 'g'" }],
      ['zz', { error: "encoding/hex: invalid byte: U+007A 'z'" }],
      ['QQ==', { error: "encoding/hex: invalid byte: U+0051 'Q'" }],
      ['=', { error: "encoding/hex: invalid byte: U+003D '='" }],
      ["'", { error: "encoding/hex: invalid byte: U+0027 '''" }],
      [' ', { error: "encoding/hex: invalid byte: U+0020 ' '" }],
      // Non-printable bytes have no quoted form.
      ['\n', { error: 'encoding/hex: invalid byte: U+000A' }],
      ['\u007f0', { error: 'encoding/hex: invalid byte: U+007F' }],
      // Non-ASCII: the first UTF-8 byte is reported, as a Latin-1 rune.
      ['é', { error: "encoding/hex: invalid byte: U+00C3 'Ã'" }],
      ['\u00ad', { error: "encoding/hex: invalid byte: U+00C2 'Â'" }],
      ['486', { error: 'encoding/hex: odd length hex string' }],
      ['48656', { error: 'encoding/hex: odd length hex string' }],
      // A bad trailing byte of an odd-length string is reported before the length.
      ['48g', { error: "encoding/hex: invalid byte: U+0067 'g'" }],
    ];
    for (const c of cases)
      it(`${label(c[0])} → ${JSON.stringify(c[1])}`, () => {
        check('hex', c);
      });

    it('accepts the encoding name in any case', () => {
      check('HEX', ['0aff', { hex: '0aff' }]);
    });
  });

  it('refuses an encoding validation should have stopped', () => {
    check('utf-16', ['x', { error: 'invalid objectEncoding: utf-16, should be hex, base64 or utf-8' }]);
  });
});
