import { readFileSync } from 'node:fs';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1CustomResourceDefinition,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import {
  GROUP,
  MANAGED_SECRET_LABEL,
  NODE_NAME_LABEL,
  podStatusName,
  SECRET_PROVIDER_CLASS_PLURAL,
  SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
  type OwnerReference,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import { sharedTestWorld, waitUntil, type TestWorld } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { parse } from 'yaml';
import { apiFailure } from '../../../src/kube/api-errors.js';
import { kubeAccessFromKubeconfig } from '../../../src/kube/access.js';
import { createKubeAdapters, type KubeAdaptersOptions } from '../../../src/kube/client.js';
import type { KubeAdapters } from '../../../src/kube/ports.js';
import type { DesiredSecret } from '../../../src/sync/desired-secret.js';
import { recordingLogger } from '../../unit/kube/helpers.js';

const CRD_FILES = [
  'secrets-store.csi.x-k8s.io_secretproviderclasses.yaml',
  'secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml',
];
const NODE = 'node-a';
const bytes = (text: string) => new TextEncoder().encode(text);
const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** Creates our CRDs unless an earlier test file did, and waits until the API server serves them. */
async function installCrds(admin: KubeConfig): Promise<void> {
  const extensions = admin.makeApiClient(ApiextensionsV1Api);
  for (const file of CRD_FILES) {
    const crd = parse(
      readFileSync(new URL(`../../../../../deploy/crds/${file}`, import.meta.url), 'utf8'),
    ) as V1CustomResourceDefinition;
    try {
      await extensions.createCustomResourceDefinition({ body: crd });
    } catch (error) {
      if (apiFailure(error).status !== 409) throw error;
    }
  }
  const custom = admin.makeApiClient(CustomObjectsApi);
  await waitUntil(
    async () => {
      for (const plural of [SECRET_PROVIDER_CLASS_PLURAL, SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL]) {
        await custom.listClusterCustomObject({ group: GROUP, version: 'v1', plural });
      }
      return true;
    },
    { description: 'the CRDs to be served', timeoutMs: 30_000 },
  );
}

describe('Kubernetes adapters against a real API server', function () {
  this.timeout(60_000);
  const namespace = `kube-adapters-${Date.now().toString(36)}`;
  let world: TestWorld;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let rbac: RbacAuthorizationV1Api;
  /** Started with the admin identity: the driver as deployed. */
  let kube: KubeAdapters;
  const all: KubeAdapters[] = [];
  const clusterRoles: string[] = [];

  function adapters(kubeConfig: KubeConfig, options: Partial<KubeAdaptersOptions> = {}): KubeAdapters {
    const created = createKubeAdapters({
      access: kubeAccessFromKubeconfig(JSON.parse(kubeConfig.exportConfig()), process.cwd()),
      nodeName: NODE,
      driverName: 'secrets-store.csi.k8s.io',
      logger: recordingLogger(),
      ...options,
    });
    all.push(created);
    return created;
  }

  /** A service account with exactly `rules` (cluster-wide), as a token KubeConfig. */
  async function identity(name: string, rules: V1PolicyRule[]): Promise<KubeConfig> {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    if (rules.length > 0) {
      const role = `${namespace}-${name}`;
      clusterRoles.push(role);
      await rbac.createClusterRole({ body: { metadata: { name: role }, rules } });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: role },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
          subjects: [{ kind: 'ServiceAccount', name, namespace }],
        },
      });
    }
    const request = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { spec: { audiences: [world.kube.serviceAccountIssuer], expirationSeconds: 3600 } },
    });
    const cluster = admin.getCurrentCluster();
    if (cluster === null) throw new Error('no cluster');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [cluster],
      users: [{ name, token: request.status?.token }],
      contexts: [{ name, cluster: cluster.name, user: name }],
      currentContext: name,
    });
    if (rules.some((rule) => rule.verbs.includes('list'))) {
      // RBAC takes a moment to see a new binding.
      const client = kubeConfig.makeApiClient(CoreV1Api);
      await waitUntil(
        async () => {
          await client.listPodForAllNamespaces({ limit: 1 });
          return true;
        },
        { description: `the ${name} role binding to take effect` },
      );
    }
    return kubeConfig;
  }

  const listWatch = (verbs: string[]): V1PolicyRule[] => [
    { apiGroups: [''], resources: ['pods'], verbs },
    { apiGroups: [GROUP], resources: [SECRET_PROVIDER_CLASS_PLURAL], verbs },
  ];

  const spcBody = (name: string, annotations?: Record<string, string>) => ({
    apiVersion: `${GROUP}/v1`,
    kind: 'SecretProviderClass',
    metadata: { name, ...(annotations !== undefined && { annotations }) },
    spec: {
      provider: 'azure',
      parameters: { keyvaultName: 'kv', objects: 'array:\n  - |\n    objectName: a' },
    },
  });
  const createSpc = (name: string, annotations?: Record<string, string>) =>
    custom.createNamespacedCustomObject({
      group: GROUP,
      version: 'v1',
      namespace,
      plural: SECRET_PROVIDER_CLASS_PLURAL,
      body: spcBody(name, annotations),
    });

  async function createPod(
    name: string,
    nodeName: string,
    extra: { ownerReferences?: OwnerReference[]; finalizers?: string[] } = {},
  ): Promise<OwnerReference> {
    const pod = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, ...extra },
        spec: { nodeName, containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
      },
    });
    return { apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata?.uid ?? '' };
  }

  async function configMapOwner(name: string): Promise<OwnerReference> {
    const map = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } });
    return { apiVersion: 'v1', kind: 'ConfigMap', name, uid: map.metadata?.uid ?? '' };
  }

  before(async function () {
    this.timeout(180_000);
    world = await sharedTestWorld();
    admin = world.kube.kubeConfig;
    core = admin.makeApiClient(CoreV1Api);
    custom = admin.makeApiClient(CustomObjectsApi);
    rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await installCrds(admin);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    // Pods need the namespace's default service account, which the controller manager creates.
    await waitUntil(
      async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace });
        return true;
      },
      { description: 'the default service account', timeoutMs: 30_000 },
    );
    kube = adapters(admin);
    await kube.start();
  });

  after(async () => {
    for (const a of all) await a.stop();
    for (const role of clusterRoles) {
      await rbac.deleteClusterRoleBinding({ name: role }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: role }).catch(() => undefined);
    }
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  describe('SecretProviderClassSource', () => {
    let cacheOnly: KubeAdapters;

    before(async () => {
      // May list and watch but not get: whatever it reads successfully came from its informer cache.
      cacheOnly = adapters(await identity('cache-reader', listWatch(['list', 'watch'])));
      await cacheOnly.start();
    });

    it('reads a class from the informer cache (the identity may not get it directly)', async () => {
      const denied = await rejection(cacheOnly.secretProviderClasses.get(namespace, 'not-there'));
      expect(denied.code).to.equal('KubernetesForbidden');
      await createSpc('cached');
      await waitUntil(
        async () =>
          (await cacheOnly.secretProviderClasses.get(namespace, 'cached')).spec.provider === 'azure',
        { description: 'the class to reach the informer cache', timeoutMs: 20_000, intervalMs: 50 },
      );
      const spc = await cacheOnly.secretProviderClasses.get(namespace, 'cached');
      expect(spc.metadata).to.include({ name: 'cached', namespace });
      expect(spc.spec.parameters.keyvaultName).to.equal('kv');
    });

    it('falls back to a direct read before the informers start and for a class created a moment ago', async () => {
      const unstarted = adapters(admin);
      await createSpc('direct');
      expect((await unstarted.secretProviderClasses.get(namespace, 'direct')).metadata.name).to.equal(
        'direct',
      );
      await createSpc('just-now');
      expect((await kube.secretProviderClasses.get(namespace, 'just-now')).metadata.name).to.equal(
        'just-now',
      );
    });

    it("reports a missing class with upstream's NotFound text, naming the kind", async () => {
      for (const source of [kube, adapters(admin)]) {
        const error = await rejection(source.secretProviderClasses.get(namespace, 'missing'));
        expect(error.code).to.equal('SecretProviderClassNotFound');
        expect(error.message).to.equal(`SecretProviderClass.secrets-store.csi.x-k8s.io "missing" not found`);
      }
    });

    it('reports a stored class that does not parse as SecretProviderClassInvalid, cached or read', async () => {
      await createSpc('bad', { 'rotation.secrets-store.csi.k8s.io/poll-interval': 'soon' });
      const direct = await rejection(adapters(admin).secretProviderClasses.get(namespace, 'bad'));
      expect(direct.code).to.equal('SecretProviderClassInvalid');
      expect(direct.message).to.include(`invalid SecretProviderClass ${namespace}/bad`).and.include('"soon"');
      await waitUntil(
        async () =>
          (await rejection(cacheOnly.secretProviderClasses.get(namespace, 'bad'))).code ===
          'SecretProviderClassInvalid',
        { description: 'the invalid class to reach the cache', timeoutMs: 20_000, intervalMs: 50 },
      );
    });

    it('reports a read the RBAC role does not allow as KubernetesForbidden', async () => {
      const nobody = adapters(await identity('nobody', []));
      const error = await rejection(nobody.secretProviderClasses.get(namespace, 'cached'));
      expect(error.code).to.equal('KubernetesForbidden');
      expect(error.message).to.include(
        `the driver's RBAC role does not allow it to get secretproviderclasses.secrets-store.csi.x-k8s.io in namespace ${namespace}`,
      );
      expect(error.message).to.include(`system:serviceaccount:${namespace}:nobody`);
    });
  });

  describe('PodSource', () => {
    let cacheOnly: KubeAdapters;

    before(async () => {
      cacheOnly = adapters(await identity('pod-reader', listWatch(['list', 'watch'])));
      await cacheOnly.start();
    });

    it("finds this node's pod in the cache, with its owners and service account", async () => {
      const owner = await configMapOwner('pod-owner');
      const ref = await createPod('on-node', NODE, { ownerReferences: [owner] });
      await waitUntil(async () => (await cacheOnly.pods.get(namespace, 'on-node')) !== undefined, {
        description: 'the pod to reach the cache',
        timeoutMs: 20_000,
        intervalMs: 50,
      });
      expect(await cacheOnly.pods.get(namespace, 'on-node')).to.deep.equal({
        name: 'on-node',
        namespace,
        uid: ref.uid,
        nodeName: NODE,
        serviceAccountName: 'default',
        ownerReferences: [owner],
        phase: 'Pending',
      });
    });

    it('does not cache a pod of another node, and still finds it by a direct read', async () => {
      await createPod('elsewhere', 'node-b');
      // A watch delivers in order: once a later pod of this node is cached, the other one was seen and skipped.
      await createPod('marker', NODE);
      await waitUntil(async () => (await cacheOnly.pods.get(namespace, 'marker')) !== undefined, {
        description: 'the marker pod to reach the cache',
        timeoutMs: 20_000,
        intervalMs: 50,
      });
      const miss = await rejection(cacheOnly.pods.get(namespace, 'elsewhere'));
      expect(miss.code).to.equal('KubernetesForbidden');
      expect((await kube.pods.get(namespace, 'elsewhere'))?.nodeName).to.equal('node-b');
    });

    it('answers undefined for a pod that does not exist', async () => {
      expect(await kube.pods.get(namespace, 'no-such-pod')).to.equal(undefined);
    });

    it("gives a terminating pod's deletionTimestamp in the API server's format, cached or read", async () => {
      await createPod('terminating', NODE, { finalizers: ['example.com/hold'] });
      await core.deleteNamespacedPod({ name: 'terminating', namespace });
      const expected = (await core.readNamespacedPod({ name: 'terminating', namespace })).metadata
        ?.deletionTimestamp;
      const text = expected?.toISOString().replace('.000Z', 'Z');
      expect(text).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect((await adapters(admin).pods.get(namespace, 'terminating'))?.deletionTimestamp).to.equal(text);
      await waitUntil(
        async () => (await cacheOnly.pods.get(namespace, 'terminating'))?.deletionTimestamp === text,
        { description: 'the deletion to reach the cache', timeoutMs: 20_000, intervalMs: 50 },
      );
      const pod = await core.readNamespacedPod({ name: 'terminating', namespace });
      if (pod.metadata !== undefined) pod.metadata.finalizers = [];
      await core.replaceNamespacedPod({ name: 'terminating', namespace, body: pod });
    });
  });

  describe('PodStatusStore', () => {
    const desired = (
      pod: OwnerReference,
      objects: { id: string; version: string }[],
      mounted = true,
    ): SecretProviderClassPodStatus => ({
      apiVersion: `${GROUP}/v1`,
      kind: 'SecretProviderClassPodStatus',
      metadata: {
        name: podStatusName(pod.name, namespace, 'kv'),
        namespace,
        labels: { [NODE_NAME_LABEL]: NODE },
        ownerReferences: [pod],
      },
      status: {
        podName: pod.name,
        secretProviderClassName: 'kv',
        mounted,
        targetPath: `/var/lib/kubelet/pods/${pod.uid}/volumes/kubernetes.io~csi/secrets/mount`,
        objects,
        conditions: [
          {
            type: 'Mounted',
            status: 'True',
            reason: 'Mounted',
            message: 'all objects written',
            lastTransitionTime: '2025-01-01T00:00:00Z',
          },
        ],
      },
    });
    const coordinates = { group: GROUP, version: 'v1', plural: SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL };

    it('creates a pod status, then updates it as upstream does', async () => {
      const pod = await createPod('web-0', NODE);
      const other = await createPod('web-0-previous', 'node-b');
      const created = await kube.podStatuses.upsert(
        desired(pod, [
          { id: 'secret/b', version: '1' },
          { id: 'secret/a', version: '1' },
        ]),
      );
      expect(created.metadata.uid).to.be.a('string').and.not.equal('');
      expect(created.metadata.labels).to.deep.equal({ [NODE_NAME_LABEL]: NODE });
      expect(created.metadata.ownerReferences).to.deep.equal([pod]);
      expect(created.status.objects.map((o) => o.id)).to.deep.equal(['secret/a', 'secret/b']);
      expect(created.status.conditions?.[0]).to.include({ type: 'Mounted', message: 'all objects written' });

      // As if another node's driver had written it last, and someone added a label.
      const name = created.metadata.name;
      const stored = (await custom.getNamespacedCustomObject({ ...coordinates, namespace, name })) as {
        metadata: Record<string, unknown>;
      };
      stored.metadata.labels = { [NODE_NAME_LABEL]: 'node-b', team: 'x' };
      stored.metadata.ownerReferences = [other];
      await custom.replaceNamespacedCustomObject({ ...coordinates, namespace, name, body: stored });

      const updated = await kube.podStatuses.upsert(desired(pod, [{ id: 'secret/a', version: '2' }], false));
      expect(updated.metadata.uid).to.equal(created.metadata.uid);
      expect(updated.metadata.labels).to.deep.equal({ [NODE_NAME_LABEL]: NODE, team: 'x' });
      expect(updated.metadata.ownerReferences).to.deep.equal([pod]);
      expect(updated.status).to.deep.include({ mounted: false, objects: [{ id: 'secret/a', version: '2' }] });
      expect(await kube.podStatuses.get(namespace, name)).to.deep.equal(updated);
    });

    it('lets concurrent upserts of one pod status all succeed (Conflicts are retried)', async () => {
      const pod = await createPod('busy-0', NODE);
      await kube.podStatuses.upsert(desired(pod, [{ id: 'x', version: '0' }]));
      const versions = ['1', '2', '3', '4'];
      const results = await Promise.all(
        versions.map((version) => kube.podStatuses.upsert(desired(pod, [{ id: 'x', version }]))),
      );
      expect(results).to.have.length(4);
      const final = await kube.podStatuses.get(namespace, podStatusName('busy-0', namespace, 'kv'));
      expect(versions).to.include(final?.status.objects[0]?.version);
    });

    it('answers undefined for a pod status that does not exist', async () => {
      expect(await kube.podStatuses.get(namespace, 'nothing-here')).to.equal(undefined);
    });
  });

  describe('SecretStore', () => {
    const desired = (name: string, value: string, type = 'Opaque'): DesiredSecret => ({
      name,
      namespace,
      type,
      labels: { [MANAGED_SECRET_LABEL]: 'true', app: 'web' },
      annotations: { 'example.com/synced': 'yes' },
      data: { password: bytes(value), 'tls.crt': bytes('-----BEGIN CERTIFICATE-----') },
    });
    const read = (name: string) => core.readNamespacedSecret({ name, namespace });

    it('creates, then leaves alone an unchanged Secret, then updates it keeping what others added', async () => {
      const first = await configMapOwner('secret-owner-1');
      expect(await kube.secrets.apply(desired('synced', 'v1'), [first])).to.equal('created');
      const created = await read('synced');
      expect(created.type).to.equal('Opaque');
      expect(created.metadata?.labels).to.deep.equal({ [MANAGED_SECRET_LABEL]: 'true', app: 'web' });
      expect(created.metadata?.annotations).to.deep.equal({ 'example.com/synced': 'yes' });
      expect(created.metadata?.ownerReferences).to.deep.equal([first]);
      expect(decode(created.data?.password)).to.equal('v1');

      expect(await kube.secrets.apply(desired('synced', 'v1'), [first])).to.equal('unchanged');
      expect((await read('synced')).metadata?.resourceVersion).to.equal(created.metadata?.resourceVersion);

      // Someone else adds an owner and a label.
      const theirs = await configMapOwner('secret-owner-theirs');
      const edited = await read('synced');
      const meta = edited.metadata ?? {};
      meta.labels = { ...meta.labels, extra: 'kept' };
      meta.ownerReferences = [...(meta.ownerReferences ?? []), theirs];
      edited.metadata = meta;
      await core.replaceNamespacedSecret({ name: 'synced', namespace, body: edited });

      const second = await configMapOwner('secret-owner-2');
      expect(await kube.secrets.apply(desired('synced', 'v2'), [first, second])).to.equal('updated');
      const updated = await read('synced');
      expect(decode(updated.data?.password)).to.equal('v2');
      expect(updated.metadata?.labels).to.include({ extra: 'kept', [MANAGED_SECRET_LABEL]: 'true' });
      expect(updated.metadata?.ownerReferences?.map((o) => o.name)).to.deep.equal([
        'secret-owner-1',
        'secret-owner-theirs',
        'secret-owner-2',
      ]);
    });

    it('leaves a Secret without the managed label alone', async () => {
      await core.createNamespacedSecret({
        namespace,
        body: { metadata: { name: 'theirs' }, stringData: { password: 'user-value' } },
      });
      const before = await read('theirs');
      expect(await kube.secrets.apply(desired('theirs', 'ours'), [])).to.equal('notManaged');
      const after = await read('theirs');
      expect(after.metadata?.resourceVersion).to.equal(before.metadata?.resourceVersion);
      expect(decode(after.data?.password)).to.equal('user-value');
    });

    it('refuses to change the type of a synced Secret', async () => {
      expect(await kube.secrets.apply(desired('typed', 'v'), [])).to.equal('created');
      const error = await rejection(kube.secrets.apply(desired('typed', 'v', 'example.com/other'), []));
      expect(error.code).to.equal('FailedToCreateSecret');
      expect(error.message).to.include(`secret ${namespace}/typed has type "Opaque"`).and.include('delete');
      expect((await read('typed')).type).to.equal('Opaque');
    });

    it('keeps every owner when several pods apply the same Secret at once', async () => {
      const owners = await Promise.all(['a', 'b', 'c', 'd'].map((n) => configMapOwner(`shared-owner-${n}`)));
      const outcomes = await Promise.all(owners.map((o) => kube.secrets.apply(desired('shared', 'v'), [o])));
      expect(outcomes.filter((o) => o === 'created')).to.have.length(1);
      const stored = await read('shared');
      expect(stored.metadata?.ownerReferences?.map((o) => o.uid).sort()).to.deep.equal(
        owners.map((o) => o.uid).sort(),
      );
    });

    it("reports a Secret the driver's role may not read as KubernetesForbidden, with upstream's hint", async () => {
      const nobody = adapters(await identity('no-secrets', []));
      const error = await rejection(nobody.secrets.apply(desired('forbidden', 'do-not-show'), []));
      expect(error.code).to.equal('KubernetesForbidden');
      expect(error.message).to.include(
        `the driver's RBAC role does not allow it to get secrets in namespace ${namespace}`,
      );
      expect(error.message).to.include(
        'If you installed the CSI driver using helm, ensure syncSecret.enabled=true',
      );
      expect(error.message).not.to.include('do-not-show');
    });

    it('is garbage-collected when its only owner (a ConfigMap, or the pod status) is deleted', async function () {
      this.timeout(150_000);
      const map = await configMapOwner('gc-owner');
      expect(await kube.secrets.apply(desired('gc-by-configmap', 'v'), [map])).to.equal('created');
      const pod = await createPod('gc-pod', NODE);
      const status = await kube.podStatuses.upsert({
        apiVersion: `${GROUP}/v1`,
        kind: 'SecretProviderClassPodStatus',
        metadata: { name: podStatusName('gc-pod', namespace, 'kv'), namespace, ownerReferences: [pod] },
        status: {
          podName: 'gc-pod',
          secretProviderClassName: 'kv',
          mounted: true,
          targetPath: '/t',
          objects: [],
        },
      });
      const statusOwner: OwnerReference = {
        apiVersion: `${GROUP}/v1`,
        kind: 'SecretProviderClassPodStatus',
        name: status.metadata.name,
        uid: status.metadata.uid ?? '',
      };
      expect(await kube.secrets.apply(desired('gc-by-status', 'v'), [statusOwner])).to.equal('created');
      await core.deleteNamespacedConfigMap({ name: 'gc-owner', namespace });
      await custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: 'v1',
        namespace,
        plural: SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
        name: status.metadata.name,
      });
      const gone = async (name: string) => {
        try {
          await read(name);
          return false;
        } catch (error) {
          return apiFailure(error).status === 404;
        }
      };
      await waitUntil(async () => (await gone('gc-by-configmap')) && (await gone('gc-by-status')), {
        description: 'both Secrets to be garbage-collected',
        timeoutMs: 140_000,
        intervalMs: 500,
      });
    });
  });

  describe('EventRecorder', () => {
    it('writes Pod events with the reason, type and component upstream uses, once per repeat window', async () => {
      const pod = await createPod('evented', NODE);
      const recorder = adapters(admin);
      const ref = { name: pod.name, namespace, uid: pod.uid };
      recorder.events.record({
        pod: ref,
        type: 'Warning',
        reason: 'FailedMount',
        message: 'provider not found',
      });
      recorder.events.record({
        pod: ref,
        type: 'Warning',
        reason: 'FailedMount',
        message: 'provider not found',
      });
      recorder.events.record({
        pod: ref,
        type: 'Normal',
        reason: 'SecretRotationComplete',
        message: 'rotated',
      });
      recorder.events.record({
        pod: ref,
        type: 'Warning',
        reason: 'FailedToCreateSecret',
        message: 'no sync',
      });
      await recorder.stop(); // waits for the writes in flight
      const list = await core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=evented',
      });
      const seen = list.items
        .map((e) =>
          [e.reason, e.type, e.source?.component, e.reportingComponent, e.count, e.message].join(' '),
        )
        .sort();
      expect(seen).to.deep.equal([
        'FailedMount Warning csi-secrets-store-driver csi-secrets-store-driver 1 provider not found',
        'FailedToCreateSecret Warning csi-secrets-store-controller csi-secrets-store-controller 1 no sync',
        'SecretRotationComplete Normal csi-secrets-store-rotation csi-secrets-store-rotation 1 rotated',
      ]);
      for (const event of list.items) {
        expect(event.involvedObject).to.deep.include({
          kind: 'Pod',
          name: 'evented',
          uid: pod.uid,
          apiVersion: 'v1',
        });
        expect(event.metadata.name).to.match(/^evented\.[0-9a-f]+$/);
        expect(event.eventTime).to.not.equal(undefined);
        expect(event.lastTimestamp).to.be.instanceOf(Date);
      }
    });
  });

  describe('informers', () => {
    it('start() stops waiting after the sync timeout, and reads still work by direct read', async () => {
      const logger = recordingLogger();
      // May get but neither list nor watch: the informers never sync.
      const getOnly = adapters(await identity('get-only', listWatch(['get'])), {
        logger,
        informerSyncTimeoutMs: 300,
        informerRestartBackoff: { initialMs: 50, maxMs: 100 },
      });
      await createSpc('read-directly');
      const startedAt = Date.now();
      await getOnly.start();
      expect(Date.now() - startedAt).to.be.within(250, 5_000);
      expect(logger.lines.map((l) => l.message)).to.include(
        'informers have not synced yet; reads go to the API server until they do',
      );
      await waitUntil(
        async () =>
          (await getOnly.secretProviderClasses.get(namespace, 'read-directly')).metadata.name ===
          'read-directly',
        { description: 'the get-only role to take effect', timeoutMs: 20_000 },
      );
      await getOnly.stop();
    });

    it('restarts a watch the API server refuses, with backoff, and goes quiet after stop()', async () => {
      const logger = recordingLogger();
      // May list (so the informers sync) but not watch: every watch fails with 403.
      const listOnly = adapters(await identity('list-only', listWatch(['list'])), {
        logger,
        informerRestartBackoff: { initialMs: 50, maxMs: 200 },
      });
      await listOnly.start();
      const restarts = () =>
        logger.lines.filter((l) => l.message === 'watch failed; restarting' && l.fields.resource === 'pods');
      await waitUntil(() => Promise.resolve(restarts().length >= 4), {
        description: 'four watch restarts',
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      expect(restarts().map((l) => l.fields.delayMs)).to.deep.equal([
        50,
        100,
        200,
        200,
        ...restarts()
          .slice(4)
          .map(() => 200),
      ]);
      expect(restarts()[0]?.fields).to.include({ status: 403 });
      await listOnly.stop();
      const count = logger.lines.length;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(logger.lines.length).to.equal(count);
    });
  });
});
