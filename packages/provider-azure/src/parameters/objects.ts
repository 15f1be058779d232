/**
 * The `objects` parameter, read as upstream reads it with Go's yaml.v3: a YAML mapping whose `array` is a
 * list of strings, each itself a YAML mapping of one Key Vault object.
 *
 *   array:
 *     - |
 *       objectName: secret1
 *       objectType: secret
 *       filePermission: 0600
 *
 * yaml.v3 stores the text of a scalar into a string field, whatever the scalar looks like: `0600` stays
 * "0600" and `123` stays "123", where a JavaScript YAML loader would make numbers of them. So string fields
 * read each scalar's source text (after quoting and folding are undone), never its resolved value. Only
 * `objectVersionHistory` is a number, resolved as yaml.v3 resolves an int.
 *
 * Messages of YAML syntax errors are our YAML library's; shape errors use yaml.v3's wording ("cannot
 * unmarshal !!seq into …") so that users searching for upstream's text find the same idea.
 */
import {
  type YAMLMap,
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  Parser,
  parseDocument,
  type Document,
  type Node,
  type Scalar,
} from 'yaml';
import { parameterError } from '../errors.js';
import type { JmesPathEntry, KeyVaultObject, ObjectShaping } from '../model.js';

/** A parsed YAML text, with what is needed to name the line of a node in a message. */
interface ParsedYaml {
  readonly document: Document.Parsed;
  readonly lines: LineCounter;
}

/** Thrown inside this module; the callers below turn it into upstream's wrapped messages. */
class YamlShapeError extends Error {}

/** The deepest nesting of collections accepted; the `objects` shape needs 3, yaml.v3 allows 10000. */
export const MAX_YAML_DEPTH = 32;
/** The longest YAML text accepted: a thousand objects take about 150 KiB. */
export const MAX_YAML_BYTES = 512 * 1024;

/**
 * Refuses a text too long or nested too deep before it is composed (the composer recurses, and a few
 * thousand levels exhaust the stack). The concrete syntax tree is built without recursion and walked here
 * with an explicit stack.
 */
export function checkLimits(text: string): void {
  if (text.length > MAX_YAML_BYTES) {
    throw new YamlShapeError(`yaml: the text is longer than the limit of ${MAX_YAML_BYTES} characters`);
  }
  const tooDeep = () =>
    new YamlShapeError(`yaml: collections are nested deeper than the limit of ${MAX_YAML_DEPTH}`);
  // Flow collections first, from the token stream, stopping at the first level too deep: `[[[[…` costs
  // no more than the limit.
  let flowDepth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') flowDepth += 1;
    else if (token === ']' || token === '}') flowDepth -= 1;
    if (flowDepth > MAX_YAML_DEPTH) throw tooDeep();
  }
  const stack: { node: unknown; depth: number }[] = [];
  for (const token of new Parser().parse(text)) stack.push({ node: token, depth: 0 });
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (node === null || typeof node !== 'object') continue;
    const type = (node as { type?: unknown }).type;
    const nested =
      type === 'block-map' || type === 'block-seq' || type === 'flow-collection' ? depth + 1 : depth;
    if (nested > MAX_YAML_DEPTH) throw tooDeep();
    for (const [key, value] of Object.entries(node)) {
      if (key === 'source' || key === 'offset' || key === 'indent') continue;
      if (value !== null && typeof value === 'object') stack.push({ node: value, depth: nested });
    }
  }
}

/** Parses one YAML text, failing with the first syntax error's first line (no excerpt of the text). */
function parseYaml(text: string): ParsedYaml {
  checkLimits(text);
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines });
  const first = document.errors[0];
  if (first !== undefined) {
    const message = (first.message.split('\n')[0] ?? '').replace(/:$/, '');
    throw new YamlShapeError(`yaml: ${message}`);
  }
  return { document, lines };
}

/** Follows an alias to the node it names, as yaml.v3 does when decoding. */
function resolved(node: unknown, yaml: ParsedYaml): unknown {
  return isAlias(node) ? node.resolve(yaml.document) : node;
}

const YAML_TAG = 'tag:yaml.org,2002:';
const NULL_TEXT = /^(?:~|null|Null|NULL)?$/;

/** Whether yaml.v3 would read this scalar as null: a plain null spelling, or an explicit `!!null`. */
function isNullScalar(node: Scalar): boolean {
  if (node.tag === `${YAML_TAG}null`) return true;
  return node.tag === undefined && node.type === 'PLAIN' && NULL_TEXT.test(scalarSource(node));
}

