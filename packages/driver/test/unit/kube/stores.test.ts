import { expect } from 'chai';
import type { V1Secret } from '@kubernetes/client-node';
import {
  isCodedError,
  MANAGED_SECRET_LABEL,
  NODE_NAME_LABEL,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import {
  KubePodStatusStore,
  newPodStatusBody,
  updatedPodStatusBody,
  type PodStatusesApi,
} from '../../../src/kube/pod-statuses.js';
import { KubePodSource, type PodsApi } from '../../../src/kube/pods.js';
import {
  KubeSecretProviderClassSource,
  type SecretProviderClassesApi,
} from '../../../src/kube/secret-provider-classes.js';
import { KubeSecretStore, type SecretsApi } from '../../../src/kube/secrets.js';
import type { DesiredSecret } from '../../../src/sync/desired-secret.js';
import { apiException, recordingLogger } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

const conflict = () => apiException(409, 'Conflict', 'the object has been modified');

describe('KubeSecretStore (stubbed API)', () => {
  const desired: DesiredSecret = {
    name: 'db',
    namespace: 'app',
    type: 'Opaque',
    labels: { [MANAGED_SECRET_LABEL]: 'true' },
    annotations: {},
    data: { password: new TextEncoder().encode('do-not-log-me') },
  };
  const stored = (): V1Secret => ({
    metadata: {
      name: 'db',
      namespace: 'app',
      resourceVersion: '5',
      labels: { [MANAGED_SECRET_LABEL]: 'true' },
    },
    type: 'Opaque',
    data: { password: Buffer.from('old').toString('base64') },
  });

  function stub(replies: { replace?: unknown[]; create?: unknown[]; read?: unknown[] }) {
    const calls: string[] = [];
    const next = (list: unknown[] | undefined, fallback: () => unknown) => {
      const reply = list?.shift() ?? fallback();
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply as V1Secret);
    };
    const api: SecretsApi = {
      readNamespacedSecret: () => {
        calls.push('read');
        return next(replies.read, stored);
      },
      createNamespacedSecret: () => {
        calls.push('create');
        return next(replies.create, stored);
      },
      replaceNamespacedSecret: (request) => {
        calls.push(`replace@${request.body.metadata?.resourceVersion ?? ''}`);
        return next(replies.replace, stored);
      },
    };
    return { api, calls };
  }

  it('retries the read and update after a Conflict', async () => {
    const { api, calls } = stub({ replace: [conflict(), conflict()] });
    expect(await new KubeSecretStore(api, recordingLogger()).apply(desired, [])).to.equal('updated');
    expect(calls).to.deep.equal(['read', 'replace@5', 'read', 'replace@5', 'read', 'replace@5']);
  });

  it('gives up after three retries with FailedToCreateSecret', async () => {
    const { api, calls } = stub({ replace: [conflict(), conflict(), conflict(), conflict()] });
    const error = await rejection(new KubeSecretStore(api, recordingLogger()).apply(desired, []));
    expect(error.code).to.equal('FailedToCreateSecret');
    expect(error.message).to.include('failed to update secret app/db: the object has been modified');
    expect(calls.filter((c) => c.startsWith('replace'))).to.have.length(4);
  });

  it('reads again and updates when someone created the Secret between our read and create', async () => {
    const notFound = apiException(404, 'NotFound', 'secrets "db" not found');
    const { api, calls } = stub({
      read: [notFound],
      create: [apiException(409, 'AlreadyExists', 'secrets "db" already exists')],
    });
    expect(await new KubeSecretStore(api, recordingLogger()).apply(desired, [])).to.equal('updated');
    expect(calls).to.deep.equal(['read', 'create', 'read', 'replace@5']);
  });

  it('reports 403 as KubernetesForbidden with upstream hint, and no secret value', async () => {
    const { api } = stub({
      read: [apiException(403, 'Forbidden', 'secrets "db" is forbidden: User "driver" cannot get resource')],
    });
    const error = await rejection(new KubeSecretStore(api, recordingLogger()).apply(desired, []));
    expect(error.code).to.equal('KubernetesForbidden');
    expect(error.message).to.include(
      "the driver's RBAC role does not allow it to get secrets in namespace app",
    );
    expect(error.message).to.include('ensure syncSecret.enabled=true is set.');
    expect(error.message).not.to.include('do-not-log-me');
  });
});

