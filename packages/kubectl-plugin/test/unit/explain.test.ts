import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ClusterReader, Json } from '../../src/cluster.js';
import { estimateRefresh, explainPod, rotationInterval } from '../../src/explain.js';
import { run } from '../../src/main.js';
import { renderJson, renderText } from '../../src/render.js';

const NS = 'team';
const NOW = new Date('2026-12-03T12:00:00Z');

function attributesOf(spc: string | undefined): Record<string, string> {
  return spc === undefined ? {} : { secretProviderClass: spc };
}

function pod(volumes: { name: string; spc?: string }[]): V1Pod {
  return {
    metadata: { name: 'app', namespace: NS, uid: 'uid-1' },
    spec: {
      nodeName: 'node-1',
      serviceAccountName: 'app-sa',
      containers: [],
      volumes: [
        { name: 'scratch', emptyDir: {} },
        ...volumes.map((v) => ({
          name: v.name,
          csi: {
            driver: 'secrets-store.csi.k8s.io',
            readOnly: true,
            volumeAttributes: attributesOf(v.spc),
          },
        })),
      ],
    },
    status: { phase: 'Running' },
  };
}

function event(reason: string, message: string, at: string, extra: Partial<CoreV1Event> = {}): CoreV1Event {
  return {
    metadata: { name: `app.${reason}` },
    involvedObject: { kind: 'Pod', name: 'app', namespace: NS, uid: 'uid-1' },
    reason,
    message,
    type: 'Warning',
    source: { component: 'csi-secrets-store-driver', host: 'node-1' },
    lastTimestamp: new Date(at),
    count: 1,
    ...extra,
  };
}

class FakeReader implements ClusterReader {
  readonly defaultNamespace: string = 'default';
  readonly thePod: V1Pod;
  readonly classes: Record<string, Json>;
  readonly statuses: Record<string, Json>;
  readonly events: CoreV1Event[];
  constructor(
    thePod: V1Pod,
    classes: Record<string, Json>,
    statuses: Record<string, Json>,
    events: CoreV1Event[],
  ) {
    this.thePod = thePod;
    this.classes = classes;
    this.statuses = statuses;
    this.events = events;
  }
  pod() {
    return Promise.resolve(this.thePod);
  }
  secretProviderClass(_ns: string, name: string) {
    return Promise.resolve(this.classes[name]);
  }
  podStatus(_ns: string, name: string) {
    return Promise.resolve(this.statuses[name]);
  }
  podEvents() {
    return Promise.resolve(this.events);
  }
  tokenAudiences() {
    return Promise.resolve(undefined);
  }
  serviceAccountTokens(): Promise<Record<string, { token: string; expirationTimestamp: string }>> {
    return Promise.reject(new Error('not in explain'));
  }
  secretData(): Promise<Record<string, string>> {
    return Promise.reject(new Error('not in explain'));
  }
}

const spc = (name: string, annotations: Record<string, string> = {}): Json => ({
  metadata: { name, namespace: NS, annotations },
  spec: { provider: 'azure', parameters: { keyvaultName: 'kv1' } },
});

const status = (spcName: string, fields: Json): Json => ({
  metadata: {
    name: `app-${NS}-${spcName}`,
    labels: { 'internal.secrets-store.csi.k8s.io/node-name': 'node-1' },
  },
  status: {
    podName: 'app',
    secretProviderClassName: spcName,
    targetPath: '/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/secrets/mount',
    ...fields,
  },
});

const mountedStatus = (spcName: string, extra: Json = {}) =>
  status(spcName, {
    mounted: true,
    objects: [
      { id: 'secret/db-password', version: 'v7' },
      { id: 'cert/tls', version: 'c2' },
    ],
    conditions: [
      {
        type: 'Mounted',
        status: 'True',
        reason: 'Mounted',
        message: 'volume mounted',
        lastTransitionTime: '2026-12-03T11:00:00Z',
      },
    ],
    ...extra,
  });

