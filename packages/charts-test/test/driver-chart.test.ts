/**
 * The driver chart: each value of upstream's chart (1.6.0) changes what it says, and nothing else. Every test
 * renders with `helm template` and asserts on the parsed objects.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  CHARTS_SOURCE,
  DRIVER_CHART,
  container,
  envValue,
  expandedArgs,
  find,
  get,
  helm,
  kinds,
  manifestContainer,
  parseObjects,
  podSpec,
  podTemplateMetadata,
  render,
  renderText,
  strings,
  type KubeObject,
} from './helm.js';

const execFileAsync = promisify(execFile);
const DS = 'csi-secrets-store-csi-driver';
const DEPLOY_CRDS = join(CHARTS_SOURCE, '..', 'crds');

function driverArgs(objects: readonly KubeObject[], name = DS): string[] {
  return expandedArgs(container(get(objects, 'DaemonSet', name), 'secrets-store'));
}

function csiDriver(objects: readonly KubeObject[]): Record<string, unknown> {
  return get(objects, 'CSIDriver', 'secrets-store.csi.k8s.io').spec as Record<string, unknown>;
}

describe('driver chart', () => {
  describe('defaults', () => {
    let objects: KubeObject[];
    before(async () => {
      objects = await render(DRIVER_CHART);
    });

    it('renders the CSIDriver, the DaemonSet and the RBAC of upstream, without the Secret sync role', () => {
      expect(kinds(objects)).to.deep.equal(
        [
          'CSIDriver/secrets-store.csi.k8s.io',
          `DaemonSet/${DS}`,
          'ServiceAccount/secrets-store-csi-driver',
          'ClusterRole/secretproviderclasses-role',
          'ClusterRoleBinding/secretproviderclasses-rolebinding',
          'ClusterRole/secretproviderclasses-admin-role',
          'ClusterRole/secretproviderclasses-viewer-role',
          'ClusterRole/secretproviderclasspodstatuses-viewer-role',
        ].sort(),
      );
    });

    it('passes upstream default flags, and no rotation or health-check flag', () => {
      expect(driverArgs(objects)).to.deep.equal([
        '--endpoint=unix:///csi/csi.sock',
        '--nodeid=$(KUBE_NODE_NAME)',
        '--provider-volume=/var/run/secrets-store-csi-providers',
        '--additional-provider-volume-paths=/etc/kubernetes/secrets-store-csi-providers',
        '--metrics-addr=:8095',
        '--provider-health-check-interval=2m',
        '--max-call-recv-msg-size=4194304',
      ]);
    });

    it('runs our driver image and upstream sidecars', () => {
      const ds = get(objects, 'DaemonSet', DS);
      expect(container(ds, 'secrets-store').image).to.equal('secrets-store-csi/driver:0.1.0');
      expect(container(ds, 'node-driver-registrar').image).to.equal(
        'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.16.0',
      );
      expect(container(ds, 'liveness-probe').image).to.equal(
        'registry.k8s.io/sig-storage/livenessprobe:v2.18.0',
      );
    });

    it('mounts the kubelet pods directory Bidirectional in a privileged container with a read-only root', () => {
      const driver = container(get(objects, 'DaemonSet', DS), 'secrets-store');
      expect(driver.securityContext).to.deep.equal({ privileged: true, readOnlyRootFilesystem: true });
      const mounts = driver.volumeMounts as { name: string; mountPath: string; mountPropagation?: string }[];
      expect(mounts.find((m) => m.name === 'mountpoint-dir')).to.deep.equal({
        name: 'mountpoint-dir',
        mountPath: '/var/lib/kubelet/pods',
        mountPropagation: 'Bidirectional',
      });
    });

    it('does not ask kubelet to republish or for tokens: rotation is off', () => {
      const spec = csiDriver(objects);
      expect(spec).to.include({ podInfoOnMount: true, attachRequired: false, requiresRepublish: false });
      expect(spec.volumeLifecycleModes).to.deep.equal(['Ephemeral']);
      expect(spec).not.to.have.property('tokenRequests');
    });

    it('keeps the driver on Linux nodes but off virtual-kubelet ones, tolerating every taint', () => {
      const spec = podSpec(get(objects, 'DaemonSet', DS));
      expect(spec.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux' });
      expect(spec.tolerations).to.deep.equal([{ operator: 'Exists' }]);
      expect(JSON.stringify(spec.affinity)).to.include('virtual-kubelet');
      expect(spec.serviceAccountName).to.equal('secrets-store-csi-driver');
      expect(spec.automountServiceAccountToken).to.equal(true);
    });

    it('grants only the verbs the driver calls', () => {
      const rules = get(objects, 'ClusterRole', 'secretproviderclasses-role').rules as {
        resources: string[];
        verbs: string[];
      }[];
      const byResource = Object.fromEntries(rules.map((r) => [r.resources.join(','), r.verbs]));
      expect(byResource).to.deep.equal({
        events: ['create'],
        pods: ['get', 'list', 'watch'],
        secretproviderclasses: ['get', 'list', 'watch'],
        secretproviderclasspodstatuses: ['create', 'get', 'update'],
      });
    });

    it('sets the resources of the values to each container', async () => {
      const ds = get(objects, 'DaemonSet', DS);
      const driver = container(ds, 'secrets-store');
      expect(driver.resources).to.deep.equal({
        limits: { cpu: '800m', memory: '176Mi' },
        requests: { cpu: '50m', memory: '96Mi' },
      });
      // The measured figures (issue 13) are the raw manifest's too, V8 flags included.
      const manifest = await manifestContainer('driver', 'secrets-store');
      expect(driver.resources).to.deep.equal(manifest.resources);
      expect(envValue(driver, 'NODE_OPTIONS')).to.equal(envValue(manifest, 'NODE_OPTIONS'));
      expect(envValue(driver, 'NODE_OPTIONS')).to.equal(
        '--max-semi-space-size=1 --max-old-space-size=64 --jitless',
      );
      // Node refuses some V8 flags in NODE_OPTIONS at start (`--no-opt is not allowed in NODE_OPTIONS`).
      await execFileAsync(process.execPath, ['-e', '0'], {
        env: { PATH: process.env.PATH, NODE_OPTIONS: envValue(driver, 'NODE_OPTIONS') },
      });
      expect(container(ds, 'node-driver-registrar').resources).to.deep.equal({
        limits: { cpu: '100m', memory: '100Mi' },
        requests: { cpu: '10m', memory: '20Mi' },
      });
    });

    it('installs both CRDs from crds/ (never deleted by helm)', async () => {
      const withCrds = await render(DRIVER_CHART, { includeCrds: true });
      const crds = withCrds.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
      expect(crds.sort()).to.deep.equal([
        'secretproviderclasses.secrets-store.csi.x-k8s.io',
        'secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io',
      ]);
    });
  });

  it('linux.crds.image turns on the hook Job that re-applies the chart CRDs before install and upgrade', async () => {
    const objects = await render(DRIVER_CHART, {
      set: ['linux.crds.image.repository=registry.k8s.io/kubectl', 'linux.crds.image.tag=v1.37.1'],
    });
    const job = get(objects, 'Job', 'secrets-store-csi-driver-upgrade-crds');
    expect(job.metadata.annotations).to.include({ 'helm.sh/hook': 'pre-install,pre-upgrade' });
    const jobContainer = container(job, 'crds-upgrade');
    expect(jobContainer.image).to.equal('registry.k8s.io/kubectl:v1.37.1');
    expect(jobContainer.args).to.deep.equal(['apply', '--server-side', '--force-conflicts', '-f', '/crds/']);
    const configMap = get(objects, 'ConfigMap', 'csi-secrets-store-csi-driver-upgrade-crds');
    const applied = Object.values(configMap.data as Record<string, string>)
      .flatMap(parseObjects)
      .map((crd) => crd.metadata.name);
    const shipped = (await render(DRIVER_CHART, { includeCrds: true }))
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((crd) => crd.metadata.name);
    expect(applied.sort()).to.deep.equal(shipped.sort());
    const role = get(objects, 'ClusterRole', 'csi-secrets-store-csi-driver-upgrade-crds');
    expect(role.rules).to.deep.equal([
      {
        apiGroups: ['apiextensions.k8s.io'],
        resources: ['customresourcedefinitions'],
        verbs: ['get', 'create', 'update', 'patch'],
      },
    ]);
    expect(find(await render(DRIVER_CHART), 'Job', 'secrets-store-csi-driver-upgrade-crds')).to.equal(
      undefined,
    );
  });

  it('ships the same CRDs as deploy/crds', async () => {
    for (const file of await readdir(DEPLOY_CRDS)) {
      const chartCopy = await readFile(join(CHARTS_SOURCE, DRIVER_CHART, 'crds', file), 'utf8');
      expect(chartCopy, file).to.equal(await readFile(join(DEPLOY_CRDS, file), 'utf8'));
    }
  });

  it('linux.kubeletRootDir moves every kubelet path and leaves no /var/lib/kubelet anywhere', async () => {
    const objects = await render(DRIVER_CHART, { set: ['linux.kubeletRootDir=/opt/k8s/kubelet/'] });
    const ds = get(objects, 'DaemonSet', DS);
    expect(strings(objects).filter((s) => s.includes('/var/lib/kubelet'))).to.deep.equal([]);
    const hostPaths = Object.fromEntries(
      (podSpec(ds).volumes ?? []).map((volume) => [volume.name, volume.hostPath?.path]),
    );
    expect(hostPaths).to.include({
      'mountpoint-dir': '/opt/k8s/kubelet/pods',
      'registration-dir': '/opt/k8s/kubelet/plugins_registry/',
      'plugin-dir': '/opt/k8s/kubelet/plugins/csi-secrets-store/',
    });
    expect(container(ds, 'node-driver-registrar').args).to.include(
      '--kubelet-registration-path=/opt/k8s/kubelet/plugins/csi-secrets-store/csi.sock',
    );
    const mounts = container(ds, 'secrets-store').volumeMounts as { name: string; mountPath: string }[];
    expect(mounts.find((m) => m.name === 'mountpoint-dir')?.mountPath).to.equal('/opt/k8s/kubelet/pods');
  });

  it('no template hard-codes the kubelet root', async () => {
    const objects = await render(DRIVER_CHART, { set: ['linux.kubeletRootDir=/k'] });
    expect(strings(objects).filter((s) => /\/var\/lib\/kubelet/.test(s))).to.deep.equal([]);
  });

  it('syncSecret.enabled adds the Secret role and its binding to the driver account', async () => {
    const objects = await render(DRIVER_CHART, { set: ['syncSecret.enabled=true'] });
    const role = get(objects, 'ClusterRole', 'secretprovidersyncing-role');
    expect(role.rules).to.deep.equal([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'get', 'update'] },
    ]);
    const binding = get(objects, 'ClusterRoleBinding', 'secretprovidersyncing-rolebinding');
    expect(binding.subjects).to.deep.equal([
      { kind: 'ServiceAccount', name: 'secrets-store-csi-driver', namespace: 'kube-system' },
    ]);
    expect(binding.roleRef).to.include({ kind: 'ClusterRole', name: 'secretprovidersyncing-role' });
  });

  it('enableSecretRotation turns on requiresRepublish and the rotation flag; rotationPollInterval is passed', async () => {
    const objects = await render(DRIVER_CHART, {
      set: ['enableSecretRotation=true', 'rotationPollInterval=30s'],
    });
    expect(csiDriver(objects).requiresRepublish).to.equal(true);
    expect(driverArgs(objects)).to.include.members([
      '--enable-secret-rotation=true',
      '--rotation-poll-interval=30s',
    ]);
  });

  it('tokenRequests reach the CSIDriver; from Kubernetes 1.35 in the request secrets', async () => {
    const set = ['tokenRequests[0].audience=api://AzureADTokenExchange', 'tokenRequests[1].audience=aud2'];
    const current = csiDriver(await render(DRIVER_CHART, { set, kubeVersion: '1.37.1' }));
    expect(current.tokenRequests).to.deep.equal([
      { audience: 'api://AzureADTokenExchange' },
      { audience: 'aud2' },
    ]);
    expect(current.serviceAccountTokenInSecrets).to.equal(true);
    const older = csiDriver(await render(DRIVER_CHART, { set, kubeVersion: '1.34.2' }));
    expect(older.tokenRequests).to.have.length(2);
    expect(older).not.to.have.property('serviceAccountTokenInSecrets');
  });

  it('logVerbosity, logFormatJSON, maxCallRecvMsgSize and providerHealthCheck become flags', async () => {
    const objects = await render(DRIVER_CHART, {
      set: [
        'logVerbosity=5',
        'logFormatJSON=true',
        'maxCallRecvMsgSize=8388608',
        'providerHealthCheck=true',
        'providerHealthCheckInterval=30s',
      ],
    });
    expect(driverArgs(objects)).to.include.members([
      '-v=5',
      '--log-format-json=true',
      '--max-call-recv-msg-size=8388608',
      '--provider-health-check=true',
      '--provider-health-check-interval=30s',
    ]);
  });

  it('providersDir and additionalProvidersDirs are searched, mounted at their host paths, the main one once', async () => {
    const objects = await render(DRIVER_CHART, {
      set: [
        'linux.providersDir=/run/providers',
        'linux.additionalProvidersDirs={/etc/extra-a,/run/providers,/etc/extra-b}',
      ],
    });
    const ds = get(objects, 'DaemonSet', DS);
    expect(driverArgs(objects)).to.include.members([
      '--provider-volume=/run/providers',
      '--additional-provider-volume-paths=/etc/extra-a,/etc/extra-b',
    ]);
    const hostPaths = (podSpec(ds).volumes ?? []).flatMap((v) => (v.hostPath ? [v.hostPath.path] : []));
    expect(hostPaths.filter((p) => p.startsWith('/run/') || p.startsWith('/etc/'))).to.deep.equal([
      '/run/providers',
      '/etc/extra-a',
      '/etc/extra-b',
    ]);
    const mountPaths = (container(ds, 'secrets-store').volumeMounts as { mountPath: string }[]).map(
      (m) => m.mountPath,
    );
    expect(mountPaths).to.include.members(['/run/providers', '/etc/extra-a', '/etc/extra-b']);
  });

  it('linux.metricsAddr sets the flag and the metrics port', async () => {
    const objects = await render(DRIVER_CHART, { set: ['linux.metricsAddr=:9100'] });
    expect(driverArgs(objects)).to.include('--metrics-addr=:9100');
    const ports = container(get(objects, 'DaemonSet', DS), 'secrets-store').ports as {
      name: string;
      containerPort: number;
    }[];
    expect(ports.find((p) => p.name === 'metrics')?.containerPort).to.equal(9100);
  });

  it('images: repository, tag, digest and pull policy of the driver and both sidecars are overridable', async () => {
    const objects = await render(DRIVER_CHART, {
      set: [
        'linux.image.repository=example.com/driver',
        'linux.image.digest=sha256:0123',
        'linux.image.pullPolicy=Always',
        'linux.registrarImage.repository=local/registrar',
        'linux.registrarImage.tag=test',
        'linux.livenessProbeImage.repository=local/probe',
        'linux.livenessProbeImage.tag=t2',
      ],
    });
    const ds = get(objects, 'DaemonSet', DS);
    expect(container(ds, 'secrets-store')).to.include({
      image: 'example.com/driver@sha256:0123',
      imagePullPolicy: 'Always',
    });
    expect(container(ds, 'node-driver-registrar').image).to.equal('local/registrar:test');
    expect(container(ds, 'liveness-probe').image).to.equal('local/probe:t2');
  });

  it('scheduling values: nodeSelector, tolerations, affinity, priorityClassName, imagePullSecrets', async () => {
    const objects = await render(DRIVER_CHART, {
      set: [
        'linux.nodeSelector.pool=secrets',
        'linux.tolerations[0].key=dedicated',
        'linux.tolerations[0].operator=Equal',
        'linux.tolerations[0].value=x',
        'linux.affinity=null',
        'linux.priorityClassName=system-node-critical',
        'imagePullSecrets[0].name=regcred',
      ],
    });
    const spec = podSpec(get(objects, 'DaemonSet', DS));
    expect(spec.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux', pool: 'secrets' });
    expect(spec.tolerations).to.deep.equal([{ key: 'dedicated', operator: 'Equal', value: 'x' }]);
    expect(spec).not.to.have.property('affinity');
    expect(spec.priorityClassName).to.equal('system-node-critical');
    expect(spec.imagePullSecrets).to.deep.equal([{ name: 'regcred' }]);
  });

  it('labels, annotations, env, extra volumes and mounts, resources, update strategy reach the pods', async () => {
    const objects = await render(DRIVER_CHART, {
      set: [
        'linux.podLabels.team=sec',
        'linux.podAnnotations.note=x',
        'linux.daemonsetAnnotations.owner=ops',
        'commonLabels.cost=center',
        'linux.env[0].name=HTTPS_PROXY',
        'linux.env[0].value=http://proxy:3128',
        'linux.volumes[0].name=extra',
        'linux.volumes[0].emptyDir.medium=Memory',
        'linux.volumeMounts[0].name=extra',
        'linux.volumeMounts[0].mountPath=/extra',
        'linux.driver.resources.limits.memory=300Mi',
        'linux.updateStrategy.rollingUpdate.maxUnavailable=25%',
      ],
    });
    const ds = get(objects, 'DaemonSet', DS);
    const metadata = podTemplateMetadata(ds);
    expect(metadata.labels).to.include({ team: 'sec', cost: 'center', app: 'secrets-store-csi-driver' });
    expect(metadata.annotations).to.deep.equal({
      'kubectl.kubernetes.io/default-container': 'secrets-store',
      note: 'x',
    });
    expect(ds.metadata.annotations).to.deep.equal({ owner: 'ops' });
    expect((ds.metadata.labels as Record<string, string>).cost).to.equal('center');
    const driver = container(ds, 'secrets-store');
    expect(driver.env).to.deep.include({ name: 'HTTPS_PROXY', value: 'http://proxy:3128' });
    expect(driver.env?.map((e) => e.name)).to.include.members(['CSI_ENDPOINT', 'KUBE_NODE_NAME']);
    expect(podSpec(ds).volumes).to.deep.include({ name: 'extra', emptyDir: { medium: 'Memory' } });
    expect(driver.volumeMounts).to.deep.include({ name: 'extra', mountPath: '/extra' });
    expect((driver.resources as { limits: Record<string, string> }).limits.memory).to.equal('300Mi');
    expect((ds.spec as { updateStrategy: unknown }).updateStrategy).to.deep.equal({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '25%' },
    });
  });

  it('the DaemonSet is named after the release unless it contains the chart name or fullnameOverride is set', async () => {
    expect(find(await render(DRIVER_CHART, { release: 'x' }), 'DaemonSet', 'x-secrets-store-csi-driver')).to
      .exist;
    expect(
      find(
        await render(DRIVER_CHART, { release: 'secrets-store-csi-driver' }),
        'DaemonSet',
        'secrets-store-csi-driver',
      ),
    ).to.exist;
    expect(find(await render(DRIVER_CHART, { set: ['fullnameOverride=sscsi'] }), 'DaemonSet', 'sscsi')).to
      .exist;
  });

  it('linux.hostNetwork (ours) puts the driver pod in the node network, off by default', async () => {
    const spec = podSpec(
      get(await render(DRIVER_CHART, { set: ['linux.hostNetwork=true'] }), 'DaemonSet', DS),
    );
    expect(spec).to.include({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' });
    expect(podSpec(get(await render(DRIVER_CHART), 'DaemonSet', DS))).not.to.have.property('hostNetwork');
  });

  it('rbac.install=false leaves the service account and roles to the user', async () => {
    const objects = await render(DRIVER_CHART, { set: ['rbac.install=false'] });
    expect(objects.filter((o) => o.kind.includes('Role') || o.kind === 'ServiceAccount')).to.deep.equal([]);
  });

  it('linux.enabled=false renders no DaemonSet; windows.enabled=true is refused with a reason', async () => {
    expect(find(await render(DRIVER_CHART, { set: ['linux.enabled=false'] }), 'DaemonSet', DS)).to.equal(
      undefined,
    );
    let message = '';
    await renderText(DRIVER_CHART, { set: ['windows.enabled=true'] }).catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.include('Linux nodes only');
  });

  it('helm lint passes with defaults and with every option set', async () => {
    const { chartPath } = await import('./helm.js');
    const path = await chartPath(DRIVER_CHART);
    await helm(['lint', '--strict', path]);
    await helm([
      'lint',
      '--strict',
      path,
      '--set',
      'syncSecret.enabled=true,enableSecretRotation=true,rotationPollInterval=1m,logVerbosity=3,tokenRequests[0].audience=a',
    ]);
  });
});
