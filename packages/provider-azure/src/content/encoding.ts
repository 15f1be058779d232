/**
 * `objectEncoding` applied to a secret's text, with Go's decoders' exact behaviour and error texts: users
 * search for `illegal base64 data at input byte N`, and the driver shows the message unchanged.
 */
import { Buffer } from 'node:buffer';
import { contentError } from '../errors.js';

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PAD = 0x3d; // '='
const CR = 0x0d;
const LF = 0x0a;

/** Byte → 6-bit value, 0xff for bytes outside the standard alphabet. */
const BASE64_VALUE: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(0xff);
  for (let i = 0; i < BASE64_ALPHABET.length; i++) table[BASE64_ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Go's `base64.CorruptInputError`: the index of the first byte the decoder could not accept. */
export class Base64InputError extends Error {
  readonly offset: number;

  constructor(offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
    this.name = 'Base64InputError';
    this.offset = offset;
  }
}

/**
 * Go's `base64.StdEncoding.DecodeString`: standard alphabet, padding required, CR and LF skipped anywhere,
 * any other byte (spaces included) rejected. Decoding goes quantum by quantum exactly like Go's
 * `decodeQuantum`, so the offset in the error is the one Go reports (for example 0 for a lone `QQ`, the input
 * length for `QQ=`). Not strict: non-zero trailing bits are accepted, as in Go. Throws `Base64InputError`.
 */
export function decodeBase64Go(src: Uint8Array): Buffer {
  const out: number[] = [];
  let si = 0;
  while (si < src.length) {
    const quantum = [0, 0, 0, 0];
    let length = 4;
    let trailingGarbageAt: number | undefined;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        // Ran out of input inside a quantum: Go reports the quantum's start (j counts only alphabet bytes).
        if (j === 0) return Buffer.from(out);
        throw new Base64InputError(si - j);
      }
      const byte = src[si] ?? 0;
      si++;
      const value = BASE64_VALUE[byte] ?? 0xff;
      if (value !== 0xff) {
        quantum[j] = value;
        continue;
      }
      if (byte === LF || byte === CR) {
        j--;
        continue;
      }
      if (byte !== PAD) throw new Base64InputError(si - 1);
      // Padding: only valid after two or three alphabet bytes, and must end the input.
      if (j === 0 || j === 1) throw new Base64InputError(si - 1);
      if (j === 2) {
        si = skipNewlines(src, si);
        if (si === src.length) throw new Base64InputError(src.length);
        if (src[si] !== PAD) throw new Base64InputError(si - 1);
        si++;
      }
      si = skipNewlines(src, si);
      if (si < src.length) trailingGarbageAt = si;
      length = j;
      break;
    }
    const value =
      ((quantum[0] ?? 0) << 18) | ((quantum[1] ?? 0) << 12) | ((quantum[2] ?? 0) << 6) | (quantum[3] ?? 0);
    const decoded = [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff];
    out.push(...decoded.slice(0, length - 1));
    if (trailingGarbageAt !== undefined) throw new Base64InputError(trailingGarbageAt);
  }
  return Buffer.from(out);
}

function skipNewlines(src: Uint8Array, from: number): number {
  let si = from;
  while (si < src.length && (src[si] === LF || src[si] === CR)) si++;
  return si;
}

/** Hex digit → value, 0xff for anything else (both cases accepted, as in Go). */
function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return 0xff;
}

/** Whether Go's `strconv.IsPrint` holds for the rune with this Latin-1 value. */
function isPrintLatin1(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || (byte >= 0xa1 && byte !== 0xad);
}

/** Go's `hex.InvalidByteError` text: `%#U` of the byte taken as a rune. */
function invalidHexByte(byte: number): string {
  const code = `U+${byte.toString(16).toUpperCase().padStart(4, '0')}`;
  const shown = isPrintLatin1(byte) ? ` '${String.fromCharCode(byte)}'` : '';
  return `encoding/hex: invalid byte: ${code}${shown}`;
}

/**
 * Go's `hex.DecodeString`: pairs are checked left to right, so an invalid byte is reported before an odd
 * length, and a trailing odd byte is checked for validity before the length error.
 */
export function decodeHexGo(src: Uint8Array): Buffer {
  const out = Buffer.alloc(src.length >> 1);
  let i = 0;
  let j = 1;
  for (; j < src.length; j += 2) {
    const high = src[j - 1] ?? 0;
    const low = src[j] ?? 0;
    if (hexValue(high) === 0xff) throw contentError(invalidHexByte(high));
    if (hexValue(low) === 0xff) throw contentError(invalidHexByte(low));
    out[i++] = (hexValue(high) << 4) | hexValue(low);
  }
  if (src.length % 2 === 1) {
    const last = src[j - 1] ?? 0;
    if (hexValue(last) === 0xff) throw contentError(invalidHexByte(last));
    throw contentError('encoding/hex: odd length hex string');
  }
  return out;
}

/**
 * The file bytes for `text` under `objectEncoding`: '' or `utf-8` (any case) the UTF-8 bytes, `base64` and
 * `hex` (any case) the decoded bytes. Errors carry Go's texts, unwrapped, as upstream returns them. Unknown
 * encodings were refused by validation; they are reported here too rather than silently written as text.
 */
export function encodeContent(text: string, encoding: string): Uint8Array {
  const bytes = Buffer.from(text, 'utf8');
  switch (encoding.toLowerCase()) {
    case '':
    case 'utf-8':
      return bytes;
    case 'base64':
      try {
        return decodeBase64Go(bytes);
      } catch (error) {
        if (error instanceof Base64InputError) throw contentError(error.message);
        throw error;
      }
    case 'hex':
      return decodeHexGo(bytes);
    default:
      throw contentError(`invalid objectEncoding: ${encoding}, should be hex, base64 or utf-8`);
  }
}
