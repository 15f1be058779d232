/**
 * The `objects` parameter, in the shape upstream's Azure provider reads: a YAML mapping whose `array` is a
 * list of YAML strings, each a mapping of one object's fields.
 *
 *   objects: |
 *     array:
 *       - |
 *         objectName: db/password
 *         objectAlias: password
 *         filePermission: 0600
 *
 * Fields keep the raw text of their YAML scalar, as Go's yaml.v3 stores it in a string field: `0600` stays
 * "0600" (not the number 600), `true` stays "true", and `~`/`null`/nothing is "". Unknown fields are ignored.
 */
import { ProviderError, checkFilePath } from '@secrets-store-csi/provider-sdk';
import { isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';

export interface DirectoryObject {
  /** The file's path under the provider's root directory; also its id, `file/<objectName>`. */
  readonly objectName: string;
  /** The file name in the volume; `objectName` when unset. */
  readonly objectAlias: string;
  /** Permission bits, already parsed from the octal `filePermission`; undefined for the request's default. */
  readonly mode: number | undefined;
}

export const parameterErrorCodes = { invalidObjects: 'InvalidObjects' } as const;

function invalid(message: string): ProviderError {
  return new ProviderError('invalid-argument', parameterErrorCodes.invalidObjects, message);
}

function kindOf(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a sequence';
  if (isAlias(node)) return 'an alias';
  if (node === null || node === undefined) return 'nothing';
  return 'a string';
}

/** The text yaml.v3 would store in a string field, or undefined when the node is not a scalar. */
function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  if (node.type === 'PLAIN') {
    const source = node.source ?? '';
    return /^(~|null|Null|NULL)?$/.test(source) ? '' : source;
  }
  return String(node.value);
}

/** The first line of the first error, without the excerpt of the text that follows it. */
function firstLine(errors: readonly { message: string }[]): string | undefined {
  return errors[0]?.message.split('\n')[0]?.replace(/:$/, '');
}

const FIELDS = ['objectName', 'objectAlias', 'filePermission'] as const;
type Field = (typeof FIELDS)[number];

function readObject(index: number, text: string): Record<Field, string> {
  const fail = (reason: string) =>
    invalid(`unmarshal failed for objects at index ${index}, error: ${reason}`);
  const document = parseDocument(text);
  const error = firstLine(document.errors);
  if (error !== undefined) throw fail(error);
  const root: unknown = document.contents;
  if (!isMap(root)) throw fail(`expected a mapping of object fields, got ${kindOf(root)}`);
  const fields: Record<Field, string> = { objectName: '', objectAlias: '', filePermission: '' };
  for (const pair of root.items) {
    const key = scalarText(pair.key);
    if (key === undefined || !(FIELDS as readonly string[]).includes(key)) continue;
    const value = pair.value === null ? '' : scalarText(pair.value);
    if (value === undefined) throw fail(`${key} must be a string, got ${kindOf(pair.value)}`);
    fields[key as Field] = value.trim();
  }
  return fields;
}

/** `filePermission` as Go's strconv.ParseInt(text, 8, 32) reads it, limited to permission bits. */
function parseMode(text: string): number | undefined {
  if (!/^[+]?[0-7]+$/.test(text)) return undefined;
  const mode = Number.parseInt(text, 8);
  return mode <= 0o777 ? mode : undefined;
}

/**
 * Reads and checks the `objects` parameter: every object named, with a safe relative name and file name,
 * a valid permission, and no two objects writing the same file. The first problem is reported.
 */
export function parseObjects(text: string | undefined): DirectoryObject[] {
  if (text === undefined || text.trim() === '') throw invalid('objects is not set');
  const fail = (reason: string) => invalid(`failed to yaml unmarshal objects, error: ${reason}`);
  const document = parseDocument(text);
  const error = firstLine(document.errors);
  if (error !== undefined) throw fail(error);
  const root: unknown = document.contents;
  if (!isMap(root)) throw fail(`expected a mapping with an "array" list, got ${kindOf(root)}`);
  const array: unknown = root.get('array', true);
  let items: readonly unknown[];
  if (array === undefined || scalarText(array) === '') items = [];
  else if (isSeq(array)) items = array.items;
  else throw fail(`"array" must be a list of YAML strings, got ${kindOf(array)}`);
  const texts = items.map((item, index) => {
    const itemText = scalarText(item);
    if (itemText === undefined) throw fail(`array item ${index} must be a YAML string, got ${kindOf(item)}`);
    return itemText;
  });
  if (texts.length === 0) throw invalid('objects must name at least one object');

  const objects: DirectoryObject[] = [];
  const fileOwners = new Map<string, string>();
  for (const [index, itemText] of texts.entries()) {
    const fields = readObject(index, itemText);
    const { objectName, filePermission } = fields;
    if (objectName === '') throw invalid(`object at index ${index}: objectName is not set`);
    const object = `object ${JSON.stringify(objectName)}`;
    const nameProblem = checkFilePath(objectName);
    if (nameProblem !== undefined) throw invalid(`${object}: objectName ${nameProblem}`);
    const objectAlias = fields.objectAlias === '' ? objectName : fields.objectAlias;
    const aliasProblem = checkFilePath(objectAlias);
    if (aliasProblem !== undefined) throw invalid(`${object}: objectAlias ${aliasProblem}`);
    const mode = filePermission === '' ? undefined : parseMode(filePermission);
    if (filePermission !== '' && mode === undefined) {
      throw invalid(
        `${object}: filePermission "${filePermission}" is not an octal file mode between 0000 and 0777`,
      );
    }
    const owner = fileOwners.get(objectAlias);
    if (owner !== undefined) {
      throw invalid(
        `${object}: file name ${JSON.stringify(objectAlias)} is already used by object ${JSON.stringify(owner)}`,
      );
    }
    fileOwners.set(objectAlias, objectName);
    objects.push({ objectName, objectAlias, mode });
  }
  return objects;
}
