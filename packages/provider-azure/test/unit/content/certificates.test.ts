/**
 * Certificate-backed secrets: chain ordering (upstream `fetchCertChains`), PFX → PEM (`decodePKCS12`) and
 * the per-secret files (`getSecret`). All material is made fresh by the `openssl` CLI in a temporary
 * directory (node-forge only for a PFX shape openssl cannot write), so expectations come from openssl's own
 * output, never from the code under test. openssl writes PEM in the same 64-column layout as Go.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordingLogger, silentLogger } from '@secrets-store-csi/core';
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type * as Forge from 'node-forge';
import {
  INCOMPLETE_CHAIN_WARNING,
  decodePkcs12,
  orderCertChain,
  parsePemBlocks,
  pfxToPem,
  secretContents,
  splitCertAndKey,
  type SecretContentOptions,
} from '../../../src/content/index.js';

const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;

interface CertOptions {
  /** Name of the issuing cert (its key signs); self-signed when absent. */
  readonly issuer?: string;
  /** `hash`, `none` or explicit hex. */
  readonly ski?: string;
  /** `keyid:always` or `none`. */
  readonly aki?: string;
  readonly ca?: boolean;
  /** Key file stem; defaults to the cert name. */
  readonly key?: string;
}

/** A throwaway PKI driven by the openssl CLI. */
class Pki {
  readonly dir = mkdtempSync(join(tmpdir(), 'azure-content-'));
  #serial = 1;

  openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  text(file: string): string {
    return readFileSync(join(this.dir, file), 'latin1');
  }

