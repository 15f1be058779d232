/**
 * Just enough DER reading to pull the key identifiers out of a certificate. node:crypto's X509Certificate
 * parses and validates certificates but exposes no extension bytes, and the chain order depends on exactly
 * those bytes (Go compares `AuthorityKeyId` with `SubjectKeyId`).
 */
import { Buffer } from 'node:buffer';

interface Tlv {
  /** The whole identifier octet: class, constructed bit and tag number (low tag numbers only). */
  readonly tag: number;
  readonly value: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  readonly end: number;
}

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
const BOOLEAN = 0x01;
const OBJECT_IDENTIFIER = 0x06;
/** `[3] EXPLICIT Extensions` in TBSCertificate. */
const EXTENSIONS = 0xa3;
/** `[0] IMPLICIT KeyIdentifier` in AuthorityKeyIdentifier. */
const AKI_KEY_ID = 0x80;

/** DER of the OIDs 2.5.29.14 (subjectKeyIdentifier) and 2.5.29.35 (authorityKeyIdentifier). */
const OID_SKI = Buffer.from([0x55, 0x1d, 0x0e]);
const OID_AKI = Buffer.from([0x55, 0x1d, 0x23]);

class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

function readTlv(buf: Buffer, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated element');
  const tag = buf[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used in certificates');
  let length = buf[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new DerError('unsupported length');
    if (start + count > buf.length) throw new DerError('truncated length');
    length = 0;
    for (let k = 0; k < count; k++) length = length * 256 + (buf[start + k] ?? 0);
    start += count;
  }
  const end = start + length;
  if (end > buf.length) throw new DerError('truncated element');
  return { tag, value: buf.subarray(start, end), end };
}

function children(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < buf.length;) {
    const tlv = readTlv(buf, offset);
    out.push(tlv);
    offset = tlv.end;
  }
  return out;
}

export interface KeyIdentifiers {
  /** The AuthorityKeyIdentifier's keyIdentifier; undefined when the extension or the field is absent. */
  readonly authorityKeyId: Buffer | undefined;
  /** The SubjectKeyIdentifier; undefined when the extension is absent. */
  readonly subjectKeyId: Buffer | undefined;
}

/**
 * The key identifiers of a DER certificate, the way Go's x509 fills `AuthorityKeyId` and `SubjectKeyId`
 * (nil when absent). The caller has already checked the certificate parses; this throws on malformed
 * extension structure.
 */
export function certificateKeyIdentifiers(certDer: Uint8Array): KeyIdentifiers {
  const cert = readTlv(Buffer.from(certDer.buffer, certDer.byteOffset, certDer.byteLength), 0);
  const tbs = children(cert.value)[0];
  if (cert.tag !== SEQUENCE || tbs?.tag !== SEQUENCE) throw new DerError('not a certificate');
  const extensions = children(tbs.value).find((field) => field.tag === EXTENSIONS);
  let authorityKeyId: Buffer | undefined;
  let subjectKeyId: Buffer | undefined;
  if (extensions === undefined) return { authorityKeyId, subjectKeyId };
  const list = readTlv(extensions.value, 0);
  for (const extension of children(list.value)) {
    const [oid, second, third] = children(extension.value);
    if (oid?.tag !== OBJECT_IDENTIFIER) throw new DerError('malformed extension');
    const value = second?.tag === BOOLEAN ? third : second;
    if (value?.tag !== OCTET_STRING) throw new DerError('malformed extension');
    if (oid.value.equals(OID_SKI)) {
      const id = readTlv(value.value, 0);
      if (id.tag !== OCTET_STRING) throw new DerError('malformed subject key identifier');
      subjectKeyId = id.value;
    } else if (oid.value.equals(OID_AKI)) {
      const aki = readTlv(value.value, 0);
      if (aki.tag !== SEQUENCE) throw new DerError('malformed authority key identifier');
      authorityKeyId = children(aki.value).find((field) => field.tag === AKI_KEY_ID)?.value;
    }
  }
  return { authorityKeyId, subjectKeyId };
}
