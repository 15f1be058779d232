import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { KubeAccess } from '../../../src/kube/access.js';
import { createKubeAdapters } from '../../../src/kube/client.js';
import { recordingLogger } from './helpers.js';

/** A stand-in API server that answers every request with a 500 Status and keeps the request headers. */
async function brokenApiServer(): Promise<{ server: Server; url: string; requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((request, response) => {
    requests.push(request.headers);
    response.writeHead(500, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'InternalError', message: 'down' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function accessFor(url: string): KubeAccess {
  return { server: url, token: 'test-token' };
}

describe('createKubeAdapters', () => {
  let api: Awaited<ReturnType<typeof brokenApiServer>>;

  beforeEach(async () => {
    api = await brokenApiServer();
  });

  afterEach(async () => {
    api.server.closeAllConnections();
    await new Promise((resolve) => api.server.close(resolve));
  });

  it('sends its User-Agent and the kubeconfig credentials', async () => {
    const kube = createKubeAdapters({
      access: accessFor(api.url),
      nodeName: 'n',
      driverName: 'secrets-store.csi.k8s.io',
      logger: recordingLogger(),
      userAgent: 'csi-secrets-store/test',
    });
    const error = await kube.pods.get('ns', 'p').then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect([error?.code, error?.message]).to.deep.equal(['Internal', 'failed to get pod ns/p: down']);
    expect(api.requests[0]).to.include({
      'user-agent': 'csi-secrets-store/test',
      authorization: 'Bearer test-token',
    });
  });

  it('start() resolves after the sync timeout when the API server fails, and stop() leaves no timer', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const logger = recordingLogger();
    const kube = createKubeAdapters({
      access: accessFor(api.url),
      nodeName: 'n',
      driverName: 'secrets-store.csi.k8s.io',
      logger,
      informerSyncTimeoutMs: 100,
      informerRestartBackoff: { initialMs: 10, maxMs: 40 },
    });
    const startedAt = Date.now();
    await kube.start();
    expect(Date.now() - startedAt).to.be.within(90, 2_000);
    expect(logger.lines.filter((l) => l.message === 'watch failed; restarting').length).to.be.greaterThan(1);
    expect(api.requests.length).to.be.greaterThan(1);
    expect(logger.lines.map((l) => l.message)).to.include(
      'informers have not synced yet; reads go to the API server until they do',
    );
    await kube.stop();
    expect(timeouts()).to.equal(before);
  });
});
