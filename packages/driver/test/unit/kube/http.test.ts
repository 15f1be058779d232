import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createSecureServer,
  type Http2SecureServer,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki, issueLocalhostServing } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { apiFailure } from '../../../src/kube/api-errors.js';
import { KubeHttp } from '../../../src/kube/http.js';

/**
 * A TLS HTTP/2 stand-in for the API server: answers `GET /ok` with JSON, `GET /missing` with a 404 Status,
 * and `GET /watch` with two events, then holds the stream open. It counts the TLS connections it accepted
 * and keeps the headers of every request.
 */
async function apiServer(dir: string) {
  const pki = await createTestPki(dir);
  const serving = await issueLocalhostServing(pki, 'api');
  const connections = { count: 0 };
  const requests: Record<string, string | string[] | undefined>[] = [];
  const watches: ServerHttp2Stream[] = [];
  const flaky = { failures: 0 };
  const server: Http2SecureServer = createSecureServer({
    cert: await readFile(serving.certPath),
    key: await readFile(serving.keyPath),
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('secureConnection', () => connections.count++);
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    requests.push(headers);
    const path = String(headers[':path']);
    if (path.startsWith('/watch')) {
      watches.push(stream);
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"DELE');
      stream.write('TED","object":{"metadata":{"name":"a"}}}\n');
      return;
    }
    stream.on('error', () => undefined);
    if (path === '/flaky' && flaky.failures-- > 0) {
      // Half an answer, then the connection dies.
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.write('{"partial":');
      setTimeout(() => stream.session?.destroy(), 20);
      return;
    }
    if (path === '/missing') {
      stream.respond({ ':status': 404, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'pods "p" not found' }));
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ path, method: headers[':method'] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    flaky,
    sessions,
    connections,
    requests,
    watches,
    caPath: pki.caCertPath,
    url: `https://localhost:${port}`,
  };
}

describe('KubeHttp over HTTP/2', () => {
  let dir: string;
  let api: Awaited<ReturnType<typeof apiServer>>;
  let http: KubeHttp;

  before(async function () {
    this.timeout(30_000);
    dir = await mkdtemp(join(tmpdir(), 'kube-http-'));
    api = await apiServer(dir);
  });

  after(async () => {
    for (const session of api.sessions) session.destroy();
    await new Promise((resolve) => api.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    http.close();
    for (const stream of api.watches.splice(0)) stream.close();
  });

  it('carries every request and a watch over one TLS connection, however many are in flight', async () => {
    const before = api.connections.count;
    http = new KubeHttp({ server: api.url, ca: { path: api.caPath }, token: 't' }, { userAgent: 'ua' });
    const events: string[] = [];
    await http.watch(
      '/watch',
      (type) => events.push(type),
      () => undefined,
    );
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => http.request(i % 2 === 0 ? 'GET' : 'PUT', `/ok?i=${i}`, { i })),
    );
    expect(answers).to.have.length(50);
    expect(answers[1]).to.deep.equal({ path: '/ok?i=1', method: 'PUT' });
    expect(api.connections.count - before).to.equal(1);
    expect(events).to.deep.equal(['ADDED', 'DELETED']);
  });

  it('sends the User-Agent and the bearer token read from the token file', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'first\n');
    http = new KubeHttp({ server: api.url, ca: { path: api.caPath }, tokenFile }, { userAgent: 'csi/test' });
    await http.request('GET', '/ok');
    expect(api.requests.at(-1)).to.include({ 'user-agent': 'csi/test', authorization: 'Bearer first' });
  });

  it('rejects a non-2xx answer with the status and the Status body that apiFailure reads', async () => {
    http = new KubeHttp({ server: api.url, ca: { path: api.caPath } }, { userAgent: 'ua' });
    const error = await http.request('GET', '/missing').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(apiFailure(error)).to.deep.equal({
      status: 404,
      reason: 'NotFound',
      message: 'pods "p" not found',
    });
  });

  it('refuses a server whose certificate the CA does not vouch for', async () => {
    http = new KubeHttp({ server: api.url }, { userAgent: 'ua' });
    const error = await http.request('GET', '/ok').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/certificate/);
  });

  it('sends a request once more when its stream fails before the whole answer arrived, not twice', async () => {
    http = new KubeHttp({ server: api.url, ca: { path: api.caPath } }, { userAgent: 'ua' });
    api.flaky.failures = 1;
    expect(await http.request('POST', '/flaky', {})).to.deep.equal({ path: '/flaky', method: 'POST' });
    api.flaky.failures = 2;
    const error = await http.request('POST', '/flaky', {}).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).to.be.instanceOf(Error);
    expect(api.flaky.failures).to.equal(0);
  });

  it('opens a new connection after the old one closed', async () => {
    http = new KubeHttp({ server: api.url, ca: { path: api.caPath } }, { userAgent: 'ua' });
    const before = api.connections.count;
    await http.request('GET', '/ok');
    for (const session of api.sessions) session.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await http.request('GET', '/ok');
    expect(api.connections.count - before).to.equal(2);
  });
});
