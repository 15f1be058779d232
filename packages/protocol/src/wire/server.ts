/**
 * A gRPC server for unary methods over `node:http2` (h2c with prior knowledge), as PROTOCOL-HTTP2.md
 * describes the wire: what a provider process needs instead of @grpc/grpc-js, which cost it about 10 MiB of
 * RSS (a bound grpc-js Server 65.0 MiB against a bound `http2.createServer()` 55.5 MiB, DaemonSet flags).
 *
 * A method is its full path (`/pkg.Service/Method`) and a handler from request bytes to response bytes; a
 * handler fails a call by throwing a GrpcStatusError (anything else it throws is answered UNKNOWN).
 * Where the spec leaves an answer open, the server answers as grpc-go (upstream's providers) does:
 * - `:method` not POST: HTTP 405 + INTERNAL; `content-type` not `application/grpc[+...|;...]`: HTTP 415 +
 *   INVALID_ARGUMENT; malformed `grpc-timeout`: HTTP 400 + INTERNAL; all trailers-only;
 * - unknown service or method: UNIMPLEMENTED (`unknown service X`, `unknown method M for service X`);
 * - a `grpc-encoding` other than identity: UNIMPLEMENTED (`grpc-accept-encoding: identity` says what is
 *   accepted); a message with the compressed flag set: INTERNAL;
 * - a message over the receive limit: RESOURCE_EXHAUSTED, read no further; no message or more than one:
 *   INTERNAL (grpc-js answers UNIMPLEMENTED there; the gRPC maintainers settled on INTERNAL);
 * - at the `grpc-timeout` deadline the handler's signal aborts and DEADLINE_EXCEEDED is answered; a client
 *   that resets the stream aborts the signal and is sent nothing.
 * An answer sent before the client ended its side is followed by RST_STREAM(NO_ERROR), as the spec asks.
 * No error of a stream or a connection reaches the process: a client that goes away or sends garbage only
 * loses its own stream or connection.
 */
import {
  constants as h2,
  createServer,
  type Http2Server,
  type Http2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http2';
import {
  GrpcStatusError,
  StatusCode,
  encodeGrpcMessage,
  isGrpcStatusError,
  metadataHeaders,
  parseGrpcTimeout,
  type GrpcStatus,
} from './status.js';

/** grpc's default largest received message: 4 MiB. */
export const DEFAULT_MAX_RECEIVE_MESSAGE_SIZE_IN_BYTES = 4 * 1024 * 1024;

/** Where a server listens, as core's `parseEndpoint` reads `--endpoint`. */
export type ListenTarget =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

export interface UnaryCallContext {
  /** The method's full path, `/pkg.Service/Method`. */
  readonly path: string;
  /** Aborts when the client cancels, the deadline passes, or the server is closed by force. */
  readonly signal: AbortSignal;
  /** The client's deadline (milliseconds since the epoch), `undefined` when it sent none. */
  readonly deadline: number | undefined;
  /** The request's custom metadata (`-bin` values as sent, base64). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Answers a request message with a response message; throws a GrpcStatusError to fail the call. */
export type UnaryHandler = (
  request: Uint8Array,
  context: UnaryCallContext,
) => Uint8Array | Promise<Uint8Array>;

/**
 * How a call to a registered method ended: its status (sent, or DEADLINE_EXCEEDED when the client reset the
 * stream as the deadline came), or cancelled by the client before its deadline (nothing sent).
 */
export type CallEnd =
  { readonly cancelled: false; readonly status: GrpcStatus } | { readonly cancelled: true };

export interface UnaryServerOptions {
  /** The largest request message taken; 4 MiB by default. */
  readonly maxReceiveMessageSizeInBytes?: number;
  /**
   * Called as a call to a registered method starts; the function it returns is called once, when the call
   * ends. Where a server logs and measures its calls.
   */
  readonly onCall?: (call: {
    readonly path: string;
    readonly deadline: number | undefined;
  }) => ((end: CallEnd) => void) | undefined;
}

export interface UnaryServer {
  /** Registers `handler` for `path` (`/pkg.Service/Method`); a later registration of the path replaces it. */
  register(path: string, handler: UnaryHandler): void;
  /** Listens on a unix socket or a TCP address; resolves with the TCP port (0 for a socket). */
  listen(target: ListenTarget): Promise<number>;
  /**
   * Graceful shutdown: stops accepting connections, sends GOAWAY on each, and resolves once the calls in
   * flight have ended and every connection is closed.
   */
  close(): Promise<void>;
  /** Ends everything now: calls in flight are aborted (their clients see the connection close). */
  forceClose(): void;
  /** Calls in flight. */
  readonly inFlight: number;
}

const RESPONSE_CONTENT_TYPE = 'application/grpc+proto';
/**
 * A client enforces the deadline it sent too, and resets the stream when it passes; its reset can arrive
 * before our timer fires, because our clock starts when we read the headers: the time they waited for a busy
 * event loop moves our deadline later than the client's (25 ms of slack was not enough on a loaded CI
 * machine). A reset within the last second of the deadline, or its last half when it is shorter than two
 * seconds, is the deadline; a real cancel that late is reported as the deadline it nearly was.
 */
const DEADLINE_RACE_MAX_MS = 1000;
const deadlineRaceMs = (timeoutInMs: number): number => Math.min(DEADLINE_RACE_MAX_MS, timeoutInMs / 2);
/** Request header fields that are the transport's, not the application's metadata. */
const TRANSPORT_HEADERS = new Set(['content-type', 'te', 'user-agent', 'host', 'connection']);

function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.toLowerCase();
  return (
    type === 'application/grpc' ||
    type.startsWith('application/grpc+') ||
    type.startsWith('application/grpc;')
  );
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function requestMetadata(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(':') || key.startsWith('grpc-') || TRANSPORT_HEADERS.has(key)) continue;
    const text = headerValue(value);
    if (text !== undefined) metadata[key] = text;
  }
  return metadata;
}

