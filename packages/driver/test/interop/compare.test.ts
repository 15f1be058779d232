/**
 * Interop, provider side: the same MountRequests (as a driver sends them) to our Azure provider and to
 * upstream's v1.8.2 over their unix sockets, compared file by file (paths, modes, bytes), object version by
 * object version and error by error (gRPC code), over secrets, keys and certificates in every format and
 * encoding, with and without --write-cert-and-key-in-separate-files. Every difference is listed in the case
 * that meets it (`differs`, with the reason also in docs/compatibility.md); any other difference fails.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { driverMountRequest, type CallOutcome } from '@secrets-store-csi/provider-sdk/testing';
import type { provider as wire } from '@secrets-store-csi/protocol';
import { makeCertificates, type Chain, type EcCertificate } from './certificates.js';
import { CLIENT_ID, CLIENT_SECRET, TENANT_ID, useProviderWorld, type AzureObject } from './world.js';

type Outcome = CallOutcome<wire.MountResponse__Output>;

interface Case {
  readonly name: string;
  readonly objects: () => readonly AzureObject[];
  /** Parameters over the world's (keyvaultName, tenantId, cloud file, objects); `undefined` removes one. */
  readonly parameters?: () => Record<string, string | undefined>;
  /** The nodePublishSecretRef data; the world's service principal by default. */
  readonly secrets?: Record<string, string> | null;
  /** Send to the providers started with --write-cert-and-key-in-separate-files. */
  readonly split?: boolean;
  /** The differences this case shows, as `compare` words them, when ours deliberately differs. */
  readonly differs?: readonly string[];
}

/**
 * Upstream answers every failed mount with Unknown; ours with a code by kind (docs/compatibility.md, "Error
 * status codes"), which kubelet and users see. The exact code of ours is in the suite's summary.
 */
export const CODE_BY_KIND = 'code: ours by kind, upstream UNKNOWN';
/** Go's PKCS#12 reader (upstream) knows only 3DES/RC2 with a SHA-1 MAC; ours also reads OpenSSL 3's default. */
const PKCS12_AES = 'outcome: ours mounted, upstream failed UNKNOWN';

/**
 * What users grep for at the start of an error: `failed to mount objects, error: ` and, for an object,
 * `failed to get objectType:<t>, objectName:<n>, objectVersion:<v>: `. The rest (the Key Vault or Entra ID
 * error itself) comes from each side's SDK and is shown in the summary, not compared.
 */
function messagePrefix(details: string): string {
  return (
    /^failed to mount objects, error: (failed to get objectType:[^,]*, objectName:[^,]*, objectVersion:[^:]*: )?/.exec(
      details,
    )?.[0] ?? ''
  );
}

/**
 * The lines of a Key Vault error that users search for, as Go's azcore writes them: the request
 * (`GET https://<vault>/<kind>/<name>/…`), `RESPONSE <status>: <text>` and `ERROR CODE: <code>`. Empty when the
 * error did not come from a Key Vault read.
 */
