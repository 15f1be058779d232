/**
 * The unary gRPC server and one-shot client of wire/ (server.ts, client.ts, status.ts) on real unix
 * sockets: against grpc-js's client (what our driver and the tests' ProviderClient dial with), and against
 * raw `node:http2` streams for what no well-behaved client sends (bad headers, no or two messages, the
 * compressed flag, an oversized prefix, garbage instead of HTTP/2).
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  connect as h2connect,
  constants as h2,
  createServer,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type Http2Server,
  type ServerHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  GrpcStatusError,
  StatusCode,
  callUnary,
  createUnaryServer,
  decodeGrpcMessage,
  encodeGrpcMessage,
  formatGrpcTimeout,
  metadataHeaders,
  parseGrpcTimeout,
  parseStatusCode,
  statusCodeName,
  type CallEnd,
  type UnaryCallContext,
  type UnaryServer,
  type UnaryServerOptions,
} from '../src/wire/index.js';

const ECHO = '/test.Echo/Say';
const FAIL = '/test.Echo/Fail';
const HOLD = '/test.Echo/Hold';

function framed(message: Uint8Array, flag = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flag;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

interface RawAnswer {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders | undefined;
  readonly body: Buffer;
  /** What the status came in: the trailers, or the headers of a trailers-only answer. */
  readonly status: IncomingHttpHeaders;
}