describe('KubePodStatusStore (stubbed API)', () => {
  const desired: SecretProviderClassPodStatus = {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClassPodStatus',
    metadata: {
      name: 'web-0-app-kv',
      namespace: 'app',
      labels: { [NODE_NAME_LABEL]: 'node-a' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: 'pod-uid' }],
    },
    status: {
      podName: 'web-0',
      secretProviderClassName: 'kv',
      mounted: true,
      targetPath: '/var/lib/kubelet/pods/pod-uid/volumes/kubernetes.io~csi/v/mount',
      objects: [
        { id: 'secret/b', version: '2' },
        { id: 'secret/a', version: '1' },
      ],
      conditions: [
        {
          type: 'Mounted',
          status: 'True',
          reason: 'Mounted',
          message: '',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
    },
  };

  it('creates with our node label, the owners, sorted objects and the conditions', () => {
    const body = newPodStatusBody(desired, 'node-z');
    expect(body).to.deep.equal({
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClassPodStatus',
      metadata: {
        name: 'web-0-app-kv',
        namespace: 'app',
        labels: { [NODE_NAME_LABEL]: 'node-z' },
        ownerReferences: desired.metadata.ownerReferences,
      },
      status: {
        ...desired.status,
        objects: [
          { id: 'secret/a', version: '1' },
          { id: 'secret/b', version: '2' },
        ],
      },
    });
  });

  it('updates as upstream: node label replaced, other labels kept, owners and status replaced', () => {
    const existing = {
      apiVersion: 'secrets-store.csi.x-k8s.io/v1',
      kind: 'SecretProviderClassPodStatus',
      metadata: {
        name: 'web-0-app-kv',
        namespace: 'app',
        resourceVersion: '9',
        uid: 'spcps-uid',
        labels: { [NODE_NAME_LABEL]: 'node-old', team: 'x' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'old', uid: 'old-uid' }],
      },
      status: {
        podName: 'old',
        secretProviderClassName: 'kv',
        mounted: false,
        targetPath: '/old',
        objects: [],
      },
    };
    const body = updatedPodStatusBody(existing, desired, 'node-a') as typeof existing;
    expect(body.metadata).to.deep.equal({
      ...existing.metadata,
      labels: { [NODE_NAME_LABEL]: 'node-a', team: 'x' },
      ownerReferences: desired.metadata.ownerReferences,
    });
    expect(body.status.objects.map((o: { id: string }) => o.id)).to.deep.equal(['secret/a', 'secret/b']);
    expect(body.status.podName).to.equal('web-0');
  });

  it('on AlreadyExists reads the object and replaces it with its resourceVersion, retrying Conflicts', async () => {
    const calls: string[] = [];
    const server = (version: string) => ({
      ...newPodStatusBody(desired, 'node-a'),
      metadata: { ...(newPodStatusBody(desired, 'node-a').metadata as object), resourceVersion: version },
    });
    let replaces = 0;
    const api: PodStatusesApi = {
      createNamespacedCustomObject: () => {
        calls.push('create');
        return Promise.reject(apiException(409, 'AlreadyExists', 'already exists'));
      },
      getNamespacedCustomObject: () => {
        calls.push('get');
        return Promise.resolve(server(String(10 + replaces)));
      },
      replaceNamespacedCustomObject: (request) => {
        const body = request.body as { metadata: { resourceVersion: string } };
        calls.push(`replace@${body.metadata.resourceVersion}`);
        return ++replaces < 3 ? Promise.reject(conflict()) : Promise.resolve(request.body);
      },
    };
    const stored = await new KubePodStatusStore(api, 'node-a', recordingLogger()).upsert(desired);
    expect(calls).to.deep.equal(['create', 'get', 'replace@10', 'get', 'replace@11', 'get', 'replace@12']);
    expect(stored.metadata.resourceVersion).to.equal('12');
    expect(stored.status.conditions?.[0]?.type).to.equal('Mounted');
  });

  it('updates an object it wrote with one request, and falls back to create/get/update on a Conflict', async () => {
    const calls: string[] = [];
    let version = 1;
    let conflictNext = false;
    const stored = (body: object) => ({
      ...body,
      metadata: { ...(body as { metadata: object }).metadata, resourceVersion: String(version++) },
    });
    const api: PodStatusesApi = {
      createNamespacedCustomObject: (request) => {
        calls.push('create');
        return calls.length === 1
          ? Promise.resolve(stored(request.body as object))
          : Promise.reject(apiException(409, 'AlreadyExists', 'already exists'));
      },
      getNamespacedCustomObject: () => {
        calls.push('get');
        return Promise.resolve(stored(newPodStatusBody(desired, 'node-a')));
      },
      replaceNamespacedCustomObject: (request) => {
        const body = request.body as { metadata: { resourceVersion: string } };
        calls.push(`replace@${body.metadata.resourceVersion}`);
        if (conflictNext) {
          conflictNext = false;
          return Promise.reject(conflict());
        }
        return Promise.resolve(stored(request.body as object));
      },
    };
    const store = new KubePodStatusStore(api, 'node-a', recordingLogger());
    await store.upsert(desired);
    await store.upsert(desired);
    expect(calls).to.deep.equal(['create', 'replace@1']);
    conflictNext = true;
    const last = await store.upsert(desired);
    expect(calls).to.deep.equal(['create', 'replace@1', 'replace@2', 'create', 'get', 'replace@3']);
    expect(last.metadata.resourceVersion).to.equal('4');
  });

  it('returns undefined for a missing object and PodStatusError for other failures', async () => {
    let reply: Error = apiException(404, 'NotFound', 'not found');
    const api = {
      getNamespacedCustomObject: () => Promise.reject(reply),
    } as unknown as PodStatusesApi;
    const store = new KubePodStatusStore(api, 'node-a', recordingLogger());
    expect(await store.get('app', 'x')).to.equal(undefined);
    reply = apiException(500, 'InternalError', 'etcd timeout');
    const error = await rejection(store.get('app', 'x'));
    expect([error.code, error.message]).to.deep.equal([
      'PodStatusError',
      'failed to get secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io app/x: etcd timeout',
    ]);
  });
});