describe('explain', () => {
  it('reports a mounted volume: objects and versions, pod status node, refresh estimate from the flag', async () => {
    const reader = new FakeReader(
      pod([{ name: 'secrets', spc: 'azure-kv' }]),
      { 'azure-kv': spc('azure-kv') },
      {
        [`app-${NS}-azure-kv`]: mountedStatus('azure-kv'),
      },
      [],
    );
    const report = await explainPod(reader, {
      namespace: NS,
      pod: 'app',
      rotationPollIntervalMs: 120_000,
      now: () => NOW,
    });
    expect(report.pod).to.deep.equal({
      namespace: NS,
      name: 'app',
      uid: 'uid-1',
      node: 'node-1',
      phase: 'Running',
      serviceAccount: 'app-sa',
    });
    expect(report.volumes).to.have.length(1);
    const [volume] = report.volumes;
    expect(volume).to.deep.include({
      name: 'secrets',
      secretProviderClass: 'azure-kv',
      provider: 'azure',
      classFound: true,
      state: 'Mounted',
      objects: [
        { id: 'secret/db-password', version: 'v7' },
        { id: 'cert/tls', version: 'c2' },
      ],
      problems: [],
    });
    expect(volume?.podStatus?.node).to.equal('node-1');
    // mounted at 11:00, interval 2m: the next multiple after 12:00 is 12:02
    expect(volume?.refresh).to.deep.include({
      lastRefresh: { at: '2026-12-03T11:00:00.000Z', source: 'Mounted condition (first mount)' },
      nextDue: '2026-12-03T12:02:00.000Z',
      intervalSeconds: 120,
      intervalSource: 'driver flag (given or default)',
      estimated: true,
    });
    const text = renderText(report);
    expect(text).to.include('Volume secrets: Mounted');
    expect(text).to.include('secret/db-password  version v7');
    expect(text).to.include('next due:     2026-12-03T12:02:00.000Z (estimated)');
    expect(JSON.parse(renderJson(report))).to.deep.equal(JSON.parse(JSON.stringify(report)));
  });

  it("takes the class's interval annotation and the latest MountRotationComplete event", async () => {
    const reader = new FakeReader(
      pod([{ name: 'secrets', spc: 'azure-kv' }]),
      { 'azure-kv': spc('azure-kv', { 'rotation.secrets-store.csi.k8s.io/poll-interval': '10m' }) },
      { [`app-${NS}-azure-kv`]: mountedStatus('azure-kv') },
      [
        event(
          'MountRotationComplete',
          'successfully rotated mounted contents for spc team/azure-kv',
          '2026-12-03T11:55:00Z',
          {
            type: 'Normal',
            source: { component: 'csi-secrets-store-rotation' },
          },
        ),
      ],
    );
    const report = await explainPod(reader, {
      namespace: NS,
      pod: 'app',
      rotationPollIntervalMs: 120_000,
      now: () => NOW,
    });
    expect(report.volumes[0]?.refresh).to.deep.include({
      lastRefresh: {
        at: '2026-12-03T11:55:00.000Z',
        source: 'MountRotationComplete event (content changed)',
      },
      nextDue: '2026-12-03T12:05:00.000Z',
      intervalSeconds: 600,
      intervalSource: 'class annotation',
    });
    // a Normal event is no problem
    expect(report.volumes[0]?.problems).to.deep.equal([]);
  });

  it('explains a failed mount from its condition and merges repeated events into one with a count', async () => {
    const message =
      'failed to mount secrets store objects for pod team/app, err: rpc error: code = PermissionDenied desc = failed to mount objects, error: AADSTS700016: Application with identifier x was not found';
    const reader = new FakeReader(
      pod([{ name: 'secrets', spc: 'azure-kv' }]),
      { 'azure-kv': spc('azure-kv') },
      {
        [`app-${NS}-azure-kv`]: status('azure-kv', {
          mounted: false,
          objects: [],
          conditions: [
            {
              type: 'Mounted',
              status: 'False',
              reason: 'GRPCProviderError',
              message,
              lastTransitionTime: '2026-12-03T11:59:00Z',
            },
          ],
        }),
      },
      [
        event('GRPCProviderError', message, '2026-12-03T11:58:00Z'),
        event('GRPCProviderError', message, '2026-12-03T11:59:00Z', { count: 2 }),
        event(
          'FailedMount',
          `MountVolume.SetUp failed for volume "secrets" : rpc error: code = PermissionDenied desc = ${message}`,
          '2026-12-03T11:59:30Z',
          {
            source: { component: 'kubelet' },
          },
        ),
        event('FailedScheduling', '0/1 nodes are available', '2026-12-03T10:00:00Z', {
          source: { component: 'default-scheduler' },
        }),
      ],
    );
    const report = await explainPod(reader, {
      namespace: NS,
      pod: 'app',
      rotationPollIntervalMs: 120_000,
      now: () => NOW,
    });
    const [volume] = report.volumes;
    expect(volume?.state).to.equal('Failed');
    expect(volume?.refresh).to.equal(undefined);
    expect(volume?.problems.map((p) => [p.source, p.reason, p.diagnosis?.id, p.count])).to.deep.equal([
      ['condition', 'GRPCProviderError', 'client-not-found', undefined],
      ['event', 'FailedMount', 'client-not-found', 1],
    ]);
    expect(report.problems).to.deep.equal([]);
    const text = renderText(report);
    expect(text).to.include('Volume secrets: Failed');
    expect(text).to.include('cause (identity): the client ID is not an application or managed identity');
    expect(text).to.include('fix: correct clientID');
  });

  it('says a refresh is failing while the last good content stays mounted, and prints unknown status fields as they are', async () => {
    const reader = new FakeReader(
      pod([{ name: 'secrets', spc: 'azure-kv' }]),
      { 'azure-kv': spc('azure-kv') },
      {
        [`app-${NS}-azure-kv`]: mountedStatus('azure-kv', {
          conditions: [
            {
              type: 'Mounted',
              status: 'True',
              reason: 'Mounted',
              message: 'volume mounted',
              lastTransitionTime: '2026-12-03T11:00:00Z',
            },
            {
              type: 'Refreshed',
              status: 'False',
              reason: 'GRPCProviderError',
              message:
                'rpc error: code = ResourceExhausted desc = Key Vault throttled the request (429 Too Many Requests)',
              lastTransitionTime: '2026-12-03T11:58:00Z',
            },
            {
              type: 'ObjectsAbsent',
              status: 'True',
              reason: 'OptionalObjectAbsent',
              message: 'secret/flag',
              lastTransitionTime: '2026-12-03T11:00:00Z',
            },
          ],
          absentObjects: [{ id: 'secret/flag', reason: 'NotFound' }],
        }),
      },
      [],
    );
    const report = await explainPod(reader, {
      namespace: NS,
      pod: 'app',
      rotationPollIntervalMs: 120_000,
      now: () => NOW,
    });
    const [volume] = report.volumes;
    expect(volume?.state).to.equal('RefreshFailing');
    expect(volume?.problems.map((p) => [p.type, p.diagnosis?.id])).to.deep.equal([
      ['Refreshed', 'vault-throttled'],
      ['ObjectsAbsent', 'optional-object-absent'],
    ]);
    expect(volume?.refresh?.nextDue).to.equal(undefined);
    expect(volume?.refresh?.note).to.match(/last refresh failed/);
    expect(volume?.podStatus?.status.absentObjects).to.deep.equal([
      { id: 'secret/flag', reason: 'NotFound' },
    ]);
    const text = renderText(report);
    expect(text).to.include('absentObjects: [{"id":"secret/flag","reason":"NotFound"}]');
    expect(text).to.include(
      'ObjectsAbsent=True OptionalObjectAbsent since 2026-12-03T11:00:00Z: secret/flag',
    );
    expect(text).to.include('Volume secrets: RefreshFailing');
  });

  it('names a missing class, a volume without one, and keeps events of another volume at pod level', async () => {
    const reader = new FakeReader(
      pod([{ name: 'a', spc: 'gone' }, { name: 'b' }, { name: 'c', spc: 'pending' }]),
      { pending: spc('pending') },
      {},
      [
        event(
          'FailedMount',
          'MountVolume.SetUp failed for volume "a" : secretproviderclasses.secrets-store.csi.x-k8s.io "gone" not found',
          '2026-12-03T11:59:00Z',
          { source: { component: 'kubelet' } },
        ),
        event('GRPCProviderError', 'something about another thing', '2026-12-03T11:59:00Z'),
      ],
    );
    const report = await explainPod(reader, {
      namespace: NS,
      pod: 'app',
      rotationPollIntervalMs: 120_000,
      now: () => NOW,
    });
    expect(
      report.volumes.map((v) => [v.name, v.state, v.classFound, v.problems.map((p) => p.diagnosis?.id)]),
    ).to.deep.equal([
      ['a', 'Failed', false, ['class-not-found', 'class-not-found']],
      ['b', 'Failed', false, ['class-missing-attribute']],
      ['c', 'Pending', true, []],
    ]);
    expect(report.problems.map((p) => p.reason)).to.deep.equal(['GRPCProviderError']);
    expect(renderText(report)).to.include('Pod events:');
    expect(renderText(report)).to.include('pod status:   none (the driver has not mounted this volume yet)');
  });

  it('says when a pod has no secrets-store volume', async () => {
    const reader = new FakeReader(pod([]), {}, {}, []);
    const report = await explainPod(reader, {
      namespace: NS,
      pod: 'app',
      rotationPollIntervalMs: 120_000,
      now: () => NOW,
    });
    expect(report.volumes).to.deep.equal([]);
    expect(report.problems[0]?.reason).to.equal('NoSecretsStoreVolumes');
  });

  it('ignores a bad interval annotation as the driver does, and floors a short one at 5s', () => {
    expect(
      rotationInterval(spc('x', { 'rotation.secrets-store.csi.k8s.io/poll-interval': 'soon' }), 60_000),
    ).to.deep.equal({
      ms: 60_000,
      source: 'driver flag (given or default)',
    });
    expect(
      rotationInterval(spc('x', { 'rotation.secrets-store.csi.k8s.io/poll-interval': '1s' }), 60_000).ms,
    ).to.equal(5000);
    expect(
      estimateRefresh({
        conditions: [],
        events: [],
        interval: { ms: 60_000, source: 'class annotation' },
        now: NOW,
      }),
    )
      .to.deep.include({
        intervalSeconds: 60,
        estimated: true,
      })
      .and.not.have.property('nextDue');
  });
});

