/**
 * A throwaway certificate authority for the test world: serving certificates for the API server, Lowkey Vault
 * and the token endpoint, client certificates for the admin kubeconfig, and the PKCS#12 keystore Lowkey Vault
 * reads. Uses the openssl command (Debian's openssl package), the same tool an operator would.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { explainMissingTool } from './process.js';

const run = promisify(execFile);

export interface IssuedCertificate {
  readonly certPath: string;
  readonly keyPath: string;
}

export interface CertificateRequest {
  /** File name stem inside the PKI directory. */
  readonly name: string;
  readonly commonName: string;
  readonly organization?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: 'server' | 'client';
}

export interface TestPki {
  readonly dir: string;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  issue(request: CertificateRequest): Promise<IssuedCertificate>;
  /** Writes a PKCS#12 keystore holding the certificate and key, protected by `password`. */
  pkcs12(cert: IssuedCertificate, alias: string, password: string): Promise<string>;
  /** A fresh RSA key pair (for service-account token signing). */
  keyPair(name: string): Promise<{ privateKeyPath: string; publicKeyPath: string }>;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', [...args]);
  } catch (error) {
    throw explainMissingTool(error, 'openssl', 'apt-get install openssl', `openssl ${args.join(' ')}`);
  }
}

export async function createTestPki(dir: string): Promise<TestPki> {
  const caKeyPath = join(dir, 'ca.key');
  const caCertPath = join(dir, 'ca.crt');
  await openssl(['genrsa', '-out', caKeyPath, '2048']);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKeyPath,
    '-sha256',
    '-days',
    '2',
    '-subj',
    '/CN=secrets-store-csi-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    caCertPath,
  ]);

  return {
    dir,
    caCertPath,
    caKeyPath,
    async issue(request) {
      const keyPath = join(dir, `${request.name}.key`);
      const csrPath = join(dir, `${request.name}.csr`);
      const certPath = join(dir, `${request.name}.crt`);
      const extPath = join(dir, `${request.name}.ext`);
      const subject = `/CN=${request.commonName}${request.organization ? `/O=${request.organization}` : ''}`;
      const altNames = [
        ...(request.dnsNames ?? []).map((n) => `DNS:${n}`),
        ...(request.ipAddresses ?? []).map((ip) => `IP:${ip}`),
      ];
      await writeFile(
        extPath,
        [
          'basicConstraints=CA:FALSE',
          'keyUsage=critical,digitalSignature,keyEncipherment',
          `extendedKeyUsage=${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
          ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(',')}`] : []),
          '',
        ].join('\n'),
      );
      await openssl(['genrsa', '-out', keyPath, '2048']);
      await openssl(['req', '-new', '-key', keyPath, '-subj', subject, '-out', csrPath]);
      await openssl([
        'x509',
        '-req',
        '-in',
        csrPath,
        '-CA',
        caCertPath,
        '-CAkey',
        caKeyPath,
        // A random serial per certificate: -CAcreateserial shares one ca.srl file, and two
        // certificates issued at once from one authority race on it (openssl reads a half-written file).
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        '2',
        '-sha256',
        '-extfile',
        extPath,
        '-out',
        certPath,
      ]);
      return { certPath, keyPath };
    },
    async pkcs12(cert, alias, password) {
      const path = join(dir, `${alias}.p12`);
      await openssl([
        'pkcs12',
        '-export',
        '-in',
        cert.certPath,
        '-inkey',
        cert.keyPath,
        '-certfile',
        caCertPath,
        '-name',
        alias,
        '-passout',
        `pass:${password}`,
        '-out',
        path,
      ]);
      return path;
    },
    async keyPair(name) {
      const privateKeyPath = join(dir, `${name}.key`);
      const publicKeyPath = join(dir, `${name}.pub`);
      await openssl(['genrsa', '-out', privateKeyPath, '2048']);
      await openssl(['rsa', '-in', privateKeyPath, '-pubout', '-out', publicKeyPath]);
      return { privateKeyPath, publicKeyPath };
    },
  };
}

/** A serving certificate for a stand-in on loopback (the Entra ID token endpoint): `localhost` and 127.0.0.1. */
export function issueLocalhostServing(pki: TestPki, name: string): Promise<IssuedCertificate> {
  return pki.issue({
    name,
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
}

/**
 * A serving certificate for every vault of a Key Vault double, `https://<vault>.<dnsSuffix>`, with the suffix:
 * by default a unique `<random>.vault.test`, so the vault names of concurrent test worlds never clash in
 * /etc/hosts (spread the result into startKeyVaultDouble's options).
 */
export async function issueVaultServing(
  pki: TestPki,
  name: string,
  dnsSuffix = `v${randomBytes(4).toString('hex')}.vault.test`,
): Promise<IssuedCertificate & { readonly dnsSuffix: string }> {
  const issued = await pki.issue({
    name,
    commonName: dnsSuffix,
    dnsNames: [`*.${dnsSuffix}`, dnsSuffix],
    usage: 'server',
  });
  return { ...issued, dnsSuffix };
}

/** A serving certificate for `login.microsoftonline.com`, where MSAL Go asks about authorities (entra.ts). */
export function issueInstanceDiscoveryServing(pki: TestPki, name: string): Promise<IssuedCertificate> {
  return pki.issue({
    name,
    commonName: 'login.microsoftonline.com',
    dnsNames: ['login.microsoftonline.com'],
    usage: 'server',
  });
}