describe('KubeSecretProviderClassSource (stubbed API)', () => {
  const spc = (name: string, extra: object = {}) => ({
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: { name, namespace: 'app', ...extra },
    spec: { provider: 'azure', parameters: { keyvaultName: 'kv' } },
  });

  it('serves a cached class without calling the API and reads a miss directly', async () => {
    const reads: string[] = [];
    const api: SecretProviderClassesApi = {
      getNamespacedCustomObject: (request) => {
        reads.push(request.name);
        return Promise.resolve(spc(request.name));
      },
    };
    const cache = { get: (_ns: string, name: string) => (name === 'cached' ? spc('cached') : undefined) };
    const source = new KubeSecretProviderClassSource(api, cache);
    expect((await source.get('app', 'cached')).metadata.name).to.equal('cached');
    expect((await source.get('app', 'fresh')).metadata.name).to.equal('fresh');
    expect(reads).to.deep.equal(['fresh']);
  });

  it('maps NotFound, Forbidden and an unreadable class to the driver codes', async () => {
    const replies: Record<string, unknown> = {
      missing: apiException(
        404,
        'NotFound',
        'secretproviderclasses.secrets-store.csi.x-k8s.io "missing" not found',
      ),
      nocrd: apiException(404, 'NotFound', 'the server could not find the requested resource'),
      secret: apiException(403, 'Forbidden', 'forbidden: User "x" cannot get resource'),
      bad: spc('bad', { annotations: { 'rotation.secrets-store.csi.k8s.io/poll-interval': 'soon' } }),
    };
    const api: SecretProviderClassesApi = {
      getNamespacedCustomObject: (request) => {
        const reply = replies[request.name];
        return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
      },
    };
    const source = new KubeSecretProviderClassSource(api, { get: () => undefined });
    const missing = await rejection(source.get('app', 'missing'));
    expect([missing.code, missing.message]).to.deep.equal([
      'SecretProviderClassNotFound',
      'SecretProviderClass.secrets-store.csi.x-k8s.io "missing" not found',
    ]);
    const nocrd = await rejection(source.get('app', 'nocrd'));
    expect(nocrd.code).to.equal('SecretProviderClassNotFound');
    expect(nocrd.message).to.match(/^SecretProviderClass.secrets-store.csi.x-k8s.io "nocrd" not found \(/);
    expect(nocrd.message).to.include('CRD installed');
    const forbidden = await rejection(source.get('app', 'secret'));
    expect(forbidden.code).to.equal('KubernetesForbidden');
    expect(forbidden.message).to.include(
      'get secretproviderclasses.secrets-store.csi.x-k8s.io in namespace app',
    );
    const bad = await rejection(source.get('app', 'bad'));
    expect(isCodedError(bad) && bad.code).to.equal('SecretProviderClassInvalid');
    expect(bad.message).to.include('rotation.secrets-store.csi.k8s.io/poll-interval');
  });
});

describe('KubePodSource (stubbed API)', () => {
  it('answers a miss with a direct read and a missing pod with undefined', async () => {
    const api: PodsApi = {
      readNamespacedPod: (request) =>
        request.name === 'gone'
          ? Promise.reject(apiException(404, 'NotFound', 'pods "gone" not found'))
          : Promise.resolve({ metadata: { name: request.name, namespace: request.namespace, uid: 'u' } }),
    };
    const source = new KubePodSource(api, { get: () => undefined });
    expect(await source.get('app', 'gone')).to.equal(undefined);
    expect(await source.get('app', 'here')).to.deep.equal({
      name: 'here',
      namespace: 'app',
      uid: 'u',
      ownerReferences: [],
    });
  });
});
