import { mkdir, readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { Mounter, TmpfsOptions } from './mounter.js';

/** The operations `FakeMounter` records; `isMountPoint` is a query and is not recorded. */
export type FakeMountOp = 'mountTmpfs' | 'unmount';

export interface FakeMountCall {
  readonly op: FakeMountOp;
  readonly target: string;
  readonly options?: TmpfsOptions;
}

/**
 * A `Mounter` for unit tests: keeps the mount table in memory but creates the target directory on the real
 * filesystem, so the atomic writer can write into it. Unmounting empties the directory, as the end of a
 * tmpfs drops its files, and keeps the directory itself, as a real unmount does.
 */
export class FakeMounter implements Mounter {
  readonly calls: FakeMountCall[] = [];
  readonly mounted = new Set<string>();
  readonly #failures = new Map<FakeMountOp, Error>();

  /**
   * Makes the next call of `op` throw `error` (by default the `DriverError` the real mounter would throw)
   * without changing anything; the call is still recorded.
   */
  failNext(op: FakeMountOp, error?: Error): void {
    this.#failures.set(op, error ?? defaultFailure(op));
  }

  async mountTmpfs(target: string, options: TmpfsOptions): Promise<void> {
    this.calls.push({ op: 'mountTmpfs', target, options });
    this.#throwIfFailing('mountTmpfs');
    await mkdir(target, { recursive: true, mode: 0o750 });
    this.mounted.add(path.resolve(target));
  }

  async unmount(target: string): Promise<void> {
    this.calls.push({ op: 'unmount', target });
    this.#throwIfFailing('unmount');
    const resolved = path.resolve(target);
    if (!this.mounted.delete(resolved)) return;
    for (const name of await readdir(resolved).catch(() => [])) {
      await rm(path.join(resolved, name), { recursive: true, force: true });
    }
  }

  isMountPoint(target: string): Promise<boolean> {
    return Promise.resolve(this.mounted.has(path.resolve(target)));
  }

  #throwIfFailing(op: FakeMountOp): void {
    const error = this.#failures.get(op);
    if (error === undefined) return;
    this.#failures.delete(op);
    throw error;
  }
}

function defaultFailure(op: FakeMountOp): DriverError {
  return op === 'mountTmpfs'
    ? new DriverError(driverErrorCodes.failedToMount, 'injected mount failure')
    : new DriverError(driverErrorCodes.unmountFailed, 'injected unmount failure');
}
