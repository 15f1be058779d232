/**
 * The conformance suite must fail providers that break the contract; each case serves a provider with one
 * defect and runs the check that should catch it.
 */
import { expect } from 'chai';
import type { MountRequest, MountResult, SecretProvider } from '../../src/contract.js';
import {
  ProviderClient,
  conformanceChecks,
  startProviderServer,
  type ConformanceTarget,
} from '../../src/testing/index.js';
import { ReferenceProvider, referenceAttributes } from '../reference-provider.js';

/** The reference provider with one method replaced. */
function defective(
  mount: (request: MountRequest, reference: ReferenceProvider) => Promise<MountResult>,
): SecretProvider {
  const reference = new ReferenceProvider();
  return { name: 'defective', version: '1.0.0', mount: (request) => mount(request, reference) };
}

async function failureOf(
  title: string,
  provider: SecretProvider,
  overrides: Partial<ConformanceTarget> = {},
): Promise<string> {
  const check = conformanceChecks.find((candidate) => candidate.title.startsWith(title));
  if (check === undefined) throw new Error(`no check titled ${title}`);
  const running = await startProviderServer(provider);
  const client = new ProviderClient(running.socketPath);
  const target: ConformanceTarget = {
    socketPath: running.socketPath,
    goodAttributes: referenceAttributes.good,
    unknownObjectAttributes: referenceAttributes.unknown,
    traversalAttributes: referenceAttributes.traversal,
    stop: () => running.stop(),
    ...overrides,
  };
  try {
    await check.run({ target, client });
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.close();
    await running.stop();
  }
  throw new Error(`the check "${check.title}" passed a defective provider`);
}

describe('the conformance checks', () => {
  it('catch a provider that ignores the default file mode', async () => {
    const provider = defective(async (request, reference) => {
      const result = await reference.mount({ ...request, defaultFileMode: 0o644 });
      return result;
    });
    expect(await failureOf("uses the request's permission", provider)).to.contain('ignored permission "384"');
  });

  it('catch a provider that never uses the default file mode', async () => {
    const provider = defective(async (request, reference) =>
      reference.mount({ ...request, defaultFileMode: 0o400 }),
    );
    expect(await failureOf("uses the request's permission", provider)).to.equal(
      'no file of the good mount took the default mode 0644 (420)',
    );
  });

  it('catch a provider whose versions change on every mount', async () => {
    let counter = 0;
    const provider = defective(async (request, reference) => {
      const result = await reference.mount(request);
      return {
        ...result,
        objectVersions: result.objectVersions.map((v) => ({ ...v, version: `v${++counter}` })),
      };
    });
    expect(await failureOf('answers repeated mounts', provider)).to.contain(
      'Expected values to be strictly deep-equal',
    );
  });

  it('catch a provider that answers an unknown object with an empty success', async () => {
    const provider = defective(async () =>
      Promise.resolve({
        files: [{ path: 'a', mode: 0o644, contents: new Uint8Array() }],
        objectVersions: [{ id: 'a', version: '1' }],
      }),
    );
    expect(await failureOf('fails an unknown object', provider)).to.equal(
      'unknown object: the mount succeeded',
    );
  });

  it('catch a provider that reports an unknown object as an unknown failure', async () => {
    const provider = defective(() => Promise.reject(new Error('no such object')));
    expect(await failureOf('fails an unknown object', provider)).to.equal(
      'unknown object: expected NOT_FOUND, got UNKNOWN (failed to mount objects, error: no such object)',
    );
  });

  it('catch a provider that serves a rotation as the same version', async () => {
    const provider = defective((request, reference) => reference.mount(request));
    expect(
      await failureOf('reports a changed object', provider, { rotate: () => Promise.resolve() }),
    ).to.equal('no object version changed');
  });

  it('catch a target that offers no traversal attempt, and a good mount that fails', async () => {
    const provider = defective((request, reference) => reference.mount(request));
    expect(await failureOf('refuses every path traversal', provider, { traversalAttributes: [] })).to.equal(
      'the target offers no traversal attempts to try',
    );
    expect(
      await failureOf('mounts the good parameters', provider, {
        goodAttributes: referenceAttributes.unknown,
      }),
    ).to.equal(
      'the good parameters failed to mount: NOT_FOUND failed to mount objects, error: object "nope" not found',
    );
  });
});
