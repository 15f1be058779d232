/**
 * PFX → PEM for certificate-backed secrets stored as `application/x-pkcs12` (upstream `decodePKCS12`): every
 * private key as a PKCS#8 `PRIVATE KEY` block, every certificate as a `CERTIFICATE` block with its exact
 * bytes, bag attributes dropped.
 *
 * The archive is walked here with node-forge's ASN.1 reader and its PKCS#12/PBES2 ciphers rather than with
 * `forge.pkcs12.pkcs12FromAsn1`, because that function re-parses certificates and only hands back a forge
 * object for RSA ones, whose re-serialisation is not guaranteed to be the original DER, and a raw ASN.1 tree
 * for anything else. Key bytes go to node:crypto, which reads RSA, EC and the rest alike.
 */
import { Buffer } from 'node:buffer';
import { createHmac, createPrivateKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Forge from 'node-forge';
import { contentError } from '../errors.js';
import { Base64InputError, decodeBase64Go } from './encoding.js';
import { CERTIFICATE, pemBlock } from './pem.js';

/**
 * node-forge is CommonJS assigned in a way Node's ESM loader cannot analyse, so named imports come back
 * empty; requiring it is the one form that works at runtime.
 */
const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;

/** forge's PBE cipher lookup (`pki.pbe.getCipher`), which its typings leave out. */
interface ForgeCipher {
  update(data: Forge.util.ByteBuffer): void;
  finish(): boolean;
  output: Forge.util.ByteBuffer;
}
const pbe = (
  forge.pki as unknown as {
    pbe: { getCipher(oid: string, params: Forge.asn1.Asn1, password: string | null): ForgeCipher };
  }
).pbe;

/** forge returns null when the padding does not check out (a wrong password); its typings omit that. */
const decryptPrivateKeyInfo = (info: Forge.asn1.Asn1, password: string): Forge.asn1.Asn1 | null =>
  forge.pki.decryptPrivateKeyInfo(info, password);

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
} as const;

/** MAC digests: forge's factory for the PKCS#12 key derivation, node's name for the HMAC itself. */
const MAC_DIGESTS: Readonly<
  Record<string, { forge: () => Forge.md.MessageDigest; node: string; size: number }>
> = {
  '1.3.14.3.2.26': { forge: () => forge.md.sha1.create(), node: 'sha1', size: 20 },
  '2.16.840.1.101.3.4.2.1': { forge: () => forge.md.sha256.create(), node: 'sha256', size: 32 },
  '2.16.840.1.101.3.4.2.2': { forge: () => forge.md.sha384.create(), node: 'sha384', size: 48 },
  '2.16.840.1.101.3.4.2.3': { forge: () => forge.md.sha512.create(), node: 'sha512', size: 64 },
};

/** The PEM texts of one archive, kept apart so the caller can order the chain and put the keys first. */
export interface Pkcs12Pem {
  /** Every private key, archive order, each a PKCS#8 `PRIVATE KEY` block; '' when there is none. */
  readonly keyPem: string;
  /** Every certificate, archive order, each a `CERTIFICATE` block with its original DER; '' when none. */
  readonly certPem: string;
}

/**
 * Ours (issue 16 §4): the password of a password-protected PFX, and where it came from for messages (for
 * example `nodePublishSecretRef key "pfx-password"`). The value never appears in a message.
 */
export interface Pkcs12Password {
  readonly value: string;
  readonly source: string;
}

/** The text after `failed to decode PKCS#12: `; never quotes the archive. */
class Pkcs12Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pkcs12Error';
  }
}

/**
 * Decodes a PFX as Key Vault stores it (standard base64 text) with an empty password, as upstream does.
 * Base64 problems keep Go's text (`illegal base64 data at input byte N`); archive problems read
 * `failed to decode PKCS#12: <reason>`; a key node:crypto cannot read gives upstream's
 * `failed to parse key for type pkcs1, pkcs8 or ec`. Accepts more than Go's x/crypto/pkcs12 (AES/PBES2 and
 * SHA-2 MACs, as OpenSSL 3 writes by default, and unencrypted key bags); bag types other than keys and
 * certificates (CRLs, secrets) are skipped.
 */
export function decodePkcs12(base64Text: string, password?: Pkcs12Password): Pkcs12Pem {
  let der: Buffer;
  try {
    der = decodeBase64Go(Buffer.from(base64Text, 'utf8'));
  } catch (error) {
    if (error instanceof Base64InputError) throw contentError(error.message);
    throw error;
  }

  let bags: Bags;
  try {
    bags = readPfx(der, password);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw contentError(`failed to decode PKCS#12: ${reason}`, { cause: error });
  }

  const keyPem = bags.keys.map((keyDer) => pemBlock('PRIVATE KEY', toPkcs8(keyDer))).join('');
  const certPem = bags.certs.map((certDer) => pemBlock(CERTIFICATE, certDer)).join('');
  return { keyPem, certPem };
}

