/**
 * TEST INFRASTRUCTURE: maps host names to 127.0.0.1 through /etc/hosts, so the real Azure SDK can reach the
 * Key Vault double at `https://<vault>.<dns-suffix>:<port>` exactly as it would reach a real vault. Node
 * resolves with getaddrinfo, which reads /etc/hosts on every lookup, and does not resolve `*.localhost` on
 * these machines (see docs in test-world-notes), so there is no other in-process switch for the SDK's DNS.
 *
 * Several test processes may edit the file at once, so every read-modify-write holds a lock directory next to
 * it, and each process only ever removes its own marker block (tagged with pid and a random id). Blocks left by
 * processes that died without cleaning up (SIGKILL) are dropped by `removeStaleHostBlocks` and by every later
 * edit. A process 'exit' hook removes what a crashed test left mapped.
 */
import { randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { lookup } from 'node:dns/promises';
import { dirname, join, basename } from 'node:path';

export interface LoopbackHosts {
  readonly names: readonly string[];
  /** Removes this mapping's block (and only it). Safe to call twice. */
  remove(): Promise<void>;
}

export interface HostsFileOptions {
  /** Defaults to /etc/hosts; tests of this module use a scratch file. */
  readonly hostsPath?: string;
  /** How long to wait for another process's lock before failing. Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** A lock directory older than this is taken to belong to a crashed process and is broken. Default 15 s. */
  readonly staleLockMs?: number;
  /** Check with dns.lookup that every name resolves to 127.0.0.1 after adding. Default true for /etc/hosts. */
  readonly verify?: boolean;
}

const MARK = 'secrets-store-csi-test-hosts';
const DEFAULT_HOSTS = '/etc/hosts';
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Blocks this process added and has not removed yet, by hosts file; the exit hook removes them. */
const owned = new Map<string, Set<string>>();
let exitHookInstalled = false;

export async function mapHostsToLoopback(
  names: readonly string[],
  options: HostsFileOptions = {},
): Promise<LoopbackHosts> {
  for (const name of names) {
    if (!HOST_NAME.test(name)) throw new Error(`not a host name: ${JSON.stringify(name)}`);
  }
  const hostsPath = options.hostsPath ?? DEFAULT_HOSTS;
  const tag = `${MARK} pid=${process.pid} id=${randomBytes(6).toString('hex')}`;
  const block = [`# BEGIN ${tag}`, ...names.map((n) => `127.0.0.1 ${n}`), `# END ${tag}`];
  await withLock(hostsPath, options, () => {
    const lines = dropStaleBlocks(readLines(hostsPath));
    writeLines(hostsPath, [...lines, ...block]);
  });
  installExitHook();
  const tags = owned.get(hostsPath) ?? new Set<string>();
  tags.add(tag);
  owned.set(hostsPath, tags);

  const remove = async () => {
    if (!tags.delete(tag)) return;
    await withLock(hostsPath, options, () => {
      writeLines(hostsPath, withoutBlock(readLines(hostsPath), tag));
    });
  };
  if (options.verify ?? hostsPath === DEFAULT_HOSTS) {
    try {
      for (const name of names) {
        const { address } = await lookup(name, { family: 4 });
        if (address !== '127.0.0.1')
          throw new Error(`${name} resolves to ${address} after mapping it to 127.0.0.1`);
      }
    } catch (error) {
      await remove();
      throw error;
    }
  }
  return { names: [...names], remove };
}

/** Removes the blocks of processes that no longer run; returns how many it removed. */
export async function removeStaleHostBlocks(options: HostsFileOptions = {}): Promise<number> {
  const hostsPath = options.hostsPath ?? DEFAULT_HOSTS;
  let removed = 0;
  await withLock(hostsPath, options, () => {
    const lines = readLines(hostsPath);
    const kept = dropStaleBlocks(lines);
    removed =
      lines.filter((l) => l.startsWith(`# BEGIN ${MARK} `)).length -
      kept.filter((l) => l.startsWith(`# BEGIN ${MARK} `)).length;
    if (removed > 0) writeLines(hostsPath, kept);
  });
  return removed;
}

function readLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * Writes the whole file so a concurrent getaddrinfo never sees half of it: a temporary file renamed over the
 * target, unless the target is a mount point (Docker and Kubernetes bind-mount /etc/hosts; rename then fails
 * with EBUSY), where only an in-place rewrite of the same inode is possible.
 */
function writeLines(path: string, lines: readonly string[]): void {
  const target = realpathSync(path);
  const text = lines.map((l) => `${l}\n`).join('');
  if (isMountPoint(target)) {
    writeFileSync(target, text);
    return;
  }
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const mode = statSync(target).mode & 0o777;
  writeFileSync(temp, text, { mode });
  try {
    renameSync(temp, target);
  } catch (error) {
    unlinkSync(temp);
    if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error;
    writeFileSync(target, text); // a mount point that mountinfo did not show
  }
}

function isMountPoint(path: string): boolean {
  try {
    // Field 5 of mountinfo is the mount point, with spaces and the like escaped as octal.
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some(
        (line) =>
          line.split(' ')[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) ===
          path,
      );
  } catch {
    return false;
  }
}

function withoutBlock(lines: readonly string[], tag: string): string[] {
  const begin = lines.indexOf(`# BEGIN ${tag}`);
  const end = lines.indexOf(`# END ${tag}`);
  if (begin < 0 || end < begin) return [...lines];
  return [...lines.slice(0, begin), ...lines.slice(end + 1)];
}

function dropStaleBlocks(lines: readonly string[]): string[] {
  let result = [...lines];
  for (const line of lines) {
    const match = new RegExp(`^# BEGIN (${MARK} pid=(\\d+) id=[0-9a-f]+)$`).exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined && !isAlive(Number(match[2]))) {
      result = withoutBlock(result, match[1]);
    }
  }
  return result;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** mkdir is atomic, so a lock directory serializes editors across processes; a stale one is broken. */
async function withLock(hostsPath: string, options: HostsFileOptions, edit: () => void): Promise<void> {
  const lockPath = `${hostsPath}.secrets-store-csi.lock`;
  const deadline = Date.now() + (options.lockTimeoutMs ?? 10_000);
  while (!tryLock(lockPath, options.staleLockMs ?? 15_000)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockPath}`);
    await sleep(10 + Math.random() * 20);
  }
  try {
    edit();
  } finally {
    rmdirSync(lockPath);
  }
}

function tryLock(lockPath: string, staleMs: number): boolean {
  try {
    mkdirSync(lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    if (Date.now() - statSync(lockPath).mtimeMs > staleMs) rmdirSync(lockPath);
  } catch {
    // another process broke or released it first
  }
  return false;
}

/** On exit only synchronous work runs, so the lock is tried for a short while with a busy wait. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [hostsPath, tags] of owned) {
      if (tags.size === 0) continue;
      const lockPath = `${hostsPath}.secrets-store-csi.lock`;
      const deadline = Date.now() + 2_000;
      let locked = tryLock(lockPath, 15_000);
      while (!locked && Date.now() < deadline) locked = tryLock(lockPath, 15_000); // timers no longer run
      if (!locked) continue; // removeStaleHostBlocks cleans up later
      try {
        let lines = readLines(hostsPath);
        for (const tag of tags) lines = withoutBlock(lines, tag);
        writeLines(hostsPath, lines);
      } catch {
        // best effort; removeStaleHostBlocks cleans up later
      } finally {
        rmdirSync(lockPath);
      }
    }
  });
}
