/**
 * Keeps secrets out of log lines. Two layers:
 * - fields whose name says they hold a secret (password, clientSecret, token, serviceAccount.tokens,
 *   contents, ...) are replaced whole, wherever they are nested;
 * - secret values the process has seen (registered in a `SecretValues`) are cut out of every string,
 *   including messages and error texts, in case one is interpolated somewhere.
 */

export const REDACTED = '[REDACTED]';

// Compared with the key lowercased and stripped of separators; a key is secret when it ends with one of these.
const secretKeyEndings = [
  'password',
  'passwd',
  'secret',
  'secrets',
  'token',
  'tokens',
  'authorization',
  'credential',
  'credentials',
  'privatekey',
  'contents',
  'apikey',
  'assertion',
  'cookie',
];

export function isSecretKey(key: string): boolean {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return secretKeyEndings.some((ending) => normalized.endsWith(ending));
}

/**
 * Secret values to scrub from log text. Bounded: past `maxValues` the oldest are forgotten. Values shorter
 * than `minLength` are not kept: cutting out every "1" or "true" would ruin logs and hide nothing.
 */
export class SecretValues {
  readonly #values = new Set<string>();
  readonly #maxValues: number;
  readonly #minLength: number;
  #pattern: RegExp | undefined;

  constructor(options: { maxValues?: number; minLength?: number } = {}) {
    this.#maxValues = options.maxValues ?? 10_000;
    this.#minLength = options.minLength ?? 6;
  }

  get size(): number {
    return this.#values.size;
  }

  add(value: string): void {
    if (value.length < this.#minLength || this.#values.has(value)) return;
    this.#values.add(value);
    if (this.#values.size > this.#maxValues) {
      const oldest = this.#values.values().next().value;
      if (oldest !== undefined) this.#values.delete(oldest);
    }
    this.#pattern = undefined;
  }

  redact(text: string): string {
    if (this.#values.size === 0) return text;
    this.#pattern ??= new RegExp(
      [...this.#values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.#pattern, REDACTED);
  }
}

/** A redacted deep copy of `value` (objects, arrays, errors, strings); cycles are cut. */
export function redactValue(value: unknown, secrets?: SecretValues, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return secrets ? secrets.redact(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, seen));
  if (value instanceof Error) {
    const out: Record<string, unknown> = {
      name: value.name,
      message: redactValue(value.message, secrets, seen),
    };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.stack !== undefined) out.stack = redactValue(value.stack, secrets, seen);
    if (value.cause !== undefined) out.cause = redactValue(value.cause, secrets, seen);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    out[key] = isSecretKey(key) ? REDACTED : redactValue(entry, secrets, seen);
  }
  return out;
}
