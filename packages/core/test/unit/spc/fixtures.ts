/** SecretProviderClass shapes users write today, taken from upstream's and the Azure provider's docs and e2e. */
export function azureSpc(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: {
      name: 'azure-kvname',
      namespace: 'default',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 3,
    },
    spec: {
      provider: 'azure',
      parameters: {
        usePodIdentity: 'false',
        keyvaultName: 'kvname',
        tenantId: 'tid',
        objects: 'array:\n  - |\n    objectName: secret1\n    objectType: secret\n    objectVersion: ""\n',
      },
      secretObjects: [
        {
          secretName: 'foosecret',
          type: 'Opaque',
          labels: { environment: 'test' },
          data: [{ objectName: 'secretalias', key: 'username' }],
        },
        {
          secretName: 'ingress-tls',
          type: 'kubernetes.io/tls',
          annotations: { 'example.com/owner': 'team-a' },
          data: [
            { objectName: 'tlscert', key: 'tls.key' },
            { objectName: 'tlscert', key: 'tls.crt' },
          ],
        },
      ],
    },
    ...overrides,
  };
}

export function e2eSpcV1alpha1(): Record<string, unknown> {
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1alpha1',
    kind: 'SecretProviderClass',
    metadata: { name: 'e2e-provider', namespace: 'test-v1alpha1' },
    spec: {
      provider: 'e2e-provider',
      parameters: { objects: 'array:\n  - |\n    objectName: foo\n    objectVersion: v1\n' },
    },
    status: { byPod: [{ id: 'pod-1', namespace: 'test-v1alpha1' }] },
  };
}

export function podStatus(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClassPodStatus',
    metadata: {
      name: 'web-0-default-azure-kvname',
      namespace: 'default',
      labels: { 'internal.secrets-store.csi.k8s.io/node-name': 'node-1' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: 'pod-uid' }],
    },
    status: {
      podName: 'web-0',
      secretProviderClassName: 'azure-kvname',
      mounted: true,
      targetPath: '/var/lib/kubelet/pods/pod-uid/volumes/kubernetes.io~csi/secrets/mount',
      objects: [{ id: 'secret/secret1', version: 'abc' }],
    },
    ...overrides,
  };
}
