/**
 * PEM reading and writing with Go's `encoding/pem` layout, so files match upstream's byte for byte: consumers
 * diff them, and rotation compares contents.
 */
import { Buffer } from 'node:buffer';
import { Base64InputError, decodeBase64Go } from './encoding.js';

export interface PemBlock {
  /** The label after `BEGIN `, for example `CERTIFICATE` or `PRIVATE KEY`. */
  readonly type: string;
  readonly der: Uint8Array;
  /**
   * RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) in file order; absent when there were none. Kept so that a
   * block re-encoded by `splitCertAndKey` still says what it is, as Go's `pem.EncodeToMemory` does.
   */
  readonly headers?: readonly (readonly [string, string])[];
}

export const CERTIFICATE = 'CERTIFICATE';

/**
 * One PEM block as Go's `pem.EncodeToMemory` writes it: BEGIN line, headers (Proc-Type first, the rest sorted
 * by name, then a blank line), base64 wrapped at 64 columns, END line, trailing newline.
 */
export function pemBlock(type: string, der: Uint8Array, headers: PemBlock['headers'] = []): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let text = `-----BEGIN ${type}-----\n`;
  if (headers.length > 0) {
    const procType = headers.filter(([name]) => name === 'Proc-Type');
    const others = headers
      .filter(([name]) => name !== 'Proc-Type')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, value] of [...procType, ...others]) text += `${name}: ${value}\n`;
    text += '\n';
  }
  for (let i = 0; i < base64.length; i += 64) text += `${base64.slice(i, i + 64)}\n`;
  return `${text}-----END ${type}-----\n`;
}

/** Blocks back to text, each with `pemBlock`. */
export function encodePemBlocks(blocks: readonly PemBlock[]): string {
  return blocks.map((block) => pemBlock(block.type, block.der, block.headers)).join('');
}

const BEGIN = /^-----BEGIN (.*)-----$/;

/**
 * The PEM blocks of `text` in order, the way repeated Go `pem.Decode` calls find them: BEGIN and END lines
 * start a line (trailing spaces and tabs allowed), text outside blocks is ignored, `Name: value` lines right
 * after BEGIN are headers, spaces and tabs inside the body are dropped, and a block whose body is not valid
 * base64 or that has no matching END line is skipped rather than failing the whole text. Duplicate header
 * names keep the last value, as Go's header map does.
 */
export function parsePemBlocks(text: string): PemBlock[] {
  const lines = text.split('\n').map((line) => line.replace(/[ \t\r]+$/, ''));
  const blocks: PemBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const begin = BEGIN.exec(lines[i] ?? '');
    i++;
    if (begin === null) continue;
    const type = begin[1] ?? '';
    const end = `-----END ${type}-----`;
    const headers = new Map<string, string>();
    let j = i;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? '';
      const colon = line.indexOf(':');
      if (colon < 0 || line.startsWith('-----END ')) break;
      headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const body: string[] = [];
    let closed = false;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? '';
      if (line === end) {
        closed = true;
        break;
      }
      // Another BEGIN before our END: Go would not find `\n-----END <type>` in order either; restart there.
      if (BEGIN.test(line)) break;
      body.push(line);
    }
    if (!closed) {
      i = j;
      continue;
    }
    i = j + 1;
    let der: Buffer;
    try {
      der = decodeBase64Go(Buffer.from(body.join('\n').replace(/[ \t]/g, ''), 'latin1'));
    } catch (error) {
      if (error instanceof Base64InputError) continue;
      throw error;
    }
    blocks.push(headers.size > 0 ? { type, der, headers: [...headers.entries()] } : { type, der });
  }
  return blocks;
}