  key(name: string, type: 'ec' | 'rsa'): void {
    if (type === 'ec')
      this.openssl(
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        `${name}.key`,
      );
    else
      this.openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${name}.key`);
  }

  /** Issues `<name>.crt` and returns its PEM text as openssl wrote it. */
  cert(name: string, options: CertOptions = {}): string {
    const key = `${options.key ?? name}.key`;
    const ext = [
      '[v3]',
      `basicConstraints=${options.ca === false ? 'CA:FALSE' : 'critical,CA:TRUE'}`,
      `subjectKeyIdentifier=${options.ski ?? 'hash'}`,
      `authorityKeyIdentifier=${options.aki ?? (options.issuer === undefined ? 'none' : 'keyid:always')}`,
      '',
    ].join('\n');
    writeFileSync(join(this.dir, `${name}.ext`), ext);
    this.openssl('req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
    const signer =
      options.issuer === undefined
        ? ['-key', key]
        : [
            '-CA',
            `${options.issuer}.crt`,
            '-CAkey',
            `${this.issuerKey.get(options.issuer) ?? options.issuer}.key`,
          ];
    this.openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      ...signer,
      '-days',
      '2',
      '-set_serial',
      String(this.#serial++),
      '-extfile',
      `${name}.ext`,
      '-extensions',
      'v3',
      '-out',
      `${name}.crt`,
    );
    this.issuerKey.set(name, options.key ?? name);
    return this.text(`${name}.crt`);
  }

  readonly issuerKey = new Map<string, string>();

  /** A passwordless PFX as Key Vault stores it: base64 text. */
  pfx(name: string, args: string[]): string {
    this.openssl('pkcs12', '-export', ...args, '-out', `${name}.pfx`);
    return readFileSync(join(this.dir, `${name}.pfx`)).toString('base64');
  }

  write(file: string, text: string): string {
    writeFileSync(join(this.dir, file), text);
    return file;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    expect(isProviderError(error), `a ProviderError, got ${String(error)}`).to.equal(true);
    expect((error as { code: string }).code).to.equal('InvalidContent');
    return error as Error;
  }
  expect.fail('expected an error');
}

const spkiOfCert = (pem: string): Buffer =>
  new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const spkiOfKey = (pem: string): Buffer =>
  createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });

describe('content/certificates', function () {
  this.timeout(60_000);
  const pki = new Pki();
  const pem: Record<string, string> = {};
  const pfx: Record<string, string> = {};

  before(() => {
    for (const name of ['root', 'int1', 'int2', 'leaf', 'leaf2', 'leafNoSki', 'stranger', 'bare', 'a', 'b']) {
      pki.key(name, 'ec');
    }
    pki.key('rsaLeaf', 'rsa');
    pki.key('ecLeaf', 'ec');
    pki.key('selfRsa', 'rsa');

    pem.root = pki.cert('root', { aki: 'keyid:always' });
    pem.int1 = pki.cert('int1', { issuer: 'root' });
    pem.int2 = pki.cert('int2', { issuer: 'int1' });
    pem.leaf = pki.cert('leaf', { issuer: 'int1', ca: false });
    pem.leaf2 = pki.cert('leaf2', { issuer: 'int2', ca: false });
    pem.leafNoSki = pki.cert('leafNoSki', { issuer: 'int1', ca: false, ski: 'none' });
    pem.stranger = pki.cert('stranger');
    pem.bare = pki.cert('bare', { ski: 'none', aki: 'none', ca: false });
    pem.rsaLeaf = pki.cert('rsaLeaf', { issuer: 'int1', ca: false });
    pem.ecLeaf = pki.cert('ecLeaf', { issuer: 'int1', ca: false });
    pem.selfRsa = pki.cert('selfRsa', { ca: false });

    // A cycle: a is issued by b and b by a (explicit key ids make it possible); cycleLeaf hangs below a.
    pki.cert('b0', { key: 'b', ski: 'bbbbbbbb' });
    pem.a = pki.cert('a', { issuer: 'b0', ski: 'aaaaaaaa' });
    pem.b = pki.cert('b', { issuer: 'a', ski: 'bbbbbbbb' });
    pki.key('cycleLeaf', 'ec');
    pem.cycleLeaf = pki.cert('cycleLeaf', { issuer: 'a', ca: false });

    const chain = pki.write('chain.pem', pem.int1 + pem.root);
    const legacy = ['-legacy'];
    const pass = ['-passout', 'pass:'];
    pfx.rsa = pki.pfx('rsa', ['-inkey', 'rsaLeaf.key', '-in', 'rsaLeaf.crt', '-certfile', chain, ...pass]);
    pfx.rsaLegacy = pki.pfx('rsaLegacy', [
      '-inkey',
      'rsaLeaf.key',
      '-in',
      'rsaLeaf.crt',
      '-certfile',
      chain,
      ...pass,
      ...legacy,
    ]);
    pfx.ec = pki.pfx('ec', ['-inkey', 'ecLeaf.key', '-in', 'ecLeaf.crt', '-certfile', chain, ...pass]);
    pfx.ecLegacy = pki.pfx('ecLegacy', [
      '-inkey',
      'ecLeaf.key',
      '-in',
      'ecLeaf.crt',
      '-certfile',
      chain,
      ...pass,
      ...legacy,
    ]);
    pfx.rsa3des = pki.pfx('rsa3des', [
      '-inkey',
      'rsaLeaf.key',
      '-in',
      'rsaLeaf.crt',
      '-certfile',
      chain,
      ...pass,
      '-keypbe',
      'PBE-SHA1-3DES',
      '-certpbe',
      'PBE-SHA1-3DES',
      '-macalg',
      'sha1',
    ]);
    pfx.leafOnly = pki.pfx('leafOnly', ['-inkey', 'ecLeaf.key', '-in', 'ecLeaf.crt', ...pass]);
    pfx.noMac = pki.pfx('noMac', ['-inkey', 'ecLeaf.key', '-in', 'ecLeaf.crt', ...pass, '-nomac']);
    pfx.password = pki.pfx('password', [
      '-inkey',
      'ecLeaf.key',
      '-in',
      'ecLeaf.crt',
      '-passout',
      'pass:secret',
    ]);
    const reversed = pki.write('reversed.pem', pem.root + pem.int1 + pem.leaf);
    pfx.certsReversed = pki.pfx('certsReversed', ['-nokeys', '-in', reversed, ...pass]);
    pfx.incomplete = pki.pfx('incomplete', [
      '-inkey',
      'ecLeaf.key',
      '-in',
      'ecLeaf.crt',
      '-certfile',
      'root.crt',
      ...pass,
    ]);

    // Zero-length (not BMPString 00 00) password, unencrypted key bag: forge writes this, openssl cannot.
    const forgePfx = forge.pkcs12.toPkcs12Asn1(
      forge.pki.privateKeyFromPem(pki.text('selfRsa.key')),
      [forge.pki.certificateFromPem(pem.selfRsa)],
      null,
    );
    pfx.forgeNullPassword = Buffer.from(forge.asn1.toDer(forgePfx).getBytes(), 'binary').toString('base64');
  });

  after(() => {
    pki.cleanup();
  });

  describe('orderCertChain', () => {
    const names = (text: string): string[] =>
      parsePemBlocks(text).map((block) => new X509Certificate(block.der).subject.replace('CN=', ''));

    it('orders all 6 permutations of root, intermediate and leaf as leaf → intermediate → root', () => {
      for (const order of permutations(['root', 'int1', 'leaf'])) {
        const logger = recordingLogger();
        const input = order.map((name) => pem[name]!).join('');
        expect(orderCertChain(input, logger), order.join(',')).to.equal(pem.leaf! + pem.int1! + pem.root!);
        expect(logger.lines).to.deep.equal([]);
      }
    });

    it('orders all 24 permutations with two intermediates as leaf → int2 → int1 → root', () => {
      const all = permutations(['root', 'int1', 'int2', 'leaf2']);
      expect(all).to.have.length(24);
      for (const order of all) {
        const input = order.map((name) => pem[name]!).join('');
        expect(names(orderCertChain(input, silentLogger)), order.join(',')).to.deep.equal([
          'leaf2',
          'int2',
          'int1',
          'root',
        ]);
        expect(orderCertChain(input, silentLogger)).to.equal(pem.leaf2! + pem.int2! + pem.int1! + pem.root!);
      }
    });

    it('orders a chain whose leaf has no subject key identifier', () => {
      for (const order of permutations(['root', 'leafNoSki', 'int1'])) {
        const input = order.map((name) => pem[name]!).join('');
        expect(orderCertChain(input, silentLogger)).to.equal(pem.leafNoSki! + pem.int1! + pem.root!);
      }
    });

    it('re-encodes the ordered certificates in Go layout, dropping text between blocks and CRLFs', () => {
      const input = `Bag Attributes\r\n${pem.root!.replace(/\n/g, '\r\n')}subject=x\n${pem.leaf!}${pem.int1!}`;
      expect(orderCertChain(input, silentLogger)).to.equal(pem.leaf! + pem.int1! + pem.root!);
    });

    const fallbacks: [string, string[]][] = [
      ['a missing intermediate', ['leaf', 'root']],
      ['a missing intermediate (root first)', ['root', 'leaf']],
      ['an unrelated extra certificate', ['leaf', 'int1', 'root', 'stranger']],
      ['an unrelated certificate first', ['stranger', 'root', 'int1', 'leaf']],
      ['a certificate without key identifiers', ['bare', 'root']],
    ];
    for (const [what, order] of fallbacks) {
      it(`returns the original text unchanged and warns on ${what}`, () => {
        const logger = recordingLogger();
        const input = `# comment\n${order.map((name) => pem[name]!).join('\r\n')}`;
        expect(orderCertChain(input, logger)).to.equal(input);
        expect(logger.lines).to.deep.equal([
          { level: 'warn', message: INCOMPLETE_CHAIN_WARNING, fields: {} },
        ]);
      });
    }

    it('orders a chain without its root: only the walk from the leaf has to cover every certificate', () => {
      const logger = recordingLogger();
      expect(orderCertChain(pem.int1! + pem.leaf!, logger)).to.equal(pem.leaf! + pem.int1!);
      expect(logger.lines).to.deep.equal([]);
    });

    it('never links a certificate without authority key id to one without subject key id', () => {
      // Go's bytes.Equal(nil, nil) would be true; upstream skips that pair, so this chain stays incomplete.
      const logger = recordingLogger();
      const input = pem.bare! + pem.leafNoSki! + pem.int1! + pem.root!;
      expect(orderCertChain(input, logger)).to.equal(input);
      expect(logger.lines.map((line) => line.message)).to.deep.equal([INCOMPLETE_CHAIN_WARNING]);
    });

    it("keeps upstream's warning text", () => {
      expect(INCOMPLETE_CHAIN_WARNING).to.equal(
        'certificate chain is not complete due to missing intermediate/root certificates in the cert from key vault',
      );
    });

    it('passes a single certificate through', () => {
      const logger = recordingLogger();
      expect(orderCertChain(pem.leaf!, logger)).to.equal(pem.leaf);
      expect(logger.lines).to.deep.equal([]);
    });

    it('fails with "constructing chain resulted in cycle" when the walk from the leaf loops', () => {
      expect(errorOf(() => orderCertChain(pem.cycleLeaf! + pem.a! + pem.b!, silentLogger)).message).to.equal(
        'constructing chain resulted in cycle',
      );
    });

    it('fails with "no leaf found" when every certificate is a parent, or there is none', () => {
      expect(errorOf(() => orderCertChain(pem.a! + pem.b!, silentLogger)).message).to.equal('no leaf found');
      expect(errorOf(() => orderCertChain('', silentLogger)).message).to.equal('no leaf found');
    });

    it('fails on a block that is not a certificate', () => {
      const key = pki.text('leaf.key');
      expect(errorOf(() => orderCertChain(pem.leaf! + key, silentLogger)).message).to.match(
        /^failed to parse certificate: /,
      );
    });
  });

  describe('decodePkcs12 and pfxToPem', () => {
    const cases = [
      ['RSA key, AES-256 / SHA-256 MAC (OpenSSL 3 default)', 'rsa', 'rsaLeaf', 'rsa'],
      ['RSA key, legacy RC2-40 / 3DES / SHA-1 MAC', 'rsaLegacy', 'rsaLeaf', 'rsa'],
      ['RSA key, 3DES for certificates and key', 'rsa3des', 'rsaLeaf', 'rsa'],
      ['EC key, AES-256 / SHA-256 MAC', 'ec', 'ecLeaf', 'ec'],
      ['EC key, legacy RC2-40 / 3DES / SHA-1 MAC', 'ecLegacy', 'ecLeaf', 'ec'],
    ] as const;
    for (const [what, archive, leaf, keyType] of cases) {
      it(`${what}: PKCS#8 key matching the leaf, then leaf → intermediate → root`, () => {
        const { keyPem, certPem } = decodePkcs12(pfx[archive]!);
        const keyBlocks = parsePemBlocks(keyPem);
        expect(keyBlocks.map((block) => block.type)).to.deep.equal(['PRIVATE KEY']);
        const key = createPrivateKey({ key: Buffer.from(keyBlocks[0]!.der), format: 'der', type: 'pkcs8' });
        expect(key.asymmetricKeyType).to.equal(keyType);
        expect(spkiOfKey(keyPem).equals(spkiOfCert(pem[leaf]!))).to.equal(true);
        expect(spkiOfKey(keyPem).equals(spkiOfKey(pki.text(`${leaf}.key`)))).to.equal(true);
        // Archive order (openssl: leaf, then -certfile order), exact bytes.
        expect(certPem).to.equal(pem[leaf]! + pem.int1! + pem.root!);

        const logger = recordingLogger();
        const text = pfxToPem(pfx[archive]!, true, logger);
        expect(text).to.equal(keyPem + pem[leaf]! + pem.int1! + pem.root!);
        expect(text.startsWith('-----BEGIN PRIVATE KEY-----\n')).to.equal(true);
        expect(logger.lines).to.deep.equal([]);
      });
    }

    it('orders certificates stored root first when constructPemChain is set, keeps archive order otherwise', () => {
      expect(decodePkcs12(pfx.certsReversed!)).to.deep.equal({
        keyPem: '',
        certPem: pem.root! + pem.int1! + pem.leaf!,
      });
      expect(pfxToPem(pfx.certsReversed!, true, silentLogger)).to.equal(pem.leaf! + pem.int1! + pem.root!);
      expect(pfxToPem(pfx.certsReversed!, false, silentLogger)).to.equal(pem.root! + pem.int1! + pem.leaf!);
    });

    it('reads a PFX without a chain and one without a MAC', () => {
      for (const archive of ['leafOnly', 'noMac']) {
        const text = pfxToPem(pfx[archive]!, true, silentLogger);
        const blocks = parsePemBlocks(text);
        expect(
          blocks.map((block) => block.type),
          archive,
        ).to.deep.equal(['PRIVATE KEY', 'CERTIFICATE']);
        expect(text.endsWith(pem.ecLeaf!)).to.equal(true);
        expect(spkiOfKey(text).equals(spkiOfCert(pem.ecLeaf!))).to.equal(true);
      }
    });

    it('reads a PFX whose MAC uses a zero-length password and whose key bag is not encrypted', () => {
      const text = pfxToPem(pfx.forgeNullPassword!, true, silentLogger);
      expect(parsePemBlocks(text).map((block) => block.type)).to.deep.equal(['PRIVATE KEY', 'CERTIFICATE']);
      expect(text.endsWith(pem.selfRsa!)).to.equal(true);
      expect(spkiOfKey(text).equals(spkiOfCert(pem.selfRsa!))).to.equal(true);
    });

    it('falls back to archive order with the warning when the chain is incomplete', () => {
      const logger = recordingLogger();
      const { keyPem } = decodePkcs12(pfx.incomplete!);
      expect(pfxToPem(pfx.incomplete!, true, logger)).to.equal(keyPem + pem.ecLeaf! + pem.root!);
      expect(logger.lines.map((line) => [line.level, line.message])).to.deep.equal([
        ['warn', INCOMPLETE_CHAIN_WARNING],
      ]);
    });

    it('refuses a password-protected PFX without quoting it', () => {
      const error = errorOf(() => decodePkcs12(pfx.password!));
      expect(error.message).to.match(/^failed to decode PKCS#12: .*password/);
      expect(error.message).not.to.include(pfx.password!.slice(0, 16));
    });

    it("reports text that is not base64 with Go's error", () => {
      expect(errorOf(() => decodePkcs12('not base64!')).message).to.equal(
        'illegal base64 data at input byte 3',
      );
      expect(errorOf(() => decodePkcs12(pfx.rsa!.slice(0, -1))).message).to.match(
        /^illegal base64 data at input byte \d+$/,
      );
    });

    it('reports base64 that is not a PFX', () => {
      expect(
        errorOf(() => decodePkcs12(Buffer.from('hello world, not DER').toString('base64'))).message,
      ).to.equal('failed to decode PKCS#12: not a PKCS#12 (PFX) archive');
      const certDer = new X509Certificate(pem.leaf!).raw.toString('base64');
      const error = errorOf(() => decodePkcs12(certDer));
      expect(error.message).to.match(/^failed to decode PKCS#12: /);
      expect(error.message).not.to.include(certDer.slice(0, 16));
    });

    it('reports a truncated PFX', () => {
      const truncated = Buffer.from(pfx.rsa!, 'base64').subarray(0, 600).toString('base64');
      expect(errorOf(() => decodePkcs12(truncated)).message).to.match(/^failed to decode PKCS#12: /);
    });
  });

  describe('splitCertAndKey', () => {
    it('splits key and certificate blocks, each re-encoded in order', () => {
      const key = pki.text('leaf.key');
      const text = `${key}junk\n${pem.leaf!}${pem.int1!}`;
      expect(splitCertAndKey(text)).to.deep.equal({ crt: pem.leaf! + pem.int1!, key });
    });

    it('gives empty parts when there are no blocks of a kind', () => {
      expect(splitCertAndKey(pem.leaf! + pem.root!)).to.deep.equal({ crt: pem.leaf! + pem.root!, key: '' });
      expect(splitCertAndKey('QUJD')).to.deep.equal({ crt: '', key: '' });
    });
  });

  describe('secretContents', () => {
    const split: SecretContentOptions = { constructPemChain: true, writeCertAndKeyInSeparateFiles: true };
    const combined: SecretContentOptions = { constructPemChain: true, writeCertAndKeyInSeparateFiles: false };
    const kid = 'https://v.vault.azure.net/keys/cert1/0123456789abcdef0123456789abcdef';
    const pfxType = 'application/x-pkcs12';
    const pemType = 'application/x-pem-file';

    it('writes a secret without kid as stored, whatever its content type, without split files', () => {
      for (const secret of [
        { value: 'plain value' },
        { value: pfx.rsa!, contentType: pfxType },
        { value: pfx.rsa!, contentType: pfxType, kid: '' },
        { value: 'x', contentType: 'text/plain' },
      ]) {
        expect(secretContents(secret, { objectFormat: '' }, split, silentLogger)).to.deep.equal([
          { suffix: '', text: secret.value },
        ]);
      }
    });

    it('writes stored PEM unchanged: no reordering, objectFormat ignored', () => {
      const value = `${pki.text('leaf.key')}${pem.root!}${pem.leaf!}`;
      for (const objectFormat of ['', 'pem', 'pfx', 'PFX']) {
        expect(
          secretContents({ value, contentType: pemType, kid }, { objectFormat }, combined, silentLogger),
        ).to.deep.equal([{ suffix: '', text: value }]);
      }
    });

    it('writes the stored base64 PFX when objectFormat is pfx, in any case', () => {
      for (const objectFormat of ['pfx', 'PFX', 'Pfx']) {
        expect(
          secretContents(
            { value: pfx.rsa!, contentType: pfxType, kid },
            { objectFormat },
            combined,
            silentLogger,
          ),
        ).to.deep.equal([{ suffix: '', text: pfx.rsa! }]);
      }
    });

    it('converts a PFX to PEM (keys first, chain ordered) for objectFormat "", pem or PEM', () => {
      const { keyPem } = decodePkcs12(pfx.rsa!);
      for (const objectFormat of ['', 'pem', 'PEM']) {
        expect(
          secretContents(
            { value: pfx.rsa!, contentType: pfxType, kid },
            { objectFormat },
            combined,
            silentLogger,
          ),
        ).to.deep.equal([{ suffix: '', text: keyPem + pem.rsaLeaf! + pem.int1! + pem.root! }]);
      }
    });

    it('keeps archive order when constructPemChain is off', () => {
      const options = { constructPemChain: false, writeCertAndKeyInSeparateFiles: false };
      expect(
        secretContents(
          { value: pfx.certsReversed!, contentType: pfxType, kid },
          { objectFormat: '' },
          options,
          silentLogger,
        ),
      ).to.deep.equal([{ suffix: '', text: pem.root! + pem.int1! + pem.leaf! }]);
      expect(
        secretContents(
          { value: pfx.certsReversed!, contentType: pfxType, kid },
          { objectFormat: '' },
          combined,
          silentLogger,
        ),
      ).to.deep.equal([{ suffix: '', text: pem.leaf! + pem.int1! + pem.root! }]);
    });

    it('refuses an unknown content type, also an empty or missing one', () => {
      for (const [contentType, shown] of [
        ['application/json', 'application/json'],
        ['', ''],
        [undefined, ''],
        ['APPLICATION/X-PKCS12', 'APPLICATION/X-PKCS12'],
      ] as const) {
        const secret = contentType === undefined ? { value: 'v', kid } : { value: 'v', contentType, kid };
        expect(
          errorOf(() => secretContents(secret, { objectFormat: '' }, split, silentLogger)).message,
        ).to.equal(`failed to get certificate. unknown content type '${shown}'`);
      }
    });

    it('propagates PFX conversion errors', () => {
      expect(
        errorOf(() =>
          secretContents(
            { value: pfx.password!, contentType: pfxType, kid },
            { objectFormat: '' },
            combined,
            silentLogger,
          ),
        ).message,
      ).to.match(/^failed to decode PKCS#12: /);
    });

    it('writes .crt, .key, then the main file for a PEM certificate secret', () => {
      const key = pki.text('leaf.key');
      const value = `${key}${pem.leaf!}${pem.int1!}`;
      expect(
        secretContents({ value, contentType: pemType, kid }, { objectFormat: '' }, split, silentLogger),
      ).to.deep.equal([
        { suffix: '.crt', text: pem.leaf! + pem.int1! },
        { suffix: '.key', text: key },
        { suffix: '', text: value },
      ]);
    });

    it('writes .crt, .key, then the main file for a PFX certificate secret', () => {
      const files = secretContents(
        { value: pfx.ec!, contentType: pfxType, kid },
        { objectFormat: '' },
        split,
        silentLogger,
      );
      expect(files.map((file) => file.suffix)).to.deep.equal(['.crt', '.key', '']);
      const [crt, key, main] = files.map((file) => file.text);
      expect(crt).to.equal(pem.ecLeaf! + pem.int1! + pem.root!);
      expect(parsePemBlocks(key!).map((block) => block.type)).to.deep.equal(['PRIVATE KEY']);
      expect(spkiOfKey(key!).equals(spkiOfCert(pem.ecLeaf!))).to.equal(true);
      expect(main).to.equal(key! + crt!);
    });

    it('never writes an empty split file (fix of upstream issue #1277)', () => {
      const only = (value: string, contentType: string, objectFormat: string): string[] =>
        secretContents({ value, contentType, kid }, { objectFormat }, split, silentLogger).map(
          (file) => file.suffix,
        );
      expect(only(pfx.ec!, pfxType, 'pfx')).to.deep.equal(['']);
      expect(only(pem.leaf! + pem.int1!, pemType, '')).to.deep.equal(['.crt', '']);
      expect(only(pki.text('leaf.key'), pemType, '')).to.deep.equal(['.key', '']);
      expect(only('no blocks at all', pemType, '')).to.deep.equal(['']);
      expect(only(pfx.certsReversed!, pfxType, '')).to.deep.equal(['.crt', '']);
    });

    it('writes only the main file when split files are off', () => {
      const value = `${pki.text('leaf.key')}${pem.leaf!}`;
      expect(
        secretContents({ value, contentType: pemType, kid }, { objectFormat: '' }, combined, silentLogger),
      ).to.deep.equal([{ suffix: '', text: value }]);
    });
  });
});