export function keyVaultLines(details: string): string[] {
  // Only an answer of Key Vault itself (a GET of an object); Entra ID errors differ by SDK (docs/compatibility.md).
  if (!/(^|\s)GET https:\/\//.test(details)) return [];
  return details
    .split('\n')
    .map((line) => line.replace(/^.*?((?:GET|POST|PUT) https:\/\/)/, '$1').trim())
    .filter((line) => /^(GET|POST|PUT) https:\/\/|^RESPONSE \d{3}: |^ERROR CODE/.test(line))
    .map((line) => line.replace(/\?.*$/, ''));
}

/** The differences between two Mount outcomes, in words; [] when they are the same. */
export function compare(ours: Outcome, upstream: Outcome): string[] {
  if (!ours.ok || !upstream.ok) {
    if (ours.ok || upstream.ok) {
      return [`outcome: ours ${describeOutcome(ours)}, upstream ${describeOutcome(upstream)}`];
    }
    const differences: string[] = [];
    if (ours.codeName !== upstream.codeName) {
      differences.push(
        upstream.codeName === 'UNKNOWN'
          ? CODE_BY_KIND
          : `code: ours ${ours.codeName}, upstream ${upstream.codeName}`,
      );
    }
    const [a, b] = [messagePrefix(ours.details), messagePrefix(upstream.details)];
    if (a !== b) differences.push(`message prefix: ours "${a}", upstream "${b}"`);
    const [kvOurs, kvUpstream] = [keyVaultLines(ours.details), keyVaultLines(upstream.details)];
    if (kvOurs.join('|') !== kvUpstream.join('|')) {
      differences.push(`Key Vault lines: ours "${kvOurs.join(' | ')}", upstream "${kvUpstream.join(' | ')}"`);
    }
    return differences;
  }
  const differences: string[] = [];
  // Object versions by id: ids only one side reports, versions that differ, ids reported more than once.
  const versions = (o: wire.MountResponse__Output) => {
    const byId = new Map<string, string[]>();
    for (const { id, version } of o.object_version) byId.set(id, [...(byId.get(id) ?? []), version]);
    return byId;
  };
  const [ov, uv] = [versions(ours.response), versions(upstream.response)];
  for (const id of [...new Set([...ov.keys(), ...uv.keys()])].sort()) {
    const [a, b] = [ov.get(id), uv.get(id)];
    if (a === undefined || b === undefined) {
      differences.push(`object version ${id}: only ${a === undefined ? 'upstream' : 'ours'} reports it`);
    } else if (a.length !== b.length) {
      differences.push(`object version ${id}: reported ${a.length} time(s) by ours, ${b.length} by upstream`);
    } else if (a.join() !== b.join()) {
      differences.push(`object version ${id}: versions differ`);
    }
  }
  const files = (o: wire.MountResponse__Output) => new Map(o.files.map((f) => [f.path, f]));
  const [of, uf] = [files(ours.response), files(upstream.response)];
  for (const path of [...new Set([...of.keys(), ...uf.keys()])].sort()) {
    const [a, b] = [of.get(path), uf.get(path)];
    if (a === undefined || b === undefined) {
      differences.push(`file ${path}: only ${a === undefined ? 'upstream' : 'ours'} writes it`);
      continue;
    }
    if (a.mode !== b.mode)
      differences.push(`file ${path}: mode ours ${a.mode.toString(8)}, upstream ${b.mode.toString(8)}`);
    if (!Buffer.from(a.contents).equals(Buffer.from(b.contents))) {
      differences.push(`file ${path}: contents differ (${a.contents.length} vs ${b.contents.length} bytes)`);
    }
  }
  return differences;
}

function describeOutcome(outcome: Outcome): string {
  return outcome.ok ? 'mounted' : `failed ${outcome.codeName}`;
}

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);

/** A short account of an outcome for the suite's summary (no file contents, only digests). */
function summary(outcome: Outcome): string {
  if (!outcome.ok) return `${outcome.codeName}: ${outcome.details.slice(0, 200)}`;
  return outcome.response.files
    .map((f) => `${f.path}(${f.mode.toString(8)},${digest(f.contents)})`)
    .join(' ');
}

