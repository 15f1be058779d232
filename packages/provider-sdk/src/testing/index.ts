export {
  DEFAULT_POD_ATTRIBUTES,
  ProviderClient,
  driverMountRequest,
  type CallOutcome,
  type DriverMountInput,
  type ProviderClientOptions,
} from './client.js';
export {
  conformanceChecks,
  describeProviderConformance,
  type ConformanceCheck,
  type ConformanceContext,
  type ConformanceOptions,
  type ConformanceTarget,
} from './conformance.js';
export {
  FakeProvider,
  defaultFakeBehaviour,
  startFakeProviderServer,
  startProviderServer,
  type FakeBehaviour,
  type FakeMountCall,
  type FakeProviderServer,
  type ProviderTestServer,
  type TestServeOptions,
} from './fake-provider.js';
