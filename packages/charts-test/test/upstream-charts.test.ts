/**
 * Users who keep upstream's charts and swap only the images (docs/compatibility.md, "Helm charts"): upstream's
 * own driver chart v1.6.0 and Azure chart v1.8.2, rendered with our images, give container arguments our
 * binaries' own parsers accept with the values' meanings, and objects the real API server accepts.
 *
 * The charts are read from the Go module cache: they are part of the upstream modules that
 * scripts/test-world/build.sh downloads through the Go module proxy to build the interop suite's binaries
 * (`go mod download` in the wrapper module finds them; nothing of upstream is in this repository).
 */
import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { parseDriverArgs } from '@secrets-store-csi/driver';
import { azureProviderFlags } from '@secrets-store-csi/provider-azure';
import { parseFlags, standardProviderFlags } from '@secrets-store-csi/provider-sdk';
import { sharedTestWorld } from '@secrets-store-csi/test-support';
import { container, expandedArgs, get, helm, parseObjects, scratchDir, type KubeObject } from './helm.js';

const run = promisify(execFile);
const TEST_WORLD = fileURLToPath(new URL('../../../scripts/test-world', import.meta.url));

/** The directory of an upstream module as the Go module cache holds it (downloaded when missing). */
async function upstreamModuleDir(wrapper: string, module: string): Promise<string> {
  const { stdout } = await run('go', ['mod', 'download', '-json', module], {
    cwd: join(TEST_WORLD, wrapper),
    env: { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-mod=mod' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const { Dir: dir, Version: version } = JSON.parse(stdout) as { Dir?: string; Version?: string };
  if (dir === undefined) throw new Error(`go mod download ${module} gave no directory`);
  return `${dir}\u0000${version ?? ''}`;
}

async function upstreamChart(wrapper: string, module: string, chart: string) {
  const [dir, version] = (await upstreamModuleDir(wrapper, module)).split('\u0000') as [string, string];
  return { path: join(dir, 'charts', chart), version };
}

async function renderUpstream(chartPath: string, set: readonly string[]): Promise<KubeObject[]> {
  const args = ['template', 'csi', chartPath, '--namespace', 'kube-system', '--kube-version', '1.37.1'];
  return parseObjects((await helm([...args, ...set.flatMap((s) => ['--set', s])])).stdout);
}

const OUR_DRIVER_IMAGE = ['linux.image.repository=secrets-store-csi/driver', 'linux.image.tag=0.1.0'];
const OUR_PROVIDER_IMAGE = [
  'linux.image.repository=secrets-store-csi/provider-azure',
  'linux.image.tag=0.1.0',
];
const NODE = { KUBE_NODE_NAME: 'node-1' };

describe("upstream's charts with our images", function () {
  this.timeout(300_000);
  let driverChart: { path: string; version: string };
  let azureChart: { path: string; version: string };

  before(async () => {
    driverChart = await upstreamChart(
      'upstream-csi-driver',
      'sigs.k8s.io/secrets-store-csi-driver',
      'secrets-store-csi-driver',
    );
    const azure = await upstreamChart(
      'upstream-provider-azure',
      'github.com/Azure/secrets-store-csi-driver-provider-azure',
      'csi-secrets-store-provider-azure',
    );
    // Its driver dependency (1.5.6, from upstream's chart repository) is not in the module: a copy of the
    // chart gets upstream's driver chart in its place, as `helm dependency build` would put one there.
    const copy = join(await scratchDir(), 'upstream-csi-secrets-store-provider-azure');
    await cp(azure.path, copy, { recursive: true });
    await cp(driverChart.path, join(copy, 'charts', 'secrets-store-csi-driver'), { recursive: true });
    azureChart = { path: copy, version: azure.version };
  });

  it("are upstream's driver chart v1.6.0 and Azure chart v1.8.2", () => {
    expect(driverChart.version).to.equal('v1.6.0');
    expect(azureChart.version).to.equal('v1.8.2');
  });

  it("upstream's driver chart runs our driver image with flags our driver reads as upstream's", async () => {
    const objects = await renderUpstream(driverChart.path, [
      ...OUR_DRIVER_IMAGE,
      'syncSecret.enabled=true',
      'enableSecretRotation=true',
      'rotationPollInterval=45s',
      'logVerbosity=5',
      'logFormatJSON=true',
      'providerHealthCheck=true',
      'providerHealthCheckInterval=30s',
      'maxCallRecvMsgSize=8388608',
      'linux.additionalProvidersDirs={/etc/a}',
    ]);
    const driver = container(get(objects, 'DaemonSet', 'csi-secrets-store-csi-driver'), 'secrets-store');
    expect(driver.image).to.equal('secrets-store-csi/driver:0.1.0');
    const { config } = parseDriverArgs(expandedArgs(driver, NODE));
    expect(config).to.deep.include({
      nodeId: 'node-1',
      logFormat: 'json',
      logLevel: 'debug',
      rotationEnabled: true,
      maxReceiveMessageBytes: 8388608,
      providerHealthCheckIntervalMs: 30_000,
    });
    expect(config.rotationPolicy.pollIntervalMs).to.equal(45_000);
    expect(config.providerDirectories.additional).to.include('/etc/a');
  });

  it("upstream's Azure chart runs our provider image with flags our provider reads as upstream's", async () => {
    const objects = await renderUpstream(azureChart.path, [
      ...OUR_PROVIDER_IMAGE,
      'secrets-store-csi-driver.install=false',
      'logVerbosity=5',
      'logFormatJSON=true',
      'constructPEMChain=true',
      'writeCertAndKeyInSeparateFiles=true',
      'linux.customUserAgent=walkthrough',
    ]);
    const daemonSet = objects.find((o) => o.kind === 'DaemonSet');
    expect(daemonSet, 'a provider DaemonSet').not.to.equal(undefined);
    const provider = container(daemonSet!, 'provider-azure-installer');
    expect(provider.image).to.equal('secrets-store-csi/provider-azure:0.1.0');
    const specs = {
      ...standardProviderFlags({
        endpoint: 'unix:///tmp/azure.sock',
        healthzPort: 8989,
        prometheusPort: 8898,
      }),
      ...azureProviderFlags,
    };
    expect(parseFlags(specs, expandedArgs(provider))).to.deep.include({
      endpoint: 'unix:///provider/azure.sock',
      'log-format-json': true,
      'construct-pem-chain': true,
      'write-cert-and-key-in-separate-files': true,
      'custom-user-agent': 'walkthrough',
      'healthz-port': 8989,
    });
  });

  it('the real API server accepts what both render with our images (server-side dry-run)', async () => {
    const world = await sharedTestWorld();
    const api = KubernetesObjectApi.makeApiClient(world.kube.kubeConfig);
    const objects = [
      ...(await renderUpstream(driverChart.path, [...OUR_DRIVER_IMAGE, 'syncSecret.enabled=true'])),
      ...(await renderUpstream(azureChart.path, [
        ...OUR_PROVIDER_IMAGE,
        'secrets-store-csi-driver.install=false',
      ])),
    ];
    // The charts' CRD hook Jobs run upstream's CRD image, which is not ours to swap.
    const ours = objects.filter((o) => o.kind !== 'Job');
    expect(ours.map((o) => o.kind)).to.include.members(['DaemonSet', 'CSIDriver', 'ClusterRole']);
    for (const object of ours) {
      try {
        await api.create(object, undefined, 'All');
      } catch (error) {
        throw new Error(`${object.kind}/${object.metadata.name} refused: ${(error as Error).message}`);
      }
    }
  });
});
