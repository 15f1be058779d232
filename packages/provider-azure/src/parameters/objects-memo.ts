/**
 * The parsed `objects` parameter, remembered by its exact text. Every pod of one SecretProviderClass sends
 * the same text, and each rotation remounts them all: parsing it (YAML, the depth check, upstream's object
 * checks) was the provider's largest own cost per object. Only a text whose every object parsed and passed
 * the checks that depend on the object alone (validateObject, validateShaping) is remembered; the checks
 * that depend on the rest of the class (validateObjectSource) still run on every mount, in the same order,
 * so a mount answers exactly what it answered without the memo.
 *
 * The objects handed out are deeply frozen and shared: no mount can change what another mount reads.
 * Bounded by entries and by the characters of the texts kept, least recently used out first.
 */
import type { KeyVaultObject } from '../model.js';

/** SecretProviderClasses whose parsed objects are kept; a node rarely mounts more at once. */
export const OBJECTS_MEMO_MAX_ENTRIES = 64;
/** Characters of `objects` text kept at most (a 20-object class is about 1,300). */
export const OBJECTS_MEMO_MAX_CHARS = 1024 * 1024;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

export class ObjectsMemo {
  readonly #entries = new Map<string, readonly KeyVaultObject[]>();
  readonly #maxEntries: number;
  readonly #maxChars: number;
  #chars = 0;

  constructor(limits: { maxEntries?: number; maxChars?: number } = {}) {
    this.#maxEntries = limits.maxEntries ?? OBJECTS_MEMO_MAX_ENTRIES;
    this.#maxChars = limits.maxChars ?? OBJECTS_MEMO_MAX_CHARS;
  }

  /** The objects parsed from exactly `text`, or undefined; a hit becomes the most recently used. */
  get(text: string): readonly KeyVaultObject[] | undefined {
    const objects = this.#entries.get(text);
    if (objects !== undefined) {
      this.#entries.delete(text);
      this.#entries.set(text, objects);
    }
    return objects;
  }

  /** Remembers the objects of `text` (frozen here) and returns them; a text over the bound is not kept. */
  set(text: string, objects: KeyVaultObject[]): readonly KeyVaultObject[] {
    const frozen = deepFreeze(objects);
    if (text.length > this.#maxChars || this.#entries.has(text)) return frozen;
    this.#entries.set(text, frozen);
    this.#chars += text.length;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries && this.#chars <= this.#maxChars) break;
      this.#entries.delete(oldest);
      this.#chars -= oldest.length;
    }
    return frozen;
  }

  get size(): number {
    return this.#entries.size;
  }
}