/** The scalar's text with quoting, escapes and folding undone: what yaml.v3 puts in a string field. */
function scalarSource(node: Scalar): string {
  return node.source ?? String(node.value);
}

/**
 * The short tag yaml.v3 would report for a node (`!!map`, `!!seq`, `!!str`, `!!int`…), for messages in its
 * wording. Scalars are resolved as yaml.v3 resolves plain text.
 */
function tagOf(node: unknown): string {
  if (isMap(node)) return '!!map';
  if (isSeq(node)) return '!!seq';
  if (!isScalar(node)) return '!!null';
  if (node.tag?.startsWith(YAML_TAG) === true) return `!!${node.tag.slice(YAML_TAG.length)}`;
  if (node.type !== 'PLAIN' || node.tag !== undefined) return '!!str';
  const text = scalarSource(node);
  if (NULL_TEXT.test(text)) return '!!null';
  if (/^(?:true|True|TRUE|false|False|FALSE)$/.test(text)) return '!!bool';
  const number = goYamlNumber(text);
  if (number === undefined) return '!!str';
  return number.isInt ? '!!int' : '!!float';
}

/** `line N: ` for a node, as yaml.v3 starts each unmarshal error. */
function lineOf(node: unknown, yaml: ParsedYaml): string {
  const range = (node as Partial<Node> | null)?.range;
  if (range === undefined || range === null) return '';
  return `line ${yaml.lines.linePos(range[0]).line}: `;
}

/** yaml.v3's type-mismatch error: the tag, the scalar's text in backquotes, and what was expected. */
function cannotUnmarshal(node: unknown, target: string, yaml: ParsedYaml): YamlShapeError {
  const value = isScalar(node) ? ` \`${scalarSource(node)}\`` : '';
  return new YamlShapeError(
    `yaml: unmarshal errors: ${lineOf(node, yaml)}cannot unmarshal ${tagOf(node)}${value} into ${target}`,
  );
}

/**
 * A scalar's text for a string field: '' for null, the source text otherwise.
 * @throws YamlShapeError when the node is a mapping or a sequence.
 */
function stringField(node: unknown, yaml: ParsedYaml): string {
  const target = resolved(node, yaml);
  if (target === null || target === undefined) return '';
  if (!isScalar(target)) throw cannotUnmarshal(target, 'string', yaml);
  return isNullScalar(target) ? '' : scalarSource(target);
}

/** A number as yaml.v3 resolves plain text: Go's base-prefixed ints, old-style octal, floats. */
function goYamlNumber(text: string): { value: number; isInt: boolean } | undefined {
  const plain = text.replaceAll('_', '');
  const int = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(
    plain,
  );
  if (int !== null) {
    const [, sign, hex, octal, binary, oldOctal, decimal] = int;
    let magnitude: bigint;
    if (hex !== undefined) magnitude = BigInt(`0x${hex}`);
    else if (octal !== undefined) magnitude = BigInt(`0o${octal}`);
    else if (binary !== undefined) magnitude = BigInt(`0b${binary}`);
    else if (oldOctal !== undefined) magnitude = BigInt(`0o${oldOctal.slice(1) || '0'}`);
    else magnitude = BigInt(decimal ?? '0');
    const value = sign === '-' ? -magnitude : magnitude;
    return { value: Number(value), isInt: true };
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(plain)) {
    return { value: Number(plain), isInt: false };
  }
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text))
    return { value: text.startsWith('-') ? -Infinity : Infinity, isInt: false };
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return { value: Number.NaN, isInt: false };
  return undefined;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * `objectVersionHistory`, an int32 in upstream: null is 0; ints in any of yaml.v3's spellings (`5`, `0x5`,
 * `0o5`, `05`, `1_0`); a float is truncated toward zero as yaml.v3 does. Quoted text ("5"), booleans, and
 * values outside int32 fail like yaml.v3 (`cannot unmarshal !!str \`5\` into int32`).
 */
function int32Field(node: unknown, yaml: ParsedYaml): number {
  const target = resolved(node, yaml);
  if (target === null || target === undefined) return 0;
  if (!isScalar(target)) throw cannotUnmarshal(target, 'int32', yaml);
  if (isNullScalar(target)) return 0;
  const tag = tagOf(target);
  const number = tag === '!!int' || tag === '!!float' ? goYamlNumber(scalarSource(target)) : undefined;
  if (number === undefined || !Number.isFinite(number.value)) throw cannotUnmarshal(target, 'int32', yaml);
  const value = Math.trunc(number.value);
  if (value < INT32_MIN || value > INT32_MAX) throw cannotUnmarshal(target, 'int32', yaml);
  return value === 0 ? 0 : value;
}

