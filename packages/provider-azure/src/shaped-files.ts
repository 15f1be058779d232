/**
 * Ours (issue 16 §2, §4): what a Mount adds for an object's shaping fields, kept out of provider.ts: the
 * files extracted by `jmesPath`, and the PFX password named by `pfxPasswordSecretKey`.
 */
import { Buffer } from 'node:buffer';
import type { MountedFile } from '@secrets-store-csi/provider-sdk';
import { extractFiles, type Pkcs12Password } from './content/index.js';
import type { KeyVaultObject } from './model.js';
import { fileModeOf } from './parameters/index.js';

/**
 * The `jmesPath` files of one secret version: each named by its `objectAlias`, with its own
 * `filePermission` or else the object's mode, holding the selected value as UTF-8 text (`objectEncoding`
 * applies to the object's own file only). None for objects without `jmesPath`.
 */
export function extractedFiles(value: string, object: KeyVaultObject, objectMode: number): MountedFile[] {
  const entries = object.shaping?.jmesPath ?? [];
  return extractFiles(value, entries).map(({ entry, text }) => ({
    path: entry.objectAlias,
    mode: fileModeOf({ ...object, filePermission: entry.filePermission }, objectMode),
    contents: Buffer.from(text, 'utf8'),
  }));
}

/**
 * The password `pfxPasswordSecretKey` names in the nodePublishSecretRef Secret the request carries
 * (parameter parsing has checked the key is there). Undefined when the object names none.
 */
export function pfxPasswordOf(
  object: KeyVaultObject,
  secrets: Readonly<Record<string, string>>,
): Pkcs12Password | undefined {
  const key = object.shaping?.pfxPasswordSecretKey ?? '';
  if (key === '') return undefined;
  const value = Object.hasOwn(secrets, key) ? secrets[key] : undefined;
  return { value: value ?? '', source: `nodePublishSecretRef key ${JSON.stringify(key)}` };
}
