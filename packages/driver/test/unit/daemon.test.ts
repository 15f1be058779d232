import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { silentLogger } from '@secrets-store-csi/core';
import { CsiNodeClient } from '@secrets-store-csi/test-support';
import { parseDriverArgs } from '../../src/config.js';
import { startDriver } from '../../src/daemon.js';
import { FakeKubeAdapters } from '../../src/kube/fake.js';
import { FakeMounter } from '../../src/mount/index.js';
import { FakeProviderClients, filesAnswer, secretProviderClass } from '../helpers.js';

describe('startDriver', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves CSI and /metrics, publishes through its seams, and stops everything', async () => {
    const { config } = parseDriverArgs([
      `--endpoint=unix://${dir}/csi.sock`,
      '--nodeid=node-a',
      '--metrics-addr=127.0.0.1:0',
      '--provider-health-check',
      '--provider-health-check-interval=10ms',
      '--enable-pprof',
    ]);
    const kube = new FakeKubeAdapters({ nodeName: 'node-a' });
    kube.addSecretProviderClass(secretProviderClass());
    const providers = new FakeProviderClients();
    providers.respond('fake', () => filesAnswer({ a: '1' }));
    const driver = await startDriver(config, silentLogger, { kube, providers, mounter: new FakeMounter() });
    try {
      expect(kube.started).to.be.true;
      const client = new CsiNodeClient(driver.csiAddress);
      const target = join(dir, 'pods', 'u', 'volumes', 'kubernetes.io~csi', 'v', 'mount');
      const outcome = await client.publish({
        volume_id: 'csi-1',
        target_path: target,
        readonly: true,
        volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
        volume_context: {
          secretProviderClass: 'my-spc',
          'csi.storage.k8s.io/pod.name': 'p',
          'csi.storage.k8s.io/pod.namespace': 'default',
          'csi.storage.k8s.io/pod.uid': 'u',
        },
      });
      client.close();
      expect(outcome.ok).to.be.true;
      const metrics = await (await fetch(`http://127.0.0.1:${driver.metricsPort ?? 0}/metrics`)).text();
      expect(metrics).to.match(/^node_publish_total\{provider="fake",os_type="linux"\} 1$/m);
      await new Promise((resolve) => setTimeout(resolve, 50)); // a health check tick or two
    } finally {
      await driver.stop();
    }
    expect(kube.stopped).to.be.true;
    await stat(join(dir, 'csi.sock')).then(
      () => expect.fail('the socket is still there'),
      () => undefined,
    );
  });

  it('cleans up what it started when a later step fails', async () => {
    const { config } = parseDriverArgs([`--endpoint=unix://${dir}/no/such/dir/csi.sock`, '--metrics-addr=']);
    const kube = new FakeKubeAdapters();
    let failure: unknown;
    await startDriver(config, silentLogger, { kube, providers: new FakeProviderClients() }).catch(
      (error: unknown) => {
        failure = error;
      },
    );
    expect(failure).to.be.instanceOf(Error);
    expect(kube.stopped).to.be.true;
  });
});
