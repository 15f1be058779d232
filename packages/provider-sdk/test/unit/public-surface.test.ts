import { expect } from 'chai';
import * as sdk from '../../src/index.js';
import * as testing from '../../src/testing/index.js';

describe('the package entry points', () => {
  it('export the contract, the edge, the rules, the cache and the process helpers', () => {
    for (const name of [
      'ProviderError',
      'isProviderError',
      'serve',
      'runProvider',
      'standardProviderFlags',
      'parseFlags',
      'parseEndpoint',
      'checkFilePath',
      'checkMountResult',
      'responseTooLargeError',
      'CoalescingCache',
      'runtimeNameOf',
    ]) {
      expect(sdk, name).to.have.property(name);
    }
    expect(sdk.DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES).to.equal(4 * 1024 * 1024);
    expect(sdk.providerErrorKinds).to.deep.equal([
      'invalid-argument',
      'not-found',
      'permission-denied',
      'unavailable',
      'resource-exhausted',
      'internal',
    ]);
  });

  it('export the fake provider, the client and the conformance suite from /testing', () => {
    for (const name of [
      'FakeProvider',
      'startFakeProviderServer',
      'startProviderServer',
      'ProviderClient',
      'driverMountRequest',
      'describeProviderConformance',
      'conformanceChecks',
    ]) {
      expect(testing, name).to.have.property(name);
    }
  });
});
