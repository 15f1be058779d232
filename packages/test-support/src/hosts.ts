/**
 * Node on these machines does not resolve `<name>.localhost`, but the Azure SDK builds vault URLs as
 * `https://<vault>.<dns suffix>`. The test world maps such names to 127.0.0.1 with entries in /etc/hosts,
 * each marked so it can be removed again (also after a crash: stale marked lines are swept on the next run).
 */
import { readFile, writeFile } from 'node:fs/promises';

const MARK = '# secrets-store-csi test world';

export interface HostsFile {
  add(hostnames: readonly string[]): Promise<void>;
  removeAll(): Promise<void>;
}

export function hostsFile(path = '/etc/hosts'): HostsFile {
  const owner = `${MARK} pid=${process.pid}`;
  const rewrite = async (edit: (lines: string[]) => string[]) => {
    const lines = (await readFile(path, 'utf8')).split('\n');
    if (lines.at(-1) === '') lines.pop();
    await writeFile(path, `${edit(lines).join('\n')}\n`);
  };
  const isStale = (line: string) => {
    const pid = /pid=(\d+)$/.exec(line)?.[1];
    if (!line.includes(MARK) || pid === undefined) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch {
      return true;
    }
  };
  return {
    async add(hostnames) {
      await rewrite((lines) => [
        ...lines.filter((l) => !isStale(l)),
        ...hostnames
          .filter((h) => !lines.some((l) => l.includes(` ${h} `) && l.endsWith(owner)))
          .map((h) => `127.0.0.1 ${h} ${owner}`),
      ]);
    },
    async removeAll() {
      await rewrite((lines) => lines.filter((l) => !l.endsWith(owner) && !isStale(l)));
    },
  };
}
