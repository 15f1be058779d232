import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { startFakeProviderServer, type FakeProviderServer } from '@secrets-store-csi/provider-sdk/testing';
import { publishOnce } from '../../../src/standalone/once.js';

const SPC = `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: my-spc
  namespace: elsewhere
spec:
  provider: fake
  parameters:
    objects: "array: []"
  secretObjects:
    - secretName: app-db
      type: Opaque
      data:
        - objectName: db-password
          key: password
`;

const encode = (text: string) => new TextEncoder().encode(text);
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe('publishOnce (standalone mode as a function)', function () {
  this.timeout(20_000);
  let dir: string;
  let server: FakeProviderServer;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'standalone-once-'));
    server = await startFakeProviderServer();
  });

  afterEach(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const options = (extra: Partial<Parameters<typeof publishOnce>[0]> = {}) => ({
    text: SPC,
    file: 'class.yaml',
    target: join(dir, 'volume'),
    providerVolume: server.directory,
    mount: 'directory' as const,
    ...extra,
  });

  it('publishes as the given service account with its tokens and secrets, reports without contents, and unpublishes', async () => {
    server.provider.returns(() => ({
      files: [{ path: 'db-password', mode: 0o400, contents: encode('hunter2') }],
      objectVersions: [{ id: 'secret/db-password', version: 'v3' }],
    }));
    const report = await publishOnce(
      options({
        serviceAccount: { namespace: 'team', name: 'app-sa' },
        serviceAccountTokens: '{"aud":{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}}',
        secrets: { clientid: 'id' },
      }),
    );
    expect(report).to.deep.include({
      secretProviderClass: { namespace: 'team', name: 'my-spc', provider: 'fake' },
      pod: { namespace: 'team', name: 'standalone', serviceAccount: 'app-sa' },
      mounted: true,
      files: [{ path: 'db-password', bytes: 7, mode: '0400' }],
      objects: [{ id: 'secret/db-password', version: 'v3' }],
      secrets: [{ name: 'app-db', type: 'Opaque', keys: ['password'] }],
    });
    expect(report.podStatus).to.deep.include({ mounted: true, secretProviderClassName: 'my-spc' });
    expect(JSON.stringify(report)).not.to.include('hunter2');
    const request = server.provider.calls[0]?.request;
    expect(request?.attributes).to.deep.include({
      'csi.storage.k8s.io/pod.namespace': 'team',
      'csi.storage.k8s.io/serviceAccount.name': 'app-sa',
      'csi.storage.k8s.io/serviceAccount.tokens':
        '{"aud":{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}}',
    });
    expect(request?.secrets).to.deep.equal({ clientid: 'id' });
    expect(await exists(join(dir, 'volume'))).to.equal(false);
  });

  it("reports a provider's failure with its code and the Warning event, and leaves nothing behind", async () => {
    server.provider.fails(new ProviderError('not-found', 'ObjectNotFound', 'object "x" not found'));
    const report = await publishOnce(options());
    expect(report.mounted).to.equal(false);
    expect(report.pod).to.deep.equal({
      namespace: 'elsewhere',
      name: 'standalone',
      serviceAccount: 'default',
    });
    expect(report.error?.message).to.match(
      /code = NotFound desc = failed to mount objects, error: object "x" not found/,
    );
    expect(report.events.map((e) => e.type)).to.deep.equal(['Warning']);
    expect(report.files).to.deep.equal([]);
    expect(await exists(join(dir, 'volume'))).to.equal(false);
  });
});
