/**
 * The rendered objects are valid for the real API server of the test world: every object of each chart (CRDs
 * included) goes through a server-side dry-run create, which runs the API server's validation and defaulting
 * without storing anything.
 */
import { expect } from 'chai';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { sharedTestWorld } from '@secrets-store-csi/test-support';
import { AZURE_CHART, DIRECTORY_CHART, DRIVER_CHART, render, type RenderOptions } from './helm.js';

const combinations: readonly [string, string, RenderOptions][] = [
  ['driver chart, defaults', DRIVER_CHART, { includeCrds: true }],
  [
    'driver chart, every option',
    DRIVER_CHART,
    {
      set: [
        'syncSecret.enabled=true',
        'enableSecretRotation=true',
        'rotationPollInterval=30s',
        'tokenRequests[0].audience=api://AzureADTokenExchange',
        'logVerbosity=5',
        'logFormatJSON=true',
        'providerHealthCheck=true',
        'linux.kubeletRootDir=/var/snap/microk8s/common/var/lib/kubelet',
        'linux.additionalProvidersDirs={/etc/a}',
        'linux.priorityClassName=system-node-critical',
        'linux.env[0].name=A',
        'linux.env[0].value=b',
        'linux.crds.image.repository=registry.k8s.io/kubectl',
        'linux.crds.image.tag=v1.37.1',
        'linux.image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000',
      ],
    },
  ],
  [
    'Azure chart, the walkthrough values',
    AZURE_CHART,
    {
      includeCrds: true,
      set: [
        'secrets-store-csi-driver.syncSecret.enabled=true',
        'secrets-store-csi-driver.enableSecretRotation=true',
        'secrets-store-csi-driver.rotationPollInterval=2m',
      ],
    },
  ],
  [
    'Azure chart, provider options',
    AZURE_CHART,
    {
      set: [
        'secrets-store-csi-driver.install=false',
        'linux.privileged=true',
        'constructPEMChain=false',
        'writeCertAndKeyInSeparateFiles=true',
        'metricsAddr=9898',
        'linux.volumes[0].name=cloud',
        'linux.volumes[0].hostPath.path=/etc/kubernetes/custom.json',
        'linux.volumeMounts[0].name=cloud',
        'linux.volumeMounts[0].mountPath=/etc/kubernetes/custom.json',
      ],
    },
  ],
  ['directory chart', DIRECTORY_CHART, { set: ['linux.rootDir=/srv/secrets'] }],
];

describe('server-side dry-run against the real API server', function () {
  this.timeout(120_000);
  let client: KubernetesObjectApi;

  before(async () => {
    const world = await sharedTestWorld();
    client = KubernetesObjectApi.makeApiClient(world.kube.kubeConfig);
  });
  /**
   * A dry-run create; for an object that already exists (CRDs that another suite's `helm install` kept), a
   * dry-run replace of it, which the API server validates the same way.
   */
  const dryRun = async (object: KubernetesObject): Promise<void> => {
    try {
      await client.create(object, undefined, 'All');
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
      const current = await client.read(object as never);
      const replacement = structuredClone(object);
      replacement.metadata = Object.assign(replacement.metadata ?? {}, {
        resourceVersion: current.metadata?.resourceVersion,
      });
      await client.replace(replacement, undefined, 'All');
    }
  };

  for (const [name, chart, options] of combinations) {
    it(`accepts every object: ${name}`, async () => {
      const objects = await render(chart, options);
      expect(objects.length).to.be.at.least(2);
      for (const object of objects) {
        try {
          await dryRun(object);
        } catch (error) {
          throw new Error(`${object.kind}/${object.metadata.name} refused: ${(error as Error).message}`);
        }
      }
    });
  }

  it('refuses an object the API server finds invalid (the check can fail)', async () => {
    const [daemonSet] = (
      await render(DRIVER_CHART, { set: ['linux.driver.resources.limits.memory=lots'] })
    ).filter((object) => object.kind === 'DaemonSet');
    let refused: unknown;
    await client.create(daemonSet as KubernetesObject, undefined, 'All').catch((error: unknown) => {
      refused = error;
    });
    expect(String(refused)).to.match(/quantities must match|Invalid/);
  });
});
