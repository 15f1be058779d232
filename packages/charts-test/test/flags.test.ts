/**
 * Our binaries accept every flag the charts render: the rendered container args, with `$(VAR)` expanded as
 * kubelet does, go through the driver's and the providers' own flag parsers (the ones their main uses), with
 * defaults and with every option the charts turn into a flag.
 */
import { expect } from 'chai';
import { parseDriverArgs } from '@secrets-store-csi/driver';
import { azureProviderFlags } from '@secrets-store-csi/provider-azure';
import { directoryProviderFlags } from '@secrets-store-csi/provider-directory';
import { parseFlags, standardProviderFlags } from '@secrets-store-csi/provider-sdk';
import { AZURE_CHART, DIRECTORY_CHART, DRIVER_CHART, container, expandedArgs, get, render } from './helm.js';

const NODE = { KUBE_NODE_NAME: 'node-1' };

const everyDriverOption = [
  'logVerbosity=5',
  'logFormatJSON=true',
  'enableSecretRotation=true',
  'rotationPollInterval=45s',
  'providerHealthCheck=true',
  'providerHealthCheckInterval=30s',
  'maxCallRecvMsgSize=8388608',
  'linux.metricsAddr=:9100',
  'linux.providersDir=/run/p',
  'linux.additionalProvidersDirs={/etc/a,/etc/b}',
];

const azureSpecs = {
  ...standardProviderFlags({ endpoint: 'unix:///tmp/azure.sock', healthzPort: 8989, prometheusPort: 8898 }),
  ...azureProviderFlags,
};
const directorySpecs = {
  ...standardProviderFlags({
    endpoint: 'unix:///tmp/directory.sock',
    healthzPort: 8990,
    prometheusPort: 8899,
  }),
  ...directoryProviderFlags,
};

describe('flags the charts render', () => {
  it('the driver accepts its default arguments', async () => {
    const objects = await render(DRIVER_CHART);
    const args = expandedArgs(
      container(get(objects, 'DaemonSet', 'csi-secrets-store-csi-driver'), 'secrets-store'),
      NODE,
    );
    const { config } = parseDriverArgs(args);
    expect(config.endpoint).to.deep.equal(
      parseDriverArgs(['--endpoint=unix:///csi/csi.sock']).config.endpoint,
    );
    expect(config.nodeId).to.equal('node-1');
    expect(config.rotationEnabled).to.equal(false);
    expect(config.providerDirectories).to.deep.equal({
      additional: ['/etc/kubernetes/secrets-store-csi-providers'],
      primary: '/var/run/secrets-store-csi-providers',
    });
    expect(config.maxReceiveMessageBytes).to.equal(4194304);
    expect(config.providerHealthCheckIntervalMs).to.equal(undefined);
  });

  it('the driver accepts every option the chart turns into a flag, with the meaning of the value', async () => {
    const objects = await render(DRIVER_CHART, { set: everyDriverOption });
    const args = expandedArgs(
      container(get(objects, 'DaemonSet', 'csi-secrets-store-csi-driver'), 'secrets-store'),
      NODE,
    );
    const { config } = parseDriverArgs(args);
    expect(config).to.deep.include({
      logFormat: 'json',
      logLevel: 'debug',
      rotationEnabled: true,
      maxReceiveMessageBytes: 8388608,
      providerHealthCheckIntervalMs: 30_000,
      metricsAddress: { host: '', port: 9100 },
      providerDirectories: { additional: ['/etc/a', '/etc/b'], primary: '/run/p' },
    });
    expect(config.rotationPolicy.pollIntervalMs).to.equal(45_000);
  });

  it('the driver accepts the arguments the Azure chart gives it (upstream rotation interval, metrics on :8080)', async () => {
    const objects = await render(AZURE_CHART, {
      set: ['secrets-store-csi-driver.enableSecretRotation=true', 'secrets-store-csi-driver.logVerbosity=2'],
    });
    const args = expandedArgs(
      container(get(objects, 'DaemonSet', 'secrets-store-csi-driver'), 'secrets-store'),
      NODE,
    );
    const { config } = parseDriverArgs(args);
    expect(config.rotationPolicy.pollIntervalMs).to.equal(120_000);
    expect(config.metricsAddress).to.deep.equal({ host: '', port: 8080 });
  });

  for (const [name, set] of [
    ['defaults', []],
    [
      'every option',
      [
        'constructPEMChain=false',
        'writeCertAndKeyInSeparateFiles=true',
        'linux.customUserAgent=my-agent/1.0',
        'logVerbosity=5',
        'logFormatJSON=true',
        'metricsAddr=9898',
        'linux.healthzTimeout=3s',
        'linux.extraArgs[0]=--object-cache-ttl=30s',
      ],
    ],
  ] as const) {
    it(`the Azure provider accepts its arguments (${name})`, async () => {
      const objects = await render(AZURE_CHART, { set });
      const args = expandedArgs(
        container(
          get(objects, 'DaemonSet', 'csi-csi-secrets-store-provider-azure'),
          'provider-azure-installer',
        ),
      );
      const flags = parseFlags(azureSpecs, args);
      expect(flags.endpoint).to.equal('unix:///provider/azure.sock');
      if (name === 'every option') {
        expect(flags).to.deep.include({
          'construct-pem-chain': false,
          'write-cert-and-key-in-separate-files': true,
          'custom-user-agent': 'my-agent/1.0',
          v: 5,
          'log-format-json': true,
          'prometheus-port': 9898,
          'healthz-timeout': 3000,
          'object-cache-ttl': 30_000,
        });
      } else {
        expect(flags).to.deep.include({
          'construct-pem-chain': true,
          'prometheus-port': 8898,
          'healthz-port': 8989,
        });
      }
    });
  }

  it('the directory provider accepts its arguments with every option', async () => {
    const objects = await render(DIRECTORY_CHART, {
      set: [
        'logVerbosity=5',
        'logFormatJSON=true',
        'linux.maxResponseSize=1048576',
        'linux.shutdownTimeout=10s',
      ],
    });
    const args = expandedArgs(
      container(get(objects, 'DaemonSet', 'csi-csi-secrets-store-provider-directory'), 'provider-directory'),
    );
    expect(parseFlags(directorySpecs, args)).to.deep.include({
      endpoint: 'unix:///provider/directory.sock',
      'root-dir': '/secrets',
      'max-response-size': 1048576,
      'shutdown-timeout': 10_000,
      v: 5,
      'log-format-json': true,
    });
  });

  it('a flag our binaries do not know is refused (the check can fail)', () => {
    expect(() => parseDriverArgs(['--no-such-flag=1'])).to.throw(/no-such-flag/);
    expect(() => parseFlags(azureSpecs, ['--filtered-watch-secret=true'])).to.throw(/filtered-watch-secret/);
  });
});