describe('the plugin command', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
  };

  it('prints -o json, uses the context namespace by default, and exits 2 on bad arguments', async () => {
    let asked = '';
    class ContextReader extends FakeReader {
      override readonly defaultNamespace = 'ctx-ns';
      override pod(namespace?: string) {
        asked = namespace ?? '';
        return super.pod();
      }
    }
    const reader = new ContextReader(pod([]), {}, {}, []);
    const r = io();
    const code = await run(['explain', 'pod/app', '-o', 'json'], r.io, { reader: () => reader });
    expect(code).to.equal(0);
    expect(asked).to.equal('ctx-ns');
    const parsed = JSON.parse(r.out.join('')) as {
      apiVersion: string;
      kind: string;
      pod: { namespace: string };
    };
    expect(parsed).to.deep.include({
      apiVersion: 'secrets-store.csi.k8s.io/v1alpha1',
      kind: 'PodExplanation',
    });
    expect(parsed.pod.namespace).to.equal('ctx-ns');

    const bad = io();
    expect(await run(['explain', 'svc/x'], bad.io)).to.equal(2);
    expect(bad.err.join('')).to.match(/^error: explain takes a pod/);
  });

  it('prints help and version, and an API failure as an error with exit 1', async () => {
    const help = io();
    expect(await run(['--help'], help.io)).to.equal(0);
    expect(help.out.join('')).to.include('kubectl secrets-store explain');
    const version = io();
    expect(await run(['version'], version.io)).to.equal(0);
    expect(version.out.join('')).to.match(/^kubectl-secrets_store \d+\.\d+\.\d+/);
    const failing = io();
    const code = await run(['explain', 'app'], failing.io, {
      reader: () => {
        throw new Error('no cluster');
      },
    });
    expect(code).to.equal(1);
    expect(failing.err.join('')).to.equal('error: no cluster\n');
  });

  it('refuses a kubeconfig that does not exist or a context it lacks', async () => {
    const r = io();
    expect(await run(['explain', 'app', '--kubeconfig', '/nonexistent/config'], r.io)).to.equal(1);
    expect(r.err.join('')).to.match(/KubeconfigError.*cannot load the kubeconfig \/nonexistent\/config/);
  });
});
