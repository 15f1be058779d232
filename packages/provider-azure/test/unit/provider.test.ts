import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import { RestError } from '@azure/core-rest-pipeline';
import { silentLogger } from '@secrets-store-csi/core';
import { checkMountResult, isProviderError, type MountRequest } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { createRequire } from 'node:module';
import type * as Forge from 'node-forge';
import { FakeKeyVault } from '../../src/keyvault/fake.js';
import type { KeyVaultConnector, VaultAccess } from '../../src/keyvault/port.js';
import type { KeyVaultRequestSample } from '../../src/metrics.js';
import type { AuthConfig } from '../../src/model.js';
import { azurePublicCloud } from '../../src/parameters/index.js';
import { AzureProvider, type AzureProviderOptions, type Identities } from '../../src/provider.js';

// node-forge is CommonJS that Node's ESM loader cannot analyse (see the driver's sync/tls.ts).
const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;

const VAULT = 'https://kv1.vault.azure.net/';

/** One fake credential per identity key, as the credential cache hands out one per identity. */
function fakeIdentities(): Identities & { readonly created: Map<string, TokenCredential> } {
  const created = new Map<string, TokenCredential>();
  const identityKey = (auth: AuthConfig, subject: string) => `${JSON.stringify(auth)}|${subject}`;
  return {
    created,
    identityKey,
    credentialFor(auth, _cloud, _tenant, subject) {
      const key = identityKey(auth, subject);
      let credential = created.get(key);
      if (credential === undefined) {
        credential = { getToken: () => Promise.resolve(null) };
        created.set(key, credential);
      }
      return credential;
    },
    classifyCredentialError: () => undefined,
  };
}

function objects(...entries: string[]): string {
  return `array:\n${entries
    .map(
      (entry) =>
        `  - |\n${entry
          .split('\n')
          .map((line) => `    ${line}`)
          .join('\n')}`,
    )
    .join('\n')}\n`;
}

