/**
 * containerd for the real kubelet (test infrastructure): Debian's containerd with its own root, state, socket,
 * runc root and CNI configuration under a temporary directory, so the machine's own instance (if any) is never
 * touched. Pods use the host network; the CNI configuration holds only the loopback plugin, which is all the
 * CRI plugin needs to report the network ready.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, waitUntil, type ManagedProcess } from '../process.js';
import { unmountBelow } from './mounts.js';

const run = promisify(execFile);

/** Where Debian's containernetworking-plugins installs the CNI plugins. */
const CNI_BIN_DIR = '/usr/lib/cni';
/** Kubernetes' containerd namespace: images imported here are what the CRI plugin sees. */
const K8S_NAMESPACE = 'k8s.io';

export interface ContainerdOptions {
  readonly dir: string;
  /** The CRI sandbox ("pause") image, already imported or imported before the first pod. */
  readonly sandboxImage: string;
}

export interface Containerd {
  /** The CRI socket path; kubelet's `containerRuntimeEndpoint` is `unix://` + this. */
  readonly address: string;
  readonly process: ManagedProcess;
  /** Imports an OCI layout tarball under `name` (such as `docker.io/local/busybox`) with the tag it carries. */
  importImage(tarball: string, name: string): Promise<void>;
  /** The id of the running container `container` of pod `namespace/pod`, or undefined. */
  containerOf(namespace: string, pod: string, container: string): Promise<string | undefined>;
  /** Runs `argv` inside a running container (`ctr tasks exec`) and returns its standard output. */
  exec(containerId: string, argv: readonly string[]): Promise<string>;
  /** Ids of every container containerd still knows in the Kubernetes namespace (running or not). */
  containers(): Promise<string[]>;
  /** Ids of the containers whose task is running. */
  runningTasks(): Promise<string[]>;
  stop(): Promise<void>;
}

function configToml(dir: string, sandboxImage: string): string {
  const q = JSON.stringify;
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${q(join(dir, 'root'))}`,
    `state = ${q(join(dir, 'state'))}`,
    // Plugins that need kernel features or devices a test node lacks.
    'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",',
    '  "io.containerd.internal.v1.tracing"]',
    '[grpc]',
    `  address = ${q(join(dir, 'containerd.sock'))}`,
    '[ttrpc]',
    `  address = ${q(join(dir, 'containerd.sock.ttrpc'))}`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q(join(dir, 'opt'))}`,
    `[${cri}]`,
    `  sandbox_image = ${q(sandboxImage)}`,
    // This machine's root lacks CAP_SYS_RESOURCE, so negative OOM score adjustments (the sandbox's -998)
    // fail; containerd then clamps them to its own score. A production node does not need this.
    '  restrict_oom_score_adj = true',
    '  netns_mounts_under_state_dir = true',
    `[${cri}.cni]`,
    `  bin_dir = ${q(CNI_BIN_DIR)}`,
    `  conf_dir = ${q(join(dir, 'cni'))}`,
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
    `  Root = ${q(join(dir, 'runc'))}`,
    '',
  ].join('\n');
}

export async function startContainerd(options: ContainerdOptions): Promise<Containerd> {
  const { dir } = options;
  await mkdir(join(dir, 'cni'), { recursive: true });
  await writeFile(
    join(dir, 'cni', '10-loopback.conflist'),
    JSON.stringify({ cniVersion: '1.0.0', name: 'sscsi-loopback', plugins: [{ type: 'loopback' }] }),
  );
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, configToml(dir, options.sandboxImage));
  const address = join(dir, 'containerd.sock');
  const process = await startProcess({
    name: 'containerd',
    command: 'containerd',
    args: ['--config', configPath],
    logPath: join(dir, 'containerd.log'),
    installHint: 'apt-get install containerd runc containernetworking-plugins',
  });
  const ctr = async (args: readonly string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', address, '--namespace', K8S_NAMESPACE, ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  };
  try {
    await waitUntil(async () => (await ctr(['version'])).includes('Server:'), {
      description: 'containerd to answer on its socket',
      process,
      timeoutMs: 30_000,
    });
  } catch (error) {
    await process.stop();
    throw error;
  }

  const containers = async () =>
    (await ctr(['containers', 'list', '--quiet'])).split('\n').filter((id) => id !== '');
  const runningTasks = async () =>
    (await ctr(['tasks', 'list']))
      .split('\n')
      .filter((line) => / RUNNING\s*$/.test(line))
      .map((line) => line.split(/\s+/)[0] ?? '');

  return {
    address,
    process,
    async importImage(tarball, name) {
      await ctr(['images', 'import', '--base-name', name, tarball]);
    },
    async containerOf(namespace, pod, container) {
      // The CRI plugin labels every container with its pod and container names.
      const list = await ctr([
        'containers',
        'list',
        '--quiet',
        `labels."io.kubernetes.pod.namespace"==${namespace},labels."io.kubernetes.pod.name"==${pod},labels."io.kubernetes.container.name"==${container}`,
      ]);
      const running = await runningTasks();
      return list.split('\n').find((id) => id !== '' && running.includes(id));
    },
    async exec(containerId, argv) {
      const execId = `e2e-${String(Date.now())}-${String(Math.floor(Math.random() * 1e6))}`;
      return ctr(['tasks', 'exec', '--exec-id', execId, containerId, ...argv]);
    },
    containers,
    runningTasks,
    async stop() {
      // Whatever kubelet left (it should leave nothing once its pods are deleted): kill and delete each task
      // and container, so no shim or runc process outlives containerd.
      for (const id of await containers().catch(() => [])) {
        await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]).catch(() => undefined);
        await ctr(['tasks', 'delete', '--force', id]).catch(() => undefined);
        await ctr(['containers', 'delete', id]).catch(() => undefined);
      }
      await process.stop(15_000);
      await unmountBelow(dir);
      await removeEmptyCgroups(K8S_NAMESPACE);
    },
  };
}

/**
 * Removes the empty `<hierarchy>/<name>` cgroup of every cgroup v1 controller: runc deletes each container's
 * cgroup below it but leaves the parent. A parent in use by another containerd is not empty and stays.
 */
async function removeEmptyCgroups(name: string): Promise<void> {
  const root = '/sys/fs/cgroup';
  const controllers = await readdir(root).catch(() => []);
  for (const controller of controllers) {
    await rmdir(join(root, controller, name)).catch(() => undefined);
  }
}
