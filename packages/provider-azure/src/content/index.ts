/**
 * Turning what Key Vault returns into file contents: pure functions, no I/O. See upstream spec §5.
 */
export { INCOMPLETE_CHAIN_WARNING, orderCertChain } from './chain.js';
export { certificateKeyIdentifiers, type KeyIdentifiers } from './der.js';
export { Base64InputError, decodeBase64Go, decodeHexGo, encodeContent } from './encoding.js';
export { certificatePem, publicKeyPem, type PublicJsonWebKey } from './keys.js';
export { CERTIFICATE, encodePemBlocks, parsePemBlocks, pemBlock, type PemBlock } from './pem.js';
export { decodePkcs12, type Pkcs12Password, type Pkcs12Pem } from './pkcs12.js';
export { extractFiles, type ExtractedFile } from './extract.js';
export {
  PEM_CONTENT_TYPE,
  PKCS12_CONTENT_TYPE,
  pfxToPem,
  secretContents,
  splitCertAndKey,
  type SecretContentOptions,
  type SecretFile,
  type SecretValue,
} from './secret.js';