function request(
  parameters: Record<string, string>,
  secrets: Record<string, string> = { clientid: 'app', clientsecret: 's3cr3t' },
): MountRequest {
  return {
    attributes: {
      'csi.storage.k8s.io/pod.name': 'web-0',
      'csi.storage.k8s.io/pod.namespace': 'shop',
      'csi.storage.k8s.io/serviceAccount.name': 'web',
      keyvaultName: 'kv1',
      tenantID: 'tenant-a',
      ...parameters,
    },
    secrets,
    defaultFileMode: 0o644,
    currentObjectVersions: [],
    targetPath: '/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/v/mount',
  };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

function setup(options: Partial<AzureProviderOptions> = {}, connector?: KeyVaultConnector) {
  const vault = new FakeKeyVault();
  const identities = fakeIdentities();
  const samples: KeyVaultRequestSample[] = [];
  let clock = 1_000_000;
  const provider = new AzureProvider(
    {
      defaultCloud: azurePublicCloud,
      constructPemChain: true,
      writeCertAndKeyInSeparateFiles: false,
      maxConcurrentFetchesPerMount: 4,
      objectCacheTtlInMs: 0,
      objectCacheMaxEntries: 100,
      ...options,
    },
    {
      connector: connector ?? vault,
      identities,
      recordKeyVaultRequest: (sample) => samples.push(sample),
      logger: silentLogger,
      now: () => clock,
    },
  );
  const mount = (req: MountRequest) => provider.mount(req, { abortSignal: new AbortController().signal });
  return { vault, identities, samples, provider, mount, advance: (ms: number) => (clock += ms) };
}

function selfSignedCertificateDer(): Uint8Array {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.UTC(2026, 0, 1));
  cert.validity.notAfter = new Date(Date.UTC(2027, 0, 1));
  cert.setSubject([{ name: 'commonName', value: 'test.domain.com' }]);
  cert.setIssuer([{ name: 'commonName', value: 'test.domain.com' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the mount to fail');
}

describe('AzureProvider.mount', () => {
  it('mounts a secret under its name or alias with the version Key Vault reports', async () => {
    const { vault, mount, samples } = setup();
    const v1 = vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
    const result = await mount(
      request({
        objects: objects(
          'objectName: db\nobjectType: secret',
          'objectName: db\nobjectType: secret\nobjectAlias: conf/DB\nfilePermission: 0600',
        ),
      }),
    );
    expect(result.files.map((f) => [f.path, f.mode, text(f.contents)])).to.deep.equal([
      ['db', 0o644, 'pa55'],
      ['conf/DB', 0o600, 'pa55'],
    ]);
    expect(result.objectVersions).to.deep.equal([
      { id: 'secret/db', version: v1 },
      { id: 'secret/db', version: v1 },
    ]);
    // one Key Vault request for the object listed twice (issue 12)
    expect(samples.map((s) => [s.objectType, s.objectName, s.error])).to.deep.equal([['secret', 'db', '']]);
  });

  it('returns one file per listed object even when paths repeat, in class order, as upstream', async () => {
    const { vault, mount } = setup();
    const db = vault.add(VAULT, 'secret', 'db', { value: 'one', contentType: undefined, kid: undefined });
    const api = vault.add(VAULT, 'secret', 'api', { value: 'two', contentType: undefined, kid: undefined });
    const result = await mount(
      request({
        objects: objects(
          'objectName: db\nobjectType: secret',
          'objectName: db\nobjectType: secret',
          'objectName: db\nobjectType: secret\nobjectAlias: shared',
          'objectName: api\nobjectType: secret\nobjectAlias: shared\nfilePermission: 0600',
        ),
      }),
    );
    // the driver (ours or upstream's) mounts the last file of a path: `shared` holds api's value
    expect(result.files.map((f) => [f.path, f.mode, text(f.contents)])).to.deep.equal([
      ['db', 0o644, 'one'],
      ['db', 0o644, 'one'],
      ['shared', 0o644, 'one'],
      ['shared', 0o600, 'two'],
    ]);
    expect(result.objectVersions.map((o) => [o.id, o.version])).to.deep.equal([
      ['secret/db', db],
      ['secret/db', db],
      ['secret/db', db],
      ['secret/api', api],
    ]);
    expect(() => {
      checkMountResult(result);
    }).not.to.throw();
  });

  it('turns keys into PUBLIC KEY PEM and certificates into CERTIFICATE PEM', async () => {
    const { vault, mount } = setup();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const bytes = (value: string | undefined) => Buffer.from(value ?? '', 'base64url');
    vault.add(VAULT, 'key', 'signing', {
      kty: 'EC-HSM',
      crv: 'P-256',
      x: bytes(jwk.x),
      y: bytes(jwk.y),
      n: undefined,
      e: undefined,
    });
    const der = selfSignedCertificateDer();
    vault.add(VAULT, 'cert', 'tls', { cer: der });
    const result = await mount(
      request({
        objects: objects('objectName: signing\nobjectType: key', 'objectName: tls\nobjectType: cert'),
      }),
    );
    const [key, cert] = result.files;
    expect(createPublicKey(text(key?.contents ?? new Uint8Array())).export({ format: 'jwk' })).to.deep.equal(
      jwk,
    );
    expect(new X509Certificate(text(cert?.contents ?? new Uint8Array())).subject).to.equal(
      'CN=test.domain.com',
    );
  });

  it('applies objectEncoding to secrets', async () => {
    const { vault, mount } = setup();
    vault.add(VAULT, 'secret', 'blob', {
      value: Buffer.from([0, 1, 254]).toString('base64'),
      contentType: undefined,
      kid: undefined,
    });
    const result = await mount(
      request({ objects: objects('objectName: blob\nobjectType: secret\nobjectEncoding: Base64') }),
    );
    expect([...(result.files[0]?.contents ?? [])]).to.deep.equal([0, 1, 254]);
  });

  it('asks for the latest version when objectVersion is "latest" (upstream sends the word to Key Vault)', async () => {
    const { vault, mount } = setup();
    vault.add(VAULT, 'secret', 'db', { value: 'old', contentType: undefined, kid: undefined });
    const v2 = vault.add(VAULT, 'secret', 'db', { value: 'new', contentType: undefined, kid: undefined });
    const result = await mount(
      request({ objects: objects('objectName: db\nobjectType: secret\nobjectVersion: latest') }),
    );
    expect(vault.calls.map((c) => c.version)).to.deep.equal(['']);
    expect(result.objectVersions).to.deep.equal([{ id: 'secret/db', version: v2 }]);
  });

  it('pins a version', async () => {
    const { vault, mount } = setup();
    const v1 = vault.add(VAULT, 'secret', 'db', { value: 'old', contentType: undefined, kid: undefined });
    vault.add(VAULT, 'secret', 'db', { value: 'new', contentType: undefined, kid: undefined });
    const result = await mount(
      request({ objects: objects(`objectName: db\nobjectType: secret\nobjectVersion: ${v1}`) }),
    );
    expect(text(result.files[0]?.contents ?? new Uint8Array())).to.equal('old');
  });

  describe('objectVersionHistory', () => {
    function history(vault: FakeKeyVault, count: number, disabled: number[] = []): string[] {
      return Array.from({ length: count }, (_, i) =>
        vault.add(
          VAULT,
          'secret',
          'db',
          { value: `v${i}`, contentType: undefined, kid: undefined },
          { enabled: !disabled.includes(i) },
        ),
      );
    }

    it('returns the N newest enabled versions, newest at index 0 (upstream returns N+1)', async () => {
      const { vault, mount } = setup();
      const versions = history(vault, 5, [3]);
      const result = await mount(
        request({
          objects: objects('objectName: db\nobjectType: secret\nobjectAlias: DB\nobjectVersionHistory: 3'),
        }),
      );
      expect(result.files.map((f) => [f.path, text(f.contents)])).to.deep.equal([
        ['DB/0', 'v4'],
        ['DB/1', 'v2'],
        ['DB/2', 'v1'],
      ]);
      expect(result.objectVersions).to.deep.equal([
        { id: 'secret/db/0', version: versions[4] },
        { id: 'secret/db/1', version: versions[2] },
        { id: 'secret/db/2', version: versions[1] },
      ]);
    });

    it('starts at a pinned version and returns what exists when fewer than N', async () => {
      const { vault, mount } = setup();
      const versions = history(vault, 3);
      const result = await mount(
        request({
          objects: objects(
            `objectName: db\nobjectType: secret\nobjectVersionHistory: 5\nobjectVersion: ${versions[1] ?? ''}`,
          ),
        }),
      );
      expect(result.files.map((f) => [f.path, text(f.contents)])).to.deep.equal([
        ['db/0', 'v1'],
        ['db/1', 'v0'],
      ]);
    });

    it('yields no files for a start version that is not listed, as upstream', async () => {
      const { vault, mount } = setup();
      history(vault, 2);
      vault.add(VAULT, 'secret', 'other', { value: 'x', contentType: undefined, kid: undefined });
      const result = await mount(
        request({
          objects: objects(
            'objectName: db\nobjectType: secret\nobjectVersionHistory: 2\nobjectVersion: 0123',
            'objectName: other\nobjectType: secret',
          ),
        }),
      );
      expect(result.files.map((f) => f.path)).to.deep.equal(['other']);
    });
  });

  describe('the object cache', () => {
    const oneSecret = { objects: objects('objectName: db\nobjectType: secret') };

    it('answers repeated and concurrent mounts of one identity with one Key Vault call', async () => {
      const { vault, mount, provider } = setup({ objectCacheTtlInMs: 60_000 });
      vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      await Promise.all([mount(request(oneSecret)), mount(request(oneSecret)), mount(request(oneSecret))]);
      await mount(request(oneSecret));
      expect(vault.calls).to.have.length(1);
      expect(provider.cacheStats).to.deep.include({ fetches: 1, coalesced: 2, hits: 1 });
    });

    it('never serves one identity what another fetched', async () => {
      const { vault, mount } = setup({ objectCacheTtlInMs: 60_000 });
      vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      await mount(request(oneSecret));
      await mount(request(oneSecret, { clientid: 'app', clientsecret: 'another' }));
      await mount(request(oneSecret, { clientid: 'other-app', clientsecret: 's3cr3t' }));
      await mount(request({ ...oneSecret, tenantID: 'tenant-b' }));
      expect(vault.calls).to.have.length(4);
      expect(new Set(vault.calls.map((c) => c.credential)).size).to.equal(4);
    });

    it('goes back to Key Vault once the TTL has passed, and on every mount when it is off', async () => {
      const cached = setup({ objectCacheTtlInMs: 60_000 });
      cached.vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      await cached.mount(request(oneSecret));
      cached.advance(60_001);
      await cached.mount(request(oneSecret));
      expect(cached.vault.calls).to.have.length(2);

      const uncached = setup({ objectCacheTtlInMs: 0 });
      uncached.vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      await uncached.mount(request(oneSecret));
      await uncached.mount(request(oneSecret));
      expect(uncached.vault.calls).to.have.length(2);
      expect(uncached.provider.cacheStats).to.equal(undefined);
    });

    it('fetches an object listed twice in one mount once, with the cache off (issue 12)', async () => {
      const { vault, mount } = setup({ objectCacheTtlInMs: 0 });
      vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      const result = await mount(
        request({
          objects: objects(
            'objectName: db\nobjectType: secret\nobjectAlias: first',
            'objectName: db\nobjectType: secret\nobjectAlias: second',
          ),
        }),
      );
      expect(result.files.map((file) => file.path)).to.deep.equal(['first', 'second']);
      expect(vault.calls).to.have.length(1);
      await mount(request(oneSecret));
      expect(vault.calls).to.have.length(2);
    });

    it('does not keep a failure', async () => {
      const { vault, mount } = setup({ objectCacheTtlInMs: 60_000 });
      vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      vault.failNext(() => true, new RestError('busy', { statusCode: 503 }));
      const error = await rejection(mount(request(oneSecret)));
      expect(error.code).to.equal('StoreUnavailable');
      const result = await mount(request(oneSecret));
      expect(text(result.files[0]?.contents ?? new Uint8Array())).to.equal('pa55');
    });
  });

  it('fetches the objects of a mount concurrently, within the bound', async () => {
    const vault = new FakeKeyVault();
    let inFlight = 0;
    let most = 0;
    const gated: KeyVaultConnector = {
      reader(access: VaultAccess) {
        const inner = vault.reader(access);
        return {
          ...inner,
          getSecret: async (name, version, signal) => {
            inFlight++;
            most = Math.max(most, inFlight);
            await new Promise((resolve) => setTimeout(resolve, 5));
            inFlight--;
            return inner.getSecret(name, version, signal);
          },
        };
      },
    };
    const { mount } = setup({ maxConcurrentFetchesPerMount: 3 }, gated);
    const names = Array.from({ length: 8 }, (_, i) => `s${i}`);
    for (const name of names)
      vault.add(VAULT, 'secret', name, { value: name, contentType: undefined, kid: undefined });
    const result = await mount(
      request({ objects: objects(...names.map((name) => `objectName: ${name}\nobjectType: secret`)) }),
    );
    expect(result.files.map((f) => f.path)).to.deep.equal(names);
    expect(most).to.equal(3);
  });

  describe('failures', () => {
    it('refuses an unknown objectType before calling Key Vault, with upstream text', async () => {
      const { vault, mount } = setup();
      const error = await rejection(
        mount(
          request({
            objects: objects('objectName: db\nobjectType: secret', 'objectName: x\nobjectType: Secret'),
          }),
        ),
      );
      expect(error.message).to.equal(
        'failed to get objectType:Secret, objectName:x, objectVersion:: Invalid vaultObjectTypes. Should be secret, key, or cert',
      );
      expect(vault.calls).to.have.length(0);
    });

    it('refuses a class with no objects (upstream answers empty, which its driver then fails)', async () => {
      const { mount } = setup();
      const error = await rejection(mount(request({ objects: 'array: []' })));
      expect([error.code, error.message]).to.deep.equal([
        'InvalidParameter',
        'objects has no entries: list at least one object under objects.array',
      ]);
    });

    it('fails the whole mount when one object is missing, naming it, and records the error code', async () => {
      const { vault, mount, samples } = setup();
      vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
      const error = await rejection(
        mount(
          request({
            objects: objects('objectName: db\nobjectType: secret', 'objectName: gone\nobjectType: secret'),
          }),
        ),
      );
      expect(isProviderError(error)).to.equal(true);
      expect(error.code).to.equal('ObjectNotFound');
      expect(error.message).to.match(
        /^failed to get objectType:secret, objectName:gone, objectVersion:: (GET \S+|Request information not available)\n-{80}\nRESPONSE 404: 404 Not Found\n/,
      );
      expect(error.message).to.include('A secret with (name/id) gone was not found in this key vault.');
      expect(samples.find((s) => s.objectName === 'gone')?.error).to.equal('ObjectNotFound');
    });

    it('wraps a content error with the object prefix', async () => {
      const { vault, mount } = setup();
      vault.add(VAULT, 'key', 'k', {
        kty: 'oct',
        crv: undefined,
        n: undefined,
        e: undefined,
        x: undefined,
        y: undefined,
      });
      const error = await rejection(mount(request({ objects: objects('objectName: k\nobjectType: key') })));
      expect([error.code, error.message]).to.deep.equal([
        'InvalidContent',
        "failed to get objectType:key, objectName:k, objectVersion:: failed to get key. key type 'oct' currently not supported",
      ]);
    });

    it('reports an encoding error without the prefix, as upstream', async () => {
      const { vault, mount } = setup();
      vault.add(VAULT, 'secret', 'db', { value: 'not base64!', contentType: undefined, kid: undefined });
      const error = await rejection(
        mount(request({ objects: objects('objectName: db\nobjectType: secret\nobjectEncoding: base64') })),
      );
      expect(error.message).to.match(/^illegal base64 data at input byte \d+$/);
    });

    it('checks the vault name before any Key Vault call', async () => {
      const { vault, mount } = setup();
      const error = await rejection(
        mount(request({ keyvaultName: 'k_v', objects: objects('objectName: db\nobjectType: secret') })),
      );
      expect(error.message).to.equal(
        'failed to get vault: Invalid vault name: "k_v", must match [-a-zA-Z0-9]{3,24}',
      );
      expect(vault.calls).to.have.length(0);
    });
  });

  it('passes the vault URL and the challenge setting to the connector', async () => {
    const { vault, mount } = setup();
    vault.add(VAULT, 'secret', 'db', { value: 'pa55', contentType: undefined, kid: undefined });
    await mount(request({ objects: objects('objectName: db\nobjectType: secret') }));
    expect(vault.accesses.map((a) => [a.vaultUrl, a.disableChallengeResourceVerification])).to.deep.equal([
      [VAULT, false],
    ]);
  });
});
