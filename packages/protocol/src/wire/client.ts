/**
 * A one-shot gRPC unary call over `node:http2`: dial, send one message, read the answer, close. What a
 * provider's healthz probe needs (a fresh connection each time, so a deleted socket fails the check),
 * without @grpc/grpc-js. Every failure is a GrpcStatusError, as grpc names it: a connection that cannot be
 * made or breaks is UNAVAILABLE, the deadline DEADLINE_EXCEEDED.
 */
import {
  connect as h2connect,
  constants as h2,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
} from 'node:http2';
import { connect as netConnect } from 'node:net';
import { DEFAULT_MAX_RECEIVE_MESSAGE_SIZE_IN_BYTES, type ListenTarget } from './server.js';
import {
  GrpcStatusError,
  StatusCode,
  decodeGrpcMessage,
  formatGrpcTimeout,
  metadataHeaders,
  parseStatusCode,
  statusOfHttpStatus,
  type Metadata,
} from './status.js';

export interface UnaryCallOptions {
  /** The call's deadline, from now. */
  readonly timeoutInMs: number;
  /** `:authority`; `localhost` by default, as the driver sends. */
  readonly authority?: string;
  /** The largest response message taken; 4 MiB by default. */
  readonly maxReceiveMessageSizeInBytes?: number;
  readonly metadata?: Metadata;
}

export interface UnaryCallResult {
  readonly response: Uint8Array;
  /** The trailing custom metadata (everything but `grpc-*`). */
  readonly trailers: Readonly<Record<string, string>>;
}

function text(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The status of a stream reset without `grpc-status`, as PROTOCOL-HTTP2.md maps RST_STREAM codes. */
function statusOfResetCode(code: number): StatusCode {
  switch (code) {
    case h2.NGHTTP2_REFUSED_STREAM:
      return StatusCode.UNAVAILABLE;
    case h2.NGHTTP2_CANCEL:
      return StatusCode.CANCELLED;
    case h2.NGHTTP2_ENHANCE_YOUR_CALM:
      return StatusCode.RESOURCE_EXHAUSTED;
    case h2.NGHTTP2_INADEQUATE_SECURITY:
      return StatusCode.PERMISSION_DENIED;
    default:
      return StatusCode.INTERNAL;
  }
}

/** Calls the unary method `path` on `target` over a connection of its own, closed before it settles. */
export function callUnary(
  target: ListenTarget,
  path: string,
  request: Uint8Array,
  options: UnaryCallOptions,
): Promise<UnaryCallResult> {
  const maxReceive = options.maxReceiveMessageSizeInBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_SIZE_IN_BYTES;
  const authority = options.authority ?? 'localhost';
  return new Promise<UnaryCallResult>((resolve, reject) => {
    let settled = false;
    let session: ClientHttp2Session | undefined;
    const settle = (outcome: { error: GrpcStatusError } | { result: UnaryCallResult }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.result);
    };
    const timer = setTimeout(() => {
      settle({ error: new GrpcStatusError(StatusCode.DEADLINE_EXCEEDED, 'Deadline exceeded') });
    }, options.timeoutInMs);
    const unavailable = (error: unknown) => {
      // A stream refused because its connection failed carries the connection's error as its cause.
      const cause: unknown = error instanceof Error && error.cause !== undefined ? error.cause : error;
      const reason = cause instanceof Error ? cause.message : String(cause);
      settle({
        error: new GrpcStatusError(
          StatusCode.UNAVAILABLE,
          `No connection established. Last error: ${reason}`,
        ),
      });
    };

    try {
      session =
        target.kind === 'unix'
          ? h2connect(`http://${authority}`, { createConnection: () => netConnect(target.path) })
          : h2connect(
              `http://${target.host.includes(':') ? `[${target.host}]` : target.host || '127.0.0.1'}:${target.port}`,
            );
    } catch (error) {
      unavailable(error);
      return;
    }
    session.on('error', unavailable);
    session.on('goaway', () => {
      // The stream below ends with what the server said, or with 'close'.
    });

    const framed = Buffer.allocUnsafe(5 + request.byteLength);
    framed[0] = 0;
    framed.writeUInt32BE(request.byteLength, 1);
    framed.set(request, 5);
    const stream = session.request({
      ':method': 'POST',
      ':scheme': 'http',
      ':path': path,
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': formatGrpcTimeout(options.timeoutInMs),
      'grpc-accept-encoding': 'identity',
      'user-agent': 'secrets-store-csi-unary/1',
      ...metadataHeaders(options.metadata),
    });
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // A reset by the server is read from its code on 'close'; anything else is the connection failing.
      if (error.code !== 'ERR_HTTP2_STREAM_ERROR') unavailable(error);
    });

    let responseHeaders: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on('response', (headers) => {
      responseHeaders = headers;
    });
    stream.on('trailers', (headers: IncomingHttpHeaders) => {
      trailers = headers;
    });
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      // A prefix, the largest message taken, and no more: past that the call fails below.
      if (received > 5 + maxReceive + 5) {
        stream.close(h2.NGHTTP2_CANCEL);
        settle({
          error: new GrpcStatusError(
            StatusCode.RESOURCE_EXHAUSTED,
            `grpc: received message larger than max (${received - 5} vs. ${maxReceive})`,
          ),
        });
        return;
      }
      chunks.push(chunk);
    });
    stream.on('close', () => {
      if (settled) return;
      const final = trailers ?? responseHeaders;
      if (responseHeaders === undefined || final?.['grpc-status'] === undefined) {
        if (responseHeaders !== undefined && Number(responseHeaders[':status']) !== 200) {
          const httpStatus = Number(responseHeaders[':status']);
          settle({
            error: new GrpcStatusError(
              statusOfHttpStatus(httpStatus),
              `Received HTTP status code ${httpStatus}`,
            ),
          });
        } else {
          settle({
            error: new GrpcStatusError(
              statusOfResetCode(stream.rstCode),
              `the stream closed without a status (HTTP/2 code ${stream.rstCode})`,
            ),
          });
        }
        return;
      }
      const code = parseStatusCode(text(final['grpc-status']));
      const metadata: Record<string, string> = {};
      for (const [key, value] of Object.entries(final)) {
        if (key.startsWith(':') || key.startsWith('grpc-') || key === 'content-type' || key === 'date')
          continue;
        const joined = text(value);
        if (joined !== undefined) metadata[key] = joined;
      }
      if (code !== StatusCode.OK) {
        settle({
          error: new GrpcStatusError(code, decodeGrpcMessage(text(final['grpc-message']) ?? ''), metadata),
        });
        return;
      }
      const body = Buffer.concat(chunks);
      const length = body.length >= 5 ? body.readUInt32BE(1) : -1;
      if (body.length < 5 || body[0] !== 0 || body.length !== 5 + length) {
        settle({
          error: new GrpcStatusError(
            StatusCode.INTERNAL,
            body.length === 0 ? 'grpc: no response message' : 'grpc: malformed response message',
          ),
        });
        return;
      }
      if (length > maxReceive) {
        settle({
          error: new GrpcStatusError(
            StatusCode.RESOURCE_EXHAUSTED,
            `grpc: received message larger than max (${length} vs. ${maxReceive})`,
          ),
        });
        return;
      }
      settle({ result: { response: body.subarray(5), trailers: metadata } });
    });
    stream.end(framed);
  });
}
