/**
 * JSON for a string map exactly as Go's `encoding/json` writes a `map[string]string`, so the MountRequest
 * the driver sends is byte-for-byte what upstream's driver sends: keys sorted by their UTF-8 bytes, `<`, `>`
 * and `&` escaped as `\u003c`, `\u003e`, `\u0026`, U+2028 and U+2029 escaped, and a lone surrogate (invalid
 * UTF-8 in Go) written as U+FFFD. Everything else matches `JSON.stringify`.
 */
const goEscapes: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

function goString(text: string): string {
  return JSON.stringify(text.toWellFormed()).replace(/[<>&\u2028\u2029]/g, (c) => goEscapes[c] ?? c);
}

function byUtf8Bytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** `null` for an absent map (Go's nil map), as upstream sends for a volume without node-publish secrets. */
export function goJsonStringMap(map: Readonly<Record<string, string>> | undefined): string {
  if (map === undefined) return 'null';
  const keys = Object.keys(map).sort(byUtf8Bytes);
  return `{${keys.map((key) => `${goString(key)}:${goString(map[key] ?? '')}`).join(',')}}`;
}
