import { expect } from 'chai';
import {
  InvalidObjectError,
  parseSecretProviderClass,
  parseSecretProviderClassPodStatus,
  rotationIntervalOverride,
} from '../../../src/spc/index.js';
import { azureSpc, e2eSpcV1alpha1, podStatus } from './fixtures.js';

function errorOf(fn: () => unknown): InvalidObjectError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidObjectError) return error;
    throw error;
  }
  throw new Error('expected an InvalidObjectError');
}

function withSpec(
  spec: Record<string, unknown>,
  meta: Record<string, unknown> = {},
): Record<string, unknown> {
  const base = azureSpc();
  return { ...base, metadata: { ...(base.metadata as object), ...meta }, spec };
}

describe('parseSecretProviderClass', () => {
  it('reads a v1 class with parameters and secretObjects', () => {
    const spc = parseSecretProviderClass(azureSpc());
    expect(spc.apiVersion).to.equal('secrets-store.csi.x-k8s.io/v1');
    expect(spc.metadata).to.deep.equal({
      name: 'azure-kvname',
      namespace: 'default',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 3,
    });
    expect(spc.spec.provider).to.equal('azure');
    expect(spc.spec.parameters.keyvaultName).to.equal('kvname');
    expect(spc.spec.secretObjects?.[1]).to.deep.equal({
      secretName: 'ingress-tls',
      type: 'kubernetes.io/tls',
      annotations: { 'example.com/owner': 'team-a' },
      data: [
        { objectName: 'tlscert', key: 'tls.key' },
        { objectName: 'tlscert', key: 'tls.crt' },
      ],
    });
  });

  it('reads a v1alpha1 class with its legacy status.byPod', () => {
    const spc = parseSecretProviderClass(e2eSpcV1alpha1());
    expect(spc.apiVersion).to.equal('secrets-store.csi.x-k8s.io/v1alpha1');
    expect(spc.status).to.deep.equal({ byPod: [{ id: 'pod-1', namespace: 'test-v1alpha1' }] });
    expect(spc.spec.secretObjects).to.equal(undefined);
  });

  it('trims secretObjects names, types, object names and keys as upstream does', () => {
    const spc = parseSecretProviderClass(
      withSpec({
        provider: 'azure',
        parameters: { a: 'b' },
        secretObjects: [{ secretName: ' s ', type: ' Opaque ', data: [{ objectName: ' f ', key: ' k ' }] }],
      }),
    );
    expect(spc.spec.secretObjects).to.deep.equal([
      { secretName: 's', type: 'Opaque', data: [{ objectName: 'f', key: 'k' }] },
    ]);
  });

  const invalid: { name: string; input: unknown; message: string }[] = [
    {
      name: 'a missing provider',
      input: withSpec({ parameters: { a: 'b' } }),
      message: 'invalid SecretProviderClass default/azure-kvname: spec.provider: is required',
    },
    {
      name: 'an empty provider',
      input: withSpec({ provider: '  ', parameters: { a: 'b' } }),
      message: 'invalid SecretProviderClass default/azure-kvname: spec.provider: must be a non-empty string',
    },
    {
      name: 'a provider name that cannot be a socket name',
      input: withSpec({ provider: '../azure', parameters: { a: 'b' } }),
      message:
        'invalid SecretProviderClass default/azure-kvname: spec.provider: must be at most 30 letters, digits, "-" or "_" (it names the provider socket)',
    },
    {
      name: 'missing parameters',
      input: withSpec({ provider: 'azure' }),
      message: 'invalid SecretProviderClass default/azure-kvname: spec.parameters: is required',
    },
    {
      name: 'empty parameters',
      input: withSpec({ provider: 'azure', parameters: {} }),
      message:
        'invalid SecretProviderClass default/azure-kvname: spec.parameters: must have at least one parameter',
    },
    {
      name: 'a parameter that is not a string',
      input: withSpec({ provider: 'azure', parameters: { objectVersionHistory: 5 } }),
      message:
        'invalid SecretProviderClass default/azure-kvname: spec.parameters["objectVersionHistory"]: must be a string, not a number',
    },
    {
      name: 'secretObjects that is not a list',
      input: withSpec({ provider: 'azure', parameters: { a: 'b' }, secretObjects: { secretName: 'x' } }),
      message:
        'invalid SecretProviderClass default/azure-kvname: spec.secretObjects: must be a list, not an object',
    },
    {
      name: 'incomplete secretObjects, every problem listed',
      input: withSpec({
        provider: 'azure',
        parameters: { a: 'b' },
        secretObjects: [
          { secretName: 'ok', type: 'Opaque', data: [{ objectName: 'f', key: 'k' }] },
          { secretName: '', data: [] },
          { secretName: 's', type: 'Opaque', data: [{ objectName: 'f' }, 'x'] },
        ],
      }),
      message:
        'invalid SecretProviderClass default/azure-kvname: spec.secretObjects[1].secretName: must be a non-empty string; ' +
        'spec.secretObjects[1].type: is required; spec.secretObjects[1].data: must list at least one item; ' +
        'spec.secretObjects[2].data[0].key: is required; spec.secretObjects[2].data[1]: must be an object, not a string',
    },
    {
      name: 'labels with a value that is not a string',
      input: withSpec({
        provider: 'azure',
        parameters: { a: 'b' },
        secretObjects: [
          { secretName: 's', type: 'Opaque', labels: { tier: 1 }, data: [{ objectName: 'f', key: 'k' }] },
        ],
      }),
      message:
        'invalid SecretProviderClass default/azure-kvname: spec.secretObjects[0].labels["tier"]: must be a string, not a number',
    },
    {
      name: 'an unparseable rotation interval annotation',
      input: withSpec(
        { provider: 'azure', parameters: { a: 'b' } },
        { annotations: { 'rotation.secrets-store.csi.k8s.io/poll-interval': 'soon' } },
      ),
      message:
        'invalid SecretProviderClass default/azure-kvname: metadata.annotations["rotation.secrets-store.csi.k8s.io/poll-interval"]: must be a duration such as 30s or 5m, not "soon"',
    },
    {
      name: 'a zero rotation interval annotation',
      input: withSpec(
        { provider: 'azure', parameters: { a: 'b' } },
        { annotations: { 'rotation.secrets-store.csi.k8s.io/poll-interval': '0s' } },
      ),
      message:
        'invalid SecretProviderClass default/azure-kvname: metadata.annotations["rotation.secrets-store.csi.k8s.io/poll-interval"]: must be a positive duration such as 30s or 5m, not "0s"',
    },
    {
      name: 'another kind and an unknown version',
      input: { ...azureSpc(), apiVersion: 'secrets-store.csi.x-k8s.io/v2', kind: 'Secret' },
      message:
        'invalid SecretProviderClass default/azure-kvname: apiVersion: must be secrets-store.csi.x-k8s.io/v1 or secrets-store.csi.x-k8s.io/v1alpha1, not "secrets-store.csi.x-k8s.io/v2"; kind: must be SecretProviderClass, not "Secret"',
    },
    {
      name: 'no metadata and no spec',
      input: { apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClass' },
      message:
        'invalid SecretProviderClass (no namespace)/(unnamed): metadata: is required; metadata.name: is required; metadata.namespace: is required; spec: is required; spec.provider: is required; spec.parameters: is required',
    },
    {
      name: 'something that is not an object',
      input: 'azure',
      message: 'invalid SecretProviderClass (unknown): (object): must be an object, not a string',
    },
  ];

  for (const c of invalid) {
    it(`rejects ${c.name}, naming the field and the object`, () => {
      const error = errorOf(() => parseSecretProviderClass(c.input));
      expect(error.message).to.equal(c.message);
      expect(error.code).to.equal('SecretProviderClassInvalid');
    });
  }

  it('lists the issues as data as well as text', () => {
    const error = errorOf(() => parseSecretProviderClass(withSpec({ provider: 'azure', parameters: {} })));
    expect(error.objectRef).to.equal('default/azure-kvname');
    expect(error.issues).to.deep.equal([
      { field: 'spec.parameters', problem: 'must have at least one parameter' },
    ]);
  });

  it('never quotes parameter values in its messages', () => {
    const error = errorOf(() =>
      parseSecretProviderClass(
        withSpec({ provider: 'azure', parameters: { clientSecret: { value: 'hunter2-pw' } } }),
      ),
    );
    expect(error.message).not.to.include('hunter2');
  });
});

describe('rotationIntervalOverride', () => {
  it('reads the per-class interval annotation in milliseconds', () => {
    const spc = parseSecretProviderClass(
      withSpec(
        { provider: 'azure', parameters: { a: 'b' } },
        { annotations: { 'rotation.secrets-store.csi.k8s.io/poll-interval': '1m30s' } },
      ),
    );
    expect(rotationIntervalOverride(spc)).to.equal(90_000);
  });

  it('is undefined when the class does not set one', () => {
    expect(rotationIntervalOverride(parseSecretProviderClass(azureSpc()))).to.equal(undefined);
  });
});

describe('parseSecretProviderClassPodStatus', () => {
  it('reads the status upstream writes', () => {
    const status = parseSecretProviderClassPodStatus(podStatus());
    expect(status.metadata.labels).to.deep.equal({ 'internal.secrets-store.csi.k8s.io/node-name': 'node-1' });
    expect(status.metadata.ownerReferences).to.deep.equal([
      { apiVersion: 'v1', kind: 'Pod', name: 'web-0', uid: 'pod-uid' },
    ]);
    expect(status.status).to.deep.equal({
      podName: 'web-0',
      secretProviderClassName: 'azure-kvname',
      mounted: true,
      targetPath: '/var/lib/kubelet/pods/pod-uid/volumes/kubernetes.io~csi/secrets/mount',
      objects: [{ id: 'secret/secret1', version: 'abc' }],
    });
  });

  it('reads our conditions', () => {
    const base = podStatus();
    const status = parseSecretProviderClassPodStatus({
      ...base,
      status: {
        ...(base.status as object),
        mounted: false,
        conditions: [
          {
            type: 'Mounted',
            status: 'False',
            reason: 'SecretProviderClassNotFound',
            message: 'create it',
            lastTransitionTime: '2026-11-22T10:00:00Z',
            observedGeneration: 2,
          },
        ],
      },
    });
    expect(status.status.conditions?.[0]?.reason).to.equal('SecretProviderClassNotFound');
    expect(status.status.mounted).to.equal(false);
  });

  it('rejects a status with wrong types, naming every field', () => {
    const base = podStatus();
    const error = errorOf(() =>
      parseSecretProviderClassPodStatus({
        ...base,
        status: {
          podName: 'web-0',
          mounted: 'yes',
          targetPath: '/t',
          objects: [{ version: 'v' }],
          conditions: [{ type: 'Mounted', status: 'Maybe', reason: 'R', lastTransitionTime: 'now' }],
        },
      }),
    );
    expect(error.code).to.equal('SecretProviderClassPodStatusInvalid');
    expect(error.message).to.equal(
      'invalid SecretProviderClassPodStatus default/web-0-default-azure-kvname: status.objects[0].id: is required; ' +
        'status.secretProviderClassName: is required; status.mounted: must be true or false, not a string; ' +
        'status.conditions[0].status: must be True, False or Unknown, not "Maybe"',
    );
  });

  it('rejects bad owner references', () => {
    const base = podStatus();
    const error = errorOf(() =>
      parseSecretProviderClassPodStatus({
        ...base,
        metadata: {
          name: 'n',
          namespace: 'ns',
          ownerReferences: [{ kind: 'Pod', name: 'p', controller: 'yes' }],
        },
      }),
    );
    expect(error.message).to.equal(
      'invalid SecretProviderClassPodStatus ns/n: metadata.ownerReferences[0].controller: must be true or false, not a string; ' +
        'metadata.ownerReferences[0].apiVersion: is required; metadata.ownerReferences[0].uid: is required',
    );
  });
});
