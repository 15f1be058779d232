/**
 * Certificates for the interop cases, made with openssl from the test world's CA: an RSA leaf under an
 * intermediate (a three-certificate chain, so chain order matters), an EC leaf, as PEM bundles in several orders
 * and as PKCS#12 archives.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestPki } from '@secrets-store-csi/test-support';

const run = promisify(execFile);

export interface Chain {
  readonly keyPem: string;
  readonly leafPem: string;
  readonly intermediatePem: string;
  readonly rootPem: string;
  /** Key, leaf, intermediate, root. */
  readonly pem: string;
  /** Key, root, leaf, intermediate: a bundle in the wrong order. */
  readonly shuffledPem: string;
  /** PKCS#12 of key + leaf + intermediate + root, without a password (OpenSSL 3's AES-256 and SHA-256 MAC). */
  readonly pfx: Buffer;
  /** The same with 3DES and a SHA-1 MAC, as Key Vault and older tools write PKCS#12. */
  readonly legacyPfx: Buffer;
}

export interface EcCertificate {
  readonly keyPem: string;
  readonly certPem: string;
  readonly pem: string;
  readonly pfx: Buffer;
  readonly legacyPfx: Buffer;
}

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', [...args]);
}

/** PKCS#12 algorithms Go's golang.org/x/crypto/pkcs12 (upstream's provider) reads. */
const LEGACY = ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'];

async function sign(
  dir: string,
  name: string,
  subject: string,
  issuer: { cert: string; key: string },
  extensions: string,
  keyArgs: readonly string[],
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await openssl(['genpkey', ...keyArgs, '-out', key]);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await writeFile(ext, extensions);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    issuer.cert,
    '-CAkey',
    issuer.key,
    '-set_serial',
    `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

export async function makeCertificates(
  pki: TestPki,
  dir: string,
): Promise<{ chain: Chain; ec: EcCertificate }> {
  await mkdir(dir, { recursive: true });
  const root = { cert: pki.caCertPath, key: pki.caKeyPath };
  const intermediate = await sign(
    dir,
    'intermediate',
    '/CN=interop intermediate CA',
    root,
    'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
    ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  );
  const leafExt =
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:app.interop.example\n';
  const leaf = await sign(dir, 'leaf', '/CN=app.interop.example', intermediate, leafExt, [
    '-algorithm',
    'RSA',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
  ]);
  const ecLeaf = await sign(dir, 'ec-leaf', '/CN=ec.interop.example', root, leafExt.replace('app.', 'ec.'), [
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
  ]);
  const chainFile = join(dir, 'chain.pem');
  const read = (path: string) => readFile(path, 'utf8');
  const [keyPem, leafPem, intermediatePem, rootPem, ecKeyPem, ecCertPem] = await Promise.all([
    read(leaf.key),
    read(leaf.cert),
    read(intermediate.cert),
    read(root.cert),
    read(ecLeaf.key),
    read(ecLeaf.cert),
  ]);
  await writeFile(chainFile, `${intermediatePem}${rootPem}`);
  const pkcs12 = async (name: string, args: readonly string[]) => {
    const path = join(dir, `${name}.p12`);
    await openssl(['pkcs12', '-export', ...args, '-passout', 'pass:', '-out', path]);
    return readFile(path);
  };
  const leafArgs = ['-in', leaf.cert, '-inkey', leaf.key, '-certfile', chainFile];
  const ecArgs = ['-in', ecLeaf.cert, '-inkey', ecLeaf.key];
  return {
    chain: {
      keyPem,
      leafPem,
      intermediatePem,
      rootPem,
      pem: `${keyPem}${leafPem}${intermediatePem}${rootPem}`,
      shuffledPem: `${keyPem}${rootPem}${leafPem}${intermediatePem}`,
      pfx: await pkcs12('leaf', leafArgs),
      legacyPfx: await pkcs12('leaf-legacy', [...leafArgs, ...LEGACY]),
    },
    ec: {
      keyPem: ecKeyPem,
      certPem: ecCertPem,
      pem: `${ecKeyPem}${ecCertPem}`,
      pfx: await pkcs12('ec', ecArgs),
      legacyPfx: await pkcs12('ec-legacy', [...ecArgs, ...LEGACY]),
    },
  };
}
