/**
 * What the benchmark reads about a Linux process (CPU time and memory from /proc) and the mounts left under a
 * directory, plus the few statistics the report prints.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of the CPU times in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK gave ${ticks}`);
  return ticks;
}

export interface CpuTimes {
  /** utime + stime of the process (all its threads), in seconds. */
  readonly ownSeconds: number;
  /** cutime + cstime: its children that it waited for (`mount`, `umount`), in seconds. */
  readonly childrenSeconds: number;
}

/** CPU time consumed so far by `pid`, from /proc/<pid>/stat. */
export async function cpuTimes(pid: number, ticksPerSecond: number): Promise<CpuTimes> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start with field 3, the state.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (number: number) => Number(fields[number - 3]);
  return {
    ownSeconds: (field(14) + field(15)) / ticksPerSecond,
    childrenSeconds: (field(16) + field(17)) / ticksPerSecond,
  };
}

export function cpuDelta(before: CpuTimes, after: CpuTimes): CpuTimes {
  return {
    ownSeconds: after.ownSeconds - before.ownSeconds,
    childrenSeconds: after.childrenSeconds - before.childrenSeconds,
  };
}

export interface Memory {
  /** VmRSS in bytes. */
  readonly rssBytes: number;
  /** VmHWM (peak RSS) in bytes. */
  readonly peakRssBytes: number;
  /** RssAnon (heap, V8 pages, malloc) and RssFile (the node binary and libraries mapped in) in bytes. */
  readonly rssAnonBytes: number;
  readonly rssFileBytes: number;
}

export async function memory(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return {
    rssBytes: kib('VmRSS'),
    peakRssBytes: kib('VmHWM'),
    rssAnonBytes: kib('RssAnon'),
    rssFileBytes: kib('RssFile'),
  };
}

/** Mount points at or under `dir` (from /proc/self/mountinfo), deepest first so they can be unmounted in order. */
export function mountsUnder(dir: string): string[] {
  const decode = (path: string) =>
    path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => decode(line.split(' ')[4] ?? ''))
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Nearest-rank percentile of `samples` (not empty). */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const value = sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  if (value === undefined) throw new Error('percentile of no samples');
  return value;
}

export const MIB = 1024 * 1024;