describe('wire: the unary gRPC server over node:http2', () => {
  let directory: string;
  let socketPath: string;
  let server: UnaryServer | undefined;
  let ends: { path: string; end: CallEnd }[];
  const held: { context: UnaryCallContext; resolve: (bytes: Uint8Array) => void }[] = [];
  const cleanups: (() => void)[] = [];

  async function start(options: UnaryServerOptions = {}): Promise<UnaryServer> {
    ends = [];
    const started = createUnaryServer({
      onCall:
        ({ path }) =>
        (end) => {
          ends.push({ path, end });
        },
      ...options,
    });
    started.register(ECHO, (request) => request);
    started.register(FAIL, (request) => {
      const text = Buffer.from(request).toString('utf8');
      if (text === 'plain') throw new Error('a plain failure');
      throw new GrpcStatusError(StatusCode.NOT_FOUND, text, {
        'x-secrets-store-error-code': 'ObjectNotFound',
        'trace-bin': new Uint8Array([0, 1, 2, 255]),
        'Bad Key': 'dropped',
        'x-non-ascii': 'dropped é',
      });
    });
    started.register(
      HOLD,
      (_request, context) =>
        new Promise<Uint8Array>((resolve) => {
          held.push({ context, resolve });
        }),
    );
    await started.listen({ kind: 'unix', path: socketPath });
    server = started;
    return started;
  }

  function grpcClient(options: grpc.ChannelOptions = {}): grpc.Client {
    const client = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      ...options,
    });
    cleanups.push(() => {
      client.close();
    });
    return client;
  }

  function grpcCall(
    client: grpc.Client,
    path: string,
    request: Buffer,
    options: grpc.CallOptions & { metadata?: grpc.Metadata } = {},
  ) {
    return new Promise<{ error: grpc.ServiceError | null; response: Buffer | undefined }>((resolve) => {
      client.makeUnaryRequest(
        path,
        (value: Buffer) => value,
        (value: Buffer) => value,
        request,
        options.metadata ?? new grpc.Metadata(),
        options,
        (error, response) => {
          resolve({ error, response });
        },
      );
    });
  }

  function rawSession(): ClientHttp2Session {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    session.on('error', () => {});
    cleanups.push(() => {
      session.destroy();
    });
    return session;
  }

  /** A call to the handler that holds it, with this grpc-timeout; resolves once the handler has it. */
  async function heldCall(grpcTimeout: string): Promise<ClientHttp2Stream> {
    const stream = rawSession().request({
      ':method': 'POST',
      ':path': HOLD,
      'content-type': 'application/grpc',
      'grpc-timeout': grpcTimeout,
    });
    stream.on('error', () => {});
    stream.end(framed(Buffer.from('x')));
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return stream;
  }

  /** One request on a raw HTTP/2 stream; `body` is written as is (null: the headers end the stream). */
  function raw(
    headers: OutgoingHttpHeaders,
    body: Buffer | null,
    options: { end?: boolean } = {},
  ): Promise<RawAnswer> {
    const session = rawSession();
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': ECHO,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      },
      { endStream: body === null },
    );
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    stream.on('response', (value) => {
      responseHeaders = value;
    });
    stream.on('trailers', (value: IncomingHttpHeaders) => {
      trailers = value;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    if (body !== null) {
      if (options.end === false) stream.write(body);
      else stream.end(body);
    }
    return new Promise((resolve) => {
      stream.on('close', () => {
        resolve({
          headers: responseHeaders,
          trailers,
          body: Buffer.concat(chunks),
          status: trailers ?? responseHeaders,
        });
      });
    });
  }

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wire-server-'));
    socketPath = join(directory, 'unary.sock');
  });

  afterEach(async () => {
    for (const call of held.splice(0)) call.resolve(new Uint8Array());
    for (const cleanup of cleanups.splice(0)) cleanup();
    server?.forceClose();
    server = undefined;
    await rm(directory, { recursive: true, force: true });
  });

  describe('with a grpc-js client', () => {
    it('answers a registered method with its response, and reports the call ended OK', async () => {
      await start();
      const client = grpcClient();
      for (const request of [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(100_000, 7)]) {
        const { error, response } = await grpcCall(client, ECHO, request);
        expect(error).to.equal(null);
        expect(response).to.deep.equal(request);
      }
      expect(ends.map(({ end }) => (end.cancelled ? 'cancelled' : end.status.code))).to.deep.equal([0, 0, 0]);
    });

    it('sends a failure as grpc-status, a percent-encoded grpc-message and custom trailing metadata', async () => {
      await start();
      const client = grpcClient();
      const message = 'object "ключ" not found: 100% \ud800 gone\n';
      const { error } = await grpcCall(client, FAIL, Buffer.from(message, 'utf8'));
      expect(error?.code).to.equal(grpc.status.NOT_FOUND);
      // The lone surrogate was already U+FFFD in the request's UTF-8; the rest comes back whole.
      expect(error?.details).to.equal('object "ключ" not found: 100% \ufffd gone\n');
      expect(error?.metadata.get('x-secrets-store-error-code')).to.deep.equal(['ObjectNotFound']);
      expect(error?.metadata.get('trace-bin')).to.deep.equal([Buffer.from([0, 1, 2, 255])]);
      expect(error?.metadata.get('bad key')).to.deep.equal([]);
      expect(error?.metadata.get('x-non-ascii')).to.deep.equal([]);
    });

    it('answers UNKNOWN with the message when a handler throws something else', async () => {
      await start();
      const { error } = await grpcCall(grpcClient(), FAIL, Buffer.from('plain'));
      expect([error?.code, error?.details]).to.deep.equal([grpc.status.UNKNOWN, 'a plain failure']);
    });

    it('answers INTERNAL when a handler answers something that is not bytes', async () => {
      const running = await start();
      running.register('/test.Echo/Odd', () => 'text' as unknown as Uint8Array);
      const { error } = await grpcCall(grpcClient(), '/test.Echo/Odd', Buffer.from('x'));
      expect([error?.code, error?.details]).to.deep.equal([
        grpc.status.INTERNAL,
        'grpc: cannot send the response: the handler answered no bytes',
      ]);
    });

    it('answers UNIMPLEMENTED for an unknown method or service, as grpc-go words it', async () => {
      await start();
      const client = grpcClient();
      const method = await grpcCall(client, '/test.Echo/Nope', Buffer.from('x'));
      expect([method.error?.code, method.error?.details]).to.deep.equal([
        grpc.status.UNIMPLEMENTED,
        'unknown method Nope for service test.Echo',
      ]);
      const service = await grpcCall(client, '/test.Other/Say', Buffer.from('x'));
      expect([service.error?.code, service.error?.details]).to.deep.equal([
        grpc.status.UNIMPLEMENTED,
        'unknown service test.Other',
      ]);
      expect(ends).to.deep.equal([]);
    });

    it('refuses a message over the receive limit with RESOURCE_EXHAUSTED', async () => {
      await start({ maxReceiveMessageSizeInBytes: 1024 });
      const client = grpcClient();
      const over = await grpcCall(client, ECHO, Buffer.alloc(1025));
      expect([over.error?.code, over.error?.details]).to.deep.equal([
        grpc.status.RESOURCE_EXHAUSTED,
        'grpc: received message larger than max (1025 vs. 1024)',
      ]);
      expect((await grpcCall(client, ECHO, Buffer.alloc(1024))).response).to.have.length(1024);
    });

    it('gives the handler the deadline and the custom metadata, and aborts it at the deadline', async () => {
      await start();
      const metadata = new grpc.Metadata();
      metadata.set('x-request-id', 'abc');
      const deadline = Date.now() + 500;
      const outcome = grpcCall(grpcClient(), HOLD, Buffer.from('x'), { deadline, metadata });
      const { error } = await outcome;
      expect(error?.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
      const [call] = held;
      expect(call?.context.path).to.equal(HOLD);
      expect(call?.context.metadata['x-request-id']).to.equal('abc');
      expect(call?.context.deadline).to.be.within(deadline - 1000, deadline + 1000);
      const { signal } = call!.context;
      if (!signal.aborted) await once(signal, 'abort');
      expect((signal.reason as GrpcStatusError).code).to.equal(StatusCode.DEADLINE_EXCEEDED);
    });

    it('aborts the handler when the client cancels, sends nothing, and reports the call cancelled', async () => {
      await start();
      const client = grpcClient();
      const call = client.makeUnaryRequest(
        HOLD,
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.from('x'),
        () => {},
      );
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      call.cancel();
      const { signal } = held[0]!.context;
      if (!signal.aborted) await once(signal, 'abort');
      expect((signal.reason as GrpcStatusError).code).to.equal(StatusCode.CANCELLED);
      expect(ends).to.deep.equal([{ path: HOLD, end: { cancelled: true } }]);
      held[0]!.resolve(Buffer.from('too late'));
      // The server keeps serving.
      expect((await grpcCall(client, ECHO, Buffer.from('next'))).response?.toString()).to.equal('next');
    });
  });

  describe('with raw HTTP/2 streams', () => {
    it('answers :status 200, application/grpc+proto, the framed message and trailers grpc-status 0', async () => {
      await start();
      const answer = await raw({}, framed(Buffer.from('hi')));
      expect(answer.headers[':status']).to.equal(200);
      expect(answer.headers['content-type']).to.equal('application/grpc+proto');
      expect(answer.headers['grpc-accept-encoding']).to.equal('identity');
      expect(answer.headers['grpc-status']).to.equal(undefined);
      expect(answer.body).to.deep.equal(framed(Buffer.from('hi')));
      expect(answer.trailers?.['grpc-status']).to.equal('0');
      expect(answer.trailers?.['grpc-message']).to.equal(undefined);
    });

    it('takes application/grpc with a +proto or ;parameter suffix', async () => {
      await start();
      for (const type of ['application/grpc+proto', 'application/grpc;charset=utf-8', 'Application/GRPC']) {
        const answer = await raw({ 'content-type': type }, framed(Buffer.from('x')));
        expect(answer.status['grpc-status'], type).to.equal('0');
      }
    });

    it('refuses another content-type with HTTP 415, trailers-only', async () => {
      await start();
      for (const type of ['application/json', 'application/grpcx', undefined]) {
        const answer = await raw({ 'content-type': type }, framed(Buffer.from('x')));
        expect(answer.headers[':status'], String(type)).to.equal(415);
        expect(answer.trailers).to.equal(undefined);
        expect(answer.headers['grpc-status']).to.equal(String(StatusCode.INVALID_ARGUMENT));
        expect(decodeGrpcMessage(String(answer.headers['grpc-message']))).to.equal(
          `invalid gRPC request content-type ${JSON.stringify(type ?? '')}`,
        );
      }
      expect(ends).to.deep.equal([]);
    });

    it('refuses a method other than POST with HTTP 405', async () => {
      await start();
      const answer = await raw({ ':method': 'PUT' }, null);
      expect([answer.headers[':status'], answer.headers['grpc-status'], answer.headers.allow]).to.deep.equal([
        405,
        String(StatusCode.INTERNAL),
        'POST',
      ]);
    });

    it('refuses a malformed grpc-timeout with HTTP 400, and reads every unit', async () => {
      await start();
      for (const value of ['18f6n', '1', '123456789S', '-1S', 'S']) {
        const answer = await raw({ 'grpc-timeout': value }, framed(Buffer.from('x')));
        expect([answer.headers[':status'], answer.headers['grpc-status']], value).to.deep.equal([
          400,
          String(StatusCode.INTERNAL),
        ]);
      }
      for (const value of ['1H', '1M', '99999999S', '10000m', '5000000u', '99999999u']) {
        const answer = await raw({ 'grpc-timeout': value }, framed(Buffer.from('x')));
        expect(answer.status['grpc-status'], value).to.equal('0');
      }
    });

    // How the server ends a call whose deadline passed, whichever side noticed first.
    const deadlineExceededEnd = {
      path: HOLD,
      end: { cancelled: false, status: { code: StatusCode.DEADLINE_EXCEEDED, details: 'Deadline exceeded' } },
    };

    it('answers DEADLINE_EXCEEDED itself at the deadline, and aborts the handler', async () => {
      await start();
      const answer = await raw({ ':path': HOLD, 'grpc-timeout': '300m' }, framed(Buffer.from('x')));
      expect(answer.headers[':status']).to.equal(200);
      expect(answer.status['grpc-status']).to.equal(String(StatusCode.DEADLINE_EXCEEDED));
      expect(held[0]?.context.signal.aborted).to.equal(true);
      expect(ends).to.deep.equal([deadlineExceededEnd]);
    });

    it('ends a call the client resets as its deadline comes as DEADLINE_EXCEEDED, not cancelled', async () => {
      await start();
      const stream = await heldCall('200m');
      // As grpc-js does at its own deadline: a reset before the server's timer is due, here by 80 ms, as when
      // the server read the headers late on a busy event loop (its clock then started late).
      const deadline = held[0]!.context.deadline!;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now() - 80)));
      stream.close(h2.NGHTTP2_CANCEL);
      const { signal } = held[0]!.context;
      if (!signal.aborted) await once(signal, 'abort');
      expect((signal.reason as GrpcStatusError).code).to.equal(StatusCode.DEADLINE_EXCEEDED);
      expect(ends).to.deep.equal([deadlineExceededEnd]);
    });

    it('answers INTERNAL when the request has no message', async () => {
      await start();
      for (const body of [null, Buffer.alloc(0)]) {
        const answer = await raw({}, body);
        expect(answer.status['grpc-status']).to.equal(String(StatusCode.INTERNAL));
        expect(answer.status['grpc-message']).to.equal(
          'grpc: received no request message for a unary method',
        );
      }
    });

    it('answers INTERNAL when a unary request has two messages, or ends inside one', async () => {
      await start();
      const two = await raw({}, Buffer.concat([framed(Buffer.from('a')), framed(Buffer.from('b'))]));
      expect(two.status['grpc-status']).to.equal(String(StatusCode.INTERNAL));
      expect(two.status['grpc-message']).to.equal(
        'grpc: received more than one request message for a unary method',
      );
      const cut = await raw({}, framed(Buffer.from('abcdef')).subarray(0, 8));
      expect(cut.status['grpc-status']).to.equal(String(StatusCode.INTERNAL));
      expect(cut.status['grpc-message']).to.equal('grpc: the request ended in the middle of a message');
      const prefixOnly = await raw({}, Buffer.from([0, 0, 0]));
      expect(prefixOnly.status['grpc-status']).to.equal(String(StatusCode.INTERNAL));
      expect(ends.every(({ end }) => !end.cancelled && end.status.code === StatusCode.INTERNAL)).to.equal(
        true,
      );
    });

    it('answers INTERNAL for the compressed flag, UNIMPLEMENTED for an encoding it lacks', async () => {
      await start();
      const compressed = await raw({}, framed(Buffer.from('x'), 1));
      expect([compressed.status['grpc-status'], compressed.status['grpc-message']]).to.deep.equal([
        String(StatusCode.INTERNAL),
        'grpc: compressed flag set with identity or empty encoding',
      ]);
      const badFlag = await raw({}, framed(Buffer.from('x'), 7));
      expect(badFlag.status['grpc-status']).to.equal(String(StatusCode.INTERNAL));
      const gzip = await raw({ 'grpc-encoding': 'gzip' }, framed(Buffer.from('x'), 1));
      expect([gzip.status['grpc-status'], gzip.headers['grpc-accept-encoding']]).to.deep.equal([
        String(StatusCode.UNIMPLEMENTED),
        'identity',
      ]);
      const identity = await raw({ 'grpc-encoding': 'identity' }, framed(Buffer.from('x')));
      expect(identity.status['grpc-status']).to.equal('0');
    });

    it('refuses an oversized message from its prefix alone, without waiting for (or keeping) the rest', async () => {
      await start({ maxReceiveMessageSizeInBytes: 4 * 1024 * 1024 });
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(512 * 1024 * 1024, 1);
      // The client never ends its side: the answer comes from the prefix, then the stream is reset.
      const answer = await raw({}, Buffer.concat([prefix, Buffer.alloc(1000)]), { end: false });
      expect(answer.status['grpc-status']).to.equal(String(StatusCode.RESOURCE_EXHAUSTED));
      expect(answer.status['grpc-message']).to.equal(
        'grpc: received message larger than max (536870912 vs. 4194304)',
      );
    });

    it('reports a client reset long before its deadline as a cancelled call and keeps serving', async () => {
      await start();
      const stream = await heldCall('10S');
      stream.close(h2.NGHTTP2_CANCEL);
      const { signal } = held[0]!.context;
      if (!signal.aborted) await once(signal, 'abort');
      expect(ends).to.deep.equal([{ path: HOLD, end: { cancelled: true } }]);
      expect((await raw({}, framed(Buffer.from('after')))).status['grpc-status']).to.equal('0');
    });

    it('answers any request body with a status, and keeps serving (fixed seed)', async function () {
      // A body the client never ends is answered at its 100 ms deadline.
      this.timeout(60_000);
      await start({ maxReceiveMessageSizeInBytes: 64 });
      const chunkedBody = fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 });
      await fc.assert(
        fc.asyncProperty(chunkedBody, fc.boolean(), async (chunks, end) => {
          const answer = await raw({ 'grpc-timeout': '100m' }, Buffer.concat(chunks), { end });
          const code = Number(answer.status['grpc-status']);
          expect(code).to.be.oneOf([StatusCode.OK, StatusCode.INTERNAL, StatusCode.RESOURCE_EXHAUSTED, 4]);
        }),
        { seed: 1313, numRuns: 60 },
      );
      expect((await raw({}, framed(Buffer.from('ok')))).status['grpc-status']).to.equal('0');
    });

    it('survives garbage instead of HTTP/2, and a client that goes away mid-request', async () => {
      await start();
      const garbage = netConnect(socketPath);
      garbage.on('error', () => {});
      garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      garbage.write(Buffer.alloc(100, 0xff));
      garbage.resume();
      await once(garbage, 'close');

      const session = rawSession();
      const stream = session.request({
        ':method': 'POST',
        ':path': ECHO,
        'content-type': 'application/grpc',
      });
      stream.on('error', () => {});
      stream.write(framed(Buffer.alloc(100_000)).subarray(0, 50_000));
      session.destroy();

      const half = netConnect(socketPath);
      half.on('error', () => {});
      half.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      half.destroy();

      expect((await raw({}, framed(Buffer.from('still here')))).body.subarray(5).toString()).to.equal(
        'still here',
      );
    });
  });

  describe('shutdown', () => {
    it('close(): GOAWAY, no new connections, calls in flight finish', async () => {
      const running = await start();
      const session = rawSession();
      const goaway = once(session, 'goaway');
      const stream = session.request({
        ':method': 'POST',
        ':path': HOLD,
        'content-type': 'application/grpc',
      });
      stream.on('error', () => {});
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.end(framed(Buffer.from('x')));
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      const closed = running.close();
      await goaway;
      expect(running.inFlight).to.equal(1);
      const refused = await callUnary({ kind: 'unix', path: socketPath }, ECHO, Buffer.from('x'), {
        timeoutInMs: 5000,
      }).catch((error: unknown) => error);
      expect((refused as GrpcStatusError).code).to.equal(StatusCode.UNAVAILABLE);
      held[0]!.resolve(Buffer.from('done'));
      await once(stream, 'close');
      expect(Buffer.concat(chunks)).to.deep.equal(framed(Buffer.from('done')));
      await closed;
      expect(running.inFlight).to.equal(0);
    });

    it('forceClose(): aborts calls in flight', async () => {
      const running = await start();
      const outcome = grpcCall(grpcClient(), HOLD, Buffer.from('x'));
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      running.forceClose();
      expect((await outcome).error?.code).to.be.oneOf([grpc.status.UNAVAILABLE, grpc.status.INTERNAL]);
      expect(held[0]?.context.signal.aborted).to.equal(true);
      expect(ends).to.deep.equal([{ path: HOLD, end: { cancelled: true } }]);
    });
  });

  describe('the one-shot client', () => {
    it('calls over a fresh connection and returns the response', async () => {
      await start();
      const result = await callUnary({ kind: 'unix', path: socketPath }, ECHO, Buffer.from('ping'), {
        timeoutInMs: 5000,
      });
      expect(Buffer.from(result.response).toString()).to.equal('ping');
    });

    it('rejects with the status, message and trailing metadata the server sent', async () => {
      await start();
      const error = (await callUnary({ kind: 'unix', path: socketPath }, FAIL, Buffer.from('ö 50%'), {
        timeoutInMs: 5000,
      }).catch((caught: unknown) => caught)) as GrpcStatusError;
      expect([error.code, error.details, error.message]).to.deep.equal([
        StatusCode.NOT_FOUND,
        'ö 50%',
        '5 NOT_FOUND: ö 50%',
      ]);
      expect(error.metadata['x-secrets-store-error-code']).to.equal('ObjectNotFound');
    });

    it('is UNAVAILABLE without a server and DEADLINE_EXCEEDED past its deadline', async () => {
      const missing = (await callUnary({ kind: 'unix', path: socketPath }, ECHO, Buffer.from('x'), {
        timeoutInMs: 5000,
      }).catch((caught: unknown) => caught)) as GrpcStatusError;
      expect(missing.code).to.equal(StatusCode.UNAVAILABLE);
      expect(missing.message).to.match(/^14 UNAVAILABLE: No connection established\. Last error: .*ENOENT/);
      await start();
      const late = (await callUnary({ kind: 'unix', path: socketPath }, HOLD, Buffer.from('x'), {
        timeoutInMs: 20,
      }).catch((caught: unknown) => caught)) as GrpcStatusError;
      expect(late.code).to.equal(StatusCode.DEADLINE_EXCEEDED);
    });

    it('serves and calls over TCP too', async () => {
      const running = createUnaryServer();
      running.register(ECHO, (request) => request);
      const port = await running.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
      try {
        expect(port).to.be.greaterThan(0);
        const result = await callUnary({ kind: 'tcp', host: '127.0.0.1', port }, ECHO, Buffer.from('tcp'), {
          timeoutInMs: 5000,
        });
        expect(Buffer.from(result.response).toString()).to.equal('tcp');
      } finally {
        await running.close();
      }
    });

    it('refuses a path that is not /pkg.Service/Method at registration', () => {
      const running = createUnaryServer();
      for (const path of ['Say', '/Say', '/svc/', 'svc/Say']) {
        expect(() => {
          running.register(path, (request) => request);
        }, path).to.throw(/a method path is \/pkg.Service\/Method/);
      }
    });
  });
});

