/**
 * Certificate chain ordering for PFX-backed secrets (`--construct-pem-chain`), reproducing upstream's
 * `fetchCertChains` step for step: users rely on leaf → intermediates → root, and on getting the original
 * text back when the chain cannot be completed (upstream fix #1701).
 */
import { Buffer } from 'node:buffer';
import { X509Certificate } from 'node:crypto';
import type { Logger } from '@secrets-store-csi/core';
import { contentError } from '../errors.js';
import { certificateKeyIdentifiers } from './der.js';
import { CERTIFICATE, parsePemBlocks, pemBlock } from './pem.js';

/** Upstream's warning text, kept so existing log searches and alerts still match. */
export const INCOMPLETE_CHAIN_WARNING =
  'certificate chain is not complete due to missing intermediate/root certificates in the cert from key vault';

interface ChainNode {
  readonly der: Uint8Array;
  readonly authorityKeyId: Uint8Array | undefined;
  readonly subjectKeyId: Uint8Array | undefined;
  parent: ChainNode | undefined;
  isParent: boolean;
}

/** Go's `bytes.Equal`: nil and empty are the same. */
function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return Buffer.compare(a ?? Buffer.alloc(0), b ?? Buffer.alloc(0)) === 0;
}

function parseNode(der: Uint8Array): ChainNode {
  try {
    // Validates the whole certificate, as Go's x509.ParseCertificate does before the chain is built.
    new X509Certificate(der);
    return { der, ...certificateKeyIdentifiers(der), parent: undefined, isParent: false };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw contentError(`failed to parse certificate: ${reason}`, { cause: error });
  }
}

/**
 * `certPem` with its certificates ordered leaf → intermediates → root. Every PEM block is read as a
 * certificate, as upstream does; a block that does not parse fails. A cert's parent is the first other cert
 * (input order) whose subject key id equals its authority key id (two absent ids never match); the leaf is
 * the first cert that is nobody's parent. When following parents from the leaf does not visit every cert
 * (missing intermediate, unrelated extra, ids absent), the warning is logged and `certPem` is returned
 * unchanged, byte for byte. Errors: `no leaf found`, `constructing chain resulted in cycle`.
 */
export function orderCertChain(certPem: string, logger: Logger): string {
  const nodes = parsePemBlocks(certPem).map((block) => parseNode(block.der));

  for (const node of nodes) {
    for (const candidate of nodes) {
      if (candidate === node) continue;
      if (node.authorityKeyId === undefined && candidate.subjectKeyId === undefined) continue;
      if (sameBytes(node.authorityKeyId, candidate.subjectKeyId)) {
        candidate.isParent = true;
        node.parent = candidate;
        break;
      }
    }
  }

  const leaf = nodes.find((node) => !node.isParent);
  if (leaf === undefined) throw contentError('no leaf found');

  const chain: ChainNode[] = [];
  for (let node: ChainNode | undefined = leaf; node !== undefined; node = node.parent) {
    if (chain.length + 1 > nodes.length) throw contentError('constructing chain resulted in cycle');
    chain.push(node);
  }

  if (chain.length !== nodes.length) {
    logger.warn(INCOMPLETE_CHAIN_WARNING);
    return certPem;
  }
  return chain.map((node) => pemBlock(CERTIFICATE, node.der)).join('');
}
