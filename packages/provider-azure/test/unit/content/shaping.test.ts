/**
 * Certificates upstream cannot serve (issue 16 §4): a password-protected PFX (`pfxPasswordSecretKey`), a
 * certificate's private key or certificates alone (`pemContent`), and a PFX or PEM stored as a plain secret
 * (`objectContentType`). Material comes from the openssl CLI, so expectations never come from the code under
 * test.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@secrets-store-csi/core';
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { parsePemBlocks, secretContents, type SecretValue } from '../../../src/content/index.js';
import type { ObjectShaping } from '../../../src/model.js';

const PASSWORD = 'Pfx-P4ss-wörd-SECRET';
const SOURCE = 'nodePublishSecretRef key "pfx-password"';
const options = { constructPemChain: true, writeCertAndKeyInSeparateFiles: false };
const split = { constructPemChain: true, writeCertAndKeyInSeparateFiles: true };

const shaping = (fields: Partial<ObjectShaping>): ObjectShaping => ({
  jmesPath: [],
  objectContentType: '',
  pemContent: '',
  pfxPasswordSecretKey: '',
  ...fields,
});

describe('content/shaping: password PFX, key only, PFX stored as a secret', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'azure-shaping-'));
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let keyPkcs8: string;
  let certDer: Buffer;
  const pfx: Record<'plain' | 'aes' | 'legacy', string> = { plain: '', aes: '', legacy: '' };

  before(() => {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-days',
      '2',
      '-subj',
      '/CN=shaping.test',
    );
    keyPkcs8 = createPrivateKey(readFileSync(join(dir, 'k.pem'))).export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    certDer = new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw;
    const archive = (name: string, password: string, ...extra: string[]) => {
      openssl(
        'pkcs12',
        '-export',
        '-inkey',
        'k.pem',
        '-in',
        'c.pem',
        '-passout',
        `pass:${password}`,
        ...extra,
        '-out',
        `${name}.pfx`,
      );
      return readFileSync(join(dir, `${name}.pfx`)).toString('base64');
    };
    pfx.plain = archive('plain', '');
    pfx.aes = archive('aes', PASSWORD);
    pfx.legacy = archive(
      'legacy',
      PASSWORD,
      '-certpbe',
      'PBE-SHA1-3DES',
      '-keypbe',
      'PBE-SHA1-3DES',
      '-macalg',
      'sha1',
    );
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const blocks = (text: string) => parsePemBlocks(text).map((b) => b.type);
  const plainSecret = (value: string, contentType?: string): SecretValue => ({
    value,
    ...(contentType && { contentType }),
  });
  const certSecret = (value: string, contentType: string): SecretValue => ({
    value,
    contentType,
    kid: 'https://kv/keys/c/1',
  });

  function contentFailure(run: () => unknown): string {
    try {
      run();
    } catch (error) {
      expect(error).to.be.instanceOf(ProviderError);
      expect((error as ProviderError).code).to.equal('InvalidContent');
      const message = (error as Error).message;
      expect(message).not.to.include(PASSWORD);
      return message;
    }
    throw new Error('expected a failure');
  }

  for (const kind of ['aes', 'legacy'] as const) {
    it(`converts a ${kind} password-protected PFX stored as a plain secret to PEM with the password`, () => {
      const files = secretContents(
        plainSecret(pfx[kind]),
        {
          objectFormat: '',
          shaping: shaping({
            objectContentType: 'application/x-pkcs12',
            pfxPasswordSecretKey: 'pfx-password',
          }),
        },
        options,
        silentLogger,
        { value: PASSWORD, source: SOURCE },
      );
      expect(files.map((f) => f.suffix)).to.deep.equal(['']);
      const text = files[0]?.text ?? '';
      expect(blocks(text)).to.deep.equal(['PRIVATE KEY', 'CERTIFICATE']);
      expect(text.startsWith(keyPkcs8)).to.equal(true);
      expect(Buffer.from(parsePemBlocks(text)[1]!.der).equals(certDer)).to.equal(true);
    });
  }

  it('fails a wrong password naming where it came from, never the password', () => {
    for (const kind of ['aes', 'legacy'] as const) {
      const message = contentFailure(() =>
        secretContents(
          plainSecret(pfx[kind]),
          {
            objectFormat: '',
            shaping: shaping({
              objectContentType: 'application/x-pkcs12',
              pfxPasswordSecretKey: 'pfx-password',
            }),
          },
          options,
          silentLogger,
          { value: 'wrong-password', source: SOURCE },
        ),
      );
      expect(message).to.equal(
        'failed to decode PKCS#12: the MAC does not verify with the password from nodePublishSecretRef key "pfx-password" (wrong password?)',
      );
      expect(message).not.to.include('wrong-password');
    }
  });

  it('without a password keeps the existing error for a protected PFX', () => {
    expect(
      contentFailure(() =>
        secretContents(
          plainSecret(pfx.aes),
          { objectFormat: '', shaping: shaping({ objectContentType: 'application/x-pkcs12' }) },
          options,
          silentLogger,
        ),
      ),
    ).to.include('the MAC does not verify with an empty password');
  });

  it('serves a passwordless PFX stored as a plain secret as PEM, with split files (upstream #273)', () => {
    const files = secretContents(
      plainSecret(pfx.plain, 'application/x-pkcs12'),
      { objectFormat: '', shaping: shaping({ objectContentType: 'application/x-pkcs12' }) },
      split,
      silentLogger,
    );
    expect(files.map((f) => [f.suffix, blocks(f.text)])).to.deep.equal([
      ['.crt', ['CERTIFICATE']],
      ['.key', ['PRIVATE KEY']],
      ['', ['PRIVATE KEY', 'CERTIFICATE']],
    ]);
  });

  it('keeps objectFormat pfx as stored with objectContentType', () => {
    const files = secretContents(
      plainSecret(pfx.plain),
      { objectFormat: 'pfx', shaping: shaping({ objectContentType: 'application/x-pkcs12' }) },
      options,
      silentLogger,
    );
    expect(files).to.deep.equal([{ suffix: '', text: pfx.plain }]);
  });

  it('gives only the private key, or only the certificates, of a certificate-backed secret (upstream #1795)', () => {
    for (const [contentType, value] of [
      ['application/x-pkcs12', () => pfx.plain],
      ['application/x-pem-file', () => keyPkcs8 + readFileSync(join(dir, 'c.pem'), 'utf8')],
    ] as const) {
      const key = secretContents(
        certSecret(value(), contentType),
        { objectFormat: '', shaping: shaping({ pemContent: 'key' }) },
        split,
        silentLogger,
      );
      expect(
        key.map((f) => f.suffix),
        contentType,
      ).to.deep.equal(['']);
      expect(key[0]?.text, contentType).to.equal(keyPkcs8);
      const certs = secretContents(
        certSecret(value(), contentType),
        { objectFormat: '', shaping: shaping({ pemContent: 'CERTS' }) },
        options,
        silentLogger,
      );
      expect(blocks(certs[0]?.text ?? ''), contentType).to.deep.equal(['CERTIFICATE']);
      expect(Buffer.from(parsePemBlocks(certs[0]?.text ?? '')[0]!.der).equals(certDer)).to.equal(true);
    }
  });

  it('gives the key of a password-protected PFX stored as a plain secret', () => {
    const files = secretContents(
      plainSecret(pfx.aes),
      {
        objectFormat: '',
        shaping: shaping({
          objectContentType: 'application/x-pkcs12',
          pemContent: 'key',
          pfxPasswordSecretKey: 'pfx-password',
        }),
      },
      options,
      silentLogger,
      { value: PASSWORD, source: SOURCE },
    );
    expect(files).to.deep.equal([{ suffix: '', text: keyPkcs8 }]);
  });

  it('fails pemContent key on content with no key, and on a plain secret without objectContentType', () => {
    const certOnly = readFileSync(join(dir, 'c.pem'), 'utf8');
    expect(
      contentFailure(() =>
        secretContents(
          certSecret(certOnly, 'application/x-pem-file'),
          { objectFormat: '', shaping: shaping({ pemContent: 'key' }) },
          options,
          silentLogger,
        ),
      ),
    ).to.equal('pemContent key: the certificate has no private key');
    expect(
      contentFailure(() =>
        secretContents(
          plainSecret(pfx.plain),
          { objectFormat: '', shaping: shaping({ pemContent: 'key' }) },
          options,
          silentLogger,
        ),
      ),
    ).to.equal(
      'pemContent needs a certificate: this secret is not certificate-backed; set objectContentType to application/x-pkcs12 or application/x-pem-file',
    );
    expect(
      contentFailure(() =>
        secretContents(
          plainSecret(pfx.aes),
          { objectFormat: '', shaping: shaping({ pfxPasswordSecretKey: 'pfx-password' }) },
          options,
          silentLogger,
          {
            value: PASSWORD,
            source: SOURCE,
          },
        ),
      ),
    ).to.include('pfxPasswordSecretKey needs a certificate');
  });

  it('leaves a plain secret as stored when the shaping fields are empty or only jmesPath', () => {
    for (const fields of [
      {},
      { pemContent: 'all' },
      { jmesPath: [{ path: 'a', objectAlias: 'b', filePermission: '' }] },
    ]) {
      expect(
        secretContents(
          plainSecret(pfx.plain, 'application/x-pkcs12'),
          { objectFormat: '', shaping: shaping(fields) },
          options,
          silentLogger,
        ),
      ).to.deep.equal([{ suffix: '', text: pfx.plain }]);
    }
  });
});
