import { readFileSync } from 'node:fs';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';

/**
 * Makes this process trust the test CA for every TLS connection opened from now on (Node 24's
 * tls.setDefaultCACertificates), so the real Azure SDK and Kubernetes clients reach the test servers
 * without NODE_EXTRA_CA_CERTS being set before the process started. Child processes get the CA through
 * NODE_EXTRA_CA_CERTS in their environment instead.
 */
export function trustCertificateAuthority(caCertPath: string): void {
  const pem = readFileSync(caCertPath, 'utf8');
  const current = getCACertificates('default');
  if (!current.includes(pem)) setDefaultCACertificates([...current, pem]);
}
