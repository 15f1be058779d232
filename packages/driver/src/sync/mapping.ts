/**
 * From a SecretProviderClass's `spec.secretObjects` and the files of one mounted volume to the Kubernetes
 * Secrets that should exist, as upstream's SecretProviderClassPodStatus controller builds them. Pure: the
 * caller reads the files and talks to Kubernetes, so every rule here is testable with plain values.
 */
import { Buffer } from 'node:buffer';
import { MANAGED_SECRET_LABEL } from '@secrets-store-csi/core';
import type { SecretObject, SecretObjectData, SecretProviderClass } from '@secrets-store-csi/core';
import { DriverError } from '../errors.js';
import type { DesiredSecret } from './desired-secret.js';
import { SECRET_TYPE_TLS, tlsSecretValue } from './tls.js';

/**
 * Why one `secretObjects` entry produced no Secret. The message never quotes file contents; the caller adds
 * the SecretProviderClass and pod when it reports it (upstream's event reads "failed to get data in spc
 * <ns>/<name> for secret <secretName>, err: <message>").
 */
export interface SyncProblem {
  readonly secretName: string;
  readonly message: string;
}

export interface DesiredSecrets {
  readonly secrets: DesiredSecret[];
  readonly problems: SyncProblem[];
  /**
   * Ours: secretObjects entries not written now because optional objects they need are absent (every data
   * item absent, or a kubernetes.io/tls Secret missing one); not problems, the absence is reported already.
   * Only set when there is one.
   */
  readonly deferred?: string[];
}

/** Whether a secretObjects `objectName` is the file, or under the directory, of an absent optional object. */
function isAbsent(objectName: string, absentPaths: ReadonlySet<string>): boolean {
  if (absentPaths.has(objectName)) return true;
  for (const path of absentPaths) if (objectName.startsWith(`${path}/`)) return true;
  return false;
}

/**
 * The Secrets `spc.spec.secretObjects` describes, in spec order, filled from `files` (relative path inside
 * the volume, such as `username` or `dir/file`, to its bytes). A bad entry becomes a problem and the rest
 * still sync, as upstream continues with the next entry; an entry with any bad data item yields no Secret at
 * all, so a half-filled Secret never replaces a good one.
 */
export function buildDesiredSecrets(
  spc: SecretProviderClass,
  namespace: string,
  files: ReadonlyMap<string, Uint8Array>,
  absentPaths: ReadonlySet<string> = new Set(),
): DesiredSecrets {
  const secrets: DesiredSecret[] = [];
  const problems: SyncProblem[] = [];
  const deferred: string[] = [];
  const seen = new Set<string>();
  for (const secretObject of spc.spec.secretObjects ?? []) {
    const secretName = secretObject.secretName.trim();
    const type = secretObject.type.trim();
    const invalid = validateSecretObject(secretName, type, secretObject, seen);
    if (invalid !== undefined) {
      problems.push({ secretName, message: invalid });
      continue;
    }
    seen.add(secretName);

    const data = secretData(secretObject.data, type, files, absentPaths);
    if (data === DEFERRED) {
      deferred.push(secretName);
      continue;
    }
    if (typeof data === 'string') {
      problems.push({ secretName, message: data });
      continue;
    }
    secrets.push({
      name: secretName,
      namespace,
      type,
      // Copied, never aliased: upstream mutates the spec's own label map here.
      labels: { ...secretObject.labels, [MANAGED_SECRET_LABEL]: 'true' },
      annotations: { ...secretObject.annotations },
      data,
    });
  }
  return { secrets, problems, ...(deferred.length > 0 && { deferred }) };
}

/**
 * Upstream's `ValidateSecretObject` checks, texts and order, applied to trimmed values (upstream checks the
 * raw ones, so `type: " "` passed and silently became Opaque). The duplicate check is ours: upstream writes
 * both entries to the same Secret and the last write wins on every reconcile; we keep the first and say so.
 */
function validateSecretObject(
  secretName: string,
  type: string,
  secretObject: SecretObject,
  seen: ReadonlySet<string>,
): string | undefined {
  if (secretName.length === 0) return 'secret name is empty';
  if (type.length === 0) return 'secret type is empty';
  if (secretObject.data.length === 0) return 'data is empty';
  if (seen.has(secretName)) {
    return `secret name ${secretName} is already used by an earlier secretObjects entry; this entry is ignored`;
  }
  return undefined;
}

/**
 * The Secret's data, or the first problem, checked item by item in upstream's `GetSecretData` order. As
 * upstream, a repeated key takes the last item's value.
 */
const DEFERRED = Symbol('deferred');

function secretData(
  items: readonly SecretObjectData[],
  type: string,
  files: ReadonlyMap<string, Uint8Array>,
  absentPaths: ReadonlySet<string>,
): Record<string, Uint8Array> | string | typeof DEFERRED {
  // A Map, then fromEntries: a data key such as `__proto__` (valid in Kubernetes) stays an ordinary key.
  const data = new Map<string, Uint8Array>();
  let leftOut = 0;
  for (const [index, item] of items.entries()) {
    const objectName = item.objectName.trim();
    const key = item.key.trim();
    if (objectName.length === 0) return `object name in secretObjects.data[${index}] is empty`;
    if (key.length === 0) return `key in secretObjects.data[${index}] is empty`;
    const content = files.get(objectName);
    if (content === undefined && isAbsent(objectName, absentPaths)) {
      // Ours: an absent optional object's key is left out; a TLS Secret needs both of its keys.
      if (type === SECRET_TYPE_TLS) return DEFERRED;
      leftOut++;
      continue;
    }
    if (content === undefined) return `file matching objectName ${objectName} not found in the pod`;
    if (type !== SECRET_TYPE_TLS) {
      // A copy, so a caller that later wipes or reuses its file buffers cannot change the desired Secret.
      data.set(key, Uint8Array.from(content));
      continue;
    }
    try {
      data.set(key, tlsSecretValue(content, key));
    } catch (error) {
      if (!(error instanceof DriverError)) throw error;
      return `failed to get cert data from file ${objectName}, err: ${error.message}`;
    }
  }
  // Every item absent: nothing to write yet (an empty Secret would replace a good one).
  if (leftOut > 0 && data.size === 0) return DEFERRED;
  return Object.fromEntries(data);
}

/**
 * Whether two Secret data maps hold the same keys with the same bytes, so the Kubernetes adapter can skip an
 * update that would change nothing (and not bump the Secret's resourceVersion on every rotation poll).
 */
export function secretDataEqual(
  a: Readonly<Record<string, Uint8Array>>,
  b: Readonly<Record<string, Uint8Array>>,
): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => {
    const left = a[key];
    const right = Object.hasOwn(b, key) ? b[key] : undefined;
    return left !== undefined && right !== undefined && Buffer.compare(left, right) === 0;
  });
}
