import { once } from 'node:events';
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createMetricsRegistry } from '@secrets-store-csi/core';
import { expect } from 'chai';
import type { MountRequest, MountResult, SecretProvider } from '../../src/contract.js';
import { ProviderError, providerErrorKinds } from '../../src/errors.js';
import { measureMountResponse } from '../../src/mount.js';
import { serve } from '../../src/serve.js';
import {
  FakeProvider,
  ProviderClient,
  driverMountRequest,
  startFakeProviderServer,
  type CallOutcome,
  type FakeProviderServer,
} from '../../src/testing/index.js';
import { leaveStaleSocket } from '@secrets-store-csi/test-support';
import { recordingLogger } from '@secrets-store-csi/core';

const text = (value: string) => new TextEncoder().encode(value);

function failed<T>(outcome: CallOutcome<T>) {
  if (outcome.ok) throw new Error('expected the call to fail');
  return outcome;
}

function succeeded<T>(outcome: CallOutcome<T>): T {
  if (!outcome.ok) throw new Error(`expected success, got ${grpc.status[outcome.code]}: ${outcome.details}`);
  return outcome.response;
}

describe('serve', () => {
  let running: FakeProviderServer | undefined;
  let client: ProviderClient | undefined;

  async function start(options: Parameters<typeof startFakeProviderServer>[0] = {}) {
    running = await startFakeProviderServer(options);
    client = new ProviderClient(running.socketPath);
    return { fake: running.provider, client, running };
  }

  afterEach(async () => {
    client?.close();
    await running?.stop();
    client = undefined;
    running = undefined;
  });

  it('sends absent optional objects in field 1000 only when there are some', async () => {
    const { fake, client } = await start();
    fake.returns({
      files: [{ path: 'a', mode: 0o644, contents: text('x') }],
      objectVersions: [{ id: 'secret/a', version: 'v1' }],
      absentObjects: [{ id: 'secret/b', path: 'dir/b', reason: 'secret b not found in vault kv-b' }],
    });
    const withAbsent = succeeded(await client.mount(driverMountRequest({ parameters: {} })));
    expect(withAbsent.absent_object).to.deep.equal([
      { id: 'secret/b', path: 'dir/b', reason: 'secret b not found in vault kv-b' },
    ]);
    fake.returns({ files: [], objectVersions: [{ id: 'secret/a', version: 'v1' }], absentObjects: [] });
    const without = succeeded(await client.mount(driverMountRequest({ parameters: {} })));
    expect(without.absent_object).to.deep.equal([]);
  });

  it('answers Version with the protocol version and the provider runtime', async () => {
    const { client } = await start();
    expect(succeeded(await client.version())).to.deep.equal({
      version: 'v1alpha1',
      runtime_name: 'FakeProvider',
      runtime_version: '0.0.0-fake',
    });
  });

  it('names the runtime secrets-store-csi-driver-provider-<name> when the provider gives no runtime name', async () => {
    const provider: SecretProvider = {
      name: 'plain',
      version: '1.2.3',
      mount: () => Promise.reject(new Error('unused')),
    };
    const directory = await mkdtemp(join(tmpdir(), 'serve-'));
    const server = await serve(provider, { endpoint: `unix://${directory}/plain.sock`, signals: [] });
    const plainClient = new ProviderClient(join(directory, 'plain.sock'));
    try {
      expect(succeeded(await plainClient.version()).runtime_name).to.equal(
        'secrets-store-csi-driver-provider-plain',
      );
    } finally {
      plainClient.close();
      await server.shutdown();
      await rm(directory, { recursive: true });
    }
  });

  it('makes the socket owner-only', async () => {
    const { running } = await start();
    const stats = await stat(running.socketPath);
    expect(stats.isSocket()).to.equal(true);
    expect(stats.mode & 0o777).to.equal(0o600);
  });

  it('replaces a stale socket, and removes its own on shutdown', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'serve-'));
    const path = join(directory, 'fake.sock');
    await leaveStaleSocket(path);
    const server = await serve(new FakeProvider(), { endpoint: `unix://${path}`, signals: [] });
    const staleClient = new ProviderClient(path);
    try {
      expect(succeeded(await staleClient.version()).version).to.equal('v1alpha1');
    } finally {
      staleClient.close();
      await server.shutdown();
    }
    let code: string | undefined;
    await stat(path).catch((error: unknown) => {
      code = (error as NodeJS.ErrnoException).code;
    });
    expect(code).to.equal('ENOENT');
    await rm(directory, { recursive: true });
  });

  it('refuses to start on a socket another provider serves', async () => {
    const { running } = await start();
    let message: string | undefined;
    await serve(new FakeProvider(), { endpoint: `unix://${running.socketPath}`, signals: [] }).catch(
      (error: unknown) => {
        message = (error as Error).message;
      },
    );
    expect(message).to.equal(
      `${running.socketPath} is in use by a running process; stop it or choose another --endpoint`,
    );
  });

  it('names the address it cannot listen on', async () => {
    let message: string | undefined;
    await serve(new FakeProvider(), { endpoint: 'unix:///nonexistent-dir/fake.sock', signals: [] }).catch(
      (error: unknown) => {
        message = (error as Error).message;
      },
    );
    expect(message).to.match(/^failed to listen on unix:\/nonexistent-dir\/fake.sock: /);
  });

  it('refuses an endpoint it cannot read', async () => {
    let message: string | undefined;
    await serve(new FakeProvider(), { endpoint: 'udp://:1234', signals: [] }).catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.equal('invalid endpoint: udp://:1234');
  });

  it('decodes the request for the provider and encodes its answer', async () => {
    const { fake, client } = await start();
    fake.returns({
      files: [
        { path: 'db/password', mode: 0o600, contents: text('hunter2') },
        { path: 'empty', mode: 0o644, contents: new Uint8Array() },
      ],
      objectVersions: [{ id: 'secret/db', version: 'v7' }],
    });
    const response = succeeded(
      await client.mount(
        driverMountRequest({
          parameters: { objects: 'array: []' },
          podAttributes: { 'csi.storage.k8s.io/pod.name': 'web' },
          secrets: { user: 'admin' },
          permission: 0o640,
          targetPath: '/target',
          currentObjectVersions: [{ id: 'secret/db', version: 'v6' }],
        }),
      ),
    );
    expect(fake.calls).to.have.length(1);
    const request: MountRequest = fake.calls[0]!.request;
    expect(request).to.deep.equal({
      attributes: { 'csi.storage.k8s.io/pod.name': 'web', objects: 'array: []' },
      secrets: { user: 'admin' },
      defaultFileMode: 0o640,
      currentObjectVersions: [{ id: 'secret/db', version: 'v6' }],
      targetPath: '/target',
    });
    expect(response.object_version).to.deep.equal([{ id: 'secret/db', version: 'v7' }]);
    expect(response.error).to.equal(null);
    expect(
      response.files.map((file) => [file.path, file.mode, Buffer.from(file.contents).toString()]),
    ).to.deep.equal([
      ['db/password', 0o600, 'hunter2'],
      ['empty', 0o644, ''],
    ]);
  });

  it('answers a malformed field with InvalidArgument, without calling the provider', async () => {
    const { fake, client } = await start();
    const outcome = failed(
      await client.mount({ ...driverMountRequest({ parameters: {} }), permission: '"0644"' }),
    );
    expect(outcome.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(outcome.details).to.equal(
      'failed to unmarshal file permission, error: expected a JSON number, got a string',
    );
    expect(outcome.errorCode).to.equal('InvalidMountRequest');
    expect(fake.calls).to.have.length(0);
  });

  describe('maps errors to gRPC status in one place', () => {
    const expected = {
      'invalid-argument': grpc.status.INVALID_ARGUMENT,
      'not-found': grpc.status.NOT_FOUND,
      'permission-denied': grpc.status.PERMISSION_DENIED,
      unavailable: grpc.status.UNAVAILABLE,
      'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
      internal: grpc.status.INTERNAL,
    } as const;
    for (const kind of providerErrorKinds) {
      it(`${kind} becomes ${grpc.status[expected[kind]]}`, async () => {
        const { fake, client } = await start();
        fake.fails(new ProviderError(kind, 'KeyVaultThrottled', 'object "db" could not be read'));
        const outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
        expect(outcome.code).to.equal(expected[kind]);
        expect(outcome.details).to.equal('failed to mount objects, error: object "db" could not be read');
        expect(outcome.errorCode).to.equal('KeyVaultThrottled');
      });
    }

    it('any other error becomes Unknown, as a plain Go error does upstream', async () => {
      const { fake, client } = await start();
      fake.fails(new Error('socket hang up'));
      const outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
      expect(outcome.code).to.equal(grpc.status.UNKNOWN);
      expect(outcome.details).to.equal('failed to mount objects, error: socket hang up');
      expect(outcome.errorCode).to.equal('MountFailed');
      fake.fails('a string');
      expect(failed(await client.mount(driverMountRequest({ parameters: {} }))).details).to.equal(
        'failed to mount objects, error: a string',
      );
    });
  });

  it('answers a lone surrogate in a message and a hostile error code, and keeps serving (issue 12)', async () => {
    const { fake, client } = await start();
    fake.fails(new ProviderError('invalid-argument', 'Bad Code\n', 'cloudName "\ud800" is not known'));
    const outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
    expect(outcome.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(outcome.details).to.equal('failed to mount objects, error: cloudName "\ufffd" is not known');
    expect(outcome.errorCode).to.equal('Bad_Code');
    fake.returns({ files: [], objectVersions: [{ id: 'a', version: '1' }] });
    expect(
      succeeded(await client.mount(driverMountRequest({ parameters: {} }))).object_version,
    ).to.have.length(1);
  });

  it('answers INTERNAL when the provider throws outside its promise, and keeps serving (issue 12)', async () => {
    const { fake, client } = await start();
    const original = fake.mount.bind(fake);
    fake.mount = () => {
      throw new Error('synchronous bug');
    };
    const outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
    expect(outcome.code).to.be.oneOf([grpc.status.UNKNOWN, grpc.status.INTERNAL]);
    expect(outcome.details).to.include('synchronous bug');
    fake.mount = original;
    fake.returns({ files: [], objectVersions: [{ id: 'a', version: '1' }] });
    expect(
      succeeded(await client.mount(driverMountRequest({ parameters: {} }))).object_version,
    ).to.have.length(1);
  });

  it("refuses a provider's answer that breaks the rules, naming the rule", async () => {
    const { fake, client } = await start();
    fake.returns({
      files: [{ path: '../escape', mode: 0o644, contents: text('x') }],
      objectVersions: [{ id: 'a', version: '1' }],
    });
    let outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
    expect(outcome.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(outcome.details).to.equal(
      `failed to mount objects, error: invalid file path "../escape": must not contain '..'`,
    );
    fake.returns({ files: [{ path: 'a', mode: 0o644, contents: text('x') }], objectVersions: [] });
    outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
    expect(outcome.code).to.equal(grpc.status.INTERNAL);
    expect(outcome.errorCode).to.equal('MissingObjectVersions');
  });

  describe('the response size limit', () => {
    /** A result whose encoded response is exactly `size` bytes. */
    function resultOfSize(size: number): MountResult {
      const make = (length: number): MountResult => ({
        files: [{ path: 'big', mode: 0o644, contents: new Uint8Array(length) }],
        objectVersions: [{ id: 'file/big', version: 'v1' }],
      });
      const measure = (result: MountResult) =>
        measureMountResponse({
          object_version: [...result.objectVersions],
          files: result.files.map((file) => ({ ...file })),
        });
      const guess = size - 100;
      const exact = make(guess + size - measure(make(guess)));
      expect(measure(exact)).to.equal(size);
      return exact;
    }

    it('sends a response of exactly 4 MiB, which the driver receives', async () => {
      const { fake, client } = await start();
      fake.returns(resultOfSize(4 * 1024 * 1024));
      const response = succeeded(await client.mount(driverMountRequest({ parameters: {} })));
      expect(response.files[0]!.contents.length).to.be.greaterThan(4 * 1024 * 1024 - 100);
    });

    it('refuses one byte more with ResourceExhausted, naming the limit and how to raise it', async () => {
      const logger = recordingLogger();
      const { fake, client } = await start({ logger });
      fake.returns(resultOfSize(4 * 1024 * 1024 + 1));
      const outcome = failed(await client.mount(driverMountRequest({ parameters: {} })));
      expect(outcome.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect(outcome.errorCode).to.equal('ResponseTooLarge');
      expect(outcome.details).to.equal(
        'failed to mount objects, error: the mount response is 4194305 bytes, over the 4194304-byte limit on a ' +
          'mount response; the driver accepts at most its --max-call-recv-msg-size (4 MiB by default): to send ' +
          'more, raise it on the driver and --max-response-size on this provider to the same value',
      );
    });

    it('honours a configured limit, and warns above 1 MiB that secret sync may fail', async () => {
      const logger = recordingLogger();
      const { fake, client } = await start({ logger, maxResponseSizeInBytes: 2 * 1024 * 1024 });
      fake.returns(resultOfSize(2 * 1024 * 1024 + 1));
      expect(failed(await client.mount(driverMountRequest({ parameters: {} }))).details).to.contain(
        'is 2097153 bytes, over the 2097152-byte limit',
      );
      fake.returns(resultOfSize(1024 * 1024 + 1));
      succeeded(await client.mount(driverMountRequest({ parameters: {} })));
      expect(logger.lines.filter((line) => line.level === 'warn')).to.deep.equal([
        {
          level: 'warn',
          message: 'mount response above 1 MiB, syncing it to a Kubernetes Secret may fail',
          fields: { sizeInBytes: 1024 * 1024 + 1 },
        },
      ]);
    });
  });

  it('keeps secret values and tokens out of error messages and logs', async () => {
    const logger = recordingLogger();
    const { fake, client } = await start({ logger });
    const token = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
    fake.fails(
      new ProviderError('permission-denied', 'Forbidden', `login as admin/s3cr3t-pass with ${token} refused`),
    );
    const outcome = failed(
      await client.mount(
        driverMountRequest({
          parameters: {},
          podAttributes: {
            'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({
              aud: { token, expirationTimestamp: 'x' },
            }),
          },
          secrets: { clientsecret: 's3cr3t-pass' },
        }),
      ),
    );
    expect(outcome.details).to.equal(
      'failed to mount objects, error: login as admin/[REDACTED] with [REDACTED] refused',
    );
    const logged = JSON.stringify(logger.lines);
    expect(logged).not.to.contain('s3cr3t-pass');
    expect(logged).not.to.contain(token);
    expect(logger.lines.find((line) => line.level === 'error')).to.deep.equal({
      level: 'error',
      message: 'failed to process mount request',
      fields: { error: outcome.details, code: 'Forbidden' },
    });
  });

  it('logs each call and records it in the grpc_request histogram, from one call recorder', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const logger = recordingLogger();
    const { fake, client } = await start({ registry, logger });
    succeeded(await client.version());
    fake.fails(new ProviderError('not-found', 'ObjectNotFound', 'object "x" not found'));
    failed(await client.mount(driverMountRequest({ parameters: {} })));
    const metrics = await registry.metrics();
    expect(metrics).to.contain('# HELP grpc_request Distribution of how long it took for the gRPC requests');
    expect(metrics).to.contain(
      'grpc_request_count{grpc_method="/v1alpha1.CSIDriverProvider/Version",grpc_code="OK",grpc_message="",' +
        `provider="fake",os_type="${process.platform}",service_name="csi-secrets-store-provider-fake"} 1`,
    );
    expect(metrics).to.contain(
      'grpc_request_count{grpc_method="/v1alpha1.CSIDriverProvider/Mount",grpc_code="NotFound",' +
        'grpc_message="ObjectNotFound",provider="fake"',
    );
    const buckets = [
      ...metrics.matchAll(
        /grpc_request_bucket\{le="([^"]+)",grpc_method="\/v1alpha1.CSIDriverProvider\/Version"/g,
      ),
    ].map((match) => match[1]);
    expect(buckets).to.deep.equal([
      '0.1',
      '0.2',
      '0.3',
      '0.4',
      '0.5',
      '1',
      '1.5',
      '2',
      '2.5',
      '3',
      '5',
      '10',
      '15',
      '30',
      '+Inf',
    ]);
    const debug = logger.lines
      .filter((line) => line.level === 'debug')
      .map((line) => [line.message, line.fields.method, line.fields.code]);
    expect(debug).to.deep.equal([
      ['gRPC request', '/v1alpha1.CSIDriverProvider/Version', undefined],
      ['gRPC response', '/v1alpha1.CSIDriverProvider/Version', 'OK'],
      ['gRPC request', '/v1alpha1.CSIDriverProvider/Mount', undefined],
      ['gRPC response', '/v1alpha1.CSIDriverProvider/Mount', 'NotFound'],
    ]);
  });

  it('reuses a grpc_request histogram already in the registry', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const first = await startFakeProviderServer({ registry });
    const second = await startFakeProviderServer({ registry });
    await first.stop();
    await second.stop();
  });

  it('aborts the mount when the driver cancels the call, and records Canceled', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const { fake, client } = await start({ registry });
    const held = fake.hold();
    const { call, outcome } = client.startMount(driverMountRequest({ parameters: {} }));
    await held.waiting(1);
    call.cancel();
    const signal = fake.calls[0]!.abortSignal;
    if (!signal.aborted) await once(signal, 'abort');
    expect((signal.reason as Error).message).to.equal('the driver cancelled the mount');
    expect(failed(await outcome).code).to.equal(grpc.status.CANCELLED);
    held.release();
    expect(await registry.metrics()).to.contain('grpc_code="Canceled",grpc_message="context canceled"');
  });

  it("aborts the mount at the driver's deadline, and answers and records DeadlineExceeded", async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const { fake, client } = await start({ registry });
    const held = fake.hold();
    const outcome = client.mount(driverMountRequest({ parameters: {} }), {
      deadline: new Date(Date.now() + 1500),
    });
    await held.waiting(1);
    const signal = fake.calls[0]!.abortSignal;
    if (!signal.aborted) await once(signal, 'abort');
    expect((signal.reason as Error).message).to.equal("the driver's deadline for the mount passed");
    expect(failed(await outcome).code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    held.release();
    expect(await registry.metrics()).to.contain(
      'grpc_code="DeadlineExceeded",grpc_message="DeadlineExceeded"',
    );
  });

  it('answers a request message that does not decode with Internal, without calling the provider', async () => {
    const { fake, running } = await start();
    const raw = new grpc.Client(`unix:${running.socketPath}`, grpc.credentials.createInsecure());
    try {
      const error = await new Promise<grpc.ServiceError | null>((resolve) => {
        raw.makeUnaryRequest(
          '/v1alpha1.CSIDriverProvider/Mount',
          (value: Buffer) => value,
          (value: Buffer) => value,
          Buffer.from([0x0a, 0x7f, 0x61]), // attributes: a string of 127 bytes, 1 present
          (caught) => {
            resolve(caught);
          },
        );
      });
      expect(error?.code).to.equal(grpc.status.INTERNAL);
      expect(error?.details).to.match(/^grpc: error unmarshalling request: /);
      expect(fake.calls).to.have.length(0);
    } finally {
      raw.close();
    }
  });

  it('serves on a TCP endpoint, its healthz dialing the port it was given', async () => {
    const server = await serve(new FakeProvider(), {
      endpoint: 'tcp://127.0.0.1:0',
      signals: [],
      healthz: { port: 0, host: '127.0.0.1', timeoutInMs: 2000 },
    });
    try {
      const response = await fetch(`http://127.0.0.1:${server.healthzPort}/healthz`);
      expect([response.status, await response.text()]).to.deep.equal([200, 'ok']);
    } finally {
      await server.shutdown();
    }
  });

  describe('health', () => {
    function healthClient(path: string) {
      return new grpc.Client(`unix:${path}`, grpc.credentials.createInsecure(), {
        'grpc.default_authority': 'localhost',
      });
    }

    function call(client: grpc.Client, method: string, request: Buffer) {
      return new Promise<{ error: grpc.ServiceError | null; response: Buffer | undefined }>((resolve) => {
        client.makeUnaryRequest(
          method,
          (value: Buffer) => value,
          (value: Buffer) => value,
          request,
          (error, response) => {
            resolve({ error, response });
          },
        );
      });
    }

    it('answers Check SERVING for any service name, and List as unimplemented', async () => {
      const { running } = await start();
      const health = healthClient(running.socketPath);
      try {
        for (const request of [Buffer.alloc(0), Buffer.from('\n\x07unknown')]) {
          const { error, response } = await call(health, '/grpc.health.v1.Health/Check', request);
          expect(error).to.equal(null);
          expect(response).to.deep.equal(Buffer.from([0x08, 0x01])); // status: SERVING
        }
        const list = await call(health, '/grpc.health.v1.Health/List', Buffer.alloc(0));
        expect(list.error?.code).to.equal(grpc.status.UNIMPLEMENTED);
      } finally {
        health.close();
      }
    });

    it('serves healthz: ok while the socket answers, 503 with the reason once the socket is gone', async () => {
      const { running } = await start({ healthz: { port: 0, host: '127.0.0.1', timeoutInMs: 2000 } });
      const url = `http://127.0.0.1:${running.server.healthzPort}`;
      let response = await fetch(`${url}/healthz`, { method: 'POST' });
      expect([response.status, await response.text()]).to.deep.equal([200, 'ok']);
      response = await fetch(`${url}/other`);
      expect([response.status, await response.text()]).to.deep.equal([404, '404 page not found\n']);
      await unlink(running.socketPath);
      response = await fetch(`${url}/healthz`);
      expect(response.status).to.equal(503);
      expect(await response.text()).to.match(/^14 UNAVAILABLE: .*\n$/);
    });

    it('serves metrics at /metrics only', async () => {
      const { running, client } = await start({ metrics: { port: 0, host: '127.0.0.1' } });
      succeeded(await client.version());
      const url = `http://127.0.0.1:${running.server.metricsPort}`;
      let response = await fetch(`${url}/metrics`);
      expect(response.status).to.equal(200);
      const body = await response.text();
      expect(body).to.contain('grpc_request_count{grpc_method="/v1alpha1.CSIDriverProvider/Version"');
      expect(body).to.contain('process_cpu_seconds_total');
      response = await fetch(`${url}/debug/pprof/`);
      expect(response.status).to.equal(404);
    });

    it('fails to start, leaving nothing behind, when a port is taken', async () => {
      const { running } = await start({ metrics: { port: 0, host: '127.0.0.1' } });
      const directory = await mkdtemp(join(tmpdir(), 'serve-'));
      let code: string | undefined;
      await serve(new FakeProvider(), {
        endpoint: `unix://${directory}/fake.sock`,
        signals: [],
        healthz: { port: 0, host: '127.0.0.1' },
        metrics: { port: running.server.metricsPort!, host: '127.0.0.1' },
      }).catch((error: unknown) => {
        code = (error as NodeJS.ErrnoException).code;
      });
      expect(code).to.equal('EADDRINUSE');
      await rm(directory, { recursive: true });
    });
  });

  describe('shutdown', () => {
    it('lets in-flight mounts finish and refuses new calls', async () => {
      const { fake, client, running } = await start();
      const held = fake.hold();
      const first = client.mount(driverMountRequest({ parameters: {} }));
      const second = client.mount(driverMountRequest({ parameters: {} }));
      await held.waiting(2);
      const shutdown = running.server.shutdown();
      const late = new ProviderClient(running.socketPath);
      try {
        expect(failed(await late.version()).code).to.equal(grpc.status.UNAVAILABLE);
      } finally {
        late.close();
      }
      held.release();
      expect(succeeded(await first).object_version).to.deep.equal([{ id: 'secret/foo', version: 'v1' }]);
      succeeded(await second);
      await shutdown;
      await running.server.closed;
      expect(fake.calls.every((call) => !call.abortSignal.aborted)).to.equal(true);
    });

    it('aborts mounts still running when the timeout ends', async () => {
      const { fake, client, running } = await start({ shutdownTimeoutInMs: 50 });
      const held = fake.hold();
      const mount = client.mount(driverMountRequest({ parameters: {} }));
      await held.waiting(1);
      await running.server.shutdown();
      const signal = fake.calls[0]!.abortSignal;
      expect(signal.aborted).to.equal(true);
      expect((signal.reason as Error).message).to.equal('the provider is shutting down');
      expect((await mount).ok).to.equal(false);
      held.release();
    });

    it('starts on SIGTERM and removes its signal handlers', async () => {
      const before = process.listenerCount('SIGTERM');
      const logger = recordingLogger();
      const { running } = await start({ signals: ['SIGTERM', 'SIGINT'], logger });
      expect(process.listenerCount('SIGTERM')).to.equal(before + 1);
      process.emit('SIGTERM', 'SIGTERM');
      await running.server.closed;
      expect(process.listenerCount('SIGTERM')).to.equal(before);
      expect(logger.lines.map((line) => line.message)).to.include.members([
        'terminating the server',
        'server stopped',
      ]);
    });
  });
});
