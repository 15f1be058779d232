/**
 * `kubernetes.io/tls` Secrets from PEM files and PKCS#12 archives: the key re-encoded as upstream writes it
 * (PKCS#1 for RSA, SEC1 for EC), every certificate leaf first, and a clear problem for what cannot be read.
 * Inputs are made by `openssl` at test time; outputs are checked against openssl's own encodings and by
 * matching the key to the certificate.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { API_VERSION_V1 } from '@secrets-store-csi/core';
import type { SecretProviderClass } from '@secrets-store-csi/core';
import { expect } from 'chai';
import { buildDesiredSecrets, type DesiredSecrets } from '../../../src/sync/index.js';
import { generateTlsFixtures, type TlsFixtures } from './fixtures/openssl.js';

function syncTls(
  file: Uint8Array | string,
  keys: readonly string[] = ['tls.key', 'tls.crt'],
): DesiredSecrets {
  const spc: SecretProviderClass = {
    apiVersion: API_VERSION_V1,
    kind: 'SecretProviderClass',
    metadata: { name: 'ingress-tls', namespace: 'web' },
    spec: {
      provider: 'directory',
      parameters: {},
      secretObjects: [
        {
          secretName: 'ingress-tls',
          type: 'kubernetes.io/tls',
          data: keys.map((key) => ({ objectName: 'cert', key })),
        },
      ],
    },
  };
  const content = typeof file === 'string' ? Buffer.from(file, 'latin1') : file;
  return buildDesiredSecrets(spc, 'web', new Map([['cert', content]]));
}

/** The synced `tls.key` and `tls.crt` as text; fails the test on any problem. */
function tlsPair(file: Uint8Array | string): { key: string; crt: string } {
  const result = syncTls(file);
  expect(result.problems).to.deep.equal([]);
  const data = result.secrets[0]!.data;
  expect(Object.keys(data)).to.deep.equal(['tls.key', 'tls.crt']);
  return {
    key: Buffer.from(data['tls.key']!).toString('latin1'),
    crt: Buffer.from(data['tls.crt']!).toString('latin1'),
  };
}

/** The one problem syncing `key` from `file` reports; fails the test if a Secret was built. */
function tlsProblem(file: Uint8Array | string, key: string): string {
  const result = syncTls(file, [key]);
  expect(result.secrets).to.deep.equal([]);
  expect(result.problems).to.have.length(1);
  expect(result.problems[0]!.secretName).to.equal('ingress-tls');
  return result.problems[0]!.message;
}

const spki = (keyPem: string): Buffer =>
  createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
const certSpki = (certPem: string): Buffer =>
  new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
const pemLabels = (pem: string): string[] => [...pem.matchAll(/-----BEGIN ([^-]+)-----/g)].map((m) => m[1]!);

