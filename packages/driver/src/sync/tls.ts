/**
 * The `kubernetes.io/tls` half of Secret sync: turns one mounted file (PEM blocks, or a PKCS#12/PFX archive)
 * into the `tls.key` or `tls.crt` value, the way upstream's `secretutil.GetCertPart` does, so Secrets synced by
 * this driver carry the same bytes as before a switch. Pure: no I/O. Failures throw a `DriverError` whose
 * message never quotes the file's contents.
 */
import { Buffer } from 'node:buffer';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Forge from 'node-forge';
import { DriverError, driverErrorCodes } from '../errors.js';

/**
 * node-forge is CommonJS assigned in a way Node's ESM loader cannot analyse, so `import { pkcs12 }` comes back
 * empty and its typings declare no default export; requiring it is the one form that is right at runtime too.
 * Required on first use (a PKCS#12 file synced to a TLS Secret): loading it costs 1.6 MiB of RSS that most
 * drivers never need.
 */
let forgeModule: typeof Forge | undefined;
function forgeLib(): typeof Forge {
  forgeModule ??= createRequire(import.meta.url)('node-forge') as typeof Forge;
  return forgeModule;
}

/** Data keys of a `kubernetes.io/tls` Secret (`corev1.TLSPrivateKeyKey`, `corev1.TLSCertKey`). */
export const TLS_KEY = 'tls.key';
export const TLS_CERT = 'tls.crt';
export const SECRET_TYPE_TLS = 'kubernetes.io/tls';

const CERTIFICATE = 'CERTIFICATE';

/** PKCS#12 SafeBag types (RFC 7292 §4.2); hard-coded so we do not depend on forge's untyped OID table. */
const KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';

/**
 * The value of data key `key` of a TLS Secret built from `content`. Upstream supports exactly the two keys
 * Kubernetes validates for this type; anything else is a mistake in the SecretProviderClass.
 */
export function tlsSecretValue(content: Uint8Array, key: string): Uint8Array {
  if (key === TLS_KEY) return tlsPrivateKeyPem(content);
  if (key === TLS_CERT) return tlsCertificatesPem(content);
  throw syncError(`key '${key}' is not supported. Only '${TLS_KEY}' and '${TLS_CERT}' are supported`);
}

/**
 * The private key in `content` as PEM: RSA keys as PKCS#1 `RSA PRIVATE KEY` and EC keys as SEC1
 * `EC PRIVATE KEY`, whatever form they arrived in, because that is what upstream writes and what consumers
 * such as ingress controllers have been reading. With several key blocks the last one wins, as upstream.
 */
export function tlsPrivateKeyPem(content: Uint8Array): Uint8Array {
  const blocks = decodePemBlocks(content);
  if (blocks.length === 0) {
    const keyDer = readPkcs12(content).keyDer;
    if (keyDer === undefined) throw syncError('the PKCS#12 (PFX) archive holds no private key');
    return exportPrivateKey(parsePrivateKeyDer(keyDer));
  }
  const keyBlock = blocks.filter((block) => block.type.endsWith('PRIVATE KEY')).at(-1);
  if (keyBlock === undefined) throw syncError('no PEM private key block found');
  if (keyBlock.encrypted)
    throw syncError('the private key is encrypted; only unencrypted keys are supported');
  return exportPrivateKey(parsePrivateKeyDer(keyBlock.der));
}

/**
 * Every certificate in `content` as concatenated PEM: the `CERTIFICATE` blocks in file order, or a PFX's
 * certificates with the one matching its private key (the leaf) first, as a TLS server must send them.
 */
export function tlsCertificatesPem(content: Uint8Array): Uint8Array {
  const blocks = decodePemBlocks(content);
  let certs: Buffer[];
  if (blocks.length === 0) {
    const pfx = readPkcs12(content);
    certs = leafFirst(pfx.certs, pfx.keyDer);
    if (certs.length === 0) throw syncError('the PKCS#12 (PFX) archive holds no certificate');
  } else {
    certs = blocks.filter((block) => block.type === CERTIFICATE).map((block) => block.der);
    if (certs.length === 0) throw syncError('no PEM CERTIFICATE block found');
  }
  return Buffer.from(certs.map((der) => encodePem(CERTIFICATE, der)).join(''), 'latin1');
}

