import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { CredentialCache, PodIdentityCredential } from '../../../src/auth/index.js';
import { parseExpiresOn } from '../../../src/auth/pod-identity.js';

interface Answer {
  status: number;
  body: string;
}

describe('PodIdentityCredential (NMI)', () => {
  let server: Server;
  let nmiUrl: string;
  let answer: Answer;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const now = 1_900_000_000_000;

  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    nmiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  const credential = (resource = 'https://vault.azure.net/') =>
    new PodIdentityCredential({
      podNamespace: 'team',
      podName: 'app-0',
      keyVaultResource: resource,
      nmiUrl,
      userAgent: 'my-agent/1',
      now: () => now,
    });
  const ok = (token: Record<string, unknown>, clientid: unknown = 'client-1') =>
    JSON.stringify({ token: { access_token: 'nmi-token', token_type: 'Bearer', ...token }, clientid });
  const failure = async (promise: Promise<unknown>): Promise<Error> =>
    promise.then(
      () => expect.fail('should have failed'),
      (e: unknown) => e as Error,
    );

  it('asks NMI for the Key Vault resource with the pod headers, whatever the scopes', async () => {
    answer = { status: 200, body: ok({ expires_on: 1_900_000_600 }) };
    const token = await credential().getToken(['https://something.else/.default']);
    expect(token).to.deep.equal({
      token: 'nmi-token',
      expiresOnTimestamp: 1_900_000_600_000,
      tokenType: 'Bearer',
    });
    expect(seen).to.have.length(1);
    expect(seen[0]!.url).to.equal('/host/token/?resource=https://vault.azure.net');
    expect(seen[0]!.headers).to.include({ podns: 'team', podname: 'app-0', 'user-agent': 'my-agent/1' });
  });

  it('reads expires_on as a number, a numeric string, or treats it as expired', async () => {
    answer = { status: 200, body: ok({ expires_on: '1900000900' }) };
    expect((await credential().getToken('x')).expiresOnTimestamp).to.equal(1_900_000_900_000);
    answer = { status: 200, body: ok({ expires_on: 'soon' }) };
    expect((await credential().getToken('x')).expiresOnTimestamp).to.equal(now - 3600_000);
    answer = { status: 200, body: ok({}) };
    expect((await credential().getToken('x')).expiresOnTimestamp).to.equal(now - 3600_000);
    expect(parseExpiresOn(12)).to.equal(12_000);
    expect(parseExpiresOn(' 12 ')).to.equal(12_000);
    expect(parseExpiresOn('12.5')).to.equal(undefined);
    expect(parseExpiresOn(null)).to.equal(undefined);
    expect(parseExpiresOn(Number.NaN)).to.equal(undefined);
  });

  it("reports a non-200 answer with upstream's text, without tokens and bounded", async () => {
    answer = { status: 403, body: 'no AzureIdentityBinding for pod team/app-0' };
    const error = await failure(credential().getToken('x'));
    expect(isProviderError(error)).to.be.true;
    expect(error).to.include({ code: 'AuthenticationFailed' });
    expect(error.message).to.equal(
      'nmi response failed with status code: 403, response body: no AzureIdentityBinding for pod team/app-0',
    );

    answer = { status: 500, body: ok({ access_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln' }) };
    const leaky = await failure(credential().getToken('x'));
    expect(leaky.message).to.not.include('eyJ').and.not.include('nmi-token');
    expect(leaky.message).to.include('[redacted]');

    answer = { status: 502, body: 'x'.repeat(10_000) };
    expect((await failure(credential().getToken('x'))).message.length).to.be.below(700);
  });

  it('requires both a token and a client ID', async () => {
    const expected = 'nmi did not return expected values in response: token and clientid';
    answer = { status: 200, body: ok({ expires_on: 1 }, '') };
    expect((await failure(credential().getToken('x'))).message).to.equal(expected);
    answer = { status: 200, body: ok({ access_token: '' }) };
    expect((await failure(credential().getToken('x'))).message).to.equal(expected);
    answer = { status: 200, body: JSON.stringify({ clientid: 'c' }) };
    expect((await failure(credential().getToken('x'))).message).to.equal(expected);
    answer = { status: 200, body: 'not json' };
    expect((await failure(credential().getToken('x'))).message).to.include(
      'failed to unmarshal nmi response',
    );
  });

  it('is what the cache hands out for pod identity, with the cloud of the mount', async () => {
    answer = { status: 200, body: ok({ expires_on: 1_900_000_600 }) };
    const cache = new CredentialCache({ nmiUrl });
    const cloud = {
      name: 'AzureChinaCloud',
      activeDirectoryEndpoint: 'https://login.chinacloudapi.cn/',
      keyVaultEndpoint: 'https://vault.azure.cn/',
      keyVaultDNSSuffix: 'vault.azure.cn',
    };
    const auth = { mode: 'pod-identity', podNamespace: 'team', podName: 'app-1' } as const;
    const pod = cache.get(auth, cloud, '');
    expect(cache.get(auth, cloud, '')).to.equal(pod);
    expect(cache.get({ ...auth, podName: 'app-2' }, cloud, '')).to.not.equal(pod);
    expect(await pod.getToken('x')).to.include({ token: 'nmi-token' });
    expect(seen[0]!.url).to.equal('/host/token/?resource=https://vault.azure.cn');
    expect(seen[0]!.headers).to.include({ podname: 'app-1' });
    answer = { status: 404, body: 'nope' };
    const error = await failure(pod.getToken('x'));
    expect(error.message).to.equal('nmi response failed with status code: 404, response body: nope');
  });

  it('reports an unreachable NMI as StoreUnavailable', async () => {
    const unreachable = new PodIdentityCredential({
      podNamespace: 'a',
      podName: 'b',
      keyVaultResource: 'https://vault.azure.net/',
      nmiUrl: 'http://127.0.0.1:1',
    });
    expect(await failure(unreachable.getToken('x'))).to.include({ code: 'StoreUnavailable' });
  });

  it('names the NMI URL and the cause when NMI cannot be reached (issue 12)', async () => {
    // a port that was free a moment ago: nothing listens there
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const unreachable = new PodIdentityCredential({
      podNamespace: 'a',
      podName: 'b',
      keyVaultResource: 'https://vault.azure.net/',
      nmiUrl: `http://127.0.0.1:${port}`,
    });
    const error = await failure(unreachable.getToken('x'));
    expect(error.message).to.equal(
      `failed to send request to nmi: GET http://127.0.0.1:${port}/host/token/?resource=https://vault.azure.net: ` +
        `the connection to 127.0.0.1:${port} was refused (ECONNREFUSED); nothing listens there ` +
        '(is NMI of aad-pod-identity running on this node?)',
    );
  });
});