describe('interop: the same Mount requests to our Azure provider and to upstream v1.8.2', function () {
  this.timeout(120_000);
  const interop = useProviderWorld('interop-cmp');
  let chain: Chain;
  let ec: EcCertificate;
  /** Versions of the seeded objects, oldest first. */
  const versions: Record<string, string[]> = {};
  const results: {
    name: string;
    same: boolean;
    differences: string[];
    ours: string;
    upstream: string;
    keyVaultLines: string[];
  }[] = [];

  before(async function () {
    this.timeout(120_000);
    ({ chain, ec } = await makeCertificates(interop().pki, join(interop().dir, 'certs')));
    const { keyVault: kv, vault } = interop();
    const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));
    const add = (name: string, version: string) => (versions[name] ??= []).push(version);
    for (let i = 1; i <= 3; i++)
      add('plain', kv.setSecret(vault, 'plain', `plain value ${i}`, { created: at(i) }));
    add('unicode', kv.setSecret(vault, 'unicode', 'grüße, 世界 ✓\n'));
    add('json', kv.setSecret(vault, 'json', '{"user":"shop","port":5432}'));
    add('hexsecret', kv.setSecret(vault, 'hexsecret', '68656c6c6f2c20776f726c64'));
    add('b64secret', kv.setSecret(vault, 'b64secret', Buffer.from([0, 1, 2, 250, 255]).toString('base64')));
    add('notbase64', kv.setSecret(vault, 'notbase64', 'not base64 at all!'));
    add('disabled', kv.setSecret(vault, 'disabled', 'old', { created: at(1) }));
    add('disabled', kv.setSecret(vault, 'disabled', 'new', { created: at(2), enabled: false }));
    add('cert-pem', kv.importCertificate(vault, 'cert-pem', { pem: chain.pem }, { created: at(1) }));
    add('cert-pem', kv.importCertificate(vault, 'cert-pem', { pem: chain.shuffledPem }, { created: at(2) }));
    // PKCS#12 as Key Vault writes it (3DES, SHA-1 MAC), and as OpenSSL 3 writes it (AES-256, SHA-256 MAC).
    add('cert-pfx', kv.importCertificate(vault, 'cert-pfx', { pfx: chain.legacyPfx }));
    add('cert-pfx-aes', kv.importCertificate(vault, 'cert-pfx-aes', { pfx: chain.pfx }));
    add('cert-ec', kv.importCertificate(vault, 'cert-ec', { pem: ec.pem }));
    add('cert-ec-pfx', kv.importCertificate(vault, 'cert-ec-pfx', { pfx: ec.legacyPfx }));
    add('cert-ec-pfx-aes', kv.importCertificate(vault, 'cert-ec-pfx-aes', { pfx: ec.pfx }));
    add('rsa', kv.createKey(vault, 'rsa', { kty: 'RSA', created: at(1) }));
    add('rsa', kv.createKey(vault, 'rsa', { kty: 'RSA', keySize: 3072, created: at(2) }));
    add('rsa-hsm', kv.createKey(vault, 'rsa-hsm', { kty: 'RSA-HSM' }));
    add('ec256', kv.createKey(vault, 'ec256', { kty: 'EC', crv: 'P-256' }));
    add('ec384', kv.createKey(vault, 'ec384', { kty: 'EC', crv: 'P-384' }));
    add('ec521', kv.createKey(vault, 'ec521', { kty: 'EC-HSM', crv: 'P-521' }));
    add('ec256k', kv.createKey(vault, 'ec256k', { kty: 'EC', crv: 'P-256K' }));
    add('oct', kv.createKey(vault, 'oct', { kty: 'oct-HSM' }));
  });

  after(() => {
    const same = results.filter((r) => r.same).length;
    console.log(`\n  interop cases: ${results.length}, same: ${same}, different: ${results.length - same}`);
    for (const r of results.filter((x) => !x.same)) {
      console.log(
        `  - ${r.name}: ${r.differences.join('; ')}\n      ours:     ${r.ours}\n      upstream: ${r.upstream}`,
      );
    }
  });

  const v = (name: string, index: number) =>
    versions[name]?.at(index) ?? expect.fail(`no version ${index} of ${name}`);
  const secret = (objectName: string, extra: Partial<AzureObject> = {}): AzureObject => ({
    objectName,
    objectType: 'secret',
    ...extra,
  });
  const key = (objectName: string, extra: Partial<AzureObject> = {}): AzureObject => ({
    objectName,
    objectType: 'key',
    ...extra,
  });
  const cert = (objectName: string, extra: Partial<AzureObject> = {}): AzureObject => ({
    objectName,
    objectType: 'cert',
    ...extra,
  });

  const cases: Case[] = [
    // secrets, formats and encodings
    { name: 'secret, latest version', objects: () => [secret('plain')] },
    {
      // Ours (issue 16): upstream's yaml.v3 ignores unknown object keys, so a class using our fields mounts the
      // object alone there; ours adds the extracted file and leaves the object's own file byte for byte.
      name: 'secret with jmesPath (ours; upstream ignores the key)',
      differs: ['file json-user: only ours writes it'],
      objects: () => [secret('json', { jmesPath: [{ path: 'user', objectAlias: 'json-user' }] })],
    },
    {
      name: 'secret with jmesPath: [] and pemContent all (ours, no effect): same as upstream',
      objects: () => [secret('json', { jmesPath: [], pemContent: 'all' })],
    },
    { name: 'secret with objectAlias', objects: () => [secret('plain', { objectAlias: 'renamed.txt' })] },
    {
      name: 'secret at an older objectVersion',
      objects: () => [secret('plain', { objectVersion: v('plain', 0) })],
    },
    { name: 'secret, objectEncoding utf-8', objects: () => [secret('unicode', { objectEncoding: 'utf-8' })] },
    { name: 'secret, objectEncoding hex', objects: () => [secret('hexsecret', { objectEncoding: 'hex' })] },
    {
      name: 'secret, objectEncoding base64',
      objects: () => [secret('b64secret', { objectEncoding: 'base64' })],
    },
    {
      name: 'error: objectEncoding base64 of text that is not base64',
      objects: () => [secret('notbase64', { objectEncoding: 'base64' })],
    },
    {
      name: 'secret, objectEncoding HEX (case)',
      objects: () => [secret('hexsecret', { objectEncoding: 'HEX' })],
    },
    { name: 'secret, objectVersionHistory 3', objects: () => [secret('plain', { objectVersionHistory: 3 })] },
    {
      name: 'secret, objectVersionHistory 5 of 3 versions',
      objects: () => [secret('plain', { objectVersionHistory: 5 })],
    },
    {
      name: 'secret, objectVersionHistory 2 with objectAlias',
      // upstream returns N+1 versions when more than N exist (compatibility.md, fixed quirks)
      differs: [
        'object version secret/plain/2: only upstream reports it',
        'file hist/2: only upstream writes it',
      ],
      objects: () => [secret('plain', { objectVersionHistory: 2, objectAlias: 'hist' })],
    },
    {
      name: 'secret, objectVersionHistory 1 (single file)',
      objects: () => [secret('plain', { objectVersionHistory: 1 })],
    },
    {
      name: 'secret, objectVersionHistory with a disabled version',
      objects: () => [secret('disabled', { objectVersionHistory: 2 })],
    },
    { name: 'secret, filePermission 0600', objects: () => [secret('plain', { filePermission: '0600' })] },
    {
      name: 'secret, filePermission 755 without a leading zero',
      objects: () => [secret('plain', { filePermission: '755' })],
    },
    { name: 'error: secret whose latest version is disabled', objects: () => [secret('disabled')] },
    { name: 'secret of a PEM certificate (key and chain)', objects: () => [secret('cert-pem')] },
    {
      name: 'secret of a PEM certificate imported in the wrong order',
      objects: () => [secret('cert-pem', { objectVersion: v('cert-pem', 1) })],
    },
    { name: 'secret of a PFX certificate as PEM (chain ordered)', objects: () => [secret('cert-pfx')] },
    {
      name: 'secret of a PFX certificate, objectFormat pfx',
      objects: () => [secret('cert-pfx', { objectFormat: 'pfx' })],
    },
    {
      name: 'secret of a PFX certificate, objectFormat pfx, objectEncoding base64',
      objects: () => [secret('cert-pfx', { objectFormat: 'pfx', objectEncoding: 'base64' })],
    },
    {
      name: 'secret of a PEM certificate, objectFormat pfx',
      objects: () => [secret('cert-pem', { objectFormat: 'pfx' })],
    },
    { name: 'secret of an EC PEM certificate', objects: () => [secret('cert-ec')] },
    { name: 'secret of an EC PFX certificate as PEM', objects: () => [secret('cert-ec-pfx')] },
    {
      name: 'secret of an AES-256/SHA-256 PKCS#12 certificate as PEM',
      objects: () => [secret('cert-pfx-aes')],
      differs: [PKCS12_AES],
    },
    {
      name: 'secret of an AES-256/SHA-256 PKCS#12 EC certificate as PEM',
      objects: () => [secret('cert-ec-pfx-aes')],
      differs: [PKCS12_AES],
    },
    {
      name: 'secret of an AES-256/SHA-256 PKCS#12 certificate, objectFormat pfx (bytes as stored)',
      objects: () => [secret('cert-pfx-aes', { objectFormat: 'pfx' })],
    },
    {
      name: 'secret of a certificate, objectVersionHistory 2',
      objects: () => [secret('cert-pem', { objectVersionHistory: 2 })],
    },
    // keys
    { name: 'RSA key (public PEM)', objects: () => [key('rsa')] },
    {
      name: 'RSA key at an older objectVersion',
      objects: () => [key('rsa', { objectVersion: v('rsa', 0) })],
    },
    { name: 'RSA key, objectVersionHistory 2', objects: () => [key('rsa', { objectVersionHistory: 2 })] },
    { name: 'RSA-HSM key', objects: () => [key('rsa-hsm')] },
    { name: 'EC P-256 key', objects: () => [key('ec256')] },
    { name: 'EC P-384 key', objects: () => [key('ec384')] },
    { name: 'EC-HSM P-521 key', objects: () => [key('ec521')] },
    { name: 'error: EC P-256K key (no PEM for secp256k1)', objects: () => [key('ec256k')] },
    { name: 'error: oct-HSM key (no public half)', objects: () => [key('oct')] },
    {
      name: 'error: objectEncoding for a key',
      objects: () => [key('ec256', { objectEncoding: 'base64' })],
    },
    // certificates
    { name: 'certificate from PEM (leaf only)', objects: () => [cert('cert-pem')] },
    { name: 'certificate from PFX', objects: () => [cert('cert-pfx')] },
    { name: 'EC certificate', objects: () => [cert('cert-ec')] },
    { name: 'certificate with objectAlias', objects: () => [cert('cert-pfx', { objectAlias: 'tls.crt' })] },
    {
      name: 'certificate, objectVersionHistory 2',
      objects: () => [cert('cert-pem', { objectVersionHistory: 2 })],
    },
    {
      name: 'error: objectFormat pfx for a certificate',
      objects: () => [cert('cert-pfx', { objectFormat: 'pfx' })],
    },
    // several objects in one request
    {
      name: 'secret, key and certificate in one request',
      objects: () => [secret('plain'), key('ec256', { objectAlias: 'ec.pub' }), cert('cert-ec')],
    },
    // split certificate and key files (--write-cert-and-key-in-separate-files)
    { name: 'split files: secret of a PEM certificate', objects: () => [secret('cert-pem')], split: true },
    { name: 'split files: secret of a PFX certificate', objects: () => [secret('cert-pfx')], split: true },
    {
      name: 'split files: secret of a PFX certificate with objectAlias',
      objects: () => [secret('cert-pfx', { objectAlias: 'tls' })],
      split: true,
    },
    {
      name: 'split files: secret of a PFX certificate, objectFormat pfx',
      // upstream writes empty .crt/.key files beside the PFX (upstream #1277) and reports the version thrice
      differs: [
        'object version secret/cert-pfx: reported 1 time(s) by ours, 3 by upstream',
        'file cert-pfx.crt: only upstream writes it',
        'file cert-pfx.key: only upstream writes it',
      ],
      objects: () => [secret('cert-pfx', { objectFormat: 'pfx' })],
      split: true,
    },
    {
      name: 'split files: AES-256/SHA-256 PKCS#12 certificate',
      objects: () => [secret('cert-pfx-aes')],
      split: true,
      differs: [PKCS12_AES],
    },
    { name: 'split files: plain secret', objects: () => [secret('plain')], split: true },
    { name: 'split files: certificate', objects: () => [cert('cert-pem')], split: true },
    // errors
    { name: 'error: missing secret', objects: () => [secret('nosuchsecret')] },
    {
      name: 'error: missing secret version',
      objects: () => [secret('plain', { objectVersion: '0123456789abcdef0123456789abcdef' })],
    },
    { name: 'error: missing key', objects: () => [key('nosuchkey')] },
    { name: 'error: missing certificate', objects: () => [cert('nosuchcert')] },
    {
      name: 'error: objectVersionHistory of a missing secret',
      // ours names the object as for every other object error; upstream gives only the Key Vault response
      differs: [
        CODE_BY_KIND,
        'message prefix: ours "failed to mount objects, error: failed to get objectType:secret, objectName:nosuchsecret, objectVersion:: ", upstream "failed to mount objects, error: "',
      ],
      objects: () => [secret('nosuchsecret', { objectVersionHistory: 2 })],
    },
    { name: 'error: invalid objectType', objects: () => [{ objectName: 'plain', objectType: 'blob' }] },
    { name: 'error: invalid objectEncoding', objects: () => [secret('plain', { objectEncoding: 'rot13' })] },
    {
      name: 'error: hex encoding of text that is not hex',
      objects: () => [secret('plain', { objectEncoding: 'hex' })],
    },
    { name: 'error: invalid objectFormat', objects: () => [secret('plain', { objectFormat: 'jks' })] },
    {
      name: 'secret, objectFormat pfx of a plain secret (value as stored)',
      objects: () => [secret('plain', { objectFormat: 'pfx' })],
    },
    { name: 'error: empty objectName', objects: () => [secret('')] },
    {
      name: 'error: objectAlias with a path separator',
      objects: () => [secret('plain', { objectAlias: '../escape' })],
    },
    {
      name: 'error: no keyvaultName',
      objects: () => [secret('plain')],
      parameters: () => ({ keyvaultName: undefined }),
    },
    {
      name: 'error: no tenantId',
      objects: () => [secret('plain')],
      parameters: () => ({ tenantId: undefined }),
    },
    {
      name: 'error: vault that does not resolve',
      objects: () => [secret('plain')],
      parameters: () => ({ keyvaultName: 'kv-nowhere' }),
    },
    {
      name: 'error: wrong client secret',
      objects: () => [secret('plain')],
      secrets: { clientid: CLIENT_ID, clientsecret: 'wrong' },
    },
    { name: 'error: no nodePublishSecretRef', objects: () => [secret('plain')], secrets: null },
    {
      name: 'error: service principal of another tenant',
      objects: () => [secret('plain')],
      parameters: () => ({ tenantId: 'tenant-other' }),
    },
  ];

  /** What a case must show: its own list, else for an error case the documented code difference. */
  const expected = (c: Case): readonly string[] =>
    c.differs ?? (c.name.startsWith('error:') ? [CODE_BY_KIND] : []);

  for (const c of cases) {
    const title = expected(c).length === 0 ? 'same' : `documented difference: ${expected(c).join('; ')}`;
    it(`${c.name}: ${title.length > 140 ? `${title.slice(0, 140)}…` : title}`, async () => {
      const base = interop().parameters(c.objects());
      const parameters = Object.fromEntries(
        Object.entries({ ...base, ...(c.parameters?.() ?? {}) }).filter(
          (entry): entry is [string, string] => entry[1] !== undefined,
        ),
      );
      const request = driverMountRequest({
        parameters,
        secrets: c.secrets === undefined ? { clientid: CLIENT_ID, clientsecret: CLIENT_SECRET } : c.secrets,
      });
      const [oursClient, upstreamClient] = c.split
        ? [interop().client('oursSplit'), interop().client('upstreamSplit')]
        : [interop().client('ours'), interop().client('upstream')];
      try {
        const deadline = new Date(Date.now() + 60_000);
        const [ours, upstream] = await Promise.all([
          oursClient.mount(request, { deadline }),
          upstreamClient.mount(request, { deadline }),
        ]);
        const differences = compare(ours, upstream);
        results.push({
          name: c.name,
          same: differences.length === 0,
          differences,
          ours: summary(ours),
          upstream: summary(upstream),
          keyVaultLines: ours.ok ? [] : keyVaultLines(ours.details),
        });
        expect(differences, `ours: ${summary(ours)}\nupstream: ${summary(upstream)}`).to.deep.equal(
          expected(c),
        );
      } finally {
        oursClient.close();
        upstreamClient.close();
      }
    });
  }

  it('compared the Key Vault lines users search for on both sides (status and error code)', () => {
    const missing = results.find((r) => r.name === 'error: missing secret');
    expect(missing?.keyVaultLines).to.have.lengthOf(3);
    expect(missing?.keyVaultLines[1]).to.equal('RESPONSE 404: 404 Not Found');
    expect(missing?.keyVaultLines[2]).to.equal('ERROR CODE: SecretNotFound');
  });

  it('used the tenant of the class for every token (both providers authenticated)', () => {
    const tokens = interop().entra.requests.filter((r) => r.clientId === CLIENT_ID && r.status === 200);
    expect(tokens.length).to.be.greaterThan(0);
    expect(new Set(tokens.map((t) => t.tenantId))).to.deep.equal(new Set([TENANT_ID]));
  });
});