interface PemBlock {
  readonly type: string;
  readonly der: Buffer;
  /** Legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`) or a PKCS#8 `ENCRYPTED PRIVATE KEY`. */
  readonly encrypted: boolean;
}

const BEGIN_LINE = /^-----BEGIN ([^-]*)-----\s*$/;
const BASE64_LINE = /^[A-Za-z0-9+/=]*$/;

/**
 * The PEM blocks of `content` in order. Like Go's `pem.Decode`: BEGIN and END lines start a line, text
 * around blocks is ignored, RFC 1421 headers are allowed, and a block whose body is not base64 or that never
 * ends is skipped rather than failing the file. One pass over the lines, so a hostile file full of BEGIN
 * lines without END costs linear time.
 */
function decodePemBlocks(content: Uint8Array): PemBlock[] {
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('latin1');
  const blocks: PemBlock[] = [];
  let open: { type: string; lines: string[] } | undefined;
  for (const line of text.split(/\r?\n/)) {
    const begin = BEGIN_LINE.exec(line);
    if (begin !== null) {
      open = { type: begin[1] ?? '', lines: [] };
    } else if (open !== undefined && line.trimEnd() === `-----END ${open.type}-----`) {
      const block = pemBlock(open.type, open.lines);
      if (block !== undefined) blocks.push(block);
      open = undefined;
    } else {
      open?.lines.push(line);
    }
  }
  return blocks;
}

function pemBlock(type: string, lines: string[]): PemBlock | undefined {
  let body = lines;
  let headers: string[] = [];
  const blank = lines.findIndex((line) => line.trim() === '');
  if (lines[0]?.includes(':') === true && blank > 0) {
    headers = lines.slice(0, blank);
    body = lines.slice(blank + 1);
  }
  const base64 = body.map((line) => line.trim()).join('');
  if (!BASE64_LINE.test(base64)) return undefined;
  return {
    type,
    der: Buffer.from(base64, 'base64'),
    encrypted: type === 'ENCRYPTED PRIVATE KEY' || headers.some((h) => /^Proc-Type:.*ENCRYPTED/.test(h)),
  };
}

