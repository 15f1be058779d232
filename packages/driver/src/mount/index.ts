export type { Mounter, TmpfsOptions } from './mounter.js';
export {
  LinuxMounter,
  decodeMountinfoField,
  parseMountPoints,
  targetDirMode,
  tmpfsMountOptions,
} from './linux.js';
export type { LinuxMounterOptions } from './linux.js';
export { DirectoryMounter } from './directory.js';
export { FakeMounter } from './fake.js';
export type { FakeMountCall, FakeMountOp } from './fake.js';