describe('wire: the one-shot client against a server that misbehaves', () => {
  let directory: string;
  let server: Http2Server | undefined;
  let answer: (stream: ServerHttp2Stream) => void;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wire-client-'));
    server = createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      answer(stream);
    });
    server.listen(join(directory, 'odd.sock'));
    await once(server, 'listening');
  });

  after(async () => {
    server?.close();
    await rm(directory, { recursive: true, force: true });
  });

  const call = (maxReceiveMessageSizeInBytes?: number) =>
    callUnary({ kind: 'unix', path: join(directory, 'odd.sock') }, '/a.B/C', Buffer.from('x'), {
      timeoutInMs: 5000,
      ...(maxReceiveMessageSizeInBytes === undefined ? {} : { maxReceiveMessageSizeInBytes }),
    }).then(
      () => 'ok',
      (error: unknown) => [(error as GrpcStatusError).code, (error as GrpcStatusError).details],
    );

  it('maps an HTTP status without grpc-status to a gRPC code', async () => {
    answer = (stream) => {
      stream.respond({ ':status': 503 }, { endStream: true });
    };
    expect(await call()).to.deep.equal([StatusCode.UNAVAILABLE, 'Received HTTP status code 503']);
    answer = (stream) => {
      stream.respond({ ':status': 404 }, { endStream: true });
    };
    expect(await call()).to.deep.equal([StatusCode.UNIMPLEMENTED, 'Received HTTP status code 404']);
  });

  it('fails a stream that ends without a status, or an OK without exactly one message', async () => {
    answer = (stream) => {
      stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    };
    expect((await call())[0]).to.equal(StatusCode.INTERNAL);
    answer = (stream) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' },
        { endStream: true },
      );
    };
    expect(await call()).to.deep.equal([StatusCode.INTERNAL, 'grpc: no response message']);
    answer = (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => {
        stream.sendTrailers({ 'grpc-status': '0' });
      });
      stream.end(Buffer.concat([framed(Buffer.from('a')), framed(Buffer.from('b'))]));
    };
    expect(await call()).to.deep.equal([StatusCode.INTERNAL, 'grpc: malformed response message']);
  });

  it('refuses a response over its receive limit', async () => {
    answer = (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => {
        stream.sendTrailers({ 'grpc-status': '0' });
      });
      stream.end(framed(Buffer.alloc(2000)));
    };
    expect(await call(100)).to.deep.equal([
      StatusCode.RESOURCE_EXHAUSTED,
      'grpc: received message larger than max (2000 vs. 100)',
    ]);
    expect(await call(1990)).to.deep.equal([
      StatusCode.RESOURCE_EXHAUSTED,
      'grpc: received message larger than max (2000 vs. 1990)',
    ]);
    expect(await call(2000)).to.equal('ok');
  });
});

