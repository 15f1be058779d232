/**
 * The Azure provider chart (values of upstream's 1.8.2, with the driver chart as a dependency) and the
 * directory provider chart: what each value changes, asserted on the parsed `helm template` output.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  AZURE_CHART,
  DIRECTORY_CHART,
  chartPath,
  container,
  envValue,
  find,
  get,
  helm,
  manifestContainer,
  podSpec,
  podTemplateMetadata,
  render,
  renderText,
  type KubeObject,
} from './helm.js';

const AZURE_DS = 'csi-csi-secrets-store-provider-azure';
const DRIVER_DS = 'secrets-store-csi-driver';
const DIRECTORY_DS = 'csi-csi-secrets-store-provider-directory';

function azureArgs(objects: readonly KubeObject[]): readonly string[] {
  return container(get(objects, 'DaemonSet', AZURE_DS), 'provider-azure-installer').args ?? [];
}

describe('Azure provider chart', () => {
  describe('defaults', () => {
    let objects: KubeObject[];
    before(async () => {
      objects = await render(AZURE_CHART);
    });

    it("installs the driver (upstream's fullnameOverride) with the provider", () => {
      expect(get(objects, 'DaemonSet', DRIVER_DS)).to.exist;
      expect(get(objects, 'CSIDriver', 'secrets-store.csi.k8s.io')).to.exist;
      expect(container(get(objects, 'DaemonSet', DRIVER_DS), 'secrets-store').image).to.equal(
        'secrets-store-csi/driver:0.1.0',
      );
    });

    it('asks kubelet for workload identity and identity binding tokens', () => {
      const spec = get(objects, 'CSIDriver', 'secrets-store.csi.k8s.io').spec as Record<string, unknown>;
      expect(spec.tokenRequests).to.deep.equal([
        { audience: 'api://AzureADTokenExchange' },
        { audience: 'api://AKSIdentityBinding' },
      ]);
      expect(spec.requiresRepublish).to.equal(false);
    });

    it("passes the driver upstream's rotation interval and metrics address, and no Secret role", () => {
      const args = container(get(objects, 'DaemonSet', DRIVER_DS), 'secrets-store').args;
      expect(args).to.include.members(['--rotation-poll-interval=2m', '--metrics-addr=:8080']);
      expect(args).not.to.include('--enable-secret-rotation=true');
      expect(find(objects, 'ClusterRole', 'secretprovidersyncing-role')).to.equal(undefined);
    });

    it("runs the provider with upstream's flags, on the host network, with the socket in the providers directory", () => {
      expect(azureArgs(objects)).to.deep.equal([
        '--endpoint=unix:///provider/azure.sock',
        '--construct-pem-chain=true',
        '--healthz-port=8989',
        '--healthz-path=/healthz',
        '--healthz-timeout=5s',
        '--prometheus-port=8898',
      ]);
      const spec = podSpec(get(objects, 'DaemonSet', AZURE_DS));
      expect(spec).to.include({
        hostNetwork: true,
        dnsPolicy: 'ClusterFirstWithHostNet',
        serviceAccountName: 'csi-secrets-store-provider-azure',
      });
      expect(spec.volumes).to.deep.equal([
        {
          name: 'provider-vol',
          hostPath: { path: '/var/run/secrets-store-csi-providers', type: 'DirectoryOrCreate' },
        },
      ]);
      expect(JSON.stringify(spec.affinity)).to.include('virtual-kubelet');
    });

    it('keeps the service-account token (and its CA, which identity binding needs) mounted', () => {
      const account = get(objects, 'ServiceAccount', 'csi-secrets-store-provider-azure');
      expect(account).not.to.have.property('automountServiceAccountToken');
      expect(podSpec(get(objects, 'DaemonSet', AZURE_DS))).not.to.have.property(
        'automountServiceAccountToken',
      );
    });

    it('drops every capability, keeps the root filesystem read-only and forbids privilege escalation', () => {
      const provider = container(get(objects, 'DaemonSet', AZURE_DS), 'provider-azure-installer');
      expect(provider.securityContext).to.deep.equal({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsUser: 0,
        capabilities: { drop: ['ALL'] },
      });
      expect(provider.resources).to.deep.equal({
        requests: { cpu: '50m', memory: '112Mi' },
        limits: { cpu: '1', memory: '224Mi' },
      });
    });

    it('carries the measured resources and V8 flags of deploy/provider-azure (issue 13)', async () => {
      const provider = container(get(objects, 'DaemonSet', AZURE_DS), 'provider-azure-installer');
      const manifest = await manifestContainer('provider-azure', 'provider-azure-installer');
      expect(provider.resources).to.deep.equal(manifest.resources);
      expect(envValue(provider, 'NODE_OPTIONS')).to.equal('--max-semi-space-size=4 --max-old-space-size=128');
      expect(envValue(provider, 'NODE_OPTIONS')).to.equal(envValue(manifest, 'NODE_OPTIONS'));
      for (const name of ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']) {
        expect(envValue(provider, name), name).to.be.a('string');
        expect(envValue(provider, name), name).to.equal(envValue(manifest, name));
      }
      // Node starts with them (it refuses some V8 flags in NODE_OPTIONS).
      await promisify(execFile)(process.execPath, ['-e', '0'], {
        env: { PATH: process.env.PATH, NODE_OPTIONS: envValue(provider, 'NODE_OPTIONS') },
      });
    });

    it('linux.nodeOptions="" and linux.mallocEnv=null leave Node and glibc at their defaults', async () => {
      const rendered = await render(AZURE_CHART, { set: ['linux.nodeOptions=', 'linux.mallocEnv=null'] });
      const provider = container(get(rendered, 'DaemonSet', AZURE_DS), 'provider-azure-installer');
      expect(provider.env ?? []).to.deep.equal([]);
    });
  });

  it('the walkthrough values turn on Secret sync and rotation in the driver', async () => {
    const objects = await render(AZURE_CHART, {
      set: [
        'secrets-store-csi-driver.syncSecret.enabled=true',
        'secrets-store-csi-driver.enableSecretRotation=true',
        'secrets-store-csi-driver.rotationPollInterval=2m',
      ],
    });
    expect(get(objects, 'ClusterRole', 'secretprovidersyncing-role')).to.exist;
    expect(
      (get(objects, 'CSIDriver', 'secrets-store.csi.k8s.io').spec as Record<string, unknown>)
        .requiresRepublish,
    ).to.equal(true);
    expect(container(get(objects, 'DaemonSet', DRIVER_DS), 'secrets-store').args).to.include.members([
      '--enable-secret-rotation=true',
      '--rotation-poll-interval=2m',
    ]);
  });

  it('secrets-store-csi-driver.install=false installs the provider alone', async () => {
    const objects = await render(AZURE_CHART, { set: ['secrets-store-csi-driver.install=false'] });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).to.deep.equal([
      `DaemonSet/${AZURE_DS}`,
      'ServiceAccount/csi-secrets-store-provider-azure',
    ]);
  });

  it('provider values become flags: PEM chain off, separate files, user agent, logging, metrics port', async () => {
    const objects = await render(AZURE_CHART, {
      set: [
        'constructPEMChain=false',
        'writeCertAndKeyInSeparateFiles=true',
        'linux.customUserAgent=my-agent',
        'logVerbosity=5',
        'logFormatJSON=true',
        'metricsAddr=9898',
        'linux.healthzPort=9989',
        'linux.healthzPath=/live',
        'linux.healthzTimeout=3s',
      ],
    });
    expect(azureArgs(objects)).to.include.members([
      '--construct-pem-chain=false',
      '--write-cert-and-key-in-separate-files=true',
      '--custom-user-agent=my-agent',
      '-v=5',
      '--log-format-json=true',
      '--prometheus-port=9898',
      '--healthz-port=9989',
      '--healthz-path=/live',
      '--healthz-timeout=3s',
    ]);
    const provider = container(get(objects, 'DaemonSet', AZURE_DS), 'provider-azure-installer');
    expect(provider.ports).to.deep.equal([{ containerPort: 9898, name: 'metrics', protocol: 'TCP' }]);
    expect(provider.livenessProbe).to.deep.include({ httpGet: { path: '/live', port: 9989 } });
  });

  it('image, resources, privileged, volumes, providersDir and scheduling values reach the provider pod', async () => {
    const objects = await render(AZURE_CHART, {
      set: [
        'linux.image.repository=local/azure',
        'linux.image.tag=dev',
        'linux.resources.limits.memory=256Mi',
        'linux.privileged=true',
        'linux.providersDir=/run/p',
        'linux.volumes[0].name=cloud',
        'linux.volumes[0].hostPath.path=/etc/kubernetes/custom.json',
        'linux.volumeMounts[0].name=cloud',
        'linux.volumeMounts[0].mountPath=/etc/kubernetes/custom.json',
        'linux.nodeSelector.pool=a',
        'linux.priorityClassName=system-node-critical',
        'linux.podLabels.team=sec',
        'linux.podAnnotations.note=x',
        'imagePullSecrets[0].name=regcred',
        'linux.extraArgs[0]=--object-cache-ttl=30s',
        'linux.env[0].name=HTTPS_PROXY',
        'linux.env[0].value=http://proxy:3128',
      ],
    });
    const ds = get(objects, 'DaemonSet', AZURE_DS);
    const provider = container(ds, 'provider-azure-installer');
    expect(provider.env).to.deep.equal([
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=4 --max-old-space-size=128' },
      { name: 'MALLOC_ARENA_MAX', value: '1' },
      { name: 'MALLOC_MMAP_THRESHOLD_', value: '65536' },
      { name: 'MALLOC_TRIM_THRESHOLD_', value: '131072' },
      { name: 'HTTPS_PROXY', value: 'http://proxy:3128' },
    ]);
    expect(provider.image).to.equal('local/azure:dev');
    expect((provider.resources as { limits: Record<string, string> }).limits.memory).to.equal('256Mi');
    expect(provider.securityContext)
      .to.include({ privileged: true })
      .and.not.to.have.property('allowPrivilegeEscalation');
    expect(provider.args).to.include('--object-cache-ttl=30s');
    const spec = podSpec(ds);
    expect(spec.volumes?.[0]?.hostPath?.path).to.equal('/run/p');
    expect(spec.volumes).to.deep.include({
      name: 'cloud',
      hostPath: { path: '/etc/kubernetes/custom.json' },
    });
    expect(provider.volumeMounts).to.deep.include({
      name: 'cloud',
      mountPath: '/etc/kubernetes/custom.json',
    });
    expect(spec.nodeSelector).to.deep.equal({ 'kubernetes.io/os': 'linux', pool: 'a' });
    expect(spec.priorityClassName).to.equal('system-node-critical');
    expect(spec.imagePullSecrets).to.deep.equal([{ name: 'regcred' }]);
    expect(podTemplateMetadata(ds).labels).to.include({ team: 'sec' });
    expect(podTemplateMetadata(ds).annotations).to.deep.equal({ note: 'x' });
  });

  it('the driver subchart takes its values from the secrets-store-csi-driver block', async () => {
    const objects = await render(AZURE_CHART, {
      set: [
        'secrets-store-csi-driver.linux.kubeletRootDir=/var/snap/microk8s/common/var/lib/kubelet',
        'secrets-store-csi-driver.linux.registrarImage.repository=local/registrar',
        'secrets-store-csi-driver.linux.registrarImage.tag=1',
      ],
    });
    const ds = get(objects, 'DaemonSet', DRIVER_DS);
    expect(container(ds, 'node-driver-registrar').image).to.equal('local/registrar:1');
    expect(podSpec(ds).volumes?.find((v) => v.name === 'mountpoint-dir')?.hostPath?.path).to.equal(
      '/var/snap/microk8s/common/var/lib/kubelet/pods',
    );
  });

  it('windows.enabled=true is refused with a reason', async () => {
    let message = '';
    await renderText(AZURE_CHART, { set: ['windows.enabled=true'] }).catch((error: unknown) => {
      message = (error as Error).message;
    });
    expect(message).to.include('Linux nodes only');
  });

  it('helm lint passes', async () => {
    await helm(['lint', '--strict', await chartPath(AZURE_CHART)]);
  });
});

describe('directory provider chart', () => {
  it('serves the host directory read-only through a socket in the providers directory, without a token', async () => {
    const objects = await render(DIRECTORY_CHART);
    const ds = get(objects, 'DaemonSet', DIRECTORY_DS);
    const provider = container(ds, 'provider-directory');
    expect(provider.image).to.equal('secrets-store-csi/provider-directory:0.1.0');
    expect(provider.args).to.deep.equal([
      '--endpoint=unix:///provider/directory.sock',
      '--root-dir=/secrets',
      '--healthz-port=8990',
      '--healthz-path=/healthz',
      '--healthz-timeout=5s',
      '--prometheus-port=8899',
      '--max-response-size=4194304',
      '--shutdown-timeout=20s',
    ]);
    const spec = podSpec(ds);
    expect(spec.automountServiceAccountToken).to.equal(false);
    expect(spec.volumes).to.deep.equal([
      {
        name: 'providers-dir',
        hostPath: { path: '/var/run/secrets-store-csi-providers', type: 'DirectoryOrCreate' },
      },
      { name: 'root-dir', hostPath: { path: '/etc/secrets-store-directory', type: 'Directory' } },
    ]);
    expect(provider.volumeMounts).to.deep.include({
      name: 'root-dir',
      mountPath: '/secrets',
      readOnly: true,
    });
    expect(provider.securityContext).to.include({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(get(objects, 'ServiceAccount', DIRECTORY_DS).automountServiceAccountToken).to.equal(false);
    expect(provider.resources).to.deep.equal(
      (await manifestContainer('provider-directory', 'provider-directory')).resources,
    );
  });

  it('rootDir, providersDir, ports and logging values change what they name', async () => {
    const objects = await render(DIRECTORY_CHART, {
      set: [
        'linux.rootDir=/srv/secrets',
        'linux.providersDir=/run/p',
        'linux.healthzPort=9990',
        'linux.metricsPort=9899',
        'linux.maxResponseSize=1048576',
        'logVerbosity=5',
        'logFormatJSON=true',
      ],
    });
    const ds = get(objects, 'DaemonSet', DIRECTORY_DS);
    const provider = container(ds, 'provider-directory');
    expect(provider.args).to.include.members([
      '--healthz-port=9990',
      '--prometheus-port=9899',
      '--max-response-size=1048576',
      '-v=5',
      '--log-format-json=true',
    ]);
    expect(provider.ports).to.deep.equal([
      { name: 'healthz', containerPort: 9990, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9899, protocol: 'TCP' },
    ]);
    const hostPaths = (podSpec(ds).volumes ?? []).map((v) => v.hostPath?.path);
    expect(hostPaths).to.deep.equal(['/run/p', '/srv/secrets']);
    expect(podSpec(ds)).not.to.have.property('hostNetwork');
    const onHost = await render(DIRECTORY_CHART, { set: ['linux.hostNetwork=true'] });
    expect(podSpec(get(onHost, 'DaemonSet', DIRECTORY_DS)).hostNetwork).to.equal(true);
  });

  it('helm lint passes', async () => {
    await helm(['lint', '--strict', await chartPath(DIRECTORY_CHART)]);
  });
});
