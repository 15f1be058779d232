/**
 * Content of `objectType: key` (the public half of a Key Vault key) and `objectType: cert` (the leaf
 * certificate), as upstream writes them: SPKI `PUBLIC KEY` and `CERTIFICATE` PEM in Go's layout.
 */
import { Buffer } from 'node:buffer';
import { createPublicKey, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import { contentError } from '../errors.js';
import { CERTIFICATE, pemBlock } from './pem.js';

/** The fields of `@azure/keyvault-keys`' `JsonWebKey` that a public key needs. */
export interface PublicJsonWebKey {
  readonly kty?: string;
  readonly n?: Uint8Array;
  readonly e?: Uint8Array;
  readonly crv?: string;
  readonly x?: Uint8Array;
  readonly y?: Uint8Array;
}

/** Coordinate length in bytes of each curve upstream supports (Go's `elliptic.P256()` and friends). */
const CURVE_SIZES: Readonly<Record<string, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

const base64url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

/**
 * Big-endian integer bytes at the curve's fixed width. Go reads x and y as big integers, so Key Vault (or a
 * proxy) dropping leading zero bytes is harmless there; JWK import wants the full width.
 */
function fixedWidth(bytes: Uint8Array, size: number): Uint8Array {
  let start = 0;
  while (start < bytes.length - size && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  if (trimmed.length >= size) return trimmed;
  const out = new Uint8Array(size);
  out.set(trimmed, size - trimmed.length);
  return out;
}

function spkiPem(jwk: NodeJsonWebKey): string {
  try {
    const der = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
    return pemBlock('PUBLIC KEY', der);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw contentError(`failed to get key. invalid ${jwk.kty ?? ''} public key: ${reason}`, { cause: error });
  }
}

/**
 * The public key of a Key Vault JWK as PKIX SubjectPublicKeyInfo PEM (`PUBLIC KEY`). RSA and RSA-HSM use n
 * and e; EC and EC-HSM use x and y on P-256, P-384 or P-521 (anything else, P-256K included:
 * `curve <crv> is not supported`). Other key types (oct, oct-HSM):
 * `failed to get key. key type '<kty>' currently not supported`.
 */
export function publicKeyPem(jwk: PublicJsonWebKey): string {
  const kty = jwk.kty ?? '';
  switch (kty) {
    case 'RSA':
    case 'RSA-HSM':
      // Go would encode a zero modulus; a key without its numbers is broken content, so say so.
      if (!jwk.n?.length || !jwk.e?.length) throw contentError(`failed to get key. ${kty} key has no n or e`);
      return spkiPem({ kty: 'RSA', n: base64url(jwk.n), e: base64url(jwk.e) });
    case 'EC':
    case 'EC-HSM': {
      const crv = jwk.crv ?? '';
      const size = CURVE_SIZES[crv];
      if (size === undefined) throw contentError(`curve ${crv} is not supported`);
      if (!jwk.x?.length || !jwk.y?.length) throw contentError(`failed to get key. ${kty} key has no x or y`);
      return spkiPem({
        kty: 'EC',
        crv,
        x: base64url(fixedWidth(jwk.x, size)),
        y: base64url(fixedWidth(jwk.y, size)),
      });
    }
    default:
      throw contentError(`failed to get key. key type '${kty}' currently not supported`);
  }
}

/** The `cer` of a Key Vault certificate (DER of the leaf only) as one `CERTIFICATE` block. */
export function certificatePem(cer: Uint8Array): string {
  return pemBlock(CERTIFICATE, cer);
}
