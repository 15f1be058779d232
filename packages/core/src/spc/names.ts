import { createHash } from 'node:crypto';
import type { SecretProviderClassObject } from './types.js';

const MAX_NAME_LENGTH = 253;

/**
 * The SecretProviderClassPodStatus name: `<pod>-<namespace>-<class>`, as upstream names it. Upstream fails
 * when that is longer than Kubernetes allows (253); we then keep the first part and end with a hash of the
 * whole, so the name stays unique, stable and valid.
 */
export function podStatusName(
  podName: string,
  podNamespace: string,
  secretProviderClassName: string,
): string {
  const name = `${podName}-${podNamespace}-${secretProviderClassName}`;
  if (name.length <= MAX_NAME_LENGTH) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  const head = name.slice(0, MAX_NAME_LENGTH - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}`;
}

/** Object versions in the order upstream stores them in the pod status: sorted by id. */
export function sortObjectVersions(
  objects: readonly SecretProviderClassObject[],
): SecretProviderClassObject[] {
  return [...objects].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
