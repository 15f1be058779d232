import { expect } from 'chai';
import * as core from '../../src/index.js';

describe('the package entry point', () => {
  it('exports each area of the package', () => {
    for (const name of [
      'CodedError',
      'parseDuration',
      'parseSecretProviderClass',
      'parseSecretProviderClassPodStatus',
      'podStatusName',
      'planRotation',
      'createLogger',
      'SecretValues',
      'createMetricsRegistry',
      'UPSTREAM_DRIVER_BUCKETS',
    ]) {
      expect(core, name).to.have.property(name);
    }
    expect(core.NODE_NAME_LABEL).to.equal('internal.secrets-store.csi.k8s.io/node-name');
    expect(core.MANAGED_SECRET_LABEL).to.equal('secrets-store.csi.k8s.io/managed');
  });
});