/**
 * A private key as PKCS#8 DER. The bag should hold PKCS#8 already, but like upstream we also accept PKCS#1
 * RSA and SEC1 EC encodings.
 */
function toPkcs8(der: Buffer): Buffer {
  let key: KeyObject | undefined;
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      key = createPrivateKey({ key: der, format: 'der', type });
      break;
    } catch {
      // Not this encoding; try the next.
    }
  }
  if (key === undefined) throw contentError('failed to parse key for type pkcs1, pkcs8 or ec');
  return key.export({ type: 'pkcs8', format: 'der' });
}

interface Bags {
  readonly keys: Buffer[];
  readonly certs: Buffer[];
}

type Password = string | null;

function readPfx(der: Buffer, given: Pkcs12Password | undefined): Bags {
  let pfx: Forge.asn1.Asn1;
  try {
    pfx = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
  } catch {
    throw new Pkcs12Error('not a PKCS#12 (PFX) archive');
  }
  const [version, authSafe, macData] = sequence(pfx, 'PFX');
  if (version === undefined || authSafe === undefined) throw new Pkcs12Error('not a PKCS#12 (PFX) archive');
  const versionNumber = integer(version);
  if (versionNumber !== 3) throw new Pkcs12Error(`unsupported PFX version ${versionNumber}`);

  const [contentType, content] = sequence(authSafe, 'authSafe');
  if (contentType === undefined || oid(contentType) !== OID.data || content === undefined) {
    throw new Pkcs12Error('only password-integrity PFX archives are supported');
  }
  const authSafeBytes = octets(explicit(content));
  const password = macData === undefined ? (given?.value ?? '') : macPassword(macData, authSafeBytes, given);
  const what = given === undefined ? 'an empty password' : `the password from ${given.source}`;

  const bags: Bags = { keys: [], certs: [] };
  for (const info of sequence(fromDer(authSafeBytes, 'AuthenticatedSafe'), 'AuthenticatedSafe')) {
    const [type, value] = sequence(info, 'ContentInfo');
    if (type === undefined || value === undefined) throw new Pkcs12Error('malformed ContentInfo');
    switch (oid(type)) {
      case OID.data:
        readSafeContents(octets(explicit(value)), password, bags, what);
        break;
      case OID.encryptedData:
        readSafeContents(decryptData(explicit(value), password, what), password, bags, what);
        break;
      default:
        throw new Pkcs12Error('only data and password-encrypted data contents are supported');
    }
  }
  return bags;
}

/**
 * The password under which the MAC verifies: the empty password as BMPString `00 00` (what OpenSSL and Key
 * Vault write), else as no bytes at all (what some other tools write; Go's pkcs12 tries both too).
 */
function macPassword(
  macData: Forge.asn1.Asn1,
  authSafeBytes: Buffer,
  given: Pkcs12Password | undefined,
): Password {
  const [digestInfo, salt, iterations] = sequence(macData, 'MacData');
  const [algorithm, digest] = digestInfo === undefined ? [] : sequence(digestInfo, 'DigestInfo');
  const [algorithmOid] = algorithm === undefined ? [] : sequence(algorithm, 'AlgorithmIdentifier');
  if (algorithmOid === undefined || digest === undefined || salt === undefined) {
    throw new Pkcs12Error('malformed MAC data');
  }
  const mac = MAC_DIGESTS[oid(algorithmOid)];
  if (mac === undefined) throw new Pkcs12Error(`unsupported MAC algorithm ${oid(algorithmOid)}`);
  const count = iterations === undefined ? 1 : integer(iterations);
  if (!(count >= 1)) throw new Pkcs12Error('MAC iteration count must be at least 1');
  const expected = octets(digest);
  const candidates: Password[] = given === undefined || given.value === '' ? ['', null] : [given.value];
  for (const password of candidates) {
    const saltBuffer = forge.util.createBuffer(octets(salt).toString('binary'));
    const key = forge.pkcs12.generateKey(password, saltBuffer, 3, count, mac.size, mac.forge());
    const actual = createHmac(mac.node, Buffer.from(key.getBytes(), 'binary')).update(authSafeBytes).digest();
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return password;
  }
  if (given !== undefined) {
    throw new Pkcs12Error(`the MAC does not verify with the password from ${given.source} (wrong password?)`);
  }
  throw new Pkcs12Error(
    'the MAC does not verify with an empty password; password-protected PFX is not supported',
  );
}

