/**
 * A real kubelet (built from the pinned Kubernetes release by scripts/test-world/build.sh) registered as one
 * node of the test world's API server and running pods through containerd (test infrastructure). It
 * authenticates as `system:node:<name>` in `system:nodes`, so the API server's Node authorizer and
 * NodeRestriction admission see it as they see a production node.
 *
 * What differs from a production node, and why, is written in docs/testing.md: the cgroup v1 hierarchy
 * (`failCgroupV1: false`), the cgroupfs driver, no QoS cgroups, eviction thresholds at zero, kubelet's own
 * directories under a temporary directory, and the host network for pods.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { artifact } from '../binaries.js';
import { kubeconfigYaml, type KubeControlPlane } from '../kube.js';
import type { TestPki } from '../pki.js';
import { freePort } from '../ports.js';
import { startProcess, waitUntil, type ManagedProcess } from '../process.js';
import { unmountBelow } from './mounts.js';

export interface KubeletNodeOptions {
  readonly dir: string;
  readonly nodeName: string;
  readonly pki: TestPki;
  readonly kube: KubeControlPlane;
  /** containerd's socket path. */
  readonly containerdAddress: string;
  /** How often kubelet syncs each pod (and so calls NodePublishVolume again for requiresRepublish drivers). */
  readonly syncFrequency?: string;
}

export interface KubeletNode {
  readonly nodeName: string;
  /** kubelet's `--root-dir`: pods, plugins and the plugin registration directory live below it. */
  readonly rootDir: string;
  /** Where CSI drivers put their sockets, `<root>/plugins`. */
  readonly pluginsDir: string;
  /** Kubelet's plugin watcher directory, `<root>/plugins_registry`. */
  readonly registrationDir: string;
  readonly process: ManagedProcess;
  /** Stops kubelet and unmounts whatever it left below its root directory (returned, for checks). */
  stop(): Promise<string[]>;
}

function kubeletConfiguration(options: {
  caPath: string;
  containerdAddress: string;
  podLogsDir: string;
  port: number;
  healthzPort: number;
  syncFrequency: string;
}): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // These machines mount the cgroup v1 hierarchy; kubelet 1.35+ refuses it unless told.
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      cgroupsPerQOS: false,
      enforceNodeAllocatable: [],
      failSwapOn: false,
      address: '127.0.0.1',
      port: options.port,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: options.healthzPort,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: { clientCAFile: options.caPath },
      },
      authorization: { mode: 'AlwaysAllow' },
      containerRuntimeEndpoint: `unix://${options.containerdAddress}`,
      podLogsDir: options.podLogsDir,
      // A shared test machine: never evict or garbage-collect images because its disk looks full.
      evictionHard: {
        'memory.available': '1Mi',
        'nodefs.available': '0%',
        'nodefs.inodesFree': '0%',
        'imagefs.available': '0%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      localStorageCapacityIsolation: false,
      syncFrequency: options.syncFrequency,
      resolvConf: '',
    },
    null,
    2,
  );
}

export async function startKubeletNode(options: KubeletNodeOptions): Promise<KubeletNode> {
  const { dir, nodeName, pki, kube } = options;
  const rootDir = join(dir, 'root');
  const podLogsDir = join(dir, 'pod-logs');
  await Promise.all([rootDir, podLogsDir].map((d) => mkdir(d, { recursive: true })));
  const [kubeletBin, client, port, healthzPort] = await Promise.all([
    artifact('kubelet'),
    pki.issue({
      name: `kubelet-${nodeName}`,
      commonName: `system:node:${nodeName}`,
      organization: 'system:nodes',
      usage: 'client',
    }),
    freePort(),
    freePort(),
  ]);
  const kubeconfigPath = join(dir, 'kubelet.kubeconfig');
  await writeFile(
    kubeconfigPath,
    kubeconfigYaml(kube.server, pki.caCertPath, `system:node:${nodeName}`, client.certPath, client.keyPath),
  );
  const configPath = join(dir, 'kubelet-config.json');
  await writeFile(
    configPath,
    kubeletConfiguration({
      caPath: pki.caCertPath,
      containerdAddress: options.containerdAddress,
      podLogsDir,
      port,
      healthzPort,
      syncFrequency: options.syncFrequency ?? '10s',
    }),
  );
  const process = await startProcess({
    name: 'kubelet',
    command: kubeletBin,
    args: [
      `--config=${configPath}`,
      `--kubeconfig=${kubeconfigPath}`,
      `--root-dir=${rootDir}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--hostname-override=${nodeName}`,
      '--v=2',
    ],
    logPath: join(dir, 'kubelet.log'),
    installHint: 'run bash scripts/test-world/build.sh kubelet',
  });
  const stop = async () => {
    await process.stop(15_000);
    return unmountBelow(rootDir);
  };
  try {
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    await waitUntil(
      async () => {
        const node = await core.readNode({ name: nodeName });
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      },
      { description: `node ${nodeName} to be Ready`, process, timeoutMs: 120_000, intervalMs: 500 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodeName,
    rootDir,
    pluginsDir: join(rootDir, 'plugins'),
    registrationDir: join(rootDir, 'plugins_registry'),
    process,
    stop,
  };
}
