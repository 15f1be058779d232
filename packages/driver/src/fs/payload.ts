import type { VolumeLayout } from './layout.js';

/** One file of a volume's content, as the provider returned it (path already checked by `validatePayload`). */
export interface PayloadFile {
  /** Relative, clean path inside the volume; `dir/name` allowed; never starts with `..`. */
  readonly path: string;
  /** Permission bits 0..0o777, applied verbatim (0 means mode 0000, as upstream). */
  readonly mode: number;
  readonly contents: Uint8Array;
}

export interface WriteOutcome {
  /** False when every file was byte-equal to what was mounted and nothing was removed (a no-op). */
  readonly changed: boolean;
}

/** Writes a volume's whole content into a target directory with kubelet's atomic-writer layout. */
export interface VolumeWriter {
  write(targetDir: string, files: readonly PayloadFile[]): Promise<WriteOutcome>;
  /** Whether `targetDir` holds a complete version (after a restart, a write may have been interrupted). */
  inspect(targetDir: string): Promise<VolumeLayout>;
}
