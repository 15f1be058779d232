/**
 * One connection to the API server for everything the driver asks it: an HTTP/2 session (as client-go uses)
 * that multiplexes every request and both watches, opened on first use and again after it closes, with a
 * PING every 30 s so a dead connection is noticed and replaced. A plain `http://` server (unit tests only)
 * gets HTTP/1.1 over one keep-alive agent instead.
 *
 * @kubernetes/client-node 2.0.1 built a new undici Agent per request (CA, certificate and key re-read, a new
 * TLS connection each time): 112 sockets after a 110-publish burst and 14 % of CPU in TLS set-up.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import {
  connect,
  constants as http2,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { readPem, type KubeAccess } from './access.js';

/** An API server answer other than 2xx. `code` and `body` are what `apiFailure` reads. */
export class KubeApiError extends Error {
  readonly code: number;
  /** The response body as text (a JSON `Status` from the API server). */
  readonly body: string;

  constructor(method: string, path: string, code: number, body: string) {
    super(`${method} ${path.split('?')[0] ?? ''}: HTTP ${code}`);
    this.name = 'KubeApiError';
    this.code = code;
    this.body = body;
  }
}

export interface KubeHttpOptions {
  readonly userAgent: string;
  /** A request without an answer after this long fails; 60 s by default. Watches have none. */
  readonly requestTimeoutMs?: number;
  /** HTTP/2 PING interval; 30 s by default. */
  readonly pingIntervalMs?: number;
}

interface Response {
  readonly status: number;
  readonly body: Readable;
  /** Stops reading and releases the stream. */
  cancel(): void;
  /** After the body ended: whether it ended as the server meant it to (not reset, not cut short). */
  complete(): Promise<boolean>;
}

const TOKEN_FILE_TTL_MS = 60_000;
/** Repeats of a request whose connection failed (see `request`). */
const TRANSPORT_RETRIES = 1;
/** How long a PING may go unanswered before the connection is replaced. */
const PING_TIMEOUT_MS = 20_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_PING_INTERVAL_MS = 30_000;

export class KubeHttp {
  readonly #access: KubeAccess;
  readonly #userAgent: string;
  readonly #requestTimeoutMs: number;
  readonly #pingIntervalMs: number;
  readonly #http1: Agent | undefined;
  #session: ClientHttp2Session | undefined;
  #token: { value: string; readAt: number } | undefined;
  #closed = false;

  constructor(access: KubeAccess, options: KubeHttpOptions) {
    this.#access = access;
    this.#userAgent = options.userAgent;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    // Plain HTTP is for tests: keep-alive, one socket per concurrent request (watches hold theirs).
    this.#http1 = access.server.startsWith('http:') ? new Agent({ keepAlive: true }) : undefined;
  }

