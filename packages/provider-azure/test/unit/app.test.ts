/**
 * The provider process's wiring around each mount: the heap compactor learns of every mount, ended whether
 * it succeeded or failed, so it compacts only once the provider is quiet.
 */
import { createMetricsRegistry, silentLogger } from '@secrets-store-csi/core';
import { parseFlags, type MountRequest, type SecretProvider } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { azureProviderFlags, createAzureProvider } from '../../src/app.js';
import type * as Wiring from '../../src/wiring.js';

const request: MountRequest = {
  attributes: {},
  secrets: {},
  defaultFileMode: 0o644,
  currentObjectVersions: [],
  targetPath: '/target',
};

describe('app/createAzureProvider', () => {
  it('tells the heap compactor of each mount, from its start to its end, failed or not', async () => {
    const events: string[] = [];
    let fail = false;
    const inner: Pick<SecretProvider, 'mount'> = {
      mount: () => {
        events.push('mount');
        return fail ? Promise.reject(new Error('boom')) : Promise.resolve({ files: [], objectVersions: [] });
      },
    };
    const provider = await createAzureProvider({
      flags: parseFlags(azureProviderFlags, []),
      logger: silentLogger,
      registry: createMetricsRegistry(),
      loadWiring: () => Promise.resolve({ buildAzureProvider: () => inner } as unknown as typeof Wiring),
      heapCompactor: {
        start: () => {
          events.push('start');
        },
        callStarted: () => {
          events.push('started');
          return () => {
            events.push('ended');
          };
        },
      },
    });
    const options = { abortSignal: new AbortController().signal, maxResponseSizeInBytes: 4 * 1024 * 1024 };
    await provider.mount(request, options);
    fail = true;
    let error: unknown;
    await provider.mount(request, options).catch((caught: unknown) => {
      error = caught;
    });
    expect((error as Error).message).to.equal('boom');
    expect(events).to.deep.equal([
      'start',
      'started',
      'mount',
      'ended',
      'start',
      'started',
      'mount',
      'ended',
    ]);
  });
});
