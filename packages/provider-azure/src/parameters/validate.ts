/**
 * The checks upstream runs on every object before any network call (format, encoding, file name), in its
 * order and with its texts, plus two deliberate fixes of upstream quirks:
 *
 * - `filePermission` is checked. Upstream discards the parse error and writes the file with mode 0, which
 *   leaves the pod unable to read its own secret; a clear error at mount time is kinder.
 * - `PFX` in any letter case is refused for keys and certificates. Upstream refuses only lowercase `pfx`
 *   and silently ignores `PFX`, which is a format the user asked for and did not get.
 */
import { parameterError } from '../errors.js';
import type { KeyVaultObject } from '../model.js';

/** The file an object is written to: its alias, or its name when it has none. */
export function fileNameOf(object: KeyVaultObject): string {
  return object.objectAlias !== '' ? object.objectAlias : object.objectName;
}

/** Digits 0-7 only, value at most 0o777; `644` and `0644` are the same mode, as with Go's base-8 parse. */
export function parseFileMode(text: string): number | undefined {
  if (!/^[0-7]+$/.test(text)) return undefined;
  const mode = Number.parseInt(text, 8);
  return mode <= 0o777 ? mode : undefined;
}

function invalidFilePermission(text: string): string {
  return `invalid filePermission: ${text}, should be an octal file mode such as 0644`;
}

/**
 * The mode of the object's file: its `filePermission`, or `defaultMode` (the request's `permission`) when it
 * has none.
 * @throws ProviderError when `filePermission` is not a valid mode (validateObject has normally caught it).
 */
export function fileModeOf(object: KeyVaultObject, defaultMode: number): number {
  if (object.filePermission === '') return defaultMode;
  const mode = parseFileMode(object.filePermission);
  if (mode === undefined) throw parameterError(invalidFilePermission(object.filePermission));
  return mode;
}

/** Upstream's format check, with our fix: any case of `pfx` needs objectType `secret` (exact, as upstream). */
function formatProblem(object: KeyVaultObject): string | undefined {
  const format = object.objectFormat.toLowerCase();
  if (format === '') return undefined;
  if (format !== 'pem' && format !== 'pfx') {
    return `invalid objectFormat: ${object.objectFormat}, should be PEM or PFX`;
  }
  if (format === 'pfx' && object.objectType !== 'secret')
    return 'PFX format only supported for objectType: secret';
  return undefined;
}

/** Upstream's encoding check: only secrets take an encoding, then it must be hex, base64 or utf-8. */
function encodingProblem(object: KeyVaultObject): string | undefined {
  if (object.objectEncoding === '') return undefined;
  if (object.objectType !== 'secret') return 'objectEncoding only supported for objectType: secret';
  if (!['hex', 'base64', 'utf-8'].includes(object.objectEncoding.toLowerCase())) {
    return `invalid objectEncoding: ${object.objectEncoding}, should be hex, base64 or utf-8`;
  }
  return undefined;
}

/**
 * Upstream's file-name check (after Kubernetes' volume path rules): relative, and no `..` anywhere, even
 * inside a name such as `a..b`, which upstream also refuses.
 */
export function fileNameProblem(fileName: string): string | undefined {
  if (fileName === '') return 'file name must not be empty';
  if (fileName.startsWith('/')) return 'file name must be a relative path';
  if (fileName.includes('..')) return "file name must not contain '..'";
  return undefined;
}

/** Our addition, checked last so that every upstream fault keeps its precedence. */
function filePermissionProblem(object: KeyVaultObject): string | undefined {
  if (object.filePermission === '' || parseFileMode(object.filePermission) !== undefined) return undefined;
  return invalidFilePermission(object.filePermission);
}

/**
 * Checks one object, reporting the first problem as upstream words it:
 * `failed to get objectType:<t>, objectName:<n>, objectVersion:<v>: <problem>`.
 * `objectType` itself is not checked here; as upstream, an unknown type fails when the object is fetched.
 * @throws ProviderError InvalidParameter.
 */
export function validateObject(object: KeyVaultObject): void {
  const problem =
    formatProblem(object) ??
    encodingProblem(object) ??
    fileNameProblem(fileNameOf(object)) ??
    filePermissionProblem(object);
  if (problem === undefined) return;
  throw parameterError(
    `failed to get objectType:${object.objectType}, objectName:${object.objectName}, objectVersion:${object.objectVersion}: ${problem}`,
  );
}
