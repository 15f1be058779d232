/**
 * Decodes the JSON string fields of a wire MountRequest (`attributes`, `secrets`, `permission`) the way
 * upstream's Go providers do, with upstream's message prefixes (`failed to unmarshal attributes, error: ...`).
 * The explanations never quote the input: `secrets` and the token attribute hold secrets, and V8's own
 * JSON.parse messages echo part of the text, so syntax errors are located by offset instead.
 */
import type { WireMountRequest } from '@secrets-store-csi/protocol/wire';
import type { MountRequest } from './contract.js';
import { ProviderError, sdkErrorCodes } from './errors.js';
import { MAX_FILE_MODE } from './rules.js';

function invalid(field: string, reason: string): ProviderError {
  return new ProviderError(
    'invalid-argument',
    sdkErrorCodes.invalidMountRequest,
    `failed to unmarshal ${field}, error: ${reason}`,
  );
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function parseJson(field: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(field, jsonSyntaxError(text));
  }
}

/** A JSON object of strings; `null` (Go's encoding of a nil map) is an empty one. */
function decodeStringMap(field: string, text: string): Readonly<Record<string, string>> {
  const value = parseJson(field, text);
  if (value === null) return Object.freeze({});
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(field, `expected a JSON object of strings, got ${typeName(value)}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [key, entry] of entries) {
    if (typeof entry !== 'string') {
      throw invalid(field, `expected a string value for key ${JSON.stringify(key)}, got ${typeName(entry)}`);
    }
  }
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

function decodePermission(text: string): number {
  const value = parseJson('file permission', text);
  if (typeof value !== 'number') {
    throw invalid('file permission', `expected a JSON number, got ${typeName(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_FILE_MODE) {
    throw invalid('file permission', `expected an integer file mode between 0 and 511, got ${value}`);
  }
  return value;
}

/** Decodes the three JSON fields in upstream's order; the first bad one is reported. */
export function decodeMountRequest(wire: WireMountRequest): MountRequest {
  const attributes = decodeStringMap('attributes', wire.attributes);
  const secrets = decodeStringMap('secrets', wire.secrets);
  const defaultFileMode = decodePermission(wire.permission);
  return Object.freeze({
    attributes,
    secrets,
    defaultFileMode,
    currentObjectVersions: Object.freeze(
      wire.current_object_version.map(({ id, version }) => Object.freeze({ id, version })),
    ),
    targetPath: wire.target_path,
  });
}

class SyntaxStop extends Error {
  readonly offset: number;
  constructor(offset: number) {
    super(`JSON syntax error at offset ${offset}`);
    this.offset = offset;
  }
}

const MAX_DEPTH = 1000;

/**
 * Says where `text` stops being JSON, without quoting it: `unexpected end of JSON input` (Go's words) or
 * `invalid character at offset N`. Only called on text JSON.parse refused.
 */
export function jsonSyntaxError(text: string): string {
  let i = 0;
  const stop = (at = i): never => {
    throw new SyntaxStop(at);
  };
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const expect = (char: string) => {
    if (text.charAt(i) !== char) stop();
    i++;
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text.charAt(i) >= '0' && text.charAt(i) <= '9') i++;
    if (i === start) stop();
  };
  const string = () => {
    expect('"');
    for (;;) {
      if (i >= text.length) stop();
      const char = text.charAt(i);
      if (char === '"') {
        i++;
        return;
      }
      if (char < ' ') stop();
      if (char === '\\') {
        i++;
        const escape = text.charAt(i);
        if (escape === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text.charAt(i + k))) stop(i + k);
          i += 5;
        } else {
          if (!'"\\/bfnrt'.includes(escape) || escape === '') stop();
          i++;
        }
      } else {
        i++;
      }
    }
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++) if (text.charAt(i + k) !== word.charAt(k)) stop(i + k);
    i += word.length;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) stop();
    skipSpace();
    const char = text.charAt(i);
    if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']';
      i++;
      skipSpace();
      if (text.charAt(i) === close) {
        i++;
        return;
      }
      for (;;) {
        if (close === '}') {
          skipSpace();
          string();
          skipSpace();
          expect(':');
        }
        value(depth + 1);
        skipSpace();
        if (text.charAt(i) === close) {
          i++;
          return;
        }
        expect(',');
      }
    }
    if (char === '"') {
      string();
      return;
    }
    if (char === 't') {
      literal('true');
      return;
    }
    if (char === 'f') {
      literal('false');
      return;
    }
    if (char === 'n') {
      literal('null');
      return;
    }
    if (char === '-') i++;
    if (text.charAt(i) === '0') i++;
    else digits();
    if (text.charAt(i) === '.') {
      i++;
      digits();
    }
    if (text.charAt(i) === 'e' || text.charAt(i) === 'E') {
      i++;
      if (text.charAt(i) === '+' || text.charAt(i) === '-') i++;
      digits();
    }
  };
  try {
    value(0);
    skipSpace();
    if (i < text.length) stop();
  } catch (error) {
    /* c8 ignore next */
    if (!(error instanceof SyntaxStop)) throw error;
    return error.offset >= text.length
      ? 'unexpected end of JSON input'
      : `invalid character at offset ${error.offset}`;
  }
  /* c8 ignore next */
  return 'invalid JSON';
}