  /**
   * A JSON request; resolves with the parsed body of a 2xx answer, rejects with KubeApiError otherwise. A
   * request whose connection failed before the whole answer arrived (reset stream, GOAWAY, a connection that
   * died) is sent once more on a new connection: every call the driver makes is safe to repeat (a repeated
   * create answers AlreadyExists and a repeated update Conflict, which the adapters already handle).
   */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let text: string;
      let status: number;
      try {
        const response = await this.#send(method, path, body, this.#requestTimeoutMs);
        status = response.status;
        text = await readAll(response.body);
        if (!(await response.complete())) throw new Error(`${method} ${path}: the answer was cut short`);
      } catch (error) {
        if (attempt >= TRANSPORT_RETRIES || this.#closed) throw error;
        continue;
      }
      if (status < 200 || status > 299) throw new KubeApiError(method, path, status, text);
      return text === '' ? {} : (JSON.parse(text) as unknown);
    }
  }

  /**
   * A watch: resolves once the API server answered 200 (rejects otherwise), then calls `onEvent` per event
   * and `onDone` once when the stream ends or fails, unless `abort()` ended it.
   */
  async watch(
    path: string,
    onEvent: (type: string, object: unknown) => void,
    onDone: (error: unknown) => void,
  ): Promise<{ abort(): void }> {
    const response = await this.#send('GET', path, undefined, undefined);
    if (response.status !== 200) {
      throw new KubeApiError('GET', path, response.status, await readAll(response.body));
    }
    let aborted = false;
    let done = false;
    const finish = (error: unknown) => {
      if (done || aborted) return;
      done = true;
      onDone(error);
    };
    let pending = '';
    response.body.setEncoding('utf8');
    response.body.on('data', (chunk: string) => {
      pending += chunk;
      for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() === '' || aborted) continue;
        let event: { type?: unknown; object?: unknown };
        try {
          event = JSON.parse(line) as { type?: unknown; object?: unknown };
        } catch (error) {
          response.cancel();
          finish(
            new Error(`the API server sent a watch event that is not JSON: ${(error as Error).message}`),
          );
          return;
        }
        onEvent(String(event.type), event.object);
      }
    });
    response.body.on('end', () => {
      finish(null);
    });
    response.body.on('error', (error) => {
      finish(error);
    });
    response.body.on('close', () => {
      finish(null);
    });
    return {
      abort() {
        aborted = true;
        response.cancel();
      },
    };
  }

  /** Closes the connection; later requests fail. */
  close(): void {
    this.#closed = true;
    this.#session?.destroy();
    this.#session = undefined;
    this.#http1?.destroy();
  }

  #headers(body: string | undefined): Record<string, string> {
    const headers: Record<string, string> = {
      'user-agent': this.#userAgent,
      accept: 'application/json',
    };
    const authorization = this.#authorization();
    if (authorization !== undefined) headers.authorization = authorization;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return headers;
  }

  #authorization(): string | undefined {
    const access = this.#access;
    if (access.tokenFile !== undefined) {
      const now = Date.now();
      if (this.#token === undefined || now - this.#token.readAt >= TOKEN_FILE_TTL_MS) {
        this.#token = { value: readFileSync(access.tokenFile, 'utf8').trim(), readAt: now };
      }
      return `Bearer ${this.#token.value}`;
    }
    if (access.token !== undefined) return `Bearer ${access.token}`;
    if (access.username !== undefined) {
      return `Basic ${Buffer.from(`${access.username}:${access.password ?? ''}`).toString('base64')}`;
    }
    return undefined;
  }

  async #send(method: string, path: string, body: unknown, timeoutMs: number | undefined): Promise<Response> {
    if (this.#closed) throw new Error('the Kubernetes client is closed');
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = this.#headers(payload);
    return this.#http1 === undefined
      ? this.#sendHttp2(method, path, headers, payload, timeoutMs)
      : this.#sendHttp1(this.#http1, method, path, headers, payload, timeoutMs);
  }

  #sendHttp2(
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
    timeoutMs: number | undefined,
  ): Promise<Response> {
    const session = this.#currentSession();
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = session.request(
          { [http2.HTTP2_HEADER_METHOD]: method, [http2.HTTP2_HEADER_PATH]: path, ...headers },
          { endStream: payload === undefined },
        );
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (timeoutMs !== undefined) {
        stream.setTimeout(timeoutMs, () => {
          stream.close(http2.NGHTTP2_CANCEL);
          reject(new Error(`${method} ${path.split('?')[0] ?? ''}: no answer within ${timeoutMs} ms`));
        });
      }
      stream.once('error', reject);
      stream.once('response', (responseHeaders: IncomingHttpHeaders) => {
        stream.off('error', reject);
        if (timeoutMs !== undefined) stream.setTimeout(0);
        resolve({
          status: Number(responseHeaders[http2.HTTP2_HEADER_STATUS]),
          body: stream,
          cancel: () => {
            stream.close(http2.NGHTTP2_CANCEL);
          },
          complete: async () => {
            if (!stream.closed) await once(stream, 'close');
            return !stream.aborted && stream.rstCode === http2.NGHTTP2_NO_ERROR;
          },
        });
      });
      if (payload !== undefined) stream.end(payload);
    });
  }

  /** The open session, or a new one (its certificate files read now, so rotated ones are picked up). */
  #currentSession(): ClientHttp2Session {
    const existing = this.#session;
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const access = this.#access;
    const host = new URL(access.server).hostname.replace(/^\[|\]$/g, '');
    const servername = access.tlsServerName ?? (isIP(host) === 0 ? host : undefined);
    const session = connect(access.server, {
      ...(access.ca !== undefined && { ca: readPem(access.ca) }),
      ...(access.clientCertificate !== undefined && { cert: readPem(access.clientCertificate) }),
      ...(access.clientKey !== undefined && { key: readPem(access.clientKey) }),
      ...(servername !== undefined && { servername }),
      rejectUnauthorized: access.insecureSkipTlsVerify !== true,
    });
    const forget = () => {
      clearInterval(ping);
      if (this.#session === session) this.#session = undefined;
    };
    // Errors reach the streams that were open; the session is simply replaced on the next request.
    session.on('error', forget);
    session.on('close', forget);
    session.on('goaway', forget);
    const ping = setInterval(() => {
      if (session.closed || session.destroyed) return;
      const timer = setTimeout(() => {
        session.destroy(new Error('the API server did not answer a ping'));
      }, PING_TIMEOUT_MS);
      timer.unref();
      session.ping((error) => {
        clearTimeout(timer);
        if (error !== null) session.destroy(error);
      });
    }, this.#pingIntervalMs);
    ping.unref();
    this.#session = session;
    return session;
  }

  #sendHttp1(
    agent: Agent,
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
    timeoutMs: number | undefined,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${this.#access.server}${path}`, { method, headers, agent });
      if (timeoutMs !== undefined) {
        request.setTimeout(timeoutMs, () => {
          request.destroy(
            new Error(`${method} ${path.split('?')[0] ?? ''}: no answer within ${timeoutMs} ms`),
          );
        });
      }
      request.once('error', reject);
      request.once('response', (response: IncomingMessage) => {
        request.off('error', reject);
        request.setTimeout(0);
        resolve({
          status: response.statusCode ?? 0,
          body: response,
          cancel: () => {
            request.destroy();
          },
          complete: () => Promise.resolve(response.complete),
        });
      });
      request.end(payload);
    });
  }
}

/**
 * The whole body as text; rejects when the stream fails or closes before its end. Listeners rather than
 * `for await`: the async iterator costs a promise and a microtask per chunk, and the driver runs jitless,
 * where every such step is interpreted (kube/http.ts was 5 % of the driver's CPU in a `pnpm bench` profile).
 */
function readAll(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    body.on('data', (chunk: Buffer | string) => {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    });
    body.once('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    body.once('error', reject);
    body.once('close', () => {
      if (!ended) reject(new Error('the answer ended before its body was complete'));
    });
  });
}
