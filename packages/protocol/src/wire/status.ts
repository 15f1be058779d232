/**
 * What the unary transport (server.ts, client.ts) says and reads besides messages: gRPC status codes, the
 * status a call ends with, `grpc-message` percent-encoding and `grpc-timeout`, as PROTOCOL-HTTP2.md defines
 * them. No dependency on @grpc/grpc-js: a provider process serves without loading it.
 */

/** gRPC status codes (the numbers on the wire; grpc-js's `status` enum has the same names and values). */
export const StatusCode = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const);

export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

const codeNames: readonly string[] = Object.keys(StatusCode);

/** `UNAVAILABLE` for 14, as grpc-js names codes in its error messages; `CODE_<n>` outside the list. */
export function statusCodeName(code: number): string {
  return codeNames[code] ?? `CODE_${code}`;
}

/**
 * Custom metadata: lower-case keys, printable-ASCII values (a key ending in `-bin` carries bytes, sent
 * base64-encoded). Several values of one key are joined with `, ` on the way in.
 */
export type Metadata = Readonly<Record<string, string | Uint8Array>>;

/** The status a call ends with, and the custom trailing metadata sent with it. */
export interface GrpcStatus {
  readonly code: StatusCode;
  /** `grpc-message`: any Unicode text; sent UTF-8 and percent-encoded. */
  readonly details: string;
  readonly metadata?: Metadata;
}

/** A call that ended with a status other than OK (thrown by a handler, or by the client). */
export class GrpcStatusError extends Error {
  readonly code: StatusCode;
  readonly details: string;
  readonly metadata: Metadata;

  constructor(code: StatusCode, details: string, metadata: Metadata = {}) {
    // grpc-js's wording (`14 UNAVAILABLE: ...`), which logs and the healthz answer already show.
    super(`${code} ${statusCodeName(code)}: ${details}`);
    this.name = 'GrpcStatusError';
    this.code = code;
    this.details = details;
    this.metadata = metadata;
  }

  get status(): GrpcStatus {
    return { code: this.code, details: this.details, metadata: this.metadata };
  }
}

export function isGrpcStatusError(error: unknown): error is GrpcStatusError {
  return error instanceof GrpcStatusError;
}

/** The status code of a `grpc-status` value: a number 0..16 without leading zeros; UNKNOWN otherwise. */
export function parseStatusCode(value: string | undefined): StatusCode {
  if (value === undefined || !/^(0|[1-9]\d?)$/.test(value)) return StatusCode.UNKNOWN;
  const code = Number(value);
  return (code <= 16 ? code : StatusCode.UNKNOWN) as StatusCode;
}

const HEX = '0123456789ABCDEF';

/**
 * `grpc-message` encoding: the text as UTF-8, each byte outside space..`~` and each `%` written `%XX`.
 * Never throws: a lone surrogate becomes U+FFFD (as Buffer's UTF-8 encoder writes it).
 */
export function encodeGrpcMessage(text: string): string {
  // The common case (plain ASCII without `%`) goes as is.
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/**
 * The text of a percent-encoded `grpc-message`. Never throws: a broken `%` sequence stays as it is, and
 * bytes that are not UTF-8 become U+FFFD, as the spec allows.
 */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let index = 0; index < value.length; index++) {
    const char = value.charCodeAt(index);
    if (char === 0x25 && /^[0-9a-fA-F]{2}$/.test(value.slice(index + 1, index + 3))) {
      bytes.push(Number.parseInt(value.slice(index + 1, index + 3), 16));
      index += 2;
    } else if (char < 0x80) {
      bytes.push(char);
    } else {
      bytes.push(...Buffer.from(value[index] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const timeoutUnitsInMs: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/**
 * A `grpc-timeout` value (1 to 8 digits and a unit: H, M, S, m, u or n) in milliseconds; `undefined` when
 * it is malformed.
 */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * (timeoutUnitsInMs[match[2] ?? ''] ?? Number.NaN);
}

/** `timeoutInMs` as a `grpc-timeout` value: whole milliseconds while they fit in 8 digits, else seconds or more. */
export function formatGrpcTimeout(timeoutInMs: number): string {
  const ms = Math.max(0, Math.ceil(timeoutInMs));
  if (ms < 1e8) return `${ms}m`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 1e8) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}

/** The gRPC status of an HTTP status that came without `grpc-status` (http-grpc-status-mapping.md). */
export function statusOfHttpStatus(httpStatus: number): StatusCode {
  switch (httpStatus) {
    case 400:
      return StatusCode.INTERNAL;
    case 401:
      return StatusCode.UNAUTHENTICATED;
    case 403:
      return StatusCode.PERMISSION_DENIED;
    case 404:
      return StatusCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return StatusCode.UNAVAILABLE;
    default:
      return StatusCode.UNKNOWN;
  }
}

/** A custom metadata key gRPC lets an application send: lower-case token characters, not reserved. */
export function isCustomMetadataKey(key: string): boolean {
  return /^[0-9a-z_.-]+$/.test(key) && !key.startsWith('grpc-');
}

/**
 * Custom metadata as HTTP/2 header fields: `-bin` values base64 (unpadded, as the spec says to emit), text
 * values as they are. An entry that is not sendable (reserved or invalid key, a text value outside printable
 * ASCII) is left out rather than failing the whole answer.
 */
export function metadataHeaders(metadata: Metadata | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (metadata === undefined) return headers;
  for (const [key, value] of Object.entries(metadata)) {
    if (!isCustomMetadataKey(key)) continue;
    if (key.endsWith('-bin')) {
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
      headers[key] = bytes.toString('base64').replace(/=+$/, '');
    } else if (typeof value === 'string' && /^[\x20-\x7e]*$/.test(value)) {
      headers[key] = value.trim();
    }
  }
  return headers;
}
