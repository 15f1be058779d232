/** The mount table of this process's mount namespace, for the real node's checks and teardown. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MountEntry {
  readonly path: string;
  /** The filesystem type, such as `tmpfs` or `overlay`. */
  readonly type: string;
}

/** Every mount, decoded from /proc/self/mountinfo (octal escapes such as `\040` in paths). */
export async function mountTable(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split(' ');
      const path = (fields[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) =>
        String.fromCharCode(parseInt(octal, 8)),
      );
      return { path, type: fields[fields.indexOf('-') + 1] ?? '' };
    });
}

/** Mounts at or below `dir`. */
export async function mountsBelow(dir: string): Promise<MountEntry[]> {
  return (await mountTable()).filter(({ path }) => path === dir || path.startsWith(`${dir}/`));
}

/** Unmounts (lazily, deepest first) whatever is mounted at or below `dir`; returns what was there. */
export async function unmountBelow(dir: string): Promise<string[]> {
  const paths = (await mountsBelow(dir)).map((m) => m.path);
  for (const path of [...paths].sort((a, b) => b.length - a.length)) {
    await run('umount', ['-l', path]).catch(() => undefined);
  }
  return paths;
}
