import { readFileSync } from 'node:fs';
import {
  ApiextensionsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { parse } from 'yaml';
import { sharedTestWorld, waitUntil, type TestWorld } from '../../src/index.js';

const crdFile = (name: string) =>
  parse(
    readFileSync(new URL(`../../../../deploy/crds/${name}`, import.meta.url), 'utf8'),
  ) as V1CustomResourceDefinition;

describe('the real Kubernetes control plane', function () {
  let world: TestWorld;
  let core: CoreV1Api;
  const namespace = `smoke-${Date.now().toString(36)}`;

  before(async () => {
    world = await sharedTestWorld();
    core = world.kube.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });

  it('creates our CRDs, serves both versions, and applies their schema', async () => {
    const extensions = world.kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
    for (const file of [
      'secrets-store.csi.x-k8s.io_secretproviderclasses.yaml',
      'secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml',
    ]) {
      await extensions.createCustomResourceDefinition({ body: crdFile(file) });
    }
    await waitUntil(
      async () => {
        const crd = await extensions.readCustomResourceDefinition({
          name: 'secretproviderclasses.secrets-store.csi.x-k8s.io',
        });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      },
      { description: 'the SecretProviderClass CRD to be established' },
    );
    const custom = world.kube.kubeConfig.makeApiClient(CustomObjectsApi);
    const spc = (version: string, spec: object) => ({
      group: 'secrets-store.csi.x-k8s.io',
      version,
      namespace,
      plural: 'secretproviderclasses',
      body: {
        apiVersion: `secrets-store.csi.x-k8s.io/${version}`,
        kind: 'SecretProviderClass',
        metadata: { name: `spc-${version}` },
        spec,
      },
    });
    await waitUntil(
      async () => {
        await custom.createNamespacedCustomObject(
          spc('v1', { provider: 'azure', parameters: { keyvaultName: 'kv' } }),
        );
        return true;
      },
      { description: 'a v1 SecretProviderClass to be accepted', timeoutMs: 30_000 },
    );
    await custom.createNamespacedCustomObject(
      spc('v1alpha1', { provider: 'azure', parameters: { keyvaultName: 'kv' } }),
    );
    try {
      await custom.createNamespacedCustomObject({
        ...spc('v1', { parameters: { a: 'b' } }),
        body: { ...spc('v1', {}).body, metadata: { name: 'no-provider' }, spec: { parameters: { a: 'b' } } },
      });
      expect.fail('an invalid SecretProviderClass was accepted');
    } catch (error) {
      expect(String(error)).to.include('spec.provider: Required value');
    }
  });

  it('garbage-collects an object whose owner is deleted', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' },
          ],
        },
        stringData: { key: 'value' },
      },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace });
    await waitUntil(
      async () => {
        try {
          await core.readNamespacedSecret({ name: 'dependent', namespace });
          return false;
        } catch (error) {
          return String(error).includes('404');
        }
      },
      { description: 'the dependent Secret to be garbage-collected', timeoutMs: 90_000, intervalMs: 500 },
    );
  });

  it('issues service-account tokens through the TokenRequest API that the API server accepts', async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
    const request = await core.createNamespacedServiceAccountToken({
      name: 'app',
      namespace,
      body: { spec: { audiences: ['api://AzureADTokenExchange'], expirationSeconds: 3600 } },
    });
    const token = request.status?.token ?? '';
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(claims).to.deep.include({
      iss: world.kube.serviceAccountIssuer,
      sub: `system:serviceaccount:${namespace}:app`,
      aud: ['api://AzureADTokenExchange'],
    });
    const review = await world.kube.kubeConfig.makeApiClient(AuthenticationV1Api).createTokenReview({
      body: { spec: { token, audiences: ['api://AzureADTokenExchange'] } },
    });
    expect(review.status?.authenticated).to.equal(true);
    expect(review.status?.user?.username).to.equal(`system:serviceaccount:${namespace}:app`);
  });

  it('lets the token endpoint exchange that token for workload identity', async () => {
    world.entra.addFederatedCredential({
      tenantId: 'tenant-w',
      clientId: 'wi-app',
      issuer: world.kube.serviceAccountIssuer,
      subject: `system:serviceaccount:${namespace}:app`,
    });
    const request = await core.createNamespacedServiceAccountToken({
      name: 'app',
      namespace,
      body: { spec: { audiences: ['api://AzureADTokenExchange'], expirationSeconds: 3600 } },
    });
    const { ClientAssertionCredential } = await import('@azure/identity');
    const credential = new ClientAssertionCredential(
      'tenant-w',
      'wi-app',
      () => Promise.resolve(request.status?.token ?? ''),
      {
        authorityHost: world.entra.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const token = await credential.getToken('https://vault.azure.net/.default');
    expect(world.entra.decodeAccessToken(token.token)).to.deep.include({
      appid: 'wi-app',
      grant: 'client-assertion',
    });
  });
});
