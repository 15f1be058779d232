export type { PayloadFile, VolumeWriter, WriteOutcome } from './payload.js';
export { AtomicWriter, dataDirName, newDataDirName, timestampPrefix } from './atomic-writer.js';
export type { AtomicWriterOptions } from './atomic-writer.js';
export {
  lastWriteWins,
  maxFileMode,
  maxFileNameLength,
  maxPathLength,
  validatePath,
  validatePayload,
} from './validate.js';
export { readMountedContents, readMountedFiles } from './mounted-files.js';
export { inspectVolumeLayout } from './layout.js';
export type { VolumeLayout } from './layout.js';
