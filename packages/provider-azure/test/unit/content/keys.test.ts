/**
 * `objectType: key` and `objectType: cert` content. Keys come from node:crypto's generator, converted to the
 * byte-array JWK shape @azure/keyvault-keys returns; results are checked by parsing them back.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { certificatePem, publicKeyPem, type PublicJsonWebKey } from '../../../src/content/index.js';

const fromB64url = (text: string | undefined): Uint8Array =>
  new Uint8Array(Buffer.from(text ?? '', 'base64url'));

/** A Key Vault style JWK (byte arrays) for a node-generated public key. */
function keyVaultJwk(jwk: JsonWebKey, kty: string): PublicJsonWebKey {
  if (jwk.kty === 'RSA') return { kty, n: fromB64url(jwk.n), e: fromB64url(jwk.e) };
  return { kty, crv: jwk.crv!, x: fromB64url(jwk.x), y: fromB64url(jwk.y) };
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    expect(isProviderError(error), 'a ProviderError').to.equal(true);
    return error as Error;
  }
  expect.fail('expected an error');
}

/** PEM lines as Go writes them: BEGIN, ≤64-column base64, END, trailing newline. */
function expectGoLayout(pem: string, type: string): void {
  expect(pem.endsWith(`-----END ${type}-----\n`)).to.equal(true);
  const lines = pem.split('\n');
  expect(lines[0]).to.equal(`-----BEGIN ${type}-----`);
  const body = lines.slice(1, -2);
  expect(body.slice(0, -1).every((line) => line.length === 64)).to.equal(true);
  expect(body.at(-1)!.length).to.be.within(1, 64);
}

describe('content/keys', () => {
  describe('publicKeyPem', () => {
    for (const kty of ['RSA', 'RSA-HSM']) {
      it(`${kty}: the SPKI PEM of n and e`, () => {
        const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const jwk = publicKey.export({ format: 'jwk' });
        const pem = publicKeyPem(keyVaultJwk(jwk, kty));
        expectGoLayout(pem, 'PUBLIC KEY');
        expect(createPublicKey(pem).export({ format: 'jwk' })).to.deep.equal(jwk);
        expect(pem).to.equal(publicKey.export({ type: 'spki', format: 'pem' }));
      });
    }

    it('RSA with a 3-byte exponent other than 65537', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 3 });
      const jwk = publicKey.export({ format: 'jwk' });
      expect(createPublicKey(publicKeyPem(keyVaultJwk(jwk, 'RSA'))).export({ format: 'jwk' })).to.deep.equal(
        jwk,
      );
    });

    for (const [crv, namedCurve] of [
      ['P-256', 'prime256v1'],
      ['P-384', 'secp384r1'],
      ['P-521', 'secp521r1'],
    ] as const) {
      for (const kty of ['EC', 'EC-HSM']) {
        it(`${kty} ${crv}: the SPKI PEM of x and y`, () => {
          const { publicKey } = generateKeyPairSync('ec', { namedCurve });
          const jwk = publicKey.export({ format: 'jwk' });
          const pem = publicKeyPem(keyVaultJwk(jwk, kty));
          expectGoLayout(pem, 'PUBLIC KEY');
          expect(createPublicKey(pem).export({ format: 'jwk' })).to.deep.equal(jwk);
          expect(pem).to.equal(publicKey.export({ type: 'spki', format: 'pem' }));
        });
      }
    }

    it('EC coordinates with leading zero bytes dropped still give the same key (Go reads big integers)', () => {
      // Generate until x starts with a zero byte (about 1 in 256); bounded so the test cannot hang.
      for (let attempt = 0; attempt < 5000; attempt++) {
        const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const jwk = publicKey.export({ format: 'jwk' });
        const x = fromB64url(jwk.x);
        if (x[0] !== 0) continue;
        const pem = publicKeyPem({ kty: 'EC', crv: 'P-256', x: x.subarray(1), y: fromB64url(jwk.y) });
        expect(createPublicKey(pem).export({ format: 'jwk' })).to.deep.equal(jwk);
        return;
      }
      expect.fail('no key with a leading zero byte was generated');
    });

    for (const crv of ['P-256K', 'SECP256K1', 'p-256', '']) {
      it(`refuses curve '${crv}'`, () => {
        const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        const jwk = keyVaultJwk(publicKey.export({ format: 'jwk' }), 'EC');
        expect(errorOf(() => publicKeyPem({ ...jwk, crv })).message).to.equal(
          `curve ${crv} is not supported`,
        );
      });
    }

    it('treats a missing curve as the empty name', () => {
      expect(errorOf(() => publicKeyPem({ kty: 'EC-HSM' })).message).to.equal('curve  is not supported');
    });

    for (const kty of ['oct', 'oct-HSM', 'OKP', 'rsa', '']) {
      it(`refuses key type '${kty}'`, () => {
        expect(errorOf(() => publicKeyPem({ kty })).message).to.equal(
          `failed to get key. key type '${kty}' currently not supported`,
        );
      });
    }

    it('treats a missing key type as the empty name', () => {
      expect(errorOf(() => publicKeyPem({})).message).to.equal(
        "failed to get key. key type '' currently not supported",
      );
    });

    it('reports an RSA key without n or e, and an EC key without x or y', () => {
      const rsa = errorOf(() => publicKeyPem({ kty: 'RSA-HSM', e: new Uint8Array([1, 0, 1]) }));
      expect(rsa.message).to.equal('failed to get key. RSA-HSM key has no n or e');
      expect((rsa as unknown as { code: string }).code).to.equal('InvalidContent');
      const ec = errorOf(() => publicKeyPem({ kty: 'EC', crv: 'P-384', x: new Uint8Array([1]) }));
      expect(ec.message).to.equal('failed to get key. EC key has no x or y');
    });

    it('reports a point that is not on the curve as content that cannot be converted', () => {
      const error = errorOf(() =>
        publicKeyPem({ kty: 'EC', crv: 'P-256', x: new Uint8Array([1]), y: new Uint8Array([2]) }),
      );
      expect(error.message).to.match(/^failed to get key\. invalid EC public key: /);
    });
  });

  describe('certificatePem', () => {
    it('writes the DER as one CERTIFICATE block, identical to openssl PEM output', () => {
      const dir = mkdtempSync(join(tmpdir(), 'azure-content-cert-'));
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'rsa:2048',
            '-nodes',
            '-keyout',
            'k.pem',
            '-out',
            'c.pem',
            '-subj',
            '/CN=cert',
            '-days',
            '2',
          ],
          { cwd: dir, stdio: 'ignore' },
        );
        execFileSync('openssl', ['x509', '-in', 'c.pem', '-outform', 'DER', '-out', 'c.der'], {
          cwd: dir,
          stdio: 'ignore',
        });
        const der = new Uint8Array(readFileSync(join(dir, 'c.der')));
        const pem = certificatePem(der);
        expect(pem).to.equal(readFileSync(join(dir, 'c.pem'), 'latin1'));
        expect(new X509Certificate(pem).raw.equals(Buffer.from(der))).to.equal(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
