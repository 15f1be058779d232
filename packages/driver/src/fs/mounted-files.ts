import type { Dirent } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { attempt, errorCode } from './atomic-writer.js';

/**
 * Every regular file a volume shows its pod, as relative path (`dir/name`, `/`-separated) → absolute
 * user-visible path (through the top-level symlink, not the timestamped directory, so the paths stay valid
 * across rotations). Walks each top-level entry except the writer's `..` names, follows top-level symlinks,
 * recurses into directories and leaves directories themselves out.
 *
 * A missing or unreadable target throws `FileWriteError` rather than returning an empty map: an empty map
 * would make Secret sync treat every file as gone. A top-level link that dangles (a write in progress) is
 * skipped. Nested symlinks to files are included; nested symlinks to directories are not followed, so a loop
 * cannot hang the walk.
 */
export async function readMountedFiles(targetDir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entries = await readDir(targetDir, targetDir);
  for (const entry of entries) {
    if (entry.name.startsWith('..')) continue;
    const absolute = path.join(targetDir, entry.name);
    const stats = await statOrUndefined(targetDir, absolute);
    if (stats?.isFile()) files.set(entry.name, absolute);
    else if (stats?.isDirectory()) await walk(targetDir, entry.name, files);
  }
  return files;
}

/** The same walk, with each file's bytes (for Secret sync, which needs contents rather than paths). */
export async function readMountedContents(targetDir: string): Promise<Map<string, Uint8Array>> {
  const contents = new Map<string, Uint8Array>();
  for (const [relative, absolute] of await readMountedFiles(targetDir)) {
    contents.set(relative, await attempt(targetDir, `read "${relative}"`, () => readFile(absolute)));
  }
  return contents;
}

async function walk(targetDir: string, relativeDir: string, files: Map<string, string>): Promise<void> {
  for (const entry of await readDir(targetDir, path.join(targetDir, relativeDir))) {
    const relative = `${relativeDir}/${entry.name}`;
    const absolute = path.join(targetDir, relative);
    if (entry.isDirectory()) await walk(targetDir, relative, files);
    else if (entry.isFile()) files.set(relative, absolute);
    else if (entry.isSymbolicLink() && (await statOrUndefined(targetDir, absolute))?.isFile()) {
      files.set(relative, absolute);
    }
  }
}

async function readDir(targetDir: string, dir: string): Promise<Dirent[]> {
  const what = dir === targetDir ? 'list the volume' : `list ${path.relative(targetDir, dir)}`;
  return attempt(targetDir, what, () => readdir(dir, { withFileTypes: true }));
}

async function statOrUndefined(
  targetDir: string,
  p: string,
): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  return attempt(targetDir, `stat ${path.relative(targetDir, p)}`, async () => {
    try {
      return await stat(p);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  });
}
