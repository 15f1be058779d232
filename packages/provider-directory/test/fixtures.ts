import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The `objects` parameter for a list of object YAML texts, as a SecretProviderClass holds it. */
export function objectsParameter(...items: string[]): string {
  return `array:\n${items.map((item) => `  - |\n${item.replace(/^/gm, '    ')}\n`).join('')}`;
}

/**
 * A temporary node directory: `root/` holds what the provider serves, `outside/` a file no pod may read, and
 * `root/escape` a symlink pointing to it.
 */
export async function makeRoot(): Promise<{
  base: string;
  root: string;
  readonly write: (name: string, text: string) => Promise<void>;
}> {
  const base = await mkdtemp(join(tmpdir(), 'directory-provider-'));
  const root = join(base, 'root');
  const write = async (name: string, text: string) => {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  };
  await write('db-password', 'hunter2');
  await write('tls/tls.crt', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  await mkdir(join(base, 'outside'));
  await writeFile(join(base, 'outside', 'node-secret'), 'not for pods');
  await symlink(join(base, 'outside', 'node-secret'), join(root, 'escape'));
  await symlink('db-password', join(root, 'db-password-link'));
  return { base, root, write };
}
