/**
 * dry-run end to end: a TokenRequest for a real service account on the real API server, the driver's real
 * standalone publish path, a real provider (the directory provider) serving gRPC on a unix socket, and a
 * temporary directory that is gone afterwards. The provider is wrapped only to see what it was asked.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { DirectoryProvider } from '@secrets-store-csi/provider-directory';
import {
  serve,
  type MountRequest,
  type ProviderServer,
  type SecretProvider,
} from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { run } from '../../src/main.js';
import type { Report } from '../../src/report.js';
import { collect, createServiceAccount, pluginWorld, TOKEN_AUDIENCE, type PluginWorld } from './world.js';

const SECRET_VALUE = 'hunter2-do-not-print';

const classYaml = (objects: string[]) => `apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: app-secrets
spec:
  provider: directory
  parameters:
    objects: |
      array:
${objects.map((o) => `        - |\n          ${o.split('\n').join('\n          ')}`).join('\n')}
  secretObjects:
    - secretName: app-db
      type: Opaque
      data:
        - objectName: db-password
          key: password
`;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('dry-run against the real API server and a real provider', function () {
  this.timeout(60_000);
  let w: PluginWorld;
  let dir: string;
  let sockets: string;
  let server: ProviderServer;
  const requests: MountRequest[] = [];

  before(async () => {
    w = await pluginWorld('plugin-dry-run');
    await createServiceAccount(w.kubeConfig, w.namespace, 'app-sa');
    dir = await mkdtemp(join(tmpdir(), 'plugin-dry-run-test-'));
    const store = join(dir, 'store');
    await mkdir(join(store, 'db'), { recursive: true });
    await mkdir(join(store, 'app'), { recursive: true });
    await writeFile(join(store, 'db', 'password'), SECRET_VALUE);
    await writeFile(join(store, 'app', 'config.json'), '{"level":"debug"}');
    sockets = join(dir, 'providers');
    await mkdir(sockets);
    const directory = await DirectoryProvider.open(store);
    const recording: SecretProvider = {
      name: directory.name,
      version: directory.version,
      mount(request, options) {
        requests.push(request);
        return directory.mount(request, options);
      },
    };
    server = await serve(recording, { endpoint: `unix://${join(sockets, 'directory.sock')}`, signals: [] });
  });

  after(async () => {
    await server.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  async function dryRun(objects: string[], extra: string[] = []) {
    const file = join(dir, `class-${requests.length}.yaml`);
    await writeFile(file, classYaml(objects));
    const r = collect();
    const code = await run(
      [
        'dry-run',
        '-f',
        file,
        '--service-account',
        `${w.namespace}/app-sa`,
        '--provider-volume',
        sockets,
        '--kubeconfig',
        w.kubeconfigPath,
        ...extra,
      ],
      r.io,
    );
    return { code, out: r.out.join(''), err: r.err.join('') };
  }

  it('mounts the class as the service account, reports names, sizes, modes and versions, and removes the directory', async () => {
    const { code, out, err } = await dryRun(
      [
        'objectName: db/password\nobjectAlias: db-password\nfilePermission: "0400"',
        'objectName: app/config.json',
      ],
      ['-o', 'json'],
    );
    expect(err).to.equal('');
    expect(code).to.equal(0);
    expect(out).not.to.include(SECRET_VALUE);
    const report = JSON.parse(out) as Report;
    expect(report.kind).to.equal('DryRun');
    expect(report.pod).to.deep.include({ namespace: w.namespace, serviceAccount: 'app-sa' });
    const [volume] = report.volumes;
    expect(volume).to.deep.include({
      secretProviderClass: 'app-secrets',
      provider: 'directory',
      state: 'Mounted',
      problems: [],
    });
    expect(volume?.files).to.deep.equal([
      { path: 'app/config.json', bytes: 17, mode: '0644' },
      { path: 'db-password', bytes: SECRET_VALUE.length, mode: '0400' },
    ]);
    expect(volume?.objects.map((o) => o.id).sort()).to.deep.equal([
      'file/app/config.json',
      'file/db/password',
    ]);
    expect(volume?.objects.every((o) => o.version !== '')).to.equal(true);
    expect(volume?.secrets).to.deep.equal([{ name: 'app-db', type: 'Opaque', keys: ['password'] }]);
    expect(volume?.podStatus?.status).to.deep.include({ mounted: true });

    // what the provider was sent: the pod's namespace and service account, and a real TokenRequest token
    const request = requests.at(-1);
    expect(request?.attributes).to.deep.include({
      'csi.storage.k8s.io/pod.namespace': w.namespace,
      'csi.storage.k8s.io/serviceAccount.name': 'app-sa',
      secretProviderClass: 'app-secrets',
    });
    const tokens = JSON.parse(
      request?.attributes['csi.storage.k8s.io/serviceAccount.tokens'] ?? '{}',
    ) as Record<string, { token: string }>;
    const payload = JSON.parse(
      Buffer.from(tokens[TOKEN_AUDIENCE]?.token.split('.')[1] ?? '', 'base64url').toString('utf8'),
    ) as { sub: string; aud: string[] };
    expect(payload.sub).to.equal(`system:serviceaccount:${w.namespace}:app-sa`);
    expect(payload.aud).to.deep.equal([TOKEN_AUDIENCE]);
    // the temporary directory is gone
    expect(await exists(request?.targetPath ?? '/')).to.equal(false);
    expect(await exists(dirname(request?.targetPath ?? '/'))).to.equal(false);
  });

  it('prints a failure with its cause and fix and exits 1', async () => {
    const { code, out } = await dryRun(['objectName: db/missing']);
    expect(code).to.equal(1);
    expect(out).to.include('Volume dry-run: Failed');
    expect(out).to.include('object "db/missing" not found');
    expect(out).to.match(
      /^Dry run of app-secrets as service account plugin-dry-run-\w+\/app-sa \(pod standalone\)\n/,
    );
    expect(out).to.include('cause (object): the vault has no object with that name and type');
    expect(await exists(requests.at(-1)?.targetPath ?? '/')).to.equal(false);
  });

  it('sends the --node-publish-secret Secret and the --audience tokens asked for', async () => {
    await w.kubeConfig.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: w.namespace,
      body: { metadata: { name: 'sp-creds' }, stringData: { clientid: 'id-1', clientsecret: 'cs-1' } },
    });
    const { code } = await dryRun(
      ['objectName: app/config.json'],
      ['--node-publish-secret', 'sp-creds', '--audience', 'custom-audience'],
    );
    expect(code).to.equal(0);
    const request = requests.at(-1);
    expect(request?.secrets).to.deep.equal({ clientid: 'id-1', clientsecret: 'cs-1' });
    expect(
      Object.keys(
        JSON.parse(request?.attributes['csi.storage.k8s.io/serviceAccount.tokens'] ?? '{}') as object,
      ),
    ).to.deep.equal(['custom-audience']);
  });

  it('refuses a service account that does not exist, in the API server words', async () => {
    const file = join(dir, 'plain.yaml');
    await writeFile(file, classYaml(['objectName: app/config.json']));
    const r = collect();
    const code = await run(
      [
        'dry-run',
        '-f',
        file,
        '--service-account',
        `${w.namespace}/nobody`,
        '--provider-volume',
        sockets,
        '--kubeconfig',
        w.kubeconfigPath,
      ],
      r.io,
    );
    expect(code).to.equal(1);
    expect(r.err.join('')).to.match(
      /error \(NotFound\): cannot request a token of service account .*\/nobody for audience api:\/\/AzureADTokenExchange: serviceaccounts "nobody" not found/,
    );
  });
});
