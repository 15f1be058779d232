/**
 * Content of `objectType: secret` (upstream §5.1): plain secrets as stored, certificate-backed secrets (those
 * with a `kid`) as PEM, PFX or split `.crt`/`.key` files. Encoding (`objectEncoding`) is applied by the caller
 * to each file's text with `encodeContent`.
 */
import type { Logger } from '@secrets-store-csi/core';
import { contentError } from '../errors.js';
import type { KeyVaultObject, ObjectShaping } from '../model.js';
import { orderCertChain } from './chain.js';
import { CERTIFICATE, encodePemBlocks, parsePemBlocks } from './pem.js';
import { decodePkcs12, type Pkcs12Password } from './pkcs12.js';

/** What a Key Vault GET secret returned that matters here. */
export interface SecretValue {
  readonly value: string;
  readonly contentType?: string;
  /** Set only on the secret backing a Key Vault certificate. */
  readonly kid?: string;
}

export interface SecretContentOptions {
  /** `--construct-pem-chain`: order a PFX's certificates leaf → root. */
  readonly constructPemChain: boolean;
  /** `--write-cert-and-key-in-separate-files`: also emit `<file>.crt` and `<file>.key`. */
  readonly writeCertAndKeyInSeparateFiles: boolean;
}

/** One file of an object: its path is the object's file name plus `suffix`. */
export interface SecretFile {
  readonly suffix: '.crt' | '.key' | '';
  readonly text: string;
}

export const PEM_CONTENT_TYPE = 'application/x-pem-file';
export const PKCS12_CONTENT_TYPE = 'application/x-pkcs12';

/**
 * A PFX (base64 text as Key Vault stores it) as PEM: all keys (PKCS#8) first, then all certificates, in
 * chain order when `constructPemChain` is set (with upstream's fallback to archive order, see
 * `orderCertChain`).
 */
export function pfxToPem(
  base64Text: string,
  constructPemChain: boolean,
  logger: Logger,
  password?: Pkcs12Password,
): string {
  const { keyPem, certPem } = decodePkcs12(base64Text, password);
  return keyPem + (constructPemChain ? orderCertChain(certPem, logger) : certPem);
}

/**
 * Splits PEM text into its `CERTIFICATE` blocks and everything else (keys), each re-encoded in Go's layout
 * in the original order; text outside blocks is dropped. Either part is '' when it has no block.
 */
export function splitCertAndKey(pemText: string): { crt: string; key: string } {
  const blocks = parsePemBlocks(pemText);
  return {
    crt: encodePemBlocks(blocks.filter((block) => block.type === CERTIFICATE)),
    key: encodePemBlocks(blocks.filter((block) => block.type !== CERTIFICATE)),
  };
}

/** The main file's text for a certificate-backed secret, by content type. */
function certificateSecretText(
  secret: SecretValue,
  object: Pick<KeyVaultObject, 'objectFormat'>,
  options: SecretContentOptions,
  logger: Logger,
  password: Pkcs12Password | undefined,
): string {
  const contentType = secret.contentType ?? '';
  switch (contentType) {
    case PEM_CONTENT_TYPE:
      // Stored PEM is returned as uploaded: no chain ordering, objectFormat ignored (as upstream).
      return secret.value;
    case PKCS12_CONTENT_TYPE:
      if (object.objectFormat.toLowerCase() === 'pfx') return secret.value;
      return pfxToPem(secret.value, options.constructPemChain, logger, password);
    default:
      throw contentError(`failed to get certificate. unknown content type '${contentType}'`);
  }
}

/**
 * The files of one secret version, in the order upstream returns them (`.crt`, `.key`, main file). A secret
 * without a `kid` is written as stored. Split files exist only for certificate-backed secrets and only when
 * they would have content: unlike upstream (issue #1277) we never write an empty `.crt` or `.key`, so
 * `objectFormat: pfx` yields just the main file.
 */
export function secretContents(
  secret: SecretValue,
  object: Pick<KeyVaultObject, 'objectFormat' | 'shaping'>,
  options: SecretContentOptions,
  logger: Logger,
  password?: Pkcs12Password,
): SecretFile[] {
  const shaping = object.shaping;
  if (
    shaping !== undefined &&
    (shaping.objectContentType !== '' || cutsPem(shaping) || shaping.pfxPasswordSecretKey !== '')
  ) {
    return shapedSecretContents(secret, object, shaping, options, logger, password);
  }
  if (secret.kid === undefined || secret.kid === '') return [{ suffix: '', text: secret.value }];
  const text = certificateSecretText(secret, object, options, logger, password);
  return certificateFiles(text, options);
}

/** A certificate's PEM as the main file, after its `.crt` and `.key` parts with writeCertAndKeyInSeparateFiles. */
function certificateFiles(text: string, options: SecretContentOptions): SecretFile[] {
  const files: SecretFile[] = [];
  if (options.writeCertAndKeyInSeparateFiles) {
    const { crt, key } = splitCertAndKey(text);
    if (crt !== '') files.push({ suffix: '.crt', text: crt });
    if (key !== '') files.push({ suffix: '.key', text: key });
  }
  files.push({ suffix: '', text });
  return files;
}

/** Whether `pemContent` asks for part of the PEM (`all`, like '', keeps everything). */
function cutsPem(shaping: ObjectShaping): boolean {
  const part = shaping.pemContent.toLowerCase();
  return part === 'key' || part === 'certs';
}

/**
 * Ours (issue 16 §4): a secret read with `objectContentType` (a PFX or PEM stored as a plain secret, upstream
 * #273) and/or cut down to its keys or certificates with `pemContent` (upstream #1795). `pemContent` key or
 * certs gives just that part as the main file, without `.crt`/`.key` files; otherwise the files are those of
 * a certificate-backed secret.
 */
function shapedSecretContents(
  secret: SecretValue,
  object: Pick<KeyVaultObject, 'objectFormat'>,
  shaping: ObjectShaping,
  options: SecretContentOptions,
  logger: Logger,
  password: Pkcs12Password | undefined,
): SecretFile[] {
  const override = shaping.objectContentType.toLowerCase();
  if (override === '' && (secret.kid === undefined || secret.kid === '')) {
    const field = cutsPem(shaping) ? 'pemContent' : 'pfxPasswordSecretKey';
    throw contentError(
      `${field} needs a certificate: this secret is not certificate-backed; set objectContentType to ${PKCS12_CONTENT_TYPE} or ${PEM_CONTENT_TYPE}`,
    );
  }
  const read = override === '' ? secret : { ...secret, contentType: override };
  const text = certificateSecretText(read, object, options, logger, password);
  const part = shaping.pemContent.toLowerCase();
  if (part === 'key' || part === 'certs') {
    const { crt, key } = splitCertAndKey(text);
    const chosen = part === 'key' ? key : crt;
    if (chosen === '') {
      throw contentError(
        part === 'key'
          ? 'pemContent key: the certificate has no private key'
          : 'pemContent certs: the content has no certificate',
      );
    }
    return [{ suffix: '', text: chosen }];
  }
  return certificateFiles(text, options);
}
