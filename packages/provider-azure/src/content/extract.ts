/**
 * Key extraction (ours, issue 16 §2; AWS's `jmesPath`): a secret whose value is a JSON or YAML document is
 * also written as one file per `jmesPath` entry, holding what the entry's JMESPath expression selects.
 * Evaluated with @jmespath-community/jmespath. Strings are written as they are, any other value as compact
 * JSON. Messages name the entry's path and alias, never the value or a part of it: parser messages (which
 * quote the text) are replaced by positions.
 */
import { search, type JSONValue } from '@jmespath-community/jmespath';
import { parseDocument } from 'yaml';
import { contentError } from '../errors.js';
import type { JmesPathEntry } from '../model.js';
import { checkLimits } from '../parameters/objects.js';

/** One extracted file: the entry it came from and its text (UTF-8 when written). */
export interface ExtractedFile {
  readonly entry: JmesPathEntry;
  readonly text: string;
}

/** Most YAML aliases expanded in one value: a guard against exponential "billion laughs" documents. */
const MAX_YAML_ALIASES = 100;

/**
 * The value as a JSON document, else as YAML (1.2 core schema, so `0600` and `yes` stay what JSON would
 * make of them: a number and a string). Only a mapping or a list can be searched by key.
 */
function documentOf(value: string): JSONValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value) as unknown;
  } catch {
    let document: ReturnType<typeof parseDocument>;
    try {
      // The same limits as the `objects` text: yaml composes recursively, and a few thousand nested
      // brackets exhaust the stack or, worse, the heap (a process-wide out-of-memory abort).
      checkLimits(value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'yaml: over the limits';
      throw contentError(`jmesPath: the secret value is neither JSON nor YAML within the limits (${reason})`);
    }
    try {
      document = parseDocument(value, { schema: 'core', uniqueKeys: true });
    } catch {
      // The composer recurses: thousands of nested brackets exhaust the stack.
      throw contentError(
        'jmesPath: the secret value is neither JSON nor YAML that can be read (nested too deeply?)',
      );
    }
    const first = document.errors[0];
    if (first !== undefined) {
      const [line, column] = first.linePos?.[0] ? [first.linePos[0].line, first.linePos[0].col] : [0, 0];
      throw contentError(
        `jmesPath: the secret value is neither JSON nor YAML (YAML error ${first.code} at line ${line}, column ${column})`,
      );
    }
    try {
      parsed = document.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
    } catch {
      throw contentError('jmesPath: the secret value is YAML that cannot be read (too many aliases?)');
    }
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw contentError(
      'jmesPath: the secret value is not a JSON or YAML mapping or list, so it has no keys to extract',
    );
  }
  return parsed as JSONValue;
}

function describe(entry: JmesPathEntry): string {
  return `jmesPath path ${JSON.stringify(entry.path)} (objectAlias ${JSON.stringify(entry.objectAlias)})`;
}

function textOf(entry: JmesPathEntry, result: JSONValue): string {
  if (result === null) {
    throw contentError(`${describe(entry)}: selects nothing in the secret value (a missing key, or null)`);
  }
  if (typeof result === 'string') return result;
  try {
    return JSON.stringify(result);
  } catch {
    throw contentError(`${describe(entry)}: the selected value cannot be written as JSON`);
  }
}

/**
 * The files of a secret's `jmesPath` entries, in entry order.
 * @throws ProviderError InvalidContent when the value is not a JSON or YAML mapping or list, or an entry
 * selects nothing (or null), or its expression fails on this value (a function given the wrong types).
 */
export function extractFiles(value: string, entries: readonly JmesPathEntry[]): ExtractedFile[] {
  if (entries.length === 0) return [];
  const document = documentOf(value);
  return entries.map((entry) => {
    let result: JSONValue;
    try {
      result = search(document, entry.path);
    } catch (error) {
      // Runtime errors of the library can name the types it was given; the reason is kept, the data is not.
      const kind = error instanceof Error ? error.name : 'Error';
      throw contentError(
        `${describe(entry)}: cannot be evaluated on the secret value (${kind}: a function was given an argument of the wrong type or number)`,
      );
    }
    return { entry, text: textOf(entry, result) };
  });
}