/** The status of a handler's failure: its own when it threw one, UNKNOWN with its message otherwise (as grpc-go). */
function statusOfError(error: unknown): GrpcStatus {
  if (isGrpcStatusError(error)) return error.status;
  return { code: StatusCode.UNKNOWN, details: error instanceof Error ? error.message : String(error) };
}

function frame(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.byteLength);
  framed[0] = 0;
  framed.writeUInt32BE(message.byteLength, 1);
  framed.set(message, 5);
  return framed;
}

export function createUnaryServer(options: UnaryServerOptions = {}): UnaryServer {
  const maxReceive = options.maxReceiveMessageSizeInBytes ?? DEFAULT_MAX_RECEIVE_MESSAGE_SIZE_IN_BYTES;
  const handlers = new Map<string, UnaryHandler>();
  const services = new Set<string>();
  const sessions = new Set<Http2Session>();
  let inFlight = 0;
  let closing: Promise<void> | undefined;

  const server: Http2Server = createServer({
    // grpc-js's choice too: Node's 10 MB default counts the responses queued to send, and refuses new
    // streams above it; each call's memory is bounded by the receive limit and the handler's answer.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => {
      // A connection that breaks (reset, garbage instead of the preface) ends; its streams see 'close'.
    });
    session.once('close', () => sessions.delete(session));
    if (closing !== undefined) session.close();
  });
  // Emitted for a connection Node cannot read as HTTP/2; the session is destroyed by Node.
  server.on('sessionError', () => {});
  server.on('stream', (stream, headers) => {
    try {
      serveStream(stream, headers);
    } catch {
      // A stream that broke while its headers were read: nothing more can be said on it.
      if (!stream.destroyed) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    }
  });

  function serveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {
      // A stream reset or broken under us; 'close' follows and ends the call.
    });
    const path = headers[':path'] ?? '';
    let answered = false;
    /** Answers with `status` alone (trailers-only), then resets the stream if the client still sends. */
    const answerTrailersOnly = (status: GrpcStatus, httpStatus = 200, extra: Record<string, string> = {}) => {
      if (answered || stream.destroyed || stream.closed) return false;
      answered = true;
      const trailers = statusHeaders(status);
      try {
        stream.respond(
          {
            ':status': httpStatus,
            'content-type': RESPONSE_CONTENT_TYPE,
            'grpc-accept-encoding': 'identity',
            ...extra,
            ...trailers,
          },
          { endStream: true },
        );
      } catch {
        stream.close(h2.NGHTTP2_INTERNAL_ERROR);
        return true;
      }
      endEarly();
      return true;
    };
    const endEarly = () => {
      if (!stream.readableEnded && !stream.closed) stream.close(h2.NGHTTP2_NO_ERROR);
    };

    if (headers[':method'] !== 'POST') {
      answerTrailersOnly(
        {
          code: StatusCode.INTERNAL,
          details: `invalid gRPC request method ${JSON.stringify(headers[':method'] ?? '')}, which should be POST`,
        },
        405,
        { allow: 'POST' },
      );
      return;
    }
    const contentType = headerValue(headers['content-type']);
    if (!isGrpcContentType(contentType)) {
      answerTrailersOnly(
        {
          code: StatusCode.INVALID_ARGUMENT,
          details: `invalid gRPC request content-type ${JSON.stringify(contentType ?? '')}`,
        },
        415,
      );
      return;
    }
    const timeoutHeader = headerValue(headers['grpc-timeout']);
    const timeoutInMs = timeoutHeader === undefined ? undefined : parseGrpcTimeout(timeoutHeader);
    if (timeoutHeader !== undefined && timeoutInMs === undefined) {
      answerTrailersOnly(
        { code: StatusCode.INTERNAL, details: `malformed grpc-timeout: ${JSON.stringify(timeoutHeader)}` },
        400,
      );
      return;
    }
    const handler = handlers.get(path);
    if (handler === undefined) {
      const slash = path.lastIndexOf('/');
      const service = path.slice(path.startsWith('/') ? 1 : 0, Math.max(slash, 0));
      answerTrailersOnly({
        code: StatusCode.UNIMPLEMENTED,
        details:
          slash <= 0
            ? `malformed method name: ${JSON.stringify(path)}`
            : services.has(service)
              ? `unknown method ${path.slice(slash + 1)} for service ${service}`
              : `unknown service ${service}`,
      });
      return;
    }

    const deadline = timeoutInMs === undefined ? undefined : Date.now() + timeoutInMs;
    const end = options.onCall?.({ path, deadline });
    let ended = false;
    const finish = (callEnd: CallEnd) => {
      if (ended) return;
      ended = true;
      inFlight--;
      clearTimeout(timer);
      stream.off('data', onData);
      end?.(callEnd);
    };
    inFlight++;
    const controller = new AbortController();
    const fail = (status: GrpcStatus) => {
      if (answerTrailersOnly(status)) finish({ cancelled: false, status });
      if (!controller.signal.aborted) controller.abort(new GrpcStatusError(status.code, status.details));
    };

    // setTimeout takes at most 2^31-1 ms (24.8 days); a longer deadline is as good as none.
    const timer =
      timeoutInMs !== undefined && timeoutInMs < 2 ** 31
        ? setTimeout(() => {
            fail({ code: StatusCode.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
          }, timeoutInMs)
        : undefined;

    stream.once('close', () => {
      if (ended) return;
      // The client reset the stream (cancelled) or the connection went: nothing can be sent any more.
      answered = true;
      if (
        timeoutInMs !== undefined &&
        deadline !== undefined &&
        Date.now() >= deadline - deadlineRaceMs(timeoutInMs)
      ) {
        // The client's own deadline timer ended the call as ours was due: the deadline, not a cancel.
        const status: GrpcStatus = { code: StatusCode.DEADLINE_EXCEEDED, details: 'Deadline exceeded' };
        controller.abort(new GrpcStatusError(status.code, status.details));
        finish({ cancelled: false, status });
        return;
      }
      controller.abort(new GrpcStatusError(StatusCode.CANCELLED, 'the client cancelled the call'));
      finish({ cancelled: true });
    });

    const encoding = headerValue(headers['grpc-encoding']);
    if (encoding !== undefined && encoding !== 'identity') {
      fail({
        code: StatusCode.UNIMPLEMENTED,
        details: `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(encoding)}`,
      });
      return;
    }

    // The one message: a 5-byte prefix (compressed flag, big-endian length), then its bytes; memory is
    // bounded by what has actually arrived, and never passes the prefix plus the limit.
    const prefix = Buffer.alloc(5);
    let prefixLength = 0;
    let messageLength = -1;
    let chunks: Buffer[] = [];
    let received = 0;
    let complete = false;
    function onData(chunk: Buffer): void {
      let offset = 0;
      while (offset < chunk.length) {
        if (complete) {
          fail({
            code: StatusCode.INTERNAL,
            details: 'grpc: received more than one request message for a unary method',
          });
          return;
        }
        if (prefixLength < 5) {
          const take = Math.min(5 - prefixLength, chunk.length - offset);
          chunk.copy(prefix, prefixLength, offset, offset + take);
          prefixLength += take;
          offset += take;
          if (prefixLength < 5) return;
          const flag = prefix[0];
          if (flag !== 0) {
            fail({
              code: StatusCode.INTERNAL,
              details:
                flag === 1
                  ? 'grpc: compressed flag set with identity or empty encoding'
                  : `grpc: invalid compressed flag ${flag}`,
            });
            return;
          }
          messageLength = prefix.readUInt32BE(1);
          if (messageLength > maxReceive) {
            fail({
              code: StatusCode.RESOURCE_EXHAUSTED,
              details: `grpc: received message larger than max (${messageLength} vs. ${maxReceive})`,
            });
            return;
          }
        }
        const take = Math.min(messageLength - received, chunk.length - offset);
        if (take > 0) {
          chunks.push(chunk.subarray(offset, offset + take));
          received += take;
          offset += take;
        }
        if (received === messageLength) complete = true;
      }
    }
    stream.on('data', onData);
    stream.once('end', () => {
      if (ended) return;
      if (!complete) {
        fail({
          code: StatusCode.INTERNAL,
          details:
            prefixLength === 0
              ? 'grpc: received no request message for a unary method'
              : 'grpc: the request ended in the middle of a message',
        });
        return;
      }
      const request = Buffer.concat(chunks, received);
      chunks = [];
      run(handler, request);
    });

    function run(method: UnaryHandler, request: Uint8Array): void {
      let work: Promise<Uint8Array>;
      try {
        work = Promise.resolve(
          method(request, { path, signal: controller.signal, deadline, metadata: requestMetadata(headers) }),
        );
      } catch (error) {
        work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      work.then(
        (response) => {
          respond(response);
        },
        (error: unknown) => {
          fail(statusOfError(error));
        },
      );
    }

    function respond(response: Uint8Array): void {
      if (answered || ended) return;
      let body: Buffer;
      try {
        if (!(response instanceof Uint8Array)) throw new Error('the handler answered no bytes');
        if (response.byteLength > 0xffff_ffff) throw new Error('the response message is over 4 GiB');
        body = frame(response);
      } catch (error) {
        fail({
          code: StatusCode.INTERNAL,
          details: `grpc: cannot send the response: ${error instanceof Error ? error.message : String(error)}`,
        });
        return;
      }
      answered = true;
      const status: GrpcStatus = { code: StatusCode.OK, details: '' };
      try {
        stream.respond(
          { ':status': 200, 'content-type': RESPONSE_CONTENT_TYPE, 'grpc-accept-encoding': 'identity' },
          { waitForTrailers: true },
        );
        stream.once('wantTrailers', () => {
          try {
            stream.sendTrailers(statusHeaders(status));
          } catch {
            stream.close(h2.NGHTTP2_INTERNAL_ERROR);
          }
        });
        // One write: the prefix and the message go out as one run of DATA frames.
        stream.end(body);
      } catch {
        // The stream went away under us; its 'close' ends the call as cancelled.
        stream.close(h2.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      finish({ cancelled: false, status });
    }
  }

  return {
    register(path, handler) {
      const slash = path.lastIndexOf('/');
      if (!path.startsWith('/') || slash <= 1 || slash === path.length - 1)
        throw new Error(`a method path is /pkg.Service/Method, not ${JSON.stringify(path)}`);
      handlers.set(path, handler);
      services.add(path.slice(1, slash));
    },

    listen(target) {
      return new Promise<number>((resolve, reject) => {
        const onError = (error: Error) => {
          reject(error);
        };
        server.once('error', onError);
        const onListening = () => {
          server.off('error', onError);
          const address = server.address();
          resolve(typeof address === 'object' && address !== null ? address.port : 0);
        };
        if (target.kind === 'unix') server.listen(target.path, onListening);
        else server.listen(target.port, target.host === '' ? '0.0.0.0' : target.host, onListening);
      });
    },

    close() {
      closing ??= new Promise<void>((resolve) => {
        let pending = 1 + sessions.size;
        const settle = () => {
          if (--pending === 0) resolve();
        };
        if (server.listening) server.close(settle);
        else settle();
        for (const session of sessions) {
          if (session.closed || session.destroyed) settle();
          else {
            session.once('close', settle);
            // GOAWAY now; the session closes once its streams have ended.
            session.close();
          }
        }
      });
      return closing;
    },

    forceClose() {
      if (server.listening) server.close();
      for (const session of sessions) session.destroy();
    },

    get inFlight() {
      return inFlight;
    },
  };
}

/** `grpc-status`, `grpc-message` (percent-encoded, only when there is one) and the custom metadata. */
function statusHeaders(status: GrpcStatus): Record<string, string> {
  return {
    ...metadataHeaders(status.metadata),
    'grpc-status': String(status.code),
    ...(status.details === '' ? {} : { 'grpc-message': encodeGrpcMessage(status.details) }),
  };
}
