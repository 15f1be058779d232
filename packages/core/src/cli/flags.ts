/**
 * Command-line flags read as Go's `flag` package reads them, so a provider takes the same command lines as
 * upstream's: `-name` and `--name` alike, `--name=value` or `--name value`, booleans as `--name` or
 * `--name=false`, durations as Go writes them (`5s`, `1m30s`). Parsing stops at `--` or at the first
 * argument that is not a flag; providers take no positional arguments, so one is an error.
 */
import { CodedError } from '../errors.js';
import { parseDuration } from '../duration.js';

export type FlagSpec =
  | { readonly type: 'string'; readonly default: string; readonly usage: string }
  | { readonly type: 'boolean'; readonly default: boolean; readonly usage: string }
  | { readonly type: 'integer'; readonly default: number; readonly usage: string }
  /** A Go duration; the value is in milliseconds, the default is written as on the command line. */
  | { readonly type: 'duration'; readonly default: string; readonly usage: string };

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export type FlagValue<Spec extends FlagSpec> = Spec extends { type: 'string' }
  ? string
  : Spec extends { type: 'boolean' }
    ? boolean
    : number;

export type FlagValues<Specs extends FlagSpecs> = { readonly [Name in keyof Specs]: FlagValue<Specs[Name]> };

export const flagErrorCodes = { invalidFlags: 'InvalidFlags', helpRequested: 'HelpRequested' } as const;

function flagError(message: string): CodedError {
  return new CodedError(flagErrorCodes.invalidFlags, message);
}

function parseBoolean(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function parseValue(name: string, spec: FlagSpec, text: string): string | boolean | number {
  switch (spec.type) {
    case 'string':
      return text;
    case 'boolean': {
      const value = parseBoolean(text);
      if (value === undefined) throw flagError(`invalid boolean value "${text}" for -${name}: parse error`);
      return value;
    }
    case 'integer': {
      if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
        throw flagError(`invalid value "${text}" for flag -${name}: parse error`);
      }
      return Number(text);
    }
    case 'duration':
      try {
        return parseDuration(text);
      } catch {
        throw flagError(`invalid value "${text}" for flag -${name}: parse error`);
      }
  }
}

/** Parses `argv` against `specs`; throws a CodedError (`InvalidFlags`, or `HelpRequested` for -h/-help). */
export function parseFlags<Specs extends FlagSpecs>(
  specs: Specs,
  argv: readonly string[],
): FlagValues<Specs> {
  const values: Record<string, string | boolean | number> = {};
  for (const [name, spec] of Object.entries(specs)) {
    values[name] = spec.type === 'duration' ? parseDuration(spec.default) : spec.default;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      if (i + 1 < argv.length) throw flagError(`unexpected argument "${argv[i + 1] ?? ''}"`);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') throw flagError(`unexpected argument "${arg}"`);
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('='))
      throw flagError(`bad flag syntax: ${arg}`);
    const equals = body.indexOf('=');
    const name = equals === -1 ? body : body.slice(0, equals);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      if (name === 'h' || name === 'help')
        throw new CodedError(flagErrorCodes.helpRequested, 'help requested');
      throw flagError(`flag provided but not defined: -${name}`);
    }
    let text: string;
    if (equals !== -1) {
      text = body.slice(equals + 1);
    } else if (spec.type === 'boolean') {
      text = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw flagError(`flag needs an argument: -${name}`);
      text = next;
      i++;
    }
    values[name] = parseValue(name, spec, text);
  }
  return Object.freeze(values) as FlagValues<Specs>;
}

/** Go-style usage text: one entry per flag, with its default. */
export function formatUsage(program: string, specs: FlagSpecs): string {
  const lines = [`Usage of ${program}:`];
  for (const [name, spec] of Object.entries(specs).sort(([a], [b]) => a.localeCompare(b))) {
    const shown =
      spec.type === 'string'
        ? spec.default === ''
          ? ''
          : ` (default "${spec.default}")`
        : ` (default ${spec.default})`;
    lines.push(
      `  -${name}${spec.type === 'boolean' ? '' : ` ${spec.type === 'string' ? 'string' : spec.type === 'integer' ? 'int' : 'duration'}`}`,
    );
    lines.push(`    \t${spec.usage}${spec.type === 'boolean' && !spec.default ? '' : shown}`);
  }
  return `${lines.join('\n')}\n`;
}