describe('kubernetes.io/tls secrets', function () {
  this.timeout(60_000);
  let f: TlsFixtures;

  before(function () {
    f = generateTlsFixtures();
  });

  after(function () {
    f.cleanup();
  });

  describe('from PEM', function () {
    it('takes the certificate and the key from a cert-then-key file, the key matching the certificate', function () {
      const { key, crt } = tlsPair(f.leafCert + f.leafKeyPkcs8);
      expect(crt).to.equal(f.leafCert);
      expect(spki(key).equals(certSpki(crt))).to.equal(true);
    });

    it('takes every certificate in file order from a key-first file with a chain of two', function () {
      const { key, crt } = tlsPair(f.leafKeyPkcs8 + f.leafCert + f.caCert);
      expect(crt).to.equal(f.leafCert + f.caCert);
      expect(spki(key).equals(certSpki(f.leafCert))).to.equal(true);
    });

    it('re-encodes an RSA PKCS#8 key as PKCS#1 RSA PRIVATE KEY, byte for byte as openssl does', function () {
      const { key } = tlsPair(f.leafKeyPkcs8 + f.leafCert);
      expect(pemLabels(f.leafKeyPkcs8)).to.deep.equal(['PRIVATE KEY']);
      expect(key).to.equal(f.leafKeyPkcs1);
    });

    it('passes an RSA PKCS#1 key through unchanged', function () {
      const { key } = tlsPair(f.leafCert + f.leafKeyPkcs1);
      expect(key).to.equal(f.leafKeyPkcs1);
    });

    it('writes a prime256v1 key given as SEC1 as EC PRIVATE KEY', function () {
      const { key, crt } = tlsPair(f.ecCert + f.ecKeySec1);
      expect(key).to.equal(f.ecKeySec1);
      expect(pemLabels(key)).to.deep.equal(['EC PRIVATE KEY']);
      expect(spki(key).equals(certSpki(crt))).to.equal(true);
    });

    it('re-encodes a PKCS#8 EC key as SEC1 EC PRIVATE KEY', function () {
      const { key } = tlsPair(f.ecKeyPkcs8 + f.ecCert);
      expect(pemLabels(f.ecKeyPkcs8)).to.deep.equal(['PRIVATE KEY']);
      expect(key).to.equal(f.ecKeySec1);
    });

    it('skips an EC PARAMETERS block that precedes the key', function () {
      const { key } = tlsPair(f.ecCert + f.ecKeyWithParameters);
      expect(pemLabels(f.ecKeyWithParameters)).to.deep.equal(['EC PARAMETERS', 'EC PRIVATE KEY']);
      expect(key).to.equal(f.ecKeySec1);
    });

    it('takes the last key block when a file holds two, as upstream', function () {
      const { key } = tlsPair(f.ecKeySec1 + f.leafCert + f.leafKeyPkcs8);
      expect(key).to.equal(f.leafKeyPkcs1);
    });

    it('skips a block whose body is not base64, as Go does', function () {
      const garbage = '-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n';
      const { crt } = tlsPair(garbage + f.leafCert + f.leafKeyPkcs8);
      expect(crt).to.equal(f.leafCert);
    });

    it('reads a file with CRLF line endings and trailing spaces, and writes LF PEM', function () {
      const { key, crt } = tlsPair((f.leafCert + f.leafKeyPkcs8).replace(/\n/g, ' \r\n'));
      expect(crt).to.equal(f.leafCert);
      expect(key).to.equal(f.leafKeyPkcs1);
    });

    it('reports an encrypted key instead of writing it', function () {
      expect(tlsProblem(f.leafCert + f.leafKeyEncrypted, 'tls.key')).to.equal(
        'failed to get cert data from file cert, err: the private key is encrypted; only unencrypted keys are supported',
      );
    });

    it('reports a key in legacy encrypted PEM, with Proc-Type headers, as encrypted', function () {
      expect(f.leafKeyLegacyEncrypted).to.contain('Proc-Type: 4,ENCRYPTED');
      expect(tlsProblem(f.leafCert + f.leafKeyLegacyEncrypted, 'tls.key')).to.contain(
        'the private key is encrypted',
      );
    });

    it('reports an Ed25519 key as unsupported, as upstream', function () {
      expect(tlsProblem(f.ed25519Key, 'tls.key')).to.equal(
        "failed to get cert data from file cert, err: unsupported private key type 'ed25519'. Only RSA and ECDSA keys are supported",
      );
    });

    it('reports a PEM file without a key when tls.key is asked for', function () {
      expect(tlsProblem(f.leafCert, 'tls.key')).to.contain('no PEM private key block found');
    });

    it('reports a PEM file without a certificate when tls.crt is asked for', function () {
      expect(tlsProblem(f.leafKeyPkcs8, 'tls.crt')).to.contain('no PEM CERTIFICATE block found');
    });

    it('reports a file that is neither PEM nor PKCS#12', function () {
      expect(tlsProblem('just some text', 'tls.crt')).to.contain(
        'the file holds no PEM block and is not a PKCS#12 (PFX) archive',
      );
    });

    it('reports a data key other than tls.key and tls.crt, in upstream words', function () {
      expect(tlsProblem(f.leafCert + f.leafKeyPkcs8, 'ca.crt')).to.equal(
        "failed to get cert data from file cert, err: key 'ca.crt' is not supported. Only 'tls.key' and 'tls.crt' are supported",
      );
    });
  });

  describe('from PKCS#12 (PFX)', function () {
    it('reads a passwordless binary PFX made with OpenSSL 3 defaults (AES-256, SHA-256 MAC)', function () {
      const { key, crt } = tlsPair(f.leafPfx);
      expect(key).to.equal(f.leafKeyPkcs1);
      expect(crt).to.equal(f.leafCert + f.caCert);
    });

    it('reads a passwordless binary PFX with 3DES and a SHA-1 MAC, the only algorithms Go pkcs12 reads', function () {
      const { key, crt } = tlsPair(f.leafPfxLegacy);
      expect(key).to.equal(f.leafKeyPkcs1);
      expect(crt).to.equal(f.leafCert + f.caCert);
    });

    it('reads a passwordless PFX that is base64-encoded, as Key Vault returns certificate secrets', function () {
      const wrapped = f.leafPfx.toString('base64').replace(/.{76}/g, '$&\n') + '\n';
      const { key, crt } = tlsPair(wrapped);
      expect(key).to.equal(f.leafKeyPkcs1);
      expect(crt).to.equal(f.leafCert + f.caCert);
    });

    it('reads a PFX whose MAC was keyed with a zero-length password, as Go retries', function () {
      const { key, crt } = tlsPair(f.noBytesPasswordPfx);
      expect(key).to.equal(f.leafKeyPkcs1);
      expect(crt).to.equal(f.leafCert + f.caCert);
    });

    it('puts the leaf first when the archive lists the chain first', function () {
      const { key, crt } = tlsPair(f.chainFirstPfx);
      expect(crt).to.equal(f.leafCert + f.caCert);
      expect(spki(key).equals(certSpki(f.leafCert))).to.equal(true);
    });

    it('writes the key of an EC PFX as EC PRIVATE KEY', function () {
      const { key, crt } = tlsPair(f.ecPfx);
      expect(key).to.equal(f.ecKeySec1);
      expect(crt).to.equal(f.ecCert);
    });

    for (const key of ['tls.key', 'tls.crt']) {
      it(`reports a password-protected PFX clearly and builds no Secret (${key})`, function () {
        expect(tlsProblem(f.passwordPfx, key)).to.equal(
          'failed to get cert data from file cert, err: the PKCS#12 (PFX) archive could not be opened with an empty password; password-protected PFX files are not supported',
        );
      });
    }

    it('reports a DER file that is not a PFX as neither PEM nor PKCS#12', function () {
      const certDer = new X509Certificate(f.leafCert).raw;
      expect(tlsProblem(certDer, 'tls.crt')).to.contain(
        'the file holds no PEM block and is not a PKCS#12 (PFX) archive',
      );
    });
  });
});
