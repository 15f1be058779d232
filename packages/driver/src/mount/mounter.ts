/**
 * The side-effect seam for mounts. The publish flow only ever talks to this interface; `LinuxMounter` runs
 * `mount`/`umount` and reads `/proc/self/mountinfo`, `DirectoryMounter` (standalone mode without root) uses a
 * plain directory, and `FakeMounter` records calls for unit tests.
 */
export interface TmpfsOptions {
  /** Mount with `noexec` (off by default: some users mount executable scripts). */
  readonly noexec: boolean;
  /** The tmpfs `size=` limit in bytes; undefined means the kernel default (half of RAM), as upstream. */
  readonly sizeBytes?: number;
}

export interface Mounter {
  /**
   * Mounts a tmpfs at `target` with `nosuid,nodev` (plus the options), creating the directory (0750) when it
   * is missing. Throws a CodedError `FailedToMount` with the command's stderr when the mount fails.
   */
  mountTmpfs(target: string, options: TmpfsOptions): Promise<void>;
  /** Unmounts `target`. Throws when the target is mounted and cannot be unmounted; a no-op when not mounted. */
  unmount(target: string): Promise<void>;
  /** Whether `target` is a mount point; false when the path does not exist. */
  isMountPoint(target: string): Promise<boolean>;
}