const STRING_FIELDS = [
  'objectName',
  'objectAlias',
  'objectType',
  'objectVersion',
  'objectFormat',
  'objectEncoding',
  'filePermission',
] as const;
type StringField = (typeof STRING_FIELDS)[number];

function isStringField(key: string): key is StringField {
  return (STRING_FIELDS as readonly string[]).includes(key);
}

/**
 * The strings of the outer `array` list, in order. A document that is empty or only comments, a mapping
 * without `array`, and `array: null` all give no strings (upstream then mounts nothing).
 * @throws ProviderError `failed to yaml unmarshal objects, error: <e>`.
 */
export function readObjectTexts(text: string): string[] {
  try {
    const yaml = parseYaml(text);
    const root = resolved(yaml.document.contents, yaml);
    if (root === null || root === undefined || (isScalar(root) && isNullScalar(root))) return [];
    if (!isMap(root)) throw cannotUnmarshal(root, 'a mapping with an "array" list', yaml);
    const pair = root.items.find((item) => {
      const key = resolved(item.key, yaml);
      return isScalar(key) && scalarSource(key) === 'array';
    });
    const array = resolved(pair?.value, yaml);
    if (array === null || array === undefined || (isScalar(array) && isNullScalar(array))) return [];
    if (!isSeq(array)) throw cannotUnmarshal(array, 'a list of strings', yaml);
    return array.items.map((item) => stringField(item, yaml));
  } catch (error) {
    if (!(error instanceof YamlShapeError)) throw error;
    throw parameterError(`failed to yaml unmarshal objects, error: ${error.message}`);
  }
}

/**
 * One element of the `array` list as a KeyVaultObject, every string field trimmed (upstream's
 * formatKeyVaultObject). Unknown keys are ignored; keys match case-sensitively. Not validated here.
 * @throws ProviderError `unmarshal failed for keyVaultObjects at index <i>, error: <e>`.
 */
export function parseObject(text: string, index: number): KeyVaultObject {
  try {
    const yaml = parseYaml(text);
    const fields: Record<StringField, string> = {
      objectName: '',
      objectAlias: '',
      objectType: '',
      objectVersion: '',
      objectFormat: '',
      objectEncoding: '',
      filePermission: '',
    };
    let objectVersionHistory = 0;
    const shapingNodes = new Map<ShapingField, unknown>();
    let additions: ObjectSourceFields = {};
    const root = resolved(yaml.document.contents, yaml);
    if (root !== null && root !== undefined && !(isScalar(root) && isNullScalar(root))) {
      if (!isMap(root)) throw cannotUnmarshal(root, 'a Key Vault object mapping', yaml);
      for (const pair of root.items) {
        const key = resolved(pair.key, yaml);
        if (!isScalar(key)) continue;
        const name = scalarSource(key);
        if (isStringField(name)) fields[name] = stringField(pair.value, yaml).trim();
        else if (name === 'objectVersionHistory') objectVersionHistory = int32Field(pair.value, yaml);
        else if (isShapingField(name)) shapingNodes.set(name, pair.value);
      }
      additions = readObjectSourceFields(root, yaml);
    }
    const shaping = shapingNodes.size > 0 ? shapingOf(shapingNodes, yaml) : undefined;
    return { ...fields, objectVersionHistory, ...(shaping !== undefined && { shaping }), ...additions };
  } catch (error) {
    if (!(error instanceof YamlShapeError)) throw error;
    throw parameterError(`unmarshal failed for keyVaultObjects at index ${index}, error: ${error.message}`);
  }
}

/**
 * The whole `objects` text as KeyVaultObjects, without validation. A Mount validates each object right
 * after parsing it (see parseMountParameters), so that an earlier object's fault is reported first.
 */
export function parseObjects(text: string): KeyVaultObject[] {
  return readObjectTexts(text).map((objectText, index) => parseObject(objectText, index));
}

// Ours (issue 16 §2, §4): the fields of ObjectShaping. String fields read like upstream's; `jmesPath` is a
// list of mappings whose keys are checked strictly (a misspelt `alias` is an error, not a silent no-op).

const SHAPING_FIELDS = ['jmesPath', 'objectContentType', 'pemContent', 'pfxPasswordSecretKey'] as const;
type ShapingField = (typeof SHAPING_FIELDS)[number];

