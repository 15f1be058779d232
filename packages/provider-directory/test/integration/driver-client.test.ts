/**
 * The provider process, driven by a gRPC client exactly as the driver drives it: a unix socket in the
 * providers directory, `:authority` localhost, a 4 MiB receive limit, and the JSON string fields as Go
 * encodes them.
 */
import { createHash } from 'node:crypto';
import { rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ProviderClient,
  driverMountRequest,
  type CallOutcome,
} from '@secrets-store-csi/provider-sdk/testing';
import { expect } from 'chai';
import { makeRoot, objectsParameter } from '../fixtures.js';
import { startProviderProcess, type ProviderProcess } from '../process.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const FOUR_MIB = 4 * 1024 * 1024;

function failure<T>(outcome: CallOutcome<T>) {
  if (outcome.ok) throw new Error('expected the mount to fail');
  return { code: outcome.codeName, details: outcome.details, errorCode: outcome.errorCode };
}

describe('the directory provider, driven as the driver drives it', function () {
  this.timeout(30_000);
  let base: string;
  let write: (name: string, text: string) => Promise<void>;
  let socketPath: string;
  let provider: ProviderProcess;
  let client: ProviderClient;
  let healthzPort: number;
  let metricsPort: number;

  before(async () => {
    const root = await makeRoot();
    ({ base, write } = root);
    socketPath = join(base, 'directory.sock');
    await write('huge', '');
    await truncate(join(base, 'root', 'huge'), 8 * 1024 * 1024);
    provider = startProviderProcess([
      `--endpoint=unix://${socketPath}`,
      `--root-dir=${root.root}`,
      '--healthz-port=0',
      '--prometheus-port=0',
      '--log-format-json',
    ]);
    healthzPort = (await provider.waitForLog('Serving healthz')).port as number;
    metricsPort = (await provider.waitForLog('Serving metrics')).port as number;
    client = new ProviderClient(`unix:${socketPath}`, {
      authority: 'localhost',
      maxReceiveMessageLengthInBytes: FOUR_MIB,
    });
  });

  after(async () => {
    client.close();
    if (provider.child.exitCode === null) provider.child.kill('SIGKILL');
    await rm(base, { recursive: true, force: true });
  });

  const mount = (
    parameters: Record<string, string>,
    extra: Parameters<typeof driverMountRequest>[0] | object = {},
  ) => client.mount(driverMountRequest({ parameters, ...extra }));
  const objects = (...items: string[]) => ({ objects: objectsParameter(...items) });

  it('listens on an owner-only socket and answers Version', async () => {
    expect((await stat(socketPath)).mode & 0o777).to.equal(0o600);
    const version = await client.version();
    expect(version.ok && version.response).to.deep.equal({
      version: 'v1alpha1',
      runtime_name: 'secrets-store-csi-driver-provider-directory',
      runtime_version: '0.1.0',
    });
  });

  it('mounts the objects with pod attributes, tokens, secrets "null" and permission "420"', async () => {
    const outcome = await mount(
      objects(
        'objectName: db-password\nobjectAlias: db/password\nfilePermission: "0600"',
        'objectName: tls/tls.crt',
      ),
      {
        podAttributes: {
          'csi.storage.k8s.io/pod.name': 'web-0',
          'csi.storage.k8s.io/pod.namespace': 'shop',
          'csi.storage.k8s.io/pod.uid': '0b0e6a1c-3f1a-4c51-9d8b-2a7b0c3d4e5f',
          'csi.storage.k8s.io/serviceAccount.name': 'web',
          'csi.storage.k8s.io/ephemeral': 'true',
          'csi.storage.k8s.io/serviceAccount.tokens':
            '{"aud":{"token":"eyJ.x.y","expirationTimestamp":"2030-01-01T00:00:00Z"}}',
          secretProviderClass: 'local-secrets',
        },
        secrets: null,
        permission: 0o644,
      },
    );
    if (!outcome.ok) throw new Error(outcome.details);
    expect(
      outcome.response.files.map((file) => [file.path, file.mode, Buffer.from(file.contents).toString()]),
    ).to.deep.equal([
      ['db/password', 0o600, 'hunter2'],
      ['tls/tls.crt', 0o644, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
    ]);
    expect(outcome.response.object_version).to.deep.equal([
      { id: 'file/db-password', version: sha256('hunter2') },
      {
        id: 'file/tls/tls.crt',
        version: sha256('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'),
      },
    ]);
  });

  it('shows a changed file as a new version on the next mount', async () => {
    await write('rotating', 'v1');
    const first = await mount(objects('objectName: rotating'));
    await write('rotating', 'v2');
    const second = await mount(objects('objectName: rotating'));
    expect([
      first.ok && first.response.object_version[0]?.version,
      second.ok && second.response.object_version[0]?.version,
    ]).to.deep.equal([sha256('v1'), sha256('v2')]);
  });

  it('delivers a file just under the 4 MiB limit', async () => {
    await write('large', '');
    await truncate(join(base, 'root', 'large'), FOUR_MIB - 200);
    const outcome = await mount(objects('objectName: large'));
    expect(outcome.ok && outcome.response.files[0]?.contents.length).to.equal(FOUR_MIB - 200);
  });

  const good = () => driverMountRequest({ parameters: objects('objectName: db-password') });
  const cases: readonly {
    what: string;
    request: () => ReturnType<typeof good>;
    code: string;
    details: string;
  }[] = [
    {
      what: 'malformed attributes',
      request: () => ({ ...good(), attributes: '{"objects":' }),
      code: 'INVALID_ARGUMENT',
      details: 'failed to unmarshal attributes, error: unexpected end of JSON input',
    },
    {
      what: 'malformed secrets',
      request: () => ({ ...good(), secrets: '{"password":"hunter2"' }),
      code: 'INVALID_ARGUMENT',
      details: 'failed to unmarshal secrets, error: unexpected end of JSON input',
    },
    {
      what: 'malformed permission',
      request: () => ({ ...good(), permission: '0644' }),
      code: 'INVALID_ARGUMENT',
      details: 'failed to unmarshal file permission, error: invalid character at offset 1',
    },
    {
      what: 'an unknown object',
      request: () => driverMountRequest({ parameters: objects('objectName: missing') }),
      code: 'NOT_FOUND',
      details: 'failed to mount objects, error: object "missing" not found',
    },
    {
      what: 'path traversal in a name',
      request: () => driverMountRequest({ parameters: objects('objectName: ../outside/node-secret') }),
      code: 'INVALID_ARGUMENT',
      details: `failed to mount objects, error: object "../outside/node-secret": objectName must not contain '..'`,
    },
    {
      what: 'path traversal in an alias',
      request: () =>
        driverMountRequest({
          parameters: objects('objectName: db-password\nobjectAlias: ../../etc/cron.d/x'),
        }),
      code: 'INVALID_ARGUMENT',
      details: `failed to mount objects, error: object "db-password": objectAlias must not contain '..'`,
    },
    {
      what: 'a symlink out of the root',
      request: () => driverMountRequest({ parameters: objects('objectName: escape') }),
      code: 'PERMISSION_DENIED',
      details: `failed to mount objects, error: object "escape" resolves to a file outside the provider's root directory`,
    },
    {
      what: 'an oversized file',
      request: () => driverMountRequest({ parameters: objects('objectName: huge') }),
      code: 'RESOURCE_EXHAUSTED',
      details:
        'failed to mount objects, error: object "huge" is 8388608 bytes, over the 4194304-byte limit on a mount ' +
        'response; the driver accepts at most its --max-call-recv-msg-size (4 MiB by default): to send more, raise ' +
        'it on the driver and --max-response-size on this provider to the same value',
    },
  ];
  for (const { what, request, code, details } of cases) {
    it(`answers ${what} with a clear error`, async () => {
      expect(failure(await client.mount(request()))).to.include({ code, details });
    });
  }

  it('serves healthz and metrics', async () => {
    const healthz = await fetch(`http://127.0.0.1:${healthzPort}/healthz`);
    expect([healthz.status, await healthz.text()]).to.deep.equal([200, 'ok']);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).to.match(
      /grpc_request_count\{grpc_method="\/v1alpha1.CSIDriverProvider\/Mount",grpc_code="NotFound",grpc_message="ObjectNotFound",provider="directory",os_type="linux",service_name="csi-secrets-store-provider-directory"\} 1/,
    );
  });

  it('keeps file contents and tokens out of its logs', () => {
    expect(provider.stderr()).not.to.contain('hunter2');
    expect(provider.stderr()).not.to.contain('eyJ.x.y');
  });

  it('stops on SIGTERM, exits 0 and removes its socket', async () => {
    provider.child.kill('SIGTERM');
    expect(await provider.exited).to.equal(0);
    expect(provider.logs.map((line) => line.message)).to.include.members([
      'terminating the server',
      'server stopped',
    ]);
    let code: string | undefined;
    await stat(socketPath).catch((error: unknown) => {
      code = (error as NodeJS.ErrnoException).code;
    });
    expect(code).to.equal('ENOENT');
  });
});
