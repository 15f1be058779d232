/**
 * Small re-creations of Go standard-library behaviour whose text users see in upstream's error messages:
 * `strconv.Quote`-style quoting (`%q`) and `strconv.ParseBool`. Kept apart so every parser words them alike.
 */

/**
 * A string quoted the way Go's `%q` verb does for ordinary text: double quotes, backslash escapes for quotes,
 * backslashes and control characters. Printable Unicode is kept as is, as Go keeps it.
 */
export function goQuote(text: string): string {
  let quoted = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') quoted += `\\${char}`;
    else if (char === '\n') quoted += '\\n';
    else if (char === '\r') quoted += '\\r';
    else if (char === '\t') quoted += '\\t';
    else if (code < 0x20 || code === 0x7f) quoted += `\\x${code.toString(16).padStart(2, '0')}`;
    else quoted += char;
  }
  return `${quoted}"`;
}

const TRUE_FORMS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_FORMS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * Go's `strconv.ParseBool`: exactly the twelve spellings it accepts, so a SecretProviderClass that works
 * upstream works here and `yes` or `on` fail here as they fail there.
 * @throws Error with Go's text, `strconv.ParseBool: parsing "tru": invalid syntax`.
 */
export function parseGoBool(text: string): boolean {
  if (TRUE_FORMS.has(text)) return true;
  if (FALSE_FORMS.has(text)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuote(text)}: invalid syntax`);
}

/** The message of anything thrown, for wrapping it in a longer message. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