function isShapingField(key: string): key is ShapingField {
  return (SHAPING_FIELDS as readonly string[]).includes(key);
}

const JMES_PATH_KEYS = ['path', 'objectAlias', 'filePermission'] as const;
type JmesPathKey = (typeof JMES_PATH_KEYS)[number];

/** One `jmesPath` entry: a mapping of `path`, `objectAlias` and optionally `filePermission`. */
function jmesPathEntry(node: unknown, yaml: ParsedYaml): JmesPathEntry {
  const target = resolved(node, yaml);
  if (!isMap(target))
    throw cannotUnmarshal(target, 'a jmesPath entry (path, objectAlias, filePermission)', yaml);
  const entry: Record<JmesPathKey, string> = { path: '', objectAlias: '', filePermission: '' };
  for (const pair of target.items) {
    const key = resolved(pair.key, yaml);
    const name = isScalar(key) ? scalarSource(key) : '';
    if (!(JMES_PATH_KEYS as readonly string[]).includes(name)) {
      throw new YamlShapeError(
        `${lineOf(key, yaml)}unknown jmesPath field ${JSON.stringify(name)}: use path, objectAlias and filePermission`,
      );
    }
    entry[name as JmesPathKey] = stringField(pair.value, yaml).trim();
  }
  return entry;
}

function shapingOf(nodes: ReadonlyMap<ShapingField, unknown>, yaml: ParsedYaml): ObjectShaping {
  const text = (field: ShapingField) => {
    const node = nodes.get(field);
    return node === undefined ? '' : stringField(node, yaml).trim();
  };
  const list = resolved(nodes.get('jmesPath'), yaml);
  let jmesPath: JmesPathEntry[] = [];
  if (list !== null && list !== undefined && !(isScalar(list) && isNullScalar(list))) {
    if (!isSeq(list)) throw cannotUnmarshal(list, 'a list of jmesPath entries', yaml);
    jmesPath = list.items.map((item) => jmesPathEntry(item, yaml));
  }
  return {
    jmesPath,
    objectContentType: text('objectContentType'),
    pemContent: text('pemContent'),
    pfxPasswordSecretKey: text('pfxPasswordSecretKey'),
  };
}

// ---- Ours (issue 16 items 1 and 3; docs/multi-vault-and-optional.md): where an object comes from, and
// whether it may be absent. Upstream's yaml.v3 decode ignores these keys; each is put on the object only
// when written (empty text counts as not written), so an object without them parses exactly as before.

/** The additions of one object, as parsed (checked against the class in parameters.ts). */
type ObjectSourceFields = Pick<KeyVaultObject, 'keyvaultName' | 'tenantId' | 'cloudName' | 'optional'>;

/**
 * A YAML bool as yaml.v3 decodes one into a bool field: `true`/`false` in its three spellings, null as
 * false; anything else (a quoted "true", `yes`, `1`) fails with yaml.v3's wording.
 */
function boolField(node: unknown, yaml: ParsedYaml): boolean {
  const target = resolved(node, yaml);
  if (target === null || target === undefined) return false;
  if (!isScalar(target)) throw cannotUnmarshal(target, 'bool', yaml);
  if (isNullScalar(target)) return false;
  if (tagOf(target) !== '!!bool') throw cannotUnmarshal(target, 'bool', yaml);
  return /^(?:true|True|TRUE)$/.test(scalarSource(target));
}

function readObjectSourceFields(root: YAMLMap, yaml: ParsedYaml): ObjectSourceFields {
  const text: Record<string, string> = {};
  let optional: boolean | undefined;
  for (const pair of root.items) {
    const key = resolved(pair.key, yaml);
    if (!isScalar(key)) continue;
    const name = scalarSource(key);
    if (name === 'optional') optional = boolField(pair.value, yaml);
    else if (['keyvaultName', 'tenantId', 'tenantID', 'cloudName'].includes(name)) {
      text[name] = stringField(pair.value, yaml).trim();
    }
  }
  // As the class's parameters: `tenantID` wins when not empty, `tenantId` otherwise.
  const tenantId = text.tenantID || text.tenantId;
  return {
    ...(text.keyvaultName ? { keyvaultName: text.keyvaultName } : {}),
    ...(tenantId ? { tenantId } : {}),
    ...(text.cloudName ? { cloudName: text.cloudName } : {}),
    ...(optional !== undefined && { optional }),
  };
}
