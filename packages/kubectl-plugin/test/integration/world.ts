/**
 * The real API server of the test world, set up as a cluster with the driver installed looks to the plugin:
 * our CRDs, the CSIDriver object (with its token audience), a namespace per test file.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  StorageV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import {
  GROUP,
  SECRET_PROVIDER_CLASS_PLURAL,
  SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
} from '@secrets-store-csi/core';
import { sharedTestWorld, waitUntil, type TestWorld } from '@secrets-store-csi/test-support';
import { parse } from 'yaml';

export const TOKEN_AUDIENCE = 'api://AzureADTokenExchange';
const crdDir = new URL('../../../../deploy/crds/', import.meta.url);

const ignoreStatus = (status: number) => (error: unknown) => {
  if ((error as { code?: unknown }).code !== status) throw error;
};

export interface PluginWorld {
  readonly world: TestWorld;
  readonly kubeConfig: KubeConfig;
  readonly kubeconfigPath: string;
  readonly namespace: string;
}

export async function pluginWorld(prefix: string): Promise<PluginWorld> {
  const world = await sharedTestWorld();
  const kubeConfig = world.kube.kubeConfig;
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const file of [
    'secrets-store.csi.x-k8s.io_secretproviderclasses.yaml',
    'secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml',
  ]) {
    const crd = parse(readFileSync(new URL(file, crdDir), 'utf8')) as V1CustomResourceDefinition;
    await extensions.createCustomResourceDefinition({ body: crd }).catch(ignoreStatus(409));
  }
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  await waitUntil(
    async () => {
      for (const plural of [SECRET_PROVIDER_CLASS_PLURAL, SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL])
        await custom.listClusterCustomObject({ group: GROUP, version: 'v1', plural });
      return true;
    },
    { description: 'the SecretProviderClass CRDs to be served', timeoutMs: 30_000 },
  );
  await kubeConfig
    .makeApiClient(StorageV1Api)
    .createCSIDriver({
      body: {
        metadata: { name: 'secrets-store.csi.k8s.io' },
        spec: {
          attachRequired: false,
          podInfoOnMount: true,
          requiresRepublish: true,
          volumeLifecycleModes: ['Ephemeral'],
          tokenRequests: [{ audience: TOKEN_AUDIENCE }],
        },
      },
    })
    .catch(ignoreStatus(409));
  const namespace = `${prefix}-${randomBytes(3).toString('hex')}`;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  return { world, kubeConfig, kubeconfigPath: world.kube.adminKubeconfigPath, namespace };
}

export async function createServiceAccount(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
): Promise<void> {
  await kubeConfig
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
}

export function collect(): {
  out: string[];
  err: string[];
  io: { out: (t: string) => void; err: (t: string) => void };
} {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t) => out.push(t), err: (t) => err.push(t) } };
}
