/**
 * explain against the real API server: pods, classes, pod statuses and events written with the driver's own
 * body builders (the objects a driver on a node writes), read back by the plugin as a user runs it.
 */
import { spawn } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import {
  API_VERSION_V1,
  GROUP,
  podStatusName,
  SECRET_PROVIDER_CLASS_PLURAL,
  SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
  SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
  type Condition,
  type SecretProviderClassObject,
} from '@secrets-store-csi/core';
import { expect } from 'chai';
// The driver's own builders of what it writes, so these objects are the ones a driver on a node writes.
import { eventBody } from '../../../driver/src/kube/events.js';
import { newPodStatusBody } from '../../../driver/src/kube/pod-statuses.js';
import { setCondition } from '../../../driver/src/publish/conditions.js';
import { run } from '../../src/main.js';
import type { Report } from '../../src/report.js';
import { collect, createServiceAccount, pluginWorld, type PluginWorld } from './world.js';

const NODE = 'node-1';
const pluginDir = new URL('../../', import.meta.url).pathname;

describe('explain against the real API server', function () {
  this.timeout(60_000);
  let w: PluginWorld;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let ns: string;

  before(async () => {
    w = await pluginWorld('plugin-explain');
    ns = w.namespace;
    core = w.kubeConfig.makeApiClient(CoreV1Api);
    custom = w.kubeConfig.makeApiClient(CustomObjectsApi);
    await createServiceAccount(w.kubeConfig, ns, 'app-sa');
  });

  async function createClass(name: string, annotations: Record<string, string> = {}): Promise<void> {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: 'v1',
      plural: SECRET_PROVIDER_CLASS_PLURAL,
      namespace: ns,
      body: {
        apiVersion: API_VERSION_V1,
        kind: 'SecretProviderClass',
        metadata: { name, annotations },
        spec: {
          provider: 'azure',
          parameters: { keyvaultName: 'kv1', tenantId: 'tenant-1', objects: 'array: []' },
        },
      },
    });
  }

  async function createPod(name: string, volumes: { name: string; spc: string }[]): Promise<V1Pod> {
    return core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name },
        spec: {
          nodeName: NODE,
          serviceAccountName: 'app-sa',
          automountServiceAccountToken: false,
          containers: [{ name: 'app', image: 'busybox' }],
          volumes: volumes.map((v) => ({
            name: v.name,
            csi: {
              driver: 'secrets-store.csi.k8s.io',
              readOnly: true,
              volumeAttributes: { secretProviderClass: v.spc },
            },
          })),
        },
      },
    });
  }

  async function writeStatus(
    pod: V1Pod,
    spc: string,
    mounted: boolean,
    objects: SecretProviderClassObject[],
    conditions: Condition[],
  ): Promise<void> {
    const podName = pod.metadata?.name ?? '';
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: 'v1',
      plural: SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
      namespace: ns,
      body: newPodStatusBody(
        {
          apiVersion: API_VERSION_V1,
          kind: SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
          metadata: {
            name: podStatusName(podName, ns, spc),
            namespace: ns,
            labels: {},
            ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: podName, uid: pod.metadata?.uid ?? '' }],
          },
          status: {
            podName,
            secretProviderClassName: spc,
            mounted,
            targetPath: `/var/lib/kubelet/pods/${pod.metadata?.uid ?? ''}/volumes/kubernetes.io~csi/secrets/mount`,
            objects,
            conditions,
          },
        },
        NODE,
      ),
    });
  }

  let sequence = 0;
  async function recordEvent(
    pod: V1Pod,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    at: Date,
  ): Promise<void> {
    const ref = { name: pod.metadata?.name ?? '', namespace: ns, uid: pod.metadata?.uid ?? '' };
    await core.createNamespacedEvent({
      namespace: ns,
      body: eventBody({ pod: ref, type, reason, message }, NODE, at, sequence++),
    });
  }

  async function explain(
    pod: string,
    extra: string[] = [],
  ): Promise<{ code: number; report: Report; err: string }> {
    const r = collect();
    const code = await run(
      ['explain', `pod/${pod}`, '-n', ns, '--kubeconfig', w.kubeconfigPath, '-o', 'json', ...extra],
      r.io,
    );
    return { code, report: JSON.parse(r.out.join('') || '{}') as Report, err: r.err.join('') };
  }

  it('shows a mounted volume: object names and versions, the node, the last refresh and the estimated next one', async () => {
    await createClass('azure-kv', { 'rotation.secrets-store.csi.k8s.io/poll-interval': '1h' });
    const pod = await createPod('app', [{ name: 'secrets', spc: 'azure-kv' }]);
    const mountedAt = new Date(Date.now() - 90 * 60_000);
    const rotatedAt = new Date(Date.now() - 10 * 60_000);
    const conditions = setCondition(
      [],
      { type: 'Mounted', status: 'True', reason: 'Mounted', message: 'volume mounted' },
      mountedAt,
    );
    await writeStatus(
      pod,
      'azure-kv',
      true,
      [
        { id: 'secret/db-password', version: '6d3f' },
        { id: 'cert/tls', version: 'a1b2' },
      ],
      conditions,
    );
    await recordEvent(
      pod,
      'Normal',
      'MountRotationComplete',
      `successfully rotated mounted contents for spc ${ns}/azure-kv`,
      rotatedAt,
    );

    const { code, report } = await explain('app');
    expect(code).to.equal(0);
    expect(report.kind).to.equal('PodExplanation');
    expect(report.pod).to.deep.include({ namespace: ns, name: 'app', node: NODE, serviceAccount: 'app-sa' });
    const [volume] = report.volumes;
    expect(volume).to.deep.include({
      name: 'secrets',
      secretProviderClass: 'azure-kv',
      provider: 'azure',
      classFound: true,
      state: 'Mounted',
      problems: [],
    });
    // the API server keeps the order the driver wrote (sorted by id)
    expect(volume?.objects).to.deep.equal([
      { id: 'cert/tls', version: 'a1b2' },
      { id: 'secret/db-password', version: '6d3f' },
    ]);
    expect(volume?.podStatus?.node).to.equal(NODE);
    expect(volume?.refresh?.lastRefresh?.source).to.equal('MountRotationComplete event (content changed)');
    expect(Date.parse(volume?.refresh?.lastRefresh?.at ?? '')).to.equal(
      Math.floor(rotatedAt.getTime() / 1000) * 1000,
    );
    expect(volume?.refresh?.intervalSource).to.equal('class annotation');
    expect(volume?.refresh?.intervalSeconds).to.equal(3600);
    expect(Date.parse(volume?.refresh?.nextDue ?? '')).to.equal(
      Date.parse(volume?.refresh?.lastRefresh?.at ?? '') + 3_600_000,
    );
  });

  it('explains a failed mount: the condition and the event the driver wrote, with cause and fix', async () => {
    await createClass('azure-wrong-client');
    const pod = await createPod('broken', [{ name: 'secrets', spc: 'azure-wrong-client' }]);
    const message =
      `failed to mount secrets store objects for pod ${ns}/broken, err: rpc error: code = PermissionDenied desc = ` +
      "failed to mount objects, error: failed to get objectType:secret, objectName:db, objectVersion:: AADSTS700016: Application with identifier '0000' was not found in the directory 'tenant-1'.";
    const now = new Date();
    await writeStatus(
      pod,
      'azure-wrong-client',
      false,
      [],
      setCondition([], { type: 'Mounted', status: 'False', reason: 'GRPCProviderError', message }, now),
    );
    await recordEvent(pod, 'Warning', 'GRPCProviderError', message, now);
    await recordEvent(pod, 'Warning', 'GRPCProviderError', message, new Date(now.getTime() + 1000));

    const { code, report } = await explain('broken');
    expect(code).to.equal(0);
    const [volume] = report.volumes;
    expect(volume?.state).to.equal('Failed');
    expect(volume?.objects).to.deep.equal([]);
    expect(volume?.problems).to.have.length(1);
    expect(volume?.problems[0]).to.deep.include({
      source: 'condition',
      type: 'Mounted',
      reason: 'GRPCProviderError',
      message,
    });
    expect(volume?.problems[0]?.diagnosis).to.deep.include({ id: 'client-not-found', category: 'identity' });
  });

  it('names a class that does not exist and keeps kubelet-style FailedMount events', async () => {
    const pod = await createPod('no-class', [{ name: 'secrets', spc: 'missing' }]);
    await core.createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { name: 'no-class.failedmount' },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'Pod',
          name: 'no-class',
          namespace: ns,
          uid: pod.metadata?.uid ?? '',
        },
        reason: 'FailedMount',
        type: 'Warning',
        message: `MountVolume.SetUp failed for volume "secrets" : rpc error: code = Unknown desc = failed to get secretproviderclass ${ns}/missing, error: secretproviderclasses.secrets-store.csi.x-k8s.io "missing" not found`,
        source: { component: 'kubelet', host: NODE },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 3,
      },
    });
    const { report } = await explain('no-class');
    const [volume] = report.volumes;
    expect(volume?.classFound).to.equal(false);
    expect(volume?.state).to.equal('Failed');
    expect(volume?.problems.map((p) => [p.source, p.reason, p.diagnosis?.id, p.count])).to.deep.equal([
      ['mount', 'SecretProviderClassNotFound', 'class-not-found', undefined],
      ['event', 'FailedMount', 'class-not-found', 3],
    ]);
  });

  it('answers a missing pod with the API server words and exit 1', async () => {
    const r = collect();
    const code = await run(['explain', 'pod/nope', '-n', ns, '--kubeconfig', w.kubeconfigPath], r.io);
    expect(code).to.equal(1);
    expect(r.err.join('')).to.equal(`error (NotFound): cannot read pod ${ns}/nope: pods "nope" not found\n`);
  });

  it('runs as kubectl runs it: the executable, KUBECONFIG from the environment, text output', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import=tsx', 'src/cli.ts', 'explain', 'app', `--namespace=${ns}`],
      {
        cwd: pluginDir,
        env: { ...process.env, KUBECONFIG: w.kubeconfigPath, NODE_EXTRA_CA_CERTS: w.world.pki.caCertPath },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
    expect(stdout).to.include(`Pod ${ns}/app (`);
    expect(stdout).to.include('Volume secrets: Mounted');
    expect(stdout).to.include('class:        azure-kv (provider azure)');
    expect(stdout).to.include('secret/db-password  version 6d3f');
    expect(stdout).to.match(/next due: +\S+ \(estimated\); interval 3600s from the class annotation/);
  });
});
