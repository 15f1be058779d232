/**
 * Checks of the object fields that are ours (ObjectShaping: `jmesPath`, `objectContentType`, `pemContent`,
 * `pfxPasswordSecretKey`), run after upstream's own checks so that every upstream fault keeps its
 * precedence and text. Objects without these fields are never looked at here. Faults are InvalidParameter
 * (gRPC InvalidArgument), worded like upstream's: `failed to get objectType:…, objectName:…, objectVersion:…:
 * <problem>`. No message quotes a secret: only names, paths and keys written in the class.
 */
import { compile } from '@jmespath-community/jmespath';
import { parameterError } from '../errors.js';
import type { KeyVaultObject, ObjectShaping } from '../model.js';
import { fileNameOf, fileNameProblem, parseFileMode } from './validate.js';

export const PKCS12_CONTENT_TYPE = 'application/x-pkcs12';
export const PEM_CONTENT_TYPE = 'application/x-pem-file';
const CONTENT_TYPES: readonly string[] = [PKCS12_CONTENT_TYPE, PEM_CONTENT_TYPE];
const PEM_CONTENTS: readonly string[] = ['', 'all', 'key', 'certs'];
/** What Kubernetes accepts as a Secret data key. */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

function prefix(object: KeyVaultObject): string {
  return `failed to get objectType:${object.objectType}, objectName:${object.objectName}, objectVersion:${object.objectVersion}`;
}

/** The JMESPath parser's own message (it names a token and a position of the expression, never data). */
function compileProblem(path: string): string | undefined {
  try {
    compile(path);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function jmesPathProblem(object: KeyVaultObject, shaping: ObjectShaping): string | undefined {
  if (shaping.jmesPath.length === 0) return undefined;
  if (object.objectVersionHistory > 1) return 'jmesPath is not supported with objectVersionHistory';
  if (shaping.objectContentType !== '' || shaping.pemContent !== '' || shaping.pfxPasswordSecretKey !== '') {
    return 'jmesPath reads a JSON or YAML value and cannot be combined with objectContentType, pemContent or pfxPasswordSecretKey';
  }
  for (const [index, entry] of shaping.jmesPath.entries()) {
    const at = `jmesPath[${index}]`;
    if (entry.path === '') return `${at}: path is required`;
    const invalid = compileProblem(entry.path);
    if (invalid !== undefined) return `${at}: invalid path ${JSON.stringify(entry.path)}: ${invalid}`;
    if (entry.objectAlias === '') return `${at}: objectAlias is required (the file the value is written to)`;
    const badName = fileNameProblem(entry.objectAlias);
    if (badName !== undefined) return `${at}.objectAlias: ${badName}`;
    if (entry.filePermission !== '' && parseFileMode(entry.filePermission) === undefined) {
      return `${at}: invalid filePermission: ${entry.filePermission}, should be an octal file mode such as 0644`;
    }
  }
  return undefined;
}

function certificateProblem(object: KeyVaultObject, shaping: ObjectShaping): string | undefined {
  const pfxAsStored = object.objectFormat.toLowerCase() === 'pfx';
  if (shaping.objectContentType !== '' && !CONTENT_TYPES.includes(shaping.objectContentType.toLowerCase())) {
    return `invalid objectContentType: ${shaping.objectContentType}, should be ${PKCS12_CONTENT_TYPE} or ${PEM_CONTENT_TYPE}`;
  }
  if (!PEM_CONTENTS.includes(shaping.pemContent.toLowerCase())) {
    return `invalid pemContent: ${shaping.pemContent}, should be all, key or certs`;
  }
  if (pfxAsStored && !['', 'all'].includes(shaping.pemContent.toLowerCase())) {
    return 'pemContent needs objectFormat pem: with objectFormat pfx the archive is written as stored';
  }
  if (shaping.pfxPasswordSecretKey !== '') {
    if (!SECRET_KEY.test(shaping.pfxPasswordSecretKey)) {
      return `invalid pfxPasswordSecretKey: ${shaping.pfxPasswordSecretKey}, should be a Secret data key ([-._a-zA-Z0-9]+)`;
    }
    if (pfxAsStored) {
      return 'pfxPasswordSecretKey needs objectFormat pem: with objectFormat pfx the archive is written as stored';
    }
  }
  return undefined;
}

/** The first problem of one object's shaping fields, or undefined. */
export function shapingProblem(object: KeyVaultObject): string | undefined {
  const shaping = object.shaping;
  if (shaping === undefined) return undefined;
  const used = [
    shaping.jmesPath.length > 0 && 'jmesPath',
    shaping.objectContentType !== '' && 'objectContentType',
    shaping.pemContent !== '' && 'pemContent',
    shaping.pfxPasswordSecretKey !== '' && 'pfxPasswordSecretKey',
  ].find((field) => field !== false);
  if (used === undefined) return undefined;
  if (object.objectType !== 'secret') {
    const hint =
      used === 'jmesPath'
        ? ''
        : ' (the private key of a Key Vault certificate is read through its secret of the same name)';
    return `${used} is only supported for objectType: secret${hint}`;
  }
  return jmesPathProblem(object, shaping) ?? certificateProblem(object, shaping);
}

/**
 * Checks one object's shaping fields, after validateObject.
 * @throws ProviderError InvalidParameter.
 */
export function validateShaping(object: KeyVaultObject): void {
  const problem = shapingProblem(object);
  if (problem !== undefined) throw parameterError(`${prefix(object)}: ${problem}`);
}

/** Whether two relative file paths would be the same file, or one a directory holding the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * The checks across objects, once every object is valid: an extracted file must not collide with another
 * object's file or another extracted file (objects colliding with each other stay as upstream has them),
 * and a `pfxPasswordSecretKey` must name a key of the nodePublishSecretRef Secret the request carries.
 * @throws ProviderError InvalidParameter naming the object, the entry and the other file.
 */
export function checkShapingAcrossObjects(
  objects: readonly KeyVaultObject[],
  secrets: Readonly<Record<string, string>>,
): void {
  const files: { path: string; owner: string }[] = objects.map((object) => ({
    path: fileNameOf(object),
    owner: `the file of object ${object.objectName}`,
  }));
  for (const object of objects) {
    const shaping = object.shaping;
    if (shaping === undefined) continue;
    for (const [index, entry] of shaping.jmesPath.entries()) {
      const clash = files.find((file) => overlaps(file.path, entry.objectAlias));
      if (clash !== undefined) {
        throw parameterError(
          `${prefix(object)}: jmesPath[${index}].objectAlias ${JSON.stringify(entry.objectAlias)} collides with ${clash.owner} (${JSON.stringify(clash.path)})`,
        );
      }
      files.push({
        path: entry.objectAlias,
        owner: `jmesPath[${index}] of object ${object.objectName}`,
      });
    }
    const key = shaping.pfxPasswordSecretKey;
    if (key !== '' && !Object.hasOwn(secrets, key)) {
      const where =
        Object.keys(secrets).length === 0
          ? "the pod's volume names no nodePublishSecretRef Secret (or it is empty)"
          : 'the nodePublishSecretRef Secret has no such key';
      throw parameterError(`${prefix(object)}: pfxPasswordSecretKey ${JSON.stringify(key)}: ${where}`);
    }
  }
}
