import { expect } from 'chai';
import { buildMountRequest, mountAttributes } from '../../../src/providers/mount-request.js';

const TOKENS = 'csi.storage.k8s.io/serviceAccount.tokens';

describe('buildMountRequest', () => {
  const base = {
    parameters: { objects: 'array: []', keyvaultName: 'kv', shared: 'from-class' },
    volumeContext: {
      secretProviderClass: 'spc',
      shared: 'from-volume',
      'csi.storage.k8s.io/pod.name': 'web-0',
    },
    secrets: undefined,
    targetPath: '/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount',
    currentObjectVersions: [],
  };

  it('writes the bytes upstream writes: sorted keys, volume context over parameters, null secrets, 420', () => {
    expect(buildMountRequest(base)).to.deep.equal({
      attributes:
        '{"csi.storage.k8s.io/pod.name":"web-0","keyvaultName":"kv","objects":"array: []",' +
        '"secretProviderClass":"spc","shared":"from-volume"}',
      secrets: 'null',
      target_path: base.targetPath,
      permission: '420',
      current_object_version: [],
    });
  });

  it('sends the node-publish secrets as a JSON object and the mounted versions', () => {
    const request = buildMountRequest({
      ...base,
      secrets: { clientsecret: 's', clientid: 'c' },
      currentObjectVersions: [{ id: 'secret/a', version: '2' }],
    });
    expect(request.secrets).to.equal('{"clientid":"c","clientsecret":"s"}');
    expect(request.current_object_version).to.deep.equal([{ id: 'secret/a', version: '2' }]);
  });
});

describe('mountAttributes and the service-account tokens', () => {
  const input = (volumeContext: Record<string, string>, secrets?: Record<string, string>) => ({
    parameters: { objects: 'x' },
    volumeContext,
    secrets,
    targetPath: '/t',
    currentObjectVersions: [],
  });

  it('takes the tokens from the secrets first (serviceAccountTokenInSecrets)', () => {
    const attributes = mountAttributes(input({ [TOKENS]: '{"old":{}}' }, { [TOKENS]: '{"new":{}}' }));
    expect(attributes[TOKENS]).to.equal('{"new":{}}');
  });

  it('falls back to the tokens in the volume context', () => {
    expect(mountAttributes(input({ [TOKENS]: '{"aud":{}}' }))[TOKENS]).to.equal('{"aud":{}}');
  });

  it('leaves the tokens key out when there are none', () => {
    expect(mountAttributes(input({ a: 'b' }, { other: 'x' }))).to.not.have.property(TOKENS);
  });
});
