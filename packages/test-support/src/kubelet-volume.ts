/**
 * Kubelet's on-disk conventions for CSI volumes (pkg/volume/csi: csi_mounter.go, csi_plugin.go, csi_util.go,
 * csi_attacher.go): volume handles of inline volumes, the per-pod volume directory, `vol_data.json`, and the
 * clean-up of a mount directory after unpublish.
 */
import { createHash } from 'node:crypto';
import { mkdir, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** `utilstrings.EscapeQualifiedName("kubernetes.io/csi")`. */
export const CSI_PLUGIN_DIR_NAME = 'kubernetes.io~csi';
/** `volDataFileName`. */
export const VOLUME_DATA_FILE_NAME = 'vol_data.json';

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** `utilstrings.EscapeQualifiedName`: `/` becomes `~`. */
export function escapeQualifiedName(name: string): string {
  return name.replaceAll('/', '~');
}

/** `makeVolumeHandle`: the volume id kubelet gives an inline volume, `csi-<sha256(podUID + volumeName)>`. */
export function makeVolumeHandle(podUid: string, volumeName: string): string {
  return `csi-${sha256Hex(`${podUid}${volumeName}`)}`;
}

/** `getAttachmentName`: `csi-<sha256(volumeHandle + driverName + nodeName)>`, recorded in vol_data.json. */
export function attachmentName(volumeHandle: string, driverName: string, nodeName: string): string {
  return `csi-${sha256Hex(`${volumeHandle}${driverName}${nodeName}`)}`;
}

/** `<root>/pods/<podUID>`. */
export function podDir(kubeletRootDir: string, podUid: string): string {
  return join(kubeletRootDir, 'pods', podUid);
}

/** `<root>/pods/<podUID>/volumes/kubernetes.io~csi/<volumeName>`: holds vol_data.json and the mount dir. */
export function podVolumeDir(kubeletRootDir: string, podUid: string, volumeName: string): string {
  return join(
    podDir(kubeletRootDir, podUid),
    'volumes',
    CSI_PLUGIN_DIR_NAME,
    escapeQualifiedName(volumeName),
  );
}

/** The NodePublishVolume target path: `<root>/pods/<podUID>/volumes/kubernetes.io~csi/<volumeName>/mount`. */
export function volumeTargetPath(kubeletRootDir: string, podUid: string, volumeName: string): string {
  return join(podVolumeDir(kubeletRootDir, podUid, volumeName), 'mount');
}

/**
 * Go's `json.Marshal` text for a value made of strings, plain objects (maps: keys are sorted; pass `sortKeys`
 * false for a struct whose fields are already in declaration order) and arrays, including its HTML escaping.
 */
export function goJson(value: unknown, sortKeys = true): string {
  const ordered = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(ordered);
    if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (sortKeys) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(entries.map(([k, item]) => [k, ordered(item)]));
    }
    return v;
  };
  return JSON.stringify(ordered(value))
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/** `metav1.Time` as JSON carries it: RFC 3339 in UTC, whole seconds. */
export function goTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface VolumeData {
  readonly specVolID: string;
  readonly volumeHandle: string;
  readonly driverName: string;
  readonly nodeName: string;
  readonly attachmentID: string;
  readonly volumeLifecycleMode: string;
}

/** `saveVolumeData`: vol_data.json as Go's json.Encoder writes the map (sorted keys, trailing newline). */
export async function saveVolumeData(dir: string, data: VolumeData): Promise<void> {
  await writeFile(join(dir, VOLUME_DATA_FILE_NAME), `${goJson(data)}\n`);
}

/** `os.MkdirAll(dir, 0750)`. */
export async function mkdirAll(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
}

const isErrno = (error: unknown, code: string): boolean =>
  (error as NodeJS.ErrnoException | undefined)?.code === code;

/**
 * mount-utils' `IsLikelyNotMountPoint`, inverted: a path is a mount point when its device differs from its
 * parent's. A missing path is not a mount point.
 */
export async function isLikelyMountPoint(path: string): Promise<boolean> {
  try {
    const [self, parent] = await Promise.all([stat(path), stat(dirname(path))]);
    return self.dev !== parent.dev;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/**
 * `removeMountDir`: when `mountPath` is not a mount point, removes it (it must be empty), then vol_data.json
 * and the volume directory. Leaves everything in place when something is still mounted there.
 */
export async function removeMountDir(mountPath: string): Promise<void> {
  if (await isLikelyMountPoint(mountPath)) return;
  const volumePath = dirname(mountPath);
  const attempt = async (what: string, path: string, remove: (p: string) => Promise<void>) => {
    try {
      await remove(path);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) {
        throw new Error(`kubernetes.io/csi: failed to ${what} [${path}]: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
  };
  await attempt('remove dir', mountPath, rmdir);
  await attempt('delete volume data file', join(volumePath, VOLUME_DATA_FILE_NAME), unlink);
  await attempt('delete volume path', volumePath, rmdir);
}