/** PEM exactly as Go's `pem.EncodeToMemory` writes it: 64-column base64 and a trailing newline. */
function encodePem(type: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.map((line) => `${line}\n`).join('')}-----END ${type}-----\n`;
}

/** Upstream tries PKCS#1, PKCS#8 and SEC1 on the same DER regardless of the PEM label; so do we. */
function parsePrivateKeyDer(der: Buffer): KeyObject {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch {
      // Not this encoding; try the next.
    }
  }
  throw syncError('the private key is not a PKCS#1, PKCS#8 or SEC1 (EC) key');
}

function exportPrivateKey(key: KeyObject): Uint8Array {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return Buffer.from(key.export({ type: 'pkcs1', format: 'pem' }));
    case 'ec':
      return Buffer.from(key.export({ type: 'sec1', format: 'pem' }));
    default:
      throw syncError(
        `unsupported private key type '${key.asymmetricKeyType ?? 'unknown'}'. Only RSA and ECDSA keys are supported`,
      );
  }
}

interface Pkcs12Contents {
  /** DER of the last private key bag: PKCS#1 for RSA keys forge decoded, else the PKCS#8 PrivateKeyInfo. */
  readonly keyDer: Buffer | undefined;
  /** DER of each certificate bag, in archive order. */
  readonly certs: Buffer[];
}

const BASE64_TEXT = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Opens a PFX with an empty password, as upstream does (`pkcs12.ToPEM(data, "")`). Besides binary DER we
 * accept the archive base64-encoded, the form Key Vault returns certificate secrets in, since such a file is
 * otherwise useless for a TLS Secret. Like Go, both encodings of the empty password are tried: BMPString
 * `00 00` (OpenSSL `-passout pass:`) and no bytes at all (some other tools).
 */
function readPkcs12(content: Uint8Array): Pkcs12Contents {
  let bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const compact = bytes.toString('latin1').replace(/\s+/g, '');
  if (compact.length % 4 === 0 && BASE64_TEXT.test(compact)) bytes = Buffer.from(compact, 'base64');

  let asn1: Forge.asn1.Asn1;
  try {
    asn1 = forgeLib().asn1.fromDer(forgeLib().util.createBuffer(bytes.toString('binary')), false);
  } catch {
    throw notPemOrPkcs12();
  }
  let pfx: Forge.pkcs12.Pkcs12Pfx | undefined;
  for (const password of ['', null]) {
    try {
      // forge's typings omit null, which it documents as "no password".
      pfx = forgeLib().pkcs12.pkcs12FromAsn1(asn1, false, password as string);
      break;
    } catch (error) {
      // Forge's structural checks fail before any password is used; the file is simply not a PFX.
      if (error instanceof Error && /^(Cannot read PKCS#12 PFX|PKCS#12 PFX of version)/.test(error.message))
        throw notPemOrPkcs12();
    }
  }
  if (pfx === undefined) {
    throw syncError(
      'the PKCS#12 (PFX) archive could not be opened with an empty password; password-protected PFX files are not supported',
    );
  }

  let keyDer: Buffer | undefined;
  const certs: Buffer[] = [];
  for (const bag of pfx.safeContents.flatMap((safe) => safe.safeBags)) {
    // forge decodes RSA keys and RSA certificates itself (else null) and leaves anything else as raw ASN.1;
    // its typings claim both fields are always there.
    const raw = bag.asn1 as Forge.asn1.Asn1 | undefined;
    const key = bag.key as Forge.pki.rsa.PrivateKey | null | undefined;
    const cert = bag.cert as Forge.pki.Certificate | null | undefined;
    if (bag.type === KEY_BAG || bag.type === SHROUDED_KEY_BAG) {
      if (key) keyDer = toDer(forgeLib().pki.privateKeyToAsn1(key));
      else if (raw) keyDer = toDer(raw);
    } else if (bag.type === CERT_BAG) {
      if (cert) certs.push(toDer(forgeLib().pki.certificateToAsn1(cert)));
      else if (raw) certs.push(toDer(raw));
    }
  }
  return { keyDer, certs };
}

function toDer(asn1: Forge.asn1.Asn1): Buffer {
  return Buffer.from(forgeLib().asn1.toDer(asn1).getBytes(), 'binary');
}

/**
 * Moves the certificate whose public key matches the private key to the front and keeps the rest in order.
 * Upstream keeps archive order, which is the same for PFX files written by OpenSSL or Key Vault (leaf first);
 * other tools put the chain first, and a server would then present the wrong certificate.
 */
function leafFirst(certs: Buffer[], keyDer: Buffer | undefined): Buffer[] {
  if (keyDer === undefined) return certs;
  let key: KeyObject;
  try {
    key = parsePrivateKeyDer(keyDer);
  } catch {
    return certs;
  }
  const leaf = certs.findIndex((der) => {
    try {
      return new X509Certificate(der).checkPrivateKey(key);
    } catch {
      return false;
    }
  });
  if (leaf <= 0) return certs;
  return [...certs.slice(leaf, leaf + 1), ...certs.slice(0, leaf), ...certs.slice(leaf + 1)];
}

function notPemOrPkcs12(): DriverError {
  return syncError('the file holds no PEM block and is not a PKCS#12 (PFX) archive');
}

function syncError(message: string): DriverError {
  return new DriverError(driverErrorCodes.failedToCreateSecret, message);
}
