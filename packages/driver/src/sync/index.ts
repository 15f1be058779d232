/** Secret sync: what Kubernetes Secrets a volume's `secretObjects` ask for. Pure mapping; I/O lives elsewhere. */
export type { DesiredSecret } from './desired-secret.js';
export { buildDesiredSecrets, secretDataEqual } from './mapping.js';
export type { DesiredSecrets, SyncProblem } from './mapping.js';
export {
  SECRET_TYPE_TLS,
  TLS_CERT,
  TLS_KEY,
  tlsCertificatesPem,
  tlsPrivateKeyPem,
  tlsSecretValue,
} from './tls.js';
