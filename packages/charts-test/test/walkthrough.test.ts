/**
 * The walkthrough, as users type it: the charts packaged and indexed into a chart repository (a folder served
 * over loopback), `helm repo add`, then `helm install <repo>/<chart> --set ...` into the real API server,
 * `helm upgrade` and `helm uninstall`. Pods need not run here (the test world has no node; the end-to-end
 * suite runs them); what helm creates, changes and removes is read back from the API server.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  RbacAuthorizationV1Api,
  StorageV1Api,
  type V1DaemonSet,
} from '@kubernetes/client-node';
import {
  serveChartRepository,
  sharedTestWorld,
  type ChartRepository,
  type TestWorld,
} from '@secrets-store-csi/test-support';
import { AZURE_CHART, DIRECTORY_CHART, DRIVER_CHART, helm, helmEnvironment, scratchDir } from './helm.js';

const REPO = 'csi-secrets-store-provider-azure';

function driverArgs(daemonSet: V1DaemonSet): string[] {
  return daemonSet.spec?.template.spec?.containers.find((c) => c.name === 'secrets-store')?.args ?? [];
}

describe('the walkthrough: helm repo add, helm install, upgrade and uninstall against the real API server', function () {
  this.timeout(180_000);
  let world: TestWorld;
  let repository: ChartRepository | undefined;
  let kubeconfig: string;

  before(async () => {
    world = await sharedTestWorld();
    kubeconfig = world.kube.adminKubeconfigPath;
    const repoDir = join(await scratchDir(), 'repo');
    await mkdir(repoDir, { recursive: true });
    // The documented way to make the repository: helm package + helm repo index, by scripts/chart-repo.sh.
    repository = await serveChartRepository(repoDir, await helmEnvironment());
    await helm(['repo', 'add', REPO, repository.url]);
  });

  after(async () => {
    await repository?.close();
  });

  it('the repository lists the three charts', async () => {
    const { stdout } = await helm(['search', 'repo', REPO, '--output', 'json']);
    const names = (JSON.parse(stdout) as { name: string }[]).map((entry) => entry.name).sort();
    expect(names).to.deep.equal(
      [AZURE_CHART, DIRECTORY_CHART, DRIVER_CHART].map((chart) => `${REPO}/${chart}`).sort(),
    );
  });

  it('helm install with the walkthrough values creates the driver, the provider, sync RBAC and rotation', async () => {
    await helm([
      'install',
      'csi',
      `${REPO}/${AZURE_CHART}`,
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'kube-system',
      '--set',
      'secrets-store-csi-driver.syncSecret.enabled=true',
      '--set',
      'secrets-store-csi-driver.enableSecretRotation=true',
      '--set',
      'secrets-store-csi-driver.rotationPollInterval=2m',
    ]);
    const kc = world.kube.kubeConfig;
    const apps = kc.makeApiClient(AppsV1Api);
    const driver = await apps.readNamespacedDaemonSet({
      name: 'secrets-store-csi-driver',
      namespace: 'kube-system',
    });
    expect(driverArgs(driver)).to.include.members([
      '--enable-secret-rotation=true',
      '--rotation-poll-interval=2m',
    ]);
    const provider = await apps.readNamespacedDaemonSet({
      name: 'csi-csi-secrets-store-provider-azure',
      namespace: 'kube-system',
    });
    expect(provider.spec?.template.spec?.hostNetwork).to.equal(true);
    const csiDriver = await kc
      .makeApiClient(StorageV1Api)
      .readCSIDriver({ name: 'secrets-store.csi.k8s.io' });
    expect(csiDriver.spec.requiresRepublish).to.equal(true);
    expect(csiDriver.spec.tokenRequests?.map((t) => t.audience)).to.deep.equal([
      'api://AzureADTokenExchange',
      'api://AKSIdentityBinding',
    ]);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    expect(
      (await rbac.readClusterRole({ name: 'secretprovidersyncing-role' })).rules?.[0]?.resources,
    ).to.deep.equal(['secrets']);
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    expect(crds.items.map((crd) => crd.metadata?.name)).to.include.members([
      'secretproviderclasses.secrets-store.csi.x-k8s.io',
      'secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io',
    ]);
  });

  it('helm upgrade changes rotationPollInterval in the driver DaemonSet', async () => {
    await helm([
      'upgrade',
      'csi',
      `${REPO}/${AZURE_CHART}`,
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'kube-system',
      '--reuse-values',
      '--set',
      'secrets-store-csi-driver.rotationPollInterval=1m',
    ]);
    const driver = await world.kube.kubeConfig
      .makeApiClient(AppsV1Api)
      .readNamespacedDaemonSet({ name: 'secrets-store-csi-driver', namespace: 'kube-system' });
    expect(driverArgs(driver))
      .to.include('--rotation-poll-interval=1m')
      .and.not.include('--rotation-poll-interval=2m');
  });

  it('helm uninstall removes the CSIDriver and the DaemonSets and keeps the CRDs', async () => {
    await helm(['uninstall', 'csi', '--kubeconfig', kubeconfig, '--namespace', 'kube-system', '--wait']);
    const kc = world.kube.kubeConfig;
    const storage = kc.makeApiClient(StorageV1Api);
    const drivers = await storage.listCSIDriver();
    expect(drivers.items.map((d) => d.metadata?.name)).not.to.include('secrets-store.csi.k8s.io');
    const daemonSets = await kc
      .makeApiClient(AppsV1Api)
      .listNamespacedDaemonSet({ namespace: 'kube-system' });
    expect(daemonSets.items.map((d) => d.metadata?.name)).to.deep.equal([]);
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    expect(crds.items.map((crd) => crd.metadata?.name)).to.include(
      'secretproviderclasses.secrets-store.csi.x-k8s.io',
    );
  });

  it('the directory provider chart installs from the same repository (server-side dry-run)', async () => {
    const { stdout } = await helm([
      'install',
      'dir',
      `${REPO}/${DIRECTORY_CHART}`,
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      'kube-system',
      '--dry-run=server',
      '--set',
      'linux.rootDir=/srv/secrets',
    ]);
    expect(stdout).to.include('kind: DaemonSet').and.include('path: /srv/secrets');
  });
});
