/**
 * A small reader for Kubernetes JSON that collects every problem with the field path it was found at, so one
 * error can list them all ("spec.secretObjects[0].type: must be a non-empty string").
 */
export interface ValidationIssue {
  /** Field path in the object, such as `spec.secretObjects[1].data[0].key`. */
  readonly field: string;
  readonly problem: string;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class IssueCollector {
  readonly issues: ValidationIssue[] = [];

  add(field: string, problem: string): void {
    this.issues.push({ field, problem });
  }

  object(value: unknown, field: string, required: boolean): Record<string, unknown> | undefined {
    if (value === undefined || value === null) {
      if (required) this.add(field, 'is required');
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.add(field, `must be an object, not ${describe(value)}`);
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  array(value: unknown, field: string, required: boolean): unknown[] | undefined {
    if (value === undefined || value === null) {
      if (required) this.add(field, 'is required');
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.add(field, `must be a list, not ${describe(value)}`);
      return undefined;
    }
    return value as unknown[];
  }

  string(value: unknown, field: string, rule: 'optional' | 'any' | 'non-empty'): string | undefined {
    if (value === undefined || value === null) {
      if (rule !== 'optional') this.add(field, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.add(field, `must be a string, not ${describe(value)}`);
      return undefined;
    }
    if (rule === 'non-empty' && value.trim() === '') {
      this.add(field, 'must be a non-empty string');
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.add(field, `must be true or false, not ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  integer(value: unknown, field: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.add(field, `must be an integer, not ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  /** A map of strings, such as labels or parameters. Values that are not strings are reported by key. */
  stringMap(value: unknown, field: string, required: boolean): Record<string, string> | undefined {
    const map = this.object(value, field, required);
    if (map === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const [key, entry] of Object.entries(map)) {
      if (typeof entry === 'string') out[key] = entry;
      else this.add(`${field}[${JSON.stringify(key)}]`, `must be a string, not ${describe(entry)}`);
    }
    return out;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
