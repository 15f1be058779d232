import { describeProviderConformance, startProviderServer } from '../../src/testing/index.js';
import { ReferenceProvider, referenceAttributes } from '../reference-provider.js';

describeProviderConformance({
  name: 'reference (in-memory)',
  async start() {
    const provider = new ReferenceProvider();
    const running = await startProviderServer(provider, { healthz: { port: 0, host: '127.0.0.1' } });
    return {
      socketPath: running.socketPath,
      goodAttributes: referenceAttributes.good,
      unknownObjectAttributes: referenceAttributes.unknown,
      traversalAttributes: referenceAttributes.traversal,
      invalidAttributes: referenceAttributes.invalid,
      healthzUrl: `http://127.0.0.1:${running.server.healthzPort}/healthz`,
      rotate: () => {
        provider.rotate('db-password', 'correct horse');
        return Promise.resolve();
      },
      stop: () => running.stop(),
    };
  },
});