describe('wire: status helpers', () => {
  it('percent-encodes grpc-message as the spec says, and decodes it back', () => {
    expect(encodeGrpcMessage('plain text ~!')).to.equal('plain text ~!');
    expect(encodeGrpcMessage('50% done\n')).to.equal('50%25 done%0A');
    expect(encodeGrpcMessage('é')).to.equal('%C3%A9');
    expect(encodeGrpcMessage('\ud800')).to.equal('%EF%BF%BD');
    for (const text of ['50% done\n', 'ключ 🔑', '\t%%41', '']) {
      expect(decodeGrpcMessage(encodeGrpcMessage(text))).to.equal(text);
    }
    expect(decodeGrpcMessage('bad %zz and %4')).to.equal('bad %zz and %4');
    expect(decodeGrpcMessage('%FF')).to.equal('\ufffd');
  });

  it('reads grpc-timeout in every unit, and writes one back', () => {
    expect(
      ['2H', '3M', '4S', '5m', '6000u', '7000000n'].map((value) => parseGrpcTimeout(value)),
    ).to.deep.equal([7_200_000, 180_000, 4000, 5, 6, 7]);
    for (const bad of ['', '1', 'S', '123456789S', '1.5S', '1s', ' 1S']) {
      expect(parseGrpcTimeout(bad), bad).to.equal(undefined);
    }
    expect([formatGrpcTimeout(5000), formatGrpcTimeout(0.2), formatGrpcTimeout(1e9)]).to.deep.equal([
      '5000m',
      '1m',
      '1000000S',
    ]);
    expect(formatGrpcTimeout(1e20)).to.equal('99999999H');
  });

  it('reads grpc-status, names codes, and keeps unsendable metadata out', () => {
    expect(
      ['0', '14', '16', '17', '01', 'x', undefined].map((value) => parseStatusCode(value)),
    ).to.deep.equal([0, 14, 16, 2, 2, 2, 2]);
    expect([statusCodeName(14), statusCodeName(99)]).to.deep.equal(['UNAVAILABLE', 'CODE_99']);
    expect(
      metadataHeaders({
        'x-ok': ' value ',
        'grpc-status': '0',
        Upper: 'x',
        'x-bin': new Uint8Array([251, 255]),
        'x-ctl': 'a\nb',
      }),
    ).to.deep.equal({ 'x-ok': 'value', 'x-bin': '+/8' });
  });
});
