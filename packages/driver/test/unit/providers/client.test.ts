import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { loadProtocol, type provider as wire } from '@secrets-store-csi/protocol';
import type { WireMountRequest } from '@secrets-store-csi/protocol/wire';
import { leaveStaleSocket } from '@secrets-store-csi/test-support';
import { DriverError, ProviderCallError } from '../../../src/errors.js';
import { GrpcProviderClient, GrpcProviderClients } from '../../../src/providers/client.js';

type MountAnswer = (call: grpc.ServerUnaryCall<wire.MountRequest__Output, wire.MountResponse>) => {
  error?: Partial<grpc.ServiceError>;
  response?: wire.MountResponse;
};

const request: WireMountRequest = {
  attributes: '{}',
  secrets: 'null',
  target_path: '/t',
  permission: '420',
  current_object_version: [],
};
const soon = () => new Date(Date.now() + 5000);

describe('GrpcProviderClient', () => {
  let dir: string;
  let server: grpc.Server;
  let answer: MountAnswer;
  let authorities: string[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'provider-client-'));
    authorities = [];
    server = new grpc.Server();
    server.addService(loadProtocol().provider.CSIDriverProvider.service, {
      Mount(
        call: grpc.ServerUnaryCall<wire.MountRequest__Output, wire.MountResponse>,
        callback: grpc.sendUnaryData<wire.MountResponse>,
      ) {
        authorities.push(call.getHost());
        const { error, response } = answer(call);
        if (error) callback(error);
        else callback(null, response);
      },
      Version(_call: unknown, callback: grpc.sendUnaryData<wire.VersionResponse>) {
        callback(null, { version: 'v1alpha1', runtime_name: 'test', runtime_version: '1.2.3' });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix:${join(dir, 'test.sock')}`, grpc.ServerCredentials.createInsecure(), (error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  });

  afterEach(async () => {
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  async function mountError(limit = 4 * 1024 * 1024, socket = join(dir, 'test.sock')): Promise<DriverError> {
    const client = new GrpcProviderClient('test', socket, { maxReceiveMessageBytes: limit });
    try {
      await client.mount(request, { deadline: soon() });
    } catch (error) {
      expect(error).to.be.instanceOf(DriverError);
      return error as DriverError;
    } finally {
      client.close();
    }
    throw new Error('expected the mount to fail');
  }

  it('returns files and versions, dialling with authority localhost', async () => {
    answer = () => ({
      response: {
        files: [{ path: 'a', mode: 0o600, contents: Buffer.from('x') }],
        object_version: [{ id: 'secret/a', version: '1' }],
      },
    });
    const client = new GrpcProviderClient('test', join(dir, 'test.sock'), {
      maxReceiveMessageBytes: 1 << 20,
    });
    const result = await client.mount(request, { deadline: soon() });
    client.close();
    expect(result.objectVersions).to.deep.equal([{ id: 'secret/a', version: '1' }]);
    expect(result.files.map((f) => [f.path, f.mode, Buffer.from(f.contents).toString()])).to.deep.equal([
      ['a', 0o600, 'x'],
    ]);
    expect(authorities).to.deep.equal(['localhost']);
  });

  it('answers Version', async () => {
    const client = new GrpcProviderClient('test', join(dir, 'test.sock'), {
      maxReceiveMessageBytes: 1 << 20,
    });
    expect(await client.version({ deadline: soon() })).to.deep.equal({
      version: 'v1alpha1',
      runtimeName: 'test',
      runtimeVersion: '1.2.3',
    });
    client.close();
  });

  it("turns the provider's error code into the error's code, in upstream's words", async () => {
    answer = () => ({
      response: { error: { code: 'KeyVaultThrottled' }, object_version: [{ id: 'a', version: '1' }] },
    });
    const error = await mountError();
    expect([error.code, error.message]).to.deep.equal([
      'KeyVaultThrottled',
      'mount request failed with provider error code KeyVaultThrottled',
    ]);
  });

  it('makes a hostile provider error code safe for metadata, Event reasons and labels (issue 12)', async () => {
    for (const [raw, safe] of [
      ['Fehlerä', 'Fehler'],
      ['Bad Reason\nInjected: yes', 'Bad_Reason_Injected_yes'],
      ['\t', 'ProviderErrorCode'],
    ]) {
      answer = () => ({
        response: { error: { code: raw }, object_version: [{ id: 'a', version: '1' }] },
      });
      const error = await mountError();
      expect([error.code, error.message]).to.deep.equal([
        safe,
        `mount request failed with provider error code ${safe}`,
      ]);
    }
  });

  it("keeps the provider's gRPC status code for kubelet, as upstream's wrapped error does", async () => {
    answer = () => ({ error: { code: grpc.status.RESOURCE_EXHAUSTED, details: 'throttled' } });
    const error = await mountError();
    expect(error).to.be.instanceOf(ProviderCallError);
    expect((error as ProviderCallError).providerStatus).to.equal(grpc.status.RESOURCE_EXHAUSTED);
    expect(error.message).to.equal('rpc error: code = ResourceExhausted desc = throttled');
  });

  it('refuses an answer without object versions, as upstream', async () => {
    answer = () => ({ response: { files: [{ path: 'a', mode: 0o644, contents: Buffer.from('x') }] } });
    const error = await mountError();
    expect([error.code, error.message]).to.deep.equal(['GRPCProviderError', 'missing object versions']);
  });

  it('returns absent optional objects (field 1000), made one-line and bounded', async () => {
    answer = () => ({
      response: {
        object_version: [{ id: 'secret/a', version: '1' }],
        files: [{ path: 'a', mode: 0o644, contents: Buffer.from('x') }],
        absent_object: [
          { id: 'secret/b', path: 'b', reason: `secret b was not found\nin vault kv ${'x'.repeat(2000)}` },
        ],
      },
    });
    const client = new GrpcProviderClient('test', join(dir, 'test.sock'), {
      maxReceiveMessageBytes: 1 << 20,
    });
    try {
      const result = await client.mount(request, { deadline: soon() });
      expect(result.absentObjects?.map((a) => [a.id, a.path])).to.deep.equal([['secret/b', 'b']]);
      const reason = result.absentObjects?.[0]?.reason ?? '';
      expect(reason.startsWith('secret b was not found in vault kv x')).to.equal(true);
      expect(reason).to.have.length(1024);
    } finally {
      client.close();
    }
  });

  it('accepts no object versions when the provider reports absent objects (every object optional and absent)', async () => {
    answer = () => ({
      response: { absent_object: [{ id: 'secret/b', path: 'b', reason: 'not found in vault kv' }] },
    });
    const client = new GrpcProviderClient('test', join(dir, 'test.sock'), {
      maxReceiveMessageBytes: 1 << 20,
    });
    try {
      const result = await client.mount(request, { deadline: soon() });
      expect(result).to.deep.equal({
        files: [],
        objectVersions: [],
        absentObjects: [{ id: 'secret/b', path: 'b', reason: 'not found in vault kv' }],
      });
    } finally {
      client.close();
    }
  });

  it("writes a provider's gRPC error as Go does", async () => {
    answer = () => ({ error: { code: grpc.status.INVALID_ARGUMENT, details: 'objects is not set' } });
    const error = await mountError();
    expect([error.code, error.message]).to.deep.equal([
      'GRPCProviderError',
      'rpc error: code = InvalidArgument desc = objects is not set',
    ]);
  });

  it('names --max-call-recv-msg-size when the answer is over the limit', async () => {
    answer = () => ({
      response: {
        files: [{ path: 'big', mode: 0o644, contents: Buffer.alloc(4096) }],
        object_version: [{ id: 'a', version: '1' }],
      },
    });
    const error = await mountError(1024);
    expect(error.code).to.equal('ProviderResponseTooLarge');
    expect(error.message).to.equal(
      'the response of provider "test" is larger than the driver accepts (1024 bytes); raise ' +
        '--max-call-recv-msg-size, or mount fewer or smaller objects per volume',
    );
  });

  it('says which socket did not answer when the provider is gone', async () => {
    const stale = join(dir, 'gone.sock');
    await leaveStaleSocket(stale);
    const client = new GrpcProviderClient('gone', stale, { maxReceiveMessageBytes: 1024 });
    const error = await client
      .mount(request, { deadline: new Date(Date.now() + 300) })
      .catch((e: unknown) => e);
    client.close();
    expect((error as DriverError).code).to.equal('GRPCProviderError');
    expect((error as DriverError).message).to.match(
      new RegExp(
        `^rpc error: code = (Unavailable|DeadlineExceeded) desc = .*\\(provider "gone" is not answering on ${stale}; is it running\\?\\)$`,
      ),
    );
  });
});

describe('GrpcProviderClients', () => {
  it('keeps one client per provider and closes them all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'provider-clients-'));
    try {
      await leaveStaleSocket(join(dir, 'p.sock'));
      const clients = new GrpcProviderClients(
        { additional: [], primary: dir },
        { maxReceiveMessageBytes: 1024 },
      );
      const [a, b] = await Promise.all([clients.get('p'), clients.get('p')]);
      expect(a).to.equal(b);
      expect([...clients.cached().keys()]).to.deep.equal(['p']);
      clients.close();
      expect(clients.cached().size).to.equal(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
