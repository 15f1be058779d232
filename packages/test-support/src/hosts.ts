/**
 * TEST INFRASTRUCTURE: maps host names to a loopback address (127.0.0.1 unless told otherwise) through
 * /etc/hosts, so the real Azure SDKs (Node's and, for the interop suite, upstream's Go provider) reach the Key
 * Vault double at `https://<vault>.<dns-suffix>` exactly as they would reach a real vault. Node resolves with
 * getaddrinfo and Go with its own resolver, both read /etc/hosts, and `*.localhost` does not resolve on these
 * machines (see docs in test-world-notes), so there is no other switch for a client's DNS.
 *
 * A name may be mapped by several processes at once only to the same address: a process that asks for another
 * address waits until the other mapping is removed (a resolver would pick either). Doubles that serve port 443
 * therefore use names unique to them (a random DNS suffix) on an address of their own (`randomLoopbackAddress`);
 * only fixed public names such as `login.microsoftonline.com` are ever waited for.
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
import type { Server } from 'node:net';
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
  /** Check with dns.lookup that every name resolves to the address after adding. Default true for /etc/hosts. */
  readonly verify?: boolean;
  /** The IPv4 loopback address (127.0.0.0/8) the names resolve to. Default 127.0.0.1. */
  readonly address?: string;
  /**
   * How long to wait while another live process maps one of the names to a different address. Default 120 s.
   */
  readonly conflictTimeoutMs?: number;
}

const MARK = 'secrets-store-csi-test-hosts';
const DEFAULT_HOSTS = '/etc/hosts';
const LOOPBACK = /^127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/;
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
  const address = options.address ?? '127.0.0.1';
  if (!LOOPBACK.test(address)) throw new Error(`not an IPv4 loopback address: ${JSON.stringify(address)}`);
  const hostsPath = options.hostsPath ?? DEFAULT_HOSTS;
  const tag = `${MARK} pid=${process.pid} id=${randomBytes(6).toString('hex')}`;
  const block = [`# BEGIN ${tag}`, ...names.map((n) => `${address} ${n}`), `# END ${tag}`];
  const conflictDeadline = Date.now() + (options.conflictTimeoutMs ?? 120_000);
  for (;;) {
    let conflict: string | undefined;
    await withLock(hostsPath, options, () => {
      const lines = dropStaleBlocks(readLines(hostsPath));
      conflict = conflictingMapping(lines, names, address);
      if (conflict === undefined) writeLines(hostsPath, [...lines, ...block]);
    });
    if (conflict === undefined) break;
    if (Date.now() > conflictDeadline) {
      throw new Error(`${conflict}; gave up waiting for it to be removed`);
    }
    await sleep(200 + Math.random() * 200);
  }
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
        const resolved = (await lookup(name, { family: 4 })).address;
        if (resolved !== address)
          throw new Error(`${name} resolves to ${resolved} after mapping it to ${address}`);
      }
    } catch (error) {
      await remove();
      throw error;
    }
  }
  return { names: [...names], remove };
}

/**
 * A random address of 127.0.0.0/8 other than 127.0.0.1 and the network's edges: Linux answers the whole range on
 * the loopback interface, so a double can listen on port 443 of its own address without colliding with another
 * test process's double.
 */
export function randomLoopbackAddress(): string {
  const [a = 0, b = 0, c = 0] = randomBytes(3);
  return `127.${1 + (a % 254)}.${b}.${1 + (c % 254)}`;
}

/**
 * Listens on `port` of `address`, or of a random loopback address (another one while the port is taken there);
 * a port 443 that may not be bound (EACCES: not root) falls back to a free port. Returns the address.
 */
export async function listenOnLoopback(
  server: Server,
  address: string | undefined,
  port: number,
): Promise<string> {
  const listen = (host: string, p: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(p, host);
    });
  for (let attempt = 0; ; attempt++) {
    const host = address ?? randomLoopbackAddress();
    try {
      await listen(host, port);
      return host;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' && port !== 0) {
        await listen(host, 0);
        return host;
      }
      if (code !== 'EADDRINUSE' || address !== undefined || attempt >= 20) throw error;
    }
  }
}

/** Describes a live mapping of one of `names` (by a block of ours or another process) to another address. */
function conflictingMapping(
  lines: readonly string[],
  names: readonly string[],
  address: string,
): string | undefined {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  let inBlock = false;
  for (const line of lines) {
    if (line.startsWith(`# BEGIN ${MARK} `)) inBlock = true;
    else if (line.startsWith(`# END ${MARK} `)) inBlock = false;
    else if (inBlock) {
      const [mapped = '', ...hosts] = line.trim().split(/\s+/);
      const clash = hosts.find((h) => wanted.has(h.toLowerCase()));
      if (clash !== undefined && mapped !== address) {
        return `${clash} is mapped to ${mapped} by another test mapping, not to ${address}`;
      }
    }
  }
  return undefined;
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