/** EncryptedData → the SafeContents DER it protects. */
function decryptData(encryptedData: Forge.asn1.Asn1, password: Password, what: string): Buffer {
  const [, encryptedContentInfo] = sequence(encryptedData, 'EncryptedData');
  const [, algorithm, encrypted] =
    encryptedContentInfo === undefined ? [] : sequence(encryptedContentInfo, 'EncryptedContentInfo');
  const [algorithmOid, params] = algorithm === undefined ? [] : sequence(algorithm, 'AlgorithmIdentifier');
  if (algorithmOid === undefined || params === undefined || encrypted === undefined) {
    throw new Pkcs12Error('malformed EncryptedData');
  }
  const algorithmId = oid(algorithmOid);
  const cipher = pbe.getCipher(algorithmId, params, cipherPassword(algorithmId, password));
  cipher.update(forge.util.createBuffer(octets(encrypted).toString('binary')));
  if (!cipher.finish()) throw new Pkcs12Error(`failed to decrypt the certificates with ${what}`);
  return Buffer.from(cipher.output.getBytes(), 'binary');
}

/**
 * PKCS#12 PBE derives keys from the BMPString password, where '' and "no bytes" differ; PBES2 feeds the
 * password to PBKDF2 as bytes, where both mean empty (and forge's PBKDF2 needs a string).
 */
function cipherPassword(algorithmOid: string, password: Password): string {
  // PBES2 hands the password to PBKDF2 as UTF-8 bytes (as OpenSSL does); forge wants a binary string.
  if (algorithmOid === OID.pbes2) return forge.util.encodeUtf8(password ?? '');
  // null stays null: forge then derives the key from no password bytes at all (see macPassword).
  return password as string;
}

function readSafeContents(der: Buffer, password: Password, bags: Bags, what: string): void {
  for (const bag of sequence(fromDer(der, 'SafeContents'), 'SafeContents')) {
    const [type, value] = sequence(bag, 'SafeBag');
    if (type === undefined || value === undefined) throw new Pkcs12Error('malformed SafeBag');
    const bagValue = explicit(value);
    switch (oid(type)) {
      case OID.keyBag:
        bags.keys.push(toDer(bagValue));
        break;
      case OID.shroudedKeyBag: {
        const [algorithm] = sequence(bagValue, 'EncryptedPrivateKeyInfo');
        const [algorithmOid] = algorithm === undefined ? [] : sequence(algorithm, 'AlgorithmIdentifier');
        if (algorithmOid === undefined) throw new Pkcs12Error('malformed EncryptedPrivateKeyInfo');
        const algorithmId = oid(algorithmOid);
        let decrypted: Forge.asn1.Asn1 | null;
        try {
          decrypted = decryptPrivateKeyInfo(bagValue, cipherPassword(algorithmId, password));
        } catch (error) {
          throw new Pkcs12Error(
            `cannot decrypt a private key: ${error instanceof Error ? error.message : ''}`,
          );
        }
        if (decrypted === null) throw new Pkcs12Error(`failed to decrypt a private key with ${what}`);
        bags.keys.push(toDer(decrypted));
        break;
      }
      case OID.certBag: {
        const [certType, certValue] = sequence(bagValue, 'CertBag');
        if (certType === undefined || certValue === undefined) throw new Pkcs12Error('malformed CertBag');
        if (oid(certType) !== OID.x509Certificate)
          throw new Pkcs12Error('only X.509 certificates are supported');
        bags.certs.push(octets(explicit(certValue)));
        break;
      }
      case OID.safeContentsBag:
        readSafeContents(toDer(bagValue), password, bags, what);
        break;
      default:
        // CRL, secret and other bags carry nothing upstream writes to the file.
        break;
    }
  }
}

function fromDer(der: Buffer, what: string): Forge.asn1.Asn1 {
  try {
    return forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
  } catch {
    throw new Pkcs12Error(`malformed ${what}`);
  }
}

function toDer(node: Forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

function sequence(node: Forge.asn1.Asn1, what: string): Forge.asn1.Asn1[] {
  if (!Array.isArray(node.value)) throw new Pkcs12Error(`malformed ${what}`);
  return node.value;
}

/** The one child of a `[n] EXPLICIT` wrapper. */
function explicit(node: Forge.asn1.Asn1): Forge.asn1.Asn1 {
  const inner = Array.isArray(node.value) ? node.value[0] : undefined;
  if (inner === undefined) throw new Pkcs12Error('malformed explicit tag');
  return inner;
}

/** An OCTET STRING's (or IMPLICIT-tagged octets') bytes, joining BER constructed chunks. */
function octets(node: Forge.asn1.Asn1): Buffer {
  if (typeof node.value === 'string') return Buffer.from(node.value, 'binary');
  return Buffer.concat(node.value.map((chunk) => octets(chunk)));
}

function oid(node: Forge.asn1.Asn1): string {
  if (typeof node.value !== 'string' || node.type !== forge.asn1.Type.OID)
    throw new Pkcs12Error('malformed OID');
  return forge.asn1.derToOid(node.value);
}

function integer(node: Forge.asn1.Asn1): number {
  if (typeof node.value !== 'string' || node.value.length > 6) throw new Pkcs12Error('malformed INTEGER');
  return node.value.length === 0 ? 0 : forge.asn1.derToInteger(node.value);
}
