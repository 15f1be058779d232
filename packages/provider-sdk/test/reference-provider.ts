/**
 * A small in-memory provider, written only against the SDK contract, to run the conformance suite on in
 * this package's own tests. `objects` is a JSON list of `{ "name": ..., "alias"?: ... }`.
 */
import type { MountRequest, MountResult, SecretProvider } from '../src/contract.js';
import { ProviderError } from '../src/errors.js';

export class ReferenceProvider implements SecretProvider {
  readonly name = 'reference';
  readonly version = '1.0.0';
  readonly store = new Map<string, { value: string; version: number }>([
    ['db-password', { value: 'hunter2', version: 1 }],
    ['api-key', { value: 'k-123', version: 1 }],
  ]);

  mount(request: MountRequest): Promise<MountResult> {
    let objects: unknown;
    try {
      objects = JSON.parse(request.attributes.objects ?? '');
    } catch {
      return Promise.reject(
        new ProviderError('invalid-argument', 'InvalidObjects', 'objects is not a JSON list'),
      );
    }
    if (!Array.isArray(objects)) {
      return Promise.reject(
        new ProviderError('invalid-argument', 'InvalidObjects', 'objects is not a JSON list'),
      );
    }
    const result: {
      files: MountResult['files'][number][];
      objectVersions: MountResult['objectVersions'][number][];
    } = {
      files: [],
      objectVersions: [],
    };
    for (const { name, alias } of objects as { name: string; alias?: string }[]) {
      const entry = this.store.get(name);
      if (entry === undefined) {
        return Promise.reject(
          new ProviderError('not-found', 'ObjectNotFound', `object ${JSON.stringify(name)} not found`),
        );
      }
      result.files.push({
        path: alias ?? name,
        mode: request.defaultFileMode,
        contents: new TextEncoder().encode(entry.value),
      });
      result.objectVersions.push({ id: `secret/${name}`, version: `v${entry.version}` });
    }
    return Promise.resolve(result);
  }

  rotate(name: string, value: string): void {
    const entry = this.store.get(name);
    if (entry) this.store.set(name, { value, version: entry.version + 1 });
  }
}

export const referenceAttributes = {
  good: { objects: JSON.stringify([{ name: 'db-password' }, { name: 'api-key', alias: 'keys/api' }]) },
  unknown: { objects: JSON.stringify([{ name: 'db-password' }, { name: 'nope' }]) },
  traversal: [
    { objects: JSON.stringify([{ name: 'db-password', alias: '../../etc/cron.d/x' }]) },
    { objects: JSON.stringify([{ name: 'db-password', alias: '/etc/passwd' }]) },
    { objects: JSON.stringify([{ name: 'db-password', alias: '..data' }]) },
  ],
  invalid: [{ objects: '{' }, { objects: '{}' }],
} as const;
